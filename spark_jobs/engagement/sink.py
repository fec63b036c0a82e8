"""foreachBatch sinks of the engagement job: exactly-once effect on Django-owned tables.

Each micro-batch is written in ONE MySQL transaction that (1) checks the ledger
`analytics_spark_batch` for (query name, query id, batch id) and stops if the batch was
already applied, (2) upserts the batch's rows, setting counts rather than adding them,
(3) recomputes the post and community rows (window, hour, day) touched by the batch from the
actor rows, and (4) records the batch in the ledger with its Kafka end offsets.

Why that is enough: Spark writes a batch's offsets to the checkpoint before running it and
its commit after foreachBatch returns. A crash before our commit rolls the transaction back
and Spark re-runs the same batch id with the same offsets; a crash after our commit but
before Spark's makes Spark re-run a batch the ledger already has, and it is skipped. The
upserts are idempotent on their own as well (update mode emits the full current value of
every group it touched), so even a lost ledger could not double count.

The job never creates tables: they come from `analytics` migrations."""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
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
from spark_jobs.contract import COUNT_COLUMNS, POST_COUNTS, Queries, Tables
from spark_jobs.engagement.transform import ACTOR_COUNT_COLUMNS, DEAD_LETTER_COLUMNS

ACTOR_TABLE = Tables.ACTOR_WINDOW
POST_TABLE = Tables.POST_ENGAGEMENT
COMMUNITY_TABLE = Tables.COMMUNITY_ENGAGEMENT
DEAD_LETTER_TABLE = Tables.DEAD_LETTER
LEDGER_TABLE = Tables.SPARK_BATCH

METRICS_QUERY = Queries.METRICS
DEAD_LETTER_QUERY = Queries.DEAD_LETTERS

GRAIN_WINDOW, GRAIN_HOUR, GRAIN_DAY = "window", "hour", "day"
SQL_CHUNK = 500
LEDGER_KEEP_BATCHES = 10_000

POST_SUMS = (*POST_COUNTS.values(), "net_likes")
COMMUNITY_SUMS = (*COUNT_COLUMNS, "net_likes")
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


def apply_actor_counts(
    rows: Sequence[dict[str, Any]],
    batch: BatchInfo,
    *,
    url: str | None = None,
    hooks: BatchHooks | None = None,
) -> bool:
    """Write one batch of actor window counts and the rollups it affects, once. Returns
    False when the ledger shows the batch was already applied (nothing is written)."""

    def work(cursor: Cursor) -> bool:
        if _ledger_has(cursor, batch):
            return False
        now = _utc_now()
        _upsert_actor_rows(cursor, rows, now)
        for rollup in (POST_ROLLUP, COMMUNITY_ROLLUP):
            for (grain, start, end), entity_ids in _buckets(rows, rollup.key):
                rollup.recompute(cursor, grain, start, end, entity_ids, now)
        if hooks:
            hooks.inside_transaction(batch)
        _ledger_insert(cursor, batch, output_rows=len(rows))
        return True

    applied = _run_once(work, batch, url)
    if hooks:
        hooks.after_commit(batch)
    return applied


def apply_dead_letters(
    rows: Sequence[dict[str, Any]], batch: BatchInfo, *, url: str | None = None
) -> bool:
    """Store rejected messages, once per Kafka position, and record the batch."""

    def work(cursor: Cursor) -> bool:
        if _ledger_has(cursor, batch):
            return False
        now = _utc_now()
        values = [
            (
                row["topic"],
                row["partition"],
                row["offset"],
                row["kafka_timestamp"],
                row["raw_key"],
                row["raw_value"],
                row["error"],
                now,
            )
            for row in rows
        ]
        for chunk in _chunks(values, SQL_CHUNK):
            cursor.executemany(DEAD_LETTER_INSERT_SQL, chunk)
        _ledger_insert(cursor, batch, output_rows=len(rows))
        return True

    return _run_once(work, batch, url)


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


def _columns(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _updates(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}` = VALUES(`{name}`)" for name in names)


ACTOR_COLUMNS = (*ACTOR_COUNT_COLUMNS, "updated_at")
ACTOR_KEY = ("window_start", "community_id", "post_id", "actor_id")
ACTOR_UPSERT_SQL = (
    f"INSERT INTO `{ACTOR_TABLE}` ({_columns(ACTOR_COLUMNS)}) "  # noqa: S608 - constants only
    f"VALUES ({', '.join(['%s'] * len(ACTOR_COLUMNS))}) "
    f"ON DUPLICATE KEY UPDATE {_updates(c for c in ACTOR_COLUMNS if c not in ACTOR_KEY)}"
)


@dataclass(frozen=True)
class Rollup:
    """Recomputes one entity's rows (posts or communities) for the buckets a batch touched.

    Window rows are summed from the actor rows of that window. Hour rows are summed from the
    window rows and day rows from the hour rows (recomputed just before, in the same
    transaction), so no step reads more than a few dozen rows per entity; distinct actors
    always come from the actor rows, through an index that holds (entity, window_start,
    actor_id), so they stay exact at every grain. Every value is recomputed from set
    values, so running a recompute again gives the same row."""

    table: str
    key: str
    sums: tuple[str, ...]
    extra: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return (
            self.key, *self.extra, "grain", "window_start", "window_end", *self.sums,
            "distinct_actors", "engagement_score", "updated_at",
        )  # fmt: skip

    def _insert(self) -> str:
        updated = [c for c in self.columns if c not in (self.key, "grain", "window_start")]
        return (
            f"INSERT INTO `{self.table}` ({_columns(self.columns)}) {{select}} "
            f"ON DUPLICATE KEY UPDATE {_updates(updated)}"
        )

    def window_sql(self) -> str:
        select = ", ".join(
            [
                f"`{self.key}`",
                *(f"MAX(`{c}`)" for c in self.extra),
                "%s, %s, %s",
                *(f"SUM(`{c}`)" for c in self.sums),
                "COUNT(DISTINCT `actor_id`)",
                "SUM(`engagement_score`)",
                "%s",
            ]
        )
        return self._insert().format(
            select=(
                f"SELECT {select} FROM `{ACTOR_TABLE}` "  # noqa: S608 - constants only
                f"WHERE `{self.key}` IN ({{ids}}) AND `window_start` >= %s "
                f"AND `window_start` < %s GROUP BY `{self.key}`"
            )
        )

    def rollup_sql(self) -> str:
        summed = ", ".join(
            [
                f"`{self.key}`",
                *(f"MAX(`{c}`) AS `{c}`" for c in self.extra),
                *(f"SUM(`{c}`) AS `{c}`" for c in (*self.sums, "engagement_score")),
            ]
        )
        select = ", ".join(
            [
                f"s.`{self.key}`",
                *(f"s.`{c}`" for c in self.extra),
                "%s, %s, %s",
                *(f"s.`{c}`" for c in self.sums),
                "d.`actors`",
                "s.`engagement_score`",
                "%s",
            ]
        )
        return self._insert().format(
            select=(
                f"SELECT {select} FROM ("  # noqa: S608 - constants only
                f"SELECT {summed} FROM `{self.table}` WHERE `grain` = %s "
                f"AND `{self.key}` IN ({{ids}}) AND `window_start` >= %s AND `window_start` < %s "
                f"GROUP BY `{self.key}`) AS s JOIN ("
                f"SELECT `{self.key}`, COUNT(DISTINCT `actor_id`) AS `actors` FROM `{ACTOR_TABLE}` "
                f"WHERE `{self.key}` IN ({{ids}}) AND `window_start` >= %s AND `window_start` < %s "
                f"GROUP BY `{self.key}`) AS d ON d.`{self.key}` = s.`{self.key}`"
            )
        )

    def recompute(
        self,
        cursor: Cursor,
        grain: str,
        start: datetime,
        end: datetime,
        entity_ids: Sequence[int],
        now: datetime,
    ) -> None:
        sql = self.window_sql() if grain == GRAIN_WINDOW else self.rollup_sql()
        for chunk in _chunks(entity_ids, SQL_CHUNK):
            statement = sql.replace("{ids}", ", ".join(["%s"] * len(chunk)))
            if grain == GRAIN_WINDOW:
                params = (grain, start, end, now, *chunk, start, end)
            else:
                source = GRAIN_WINDOW if grain == GRAIN_HOUR else GRAIN_HOUR
                params = (grain, start, end, now, source, *chunk, start, end, *chunk, start, end)
            cursor.execute(statement, params)


POST_ROLLUP = Rollup(POST_TABLE, "post_id", POST_SUMS, ("community_id",))
COMMUNITY_ROLLUP = Rollup(COMMUNITY_TABLE, "community_id", COMMUNITY_SUMS)
DEAD_LETTER_INSERT_SQL = (
    f"INSERT INTO `{DEAD_LETTER_TABLE}` (`topic`, `partition`, `offset`, `kafka_timestamp`, "  # noqa: S608
    "`raw_key`, `raw_value`, `error`, `received_at`) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
    "ON DUPLICATE KEY UPDATE `id` = `id`"
)


def _upsert_actor_rows(cursor: Cursor, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    values = [(*(row[c] for c in ACTOR_COUNT_COLUMNS), now) for row in rows]
    for chunk in _chunks(values, SQL_CHUNK):
        cursor.executemany(ACTOR_UPSERT_SQL, chunk)


def _buckets(
    rows: Sequence[dict[str, Any]], key: str
) -> list[tuple[tuple[str, datetime, datetime], list[int]]]:
    """The (grain, start, end) buckets a batch touched with their entity ids, windows first,
    then hours, then days (each rollup reads the grain below). Post buckets skip post_id 0
    (community-level activity)."""
    buckets: dict[tuple[str, datetime, datetime], set[int]] = defaultdict(set)
    for row in rows:
        entity = row[key]
        if key == "post_id" and entity == 0:
            continue
        start = row["window_start"]
        hour = start.replace(minute=0, second=0, microsecond=0)
        day = hour.replace(hour=0)
        buckets[(GRAIN_WINDOW, start, row["window_end"])].add(entity)
        buckets[(GRAIN_HOUR, hour, hour + timedelta(hours=1))].add(entity)
        buckets[(GRAIN_DAY, day, day + timedelta(days=1))].add(entity)
    order = {GRAIN_WINDOW: 0, GRAIN_HOUR: 1, GRAIN_DAY: 2}
    return sorted(
        ((bucket, sorted(ids)) for bucket, ids in buckets.items()),
        key=lambda item: (order[item[0][0]], item[0][1]),
    )


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


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
        started = time.monotonic()
        transport = batch_df.select(
            *(
                F.unix_micros(c).alias(c) if c in ("window_start", "window_end") else F.col(c)
                for c in ACTOR_COUNT_COLUMNS
            )
        )
        rows = []
        for row in transport.collect():
            values = row.asDict()
            values["window_start"] = _naive_utc_us(values["window_start"])
            values["window_end"] = _naive_utc_us(values["window_end"])
            rows.append(values)
        batch = read_batch_info(
            self.checkpoint_dir, query_name=self.query_name, batch_id=batch_id, topic=self.topic
        )
        collected = time.monotonic()
        applied = apply_actor_counts(rows, batch, url=self.url, hooks=self.hooks)
        log.info(
            "%s batch %s: %s messages, %s actor rows, %s (Spark %.2f s, database %.2f s)",
            self.query_name,
            batch_id,
            batch.message_count,
            len(rows),
            "applied" if applied else "skipped",
            collected - started,
            time.monotonic() - collected,
        )


class DeadLetterSink:
    """foreachBatch target of the dead-letter query (append output mode)."""

    def __init__(
        self,
        *,
        checkpoint_dir: Path,
        topic: str,
        url: str | None = None,
        query_name: str = DEAD_LETTER_QUERY,
    ) -> None:
        self.checkpoint_dir = checkpoint_dir
        self.topic = topic
        self.url = url
        self.query_name = query_name

    def __call__(self, batch_df: DataFrame, batch_id: int) -> None:
        transport = batch_df.select(
            *(
                F.unix_micros(c).alias(c) if c == "kafka_timestamp" else F.col(c)
                for c in DEAD_LETTER_COLUMNS
            )
        )
        rows = []
        for row in transport.collect():
            values = row.asDict()
            values["kafka_timestamp"] = _naive_utc_us(values["kafka_timestamp"])
            for column in ("raw_key", "raw_value"):
                values[column] = None if values[column] is None else bytes(values[column])
            rows.append(values)
        batch = read_batch_info(
            self.checkpoint_dir, query_name=self.query_name, batch_id=batch_id, topic=self.topic
        )
        apply_dead_letters(rows, batch, url=self.url)
        if rows:
            log.warning("%s batch %s: %s dead letters", self.query_name, batch_id, len(rows))
