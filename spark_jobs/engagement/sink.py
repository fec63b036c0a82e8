"""foreachBatch sinks of the engagement job: exactly-once effect on Django-owned tables.

The metrics query hands each micro-batch the buckets it changed, with their complete
current values from Spark's state (`transform.bucket_counts`, update mode). The sink:

1. skips the batch if the ledger `analytics_spark_batch` already has (query name, query id,
   batch id) - a batch re-run after a crash between our commit and Spark's;
2. has Spark's executors write the buckets to the staging table through the JDBC writer,
   tagged with a token for this attempt (no row passes through the driver);
3. in ONE MySQL transaction, moves the token's rows into the post and community tables
   (`INSERT ... SELECT ... ON DUPLICATE KEY UPDATE`, setting every value), deletes them from
   staging (with any leftover of an attempt that crashed), and inserts the ledger row with
   the batch's Kafka offsets.

Why that is exact: Spark writes a batch's offsets to the checkpoint before running it and
its commit after foreachBatch returns. A crash before our commit rolls the transaction back
(staged rows of that attempt are never merged: the next attempt has another token) and Spark
re-runs the same batch id with the same offsets and the same state, so it emits the same
values; a crash after our commit but before Spark's makes Spark re-run a batch the ledger
already has, and it is skipped. The values are set, not added, so even applying a batch
twice could not double count.

The job never creates tables: they come from `analytics` migrations."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import MySQLdb
from MySQLdb.cursors import Cursor
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.common.db import run_in_transaction
from spark_jobs.common.jdbc import jdbc_write
from spark_jobs.contract import COUNT_COLUMNS, POST_COUNTS, Queries, Tables
from spark_jobs.engagement.transform import BUCKET_COLUMNS, REJECTED

POST_TABLE = Tables.POST_ENGAGEMENT
COMMUNITY_TABLE = Tables.COMMUNITY_ENGAGEMENT
STAGING_TABLE = Tables.ENGAGEMENT_STAGING
DEAD_LETTER_TABLE = Tables.DEAD_LETTER
LEDGER_TABLE = Tables.SPARK_BATCH

METRICS_QUERY = Queries.METRICS

SQL_CHUNK = 500
LEDGER_KEEP_BATCHES = 10_000
EPOCH = datetime(1970, 1, 1)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchInfo:
    """One micro-batch as the ledger records it."""

    query_name: str
    query_id: str
    batch_id: int
    topic: str
    end_offsets: dict[str, int]
    start_offsets: dict[str, int] | None = None
    watermark: datetime | None = None
    batch_started_at: datetime | None = None

    @property
    def message_count(self) -> int | None:
        if self.start_offsets is None:
            return None
        return sum(end - self.start_offsets.get(p, 0) for p, end in self.end_offsets.items())


def read_batch_info(
    checkpoint_dir: Path, *, query_name: str, batch_id: int, topic: str
) -> BatchInfo:
    """Read the query id and the batch's offsets from Spark's checkpoint (a local path).

    `offsets/<batch_id>` is Spark's write-ahead log entry for the batch, written before the
    batch runs: a version line, the batch metadata (watermark, batch timestamp) and one line
    per source, here the Kafka source's {"topic": {"partition": next offset}}. The previous
    entry, or for batch 0 the source's initial offsets, gives where the batch started."""
    query_id = json.loads((checkpoint_dir / "metadata").read_text())["id"]
    metadata, end_offsets = _offset_log_entry(checkpoint_dir / "offsets" / str(batch_id), topic)
    start_offsets = None
    if batch_id > 0 and (checkpoint_dir / "offsets" / str(batch_id - 1)).exists():
        _, start_offsets = _offset_log_entry(checkpoint_dir / "offsets" / str(batch_id - 1), topic)
    elif batch_id == 0:
        start_offsets = _initial_offsets(checkpoint_dir, topic)
    watermark_ms = metadata.get("batchWatermarkMs") or 0
    started_ms = metadata.get("batchTimestampMs")
    return BatchInfo(
        query_name=query_name,
        query_id=query_id,
        batch_id=batch_id,
        topic=topic,
        end_offsets=end_offsets,
        start_offsets=start_offsets,
        watermark=_naive_utc_ms(watermark_ms) if watermark_ms > 0 else None,
        batch_started_at=_naive_utc_ms(started_ms) if started_ms else None,
    )


def _offset_log_entry(path: Path, topic: str) -> tuple[dict[str, Any], dict[str, int]]:
    lines = path.read_text().splitlines()
    metadata = json.loads(lines[1])
    offsets = json.loads(lines[2]).get(topic, {}) if len(lines) > 2 else {}
    return metadata, {str(p): int(o) for p, o in offsets.items()}


def _initial_offsets(checkpoint_dir: Path, topic: str) -> dict[str, int] | None:
    path = checkpoint_dir / "sources" / "0" / "0"
    if not path.exists():
        return None
    text = path.read_text()
    start = text.find("{")
    if start < 0:
        return None
    offsets = json.loads(text[start:]).get(topic, {})
    return {str(p): int(o) for p, o in offsets.items()}


def _naive_utc_ms(millis: int) -> datetime:
    return EPOCH + timedelta(milliseconds=millis)


def _naive_utc_us(micros: int | None) -> datetime | None:
    return None if micros is None else EPOCH + timedelta(microseconds=micros)


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class BatchHooks(Protocol):
    """Called at the two moments that matter for exactly-once: inside the batch's open
    transaction (after its rows, before the ledger row and the commit), and after the commit
    (before Spark records the batch as done). The crash tests kill the job there
    (tests/support/spark_faults.py); the job itself runs without hooks."""

    def inside_transaction(self, batch: BatchInfo) -> None: ...

    def after_commit(self, batch: BatchInfo) -> None: ...


def _columns(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _updates(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}` = VALUES(`{name}`)" for name in names)


COMMON_COLUMNS = ("net_likes", "distinct_actors", "actors_sketch", "engagement_score")
POST_COLUMNS = (
    "post_id", "community_id", "grain", "window_start", "window_end",
    *POST_COUNTS.values(), *COMMON_COLUMNS,
)  # fmt: skip
COMMUNITY_COLUMNS = (
    "community_id", "grain", "window_start", "window_end", *COUNT_COLUMNS, *COMMON_COLUMNS,
)  # fmt: skip


def _merge_sql(table: str, key: str, columns: Sequence[str], rows: str) -> str:
    """Move one attempt's staged rows of one kind into `table`, setting every value."""
    updated = [c for c in (*columns, "updated_at") if c not in (key, "grain", "window_start")]
    return (
        f"INSERT INTO `{table}` ({_columns(columns)}, `updated_at`) "  # noqa: S608 - constants
        f"SELECT {_columns(columns)}, %s FROM `{STAGING_TABLE}` WHERE `token` = %s AND {rows} "
        f"ON DUPLICATE KEY UPDATE {_updates(updated)}"
    )


POST_MERGE_SQL = _merge_sql(POST_TABLE, "post_id", POST_COLUMNS, "`post_id` <> 0")
COMMUNITY_MERGE_SQL = _merge_sql(
    COMMUNITY_TABLE, "community_id", COMMUNITY_COLUMNS, "`post_id` = 0"
)
# Batches run one after another, so every staged row of this batch id or an earlier one is
# either this attempt's (merged just before) or an abandoned attempt's.
STAGING_CLEAR_SQL = f"DELETE FROM `{STAGING_TABLE}` WHERE `batch_id` <= %s"  # noqa: S608


def stage_buckets(buckets: DataFrame, batch: BatchInfo, *, token: str, url: str | None) -> None:
    """Spark's executors write the batch's buckets to the staging table (every column but
    the rejected-message ones)."""
    staged = buckets.select(
        F.lit(batch.batch_id).alias("batch_id"), F.lit(token).alias("token"), *BUCKET_COLUMNS
    )
    jdbc_write(staged, STAGING_TABLE, url=url)


@dataclass(frozen=True)
class DeadLetter:
    """A rejected message, as the dead-letter table keeps it."""

    partition: int
    offset: int
    kafka_timestamp: datetime | None
    raw_key: bytes | None
    raw_value: bytes | None
    error: str


def apply_staged_buckets(
    batch: BatchInfo,
    *,
    token: str,
    output_rows: int,
    dead_letters: Sequence[DeadLetter] = (),
    url: str | None = None,
    hooks: BatchHooks | None = None,
) -> bool:
    """Move the attempt's staged buckets into the metric tables, store the batch's rejected
    messages (once per Kafka position) and record the batch, in one transaction. Returns
    False when the ledger shows the batch was already applied."""

    def work(cursor: Cursor) -> bool:
        if _ledger_has(cursor, batch):
            return False
        now = _utc_now()
        if output_rows:
            cursor.execute(POST_MERGE_SQL, (now, token))
            cursor.execute(COMMUNITY_MERGE_SQL, (now, token))
        cursor.execute(STAGING_CLEAR_SQL, (batch.batch_id,))
        letters = [
            (batch.topic, *(getattr(d, f) for f in DEAD_LETTER_FIELDS), now) for d in dead_letters
        ]
        for chunk in _chunks(letters, SQL_CHUNK):
            cursor.executemany(DEAD_LETTER_INSERT_SQL, chunk)
        if hooks:
            hooks.inside_transaction(batch)
        _ledger_insert(cursor, batch, output_rows=output_rows)
        return True

    applied = _run_once(work, batch, url)
    if hooks:
        hooks.after_commit(batch)
    return applied


def late_events_record(
    query_name: str, query_id: str, batch_id: int, late: int, *, url: str | None = None
) -> None:
    """Set the number of events a batch dropped behind the watermark on its ledger row. A
    re-run of the batch reports the same number, so setting it again changes nothing."""

    def work(cursor: Cursor) -> None:
        cursor.execute(
            f"UPDATE `{LEDGER_TABLE}` SET `late_events` = %s WHERE `query_name` = %s "  # noqa: S608
            "AND `query_id` = %s AND `batch_id` = %s",
            (late, query_name, query_id, batch_id),
        )

    run_in_transaction(work, url=url)


def batch_applied(batch: BatchInfo, *, url: str | None = None) -> bool:
    return run_in_transaction(lambda cursor: _ledger_has(cursor, batch), url=url)


def _run_once(work: Any, batch: BatchInfo, url: str | None) -> bool:
    try:
        applied = run_in_transaction(work, url=url)
    except MySQLdb.IntegrityError as exc:
        # Only the ledger key can collide: another run applied this batch concurrently.
        if exc.args and exc.args[0] == 1062 and "spark_batch_key" in str(exc):
            applied = False
        else:
            raise
    if not applied:
        log.warning("%s batch %s was already applied; skipped", batch.query_name, batch.batch_id)
    return applied


def _ledger_has(cursor: Cursor, batch: BatchInfo) -> bool:
    cursor.execute(
        f"SELECT 1 FROM `{LEDGER_TABLE}` "  # noqa: S608 - table names are constants
        "WHERE `query_name` = %s AND `query_id` = %s AND `batch_id` = %s",
        (batch.query_name, batch.query_id, batch.batch_id),
    )
    return cursor.fetchone() is not None


def _ledger_insert(cursor: Cursor, batch: BatchInfo, *, output_rows: int) -> None:
    """Record the batch as the transaction's last statement; `applied_at` is then within
    milliseconds of the commit that makes the batch's counts visible."""
    cursor.execute(
        f"INSERT INTO `{LEDGER_TABLE}` (`query_name`, `query_id`, `batch_id`, `topic`, "  # noqa: S608
        "`start_offsets`, `end_offsets`, `message_count`, `output_rows`, `watermark`, "
        "`batch_started_at`, `applied_at`) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            batch.query_name,
            batch.query_id,
            batch.batch_id,
            batch.topic,
            None if batch.start_offsets is None else json.dumps(batch.start_offsets),
            json.dumps(batch.end_offsets),
            batch.message_count,
            output_rows,
            batch.watermark,
            batch.batch_started_at,
            _utc_now(),
        ),
    )
    if batch.batch_id % 100 == 0 and batch.batch_id >= LEDGER_KEEP_BATCHES:
        cursor.execute(
            f"DELETE FROM `{LEDGER_TABLE}` WHERE `query_name` = %s AND `query_id` = %s "  # noqa: S608
            "AND `batch_id` < %s",
            (batch.query_name, batch.query_id, batch.batch_id - LEDGER_KEEP_BATCHES),
        )


DEAD_LETTER_FIELDS = ("partition", "offset", "kafka_timestamp", "raw_key", "raw_value", "error")
DEAD_LETTER_INSERT_SQL = (
    f"INSERT INTO `{DEAD_LETTER_TABLE}` (`topic`, `partition`, `offset`, `kafka_timestamp`, "  # noqa: S608
    "`raw_key`, `raw_value`, `error`, `received_at`) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
    "ON DUPLICATE KEY UPDATE `id` = `id`"
)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


def dead_letter(row: Any) -> DeadLetter:
    """A rejected message from its one-row group (see transform.bucket_counts)."""
    return DeadLetter(
        partition=row.post_id,
        offset=row.community_id,
        kafka_timestamp=row.window_start,
        raw_key=None if row.raw_key is None else bytes(row.raw_key),
        raw_value=None if row.raw_value is None else bytes(row.raw_value),
        error=row.error,
    )


class EngagementSink:
    """foreachBatch target of the metrics query (update output mode)."""

    def __init__(
        self,
        *,
        checkpoint_dir: Path,
        topic: str,
        url: str | None = None,
        query_name: str = METRICS_QUERY,
        hooks: BatchHooks | None = None,
    ) -> None:
        self.checkpoint_dir = checkpoint_dir
        self.topic = topic
        self.url = url
        self.query_name = query_name
        self.hooks = hooks

    def __call__(self, batch_df: DataFrame, batch_id: int) -> None:
        batch = read_batch_info(
            self.checkpoint_dir, query_name=self.query_name, batch_id=batch_id, topic=self.topic
        )
        if batch_applied(batch, url=self.url):
            # The batch's plan must still run: its stateful steps commit this batch's state
            # version (Spark checks that they did), which is the same as the first time.
            batch_df.write.format("noop").mode("overwrite").save()
            log.warning("%s batch %s was already applied; skipped", self.query_name, batch_id)
            return
        started = time.monotonic()
        # The batch's plan (Kafka read, parsing, state) runs once, for the rejected messages
        # and the count; the staging write reads the cached result.
        output = batch_df.persist()
        try:
            rejected = output.where(F.col("grain") == REJECTED)
            dead_letters = [dead_letter(row) for row in rejected.collect()]
            rows = output.count() - len(dead_letters)
            computed = time.monotonic()
            token = uuid.uuid4().hex
            if rows:
                buckets = output.where(F.col("grain") != REJECTED)
                stage_buckets(buckets, batch, token=token, url=self.url)
            staged = time.monotonic()
            applied = apply_staged_buckets(
                batch,
                token=token,
                output_rows=rows,
                dead_letters=dead_letters,
                url=self.url,
                hooks=self.hooks,
            )
        finally:
            output.unpersist()
        done = time.monotonic()
        log.info(
            "%s batch %s: %s messages, %s buckets, %s (spark %.2f s, staging %.2f s, merge %.2f s)",
            self.query_name,
            batch_id,
            batch.message_count,
            rows,
            "applied" if applied else "skipped",
            computed - started,
            staged - computed,
            done - staged,
        )
