"""The engagement job: Kafka topic -> engagement metric tables. Started by
`manage.py run_spark_job engagement`, which passes the arguments below and the environment
(SPARK_MASTER, SPARK_JARS_DIR, KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL).

One streaming query, `engagement`, checkpointed under `<checkpoint dir>/buckets`: parse
-> dedupe within the watermark -> per post and community, window/hour/day bucket counts
and actor sketches, plus the rejected messages (update mode) -> EngagementSink, which
writes the changed buckets and the dead letters in one transaction with the ledger row."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import DataStreamWriter, StreamingQuery

from spark_jobs.common.session import REPO_DIR, kafka_bootstrap_servers, spark_session
from spark_jobs.contract import SparkApps, database_url
from spark_jobs.engagement.sink import (
    METRICS_QUERY,
    BatchHooks,
    EngagementSink,
    late_events_record,
)
from spark_jobs.engagement.transform import (
    DEFAULT_MAX_CLOCK_SKEW,
    DEFAULT_WATERMARK,
    DEFAULT_WINDOW,
    engagement_counts,
    interval_seconds,
)

DEFAULT_TOPIC = "streamer.events"
DEFAULT_TRIGGER_INTERVAL = "1 second"
DEFAULT_CHECKPOINT_DIR = REPO_DIR / "var" / "checkpoints" / "engagement"
RESTART_PAUSE_SECONDS = 5
MAX_RESTART_PAUSE_SECONDS = 120

log = logging.getLogger("spark_jobs.engagement")


@dataclass(frozen=True)
class EngagementJobConfig:
    topic: str = DEFAULT_TOPIC
    bootstrap_servers: str = "127.0.0.1:9092"
    database_url: str | None = None
    checkpoint_dir: Path = DEFAULT_CHECKPOINT_DIR
    starting_offsets: str = "earliest"
    max_offsets_per_trigger: int | None = None
    trigger_interval: str = DEFAULT_TRIGGER_INTERVAL
    available_now: bool = False
    window: str = DEFAULT_WINDOW
    watermark: str = DEFAULT_WATERMARK
    max_clock_skew: str = DEFAULT_MAX_CLOCK_SKEW
    fail_on_data_loss: bool = False

    def __post_init__(self) -> None:
        window = interval_seconds(self.window)
        if window <= 0 or 3600 % window:
            raise ValueError("--window must divide an hour evenly (hourly rollups sum windows)")
        for text in (self.watermark, self.max_clock_skew, self.trigger_interval):
            interval_seconds(text)
        if self.starting_offsets not in {
            "earliest",
            "latest",
        } and not self.starting_offsets.startswith("{"):
            raise ValueError("--starting-offsets is earliest, latest or Kafka's JSON form")

    @property
    def metrics_checkpoint(self) -> Path:
        return self.checkpoint_dir / "buckets"


def kafka_records(spark: SparkSession, config: EngagementJobConfig) -> DataFrame:
    """The topic through Spark's Kafka source. `startingOffsets` only applies to a fresh
    checkpoint; afterwards the checkpoint decides. With failOnDataLoss off, offsets that
    retention deleted are skipped with a warning instead of stopping the job."""
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", config.bootstrap_servers)
        .option("subscribe", config.topic)
        .option("startingOffsets", config.starting_offsets)
        .option("failOnDataLoss", str(config.fail_on_data_loss).lower())
    )
    if config.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(config.max_offsets_per_trigger))
    return reader.load()


def _with_trigger(
    writer: DataStreamWriter, config: EngagementJobConfig, interval: str
) -> DataStreamWriter:
    if config.available_now:
        return writer.trigger(availableNow=True)
    return writer.trigger(processingTime=interval)


def start_queries(
    spark: SparkSession, config: EngagementJobConfig, hooks: BatchHooks | None = None
) -> list[StreamingQuery]:
    config.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    counts = engagement_counts(
        kafka_records(spark, config),
        window=config.window,
        watermark=config.watermark,
        max_clock_skew=config.max_clock_skew,
    )
    metrics = _with_trigger(
        counts.writeStream.queryName(METRICS_QUERY)
        .outputMode("update")
        .option("checkpointLocation", str(config.metrics_checkpoint))
        .foreachBatch(
            EngagementSink(
                checkpoint_dir=config.metrics_checkpoint,
                topic=config.topic,
                url=config.database_url,
                hooks=hooks,
            )
        ),
        config,
        config.trigger_interval,
    ).start()
    return [metrics]


def run(config: EngagementJobConfig, hooks: BatchHooks | None = None) -> int:
    """Run until stopped (SIGTERM/SIGINT), or with --available-now until every query has
    processed what the topic held at start. Returns the process exit status.

    A failed query (say the database was unreachable for a batch) is restarted from its
    checkpoint after a growing pause, so the stream outlives outages; the failed batch is
    simply run again. With --available-now a failure ends the run with status 1."""
    spark = spark_session(SparkApps.ENGAGEMENT)
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        log.info("signal %s: stopping the queries", signum)
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info(
        "engagement job reading %s (window %s, watermark %s, %s)",
        config.topic,
        config.window,
        config.watermark,
        "available-now" if config.available_now else f"every {config.trigger_interval}",
    )
    queries: list[StreamingQuery] = []
    pause = RESTART_PAUSE_SECONDS
    try:
        while not stopping:
            started = time.monotonic()
            queries = start_queries(spark, config, hooks)
            failure = _supervise(queries, lambda: stopping, config.database_url)
            _stop_all(queries)
            if failure is None:
                return 0
            if config.available_now:
                return 1
            if time.monotonic() - started > MAX_RESTART_PAUSE_SECONDS:
                pause = RESTART_PAUSE_SECONDS
            log.warning("restarting the queries in %s s", pause)
            deadline = time.monotonic() + pause
            while not stopping and time.monotonic() < deadline:
                time.sleep(0.5)
            pause = min(pause * 2, MAX_RESTART_PAUSE_SECONDS)
        return 0
    finally:
        _stop_all(queries)
        spark.stop()


def _supervise(
    queries: list[StreamingQuery], stop_requested: Callable[[], bool], url: str | None
) -> str | None:
    """Wait until a stop is requested, every query finished (None) or one failed (its
    error), following each query's progress as it goes."""
    seen: dict[str, int] = {}
    try:
        while not stop_requested():
            _follow_progress(queries, seen, url)
            for query in queries:
                if not query.isActive and query.exception() is not None:
                    log.error("query %s failed: %s", query.name, query.exception())
                    return str(query.exception())
            if all(not query.isActive for query in queries):
                return None
            time.sleep(1)
        return None
    finally:
        _follow_progress(queries, seen, url)


def _stop_all(queries: Sequence[StreamingQuery]) -> None:
    for query in queries:
        if query.isActive:
            query.stop()


def _follow_progress(
    queries: Sequence[StreamingQuery], seen: dict[str, int], url: str | None
) -> None:
    """Log each finished batch, and record the metrics query's late events in its ledger row:
    Spark reports them (rows dropped behind the watermark) only once the batch is done."""
    for query in queries:
        for progress in query.recentProgress:
            batch_id = progress["batchId"]
            if batch_id <= seen.get(query.name, -1):
                continue
            seen[query.name] = batch_id
            late = sum(
                op.get("numRowsDroppedByWatermark", 0) for op in progress.get("stateOperators", [])
            )
            if late and query.name == METRICS_QUERY:
                late_events_record(query.name, progress["id"], batch_id, late, url=url)
            state = ", ".join(
                f"{op['operatorName']} {op['numRowsTotal']} rows "
                f"{op.get('memoryUsedBytes', 0) // 1024} KiB"
                for op in progress.get("stateOperators", [])
            )
            log.info(
                "%s batch %s: %s input rows, %.0f rows/s, %s dropped as late; state: %s",
                query.name,
                batch_id,
                progress["numInputRows"],
                progress.get("processedRowsPerSecond") or 0.0,
                late,
                state or "none",
            )


def parse_args(argv: Sequence[str] | None = None) -> EngagementJobConfig:
    parser = argparse.ArgumentParser(prog="python -m spark_jobs.engagement.job")
    parser.add_argument("--topic", default=DEFAULT_TOPIC)
    parser.add_argument("--checkpoint-dir", type=Path, default=DEFAULT_CHECKPOINT_DIR)
    parser.add_argument("--starting-offsets", default="earliest")
    parser.add_argument("--max-offsets-per-trigger", type=int, default=None)
    parser.add_argument("--trigger-interval", default=DEFAULT_TRIGGER_INTERVAL)
    parser.add_argument("--available-now", action="store_true")
    parser.add_argument("--window", default=DEFAULT_WINDOW)
    parser.add_argument("--watermark", default=DEFAULT_WATERMARK)
    parser.add_argument("--max-clock-skew", default=DEFAULT_MAX_CLOCK_SKEW)
    parser.add_argument("--fail-on-data-loss", action="store_true")
    args = parser.parse_args(argv)
    return EngagementJobConfig(
        topic=args.topic,
        bootstrap_servers=kafka_bootstrap_servers(),
        database_url=database_url(),
        checkpoint_dir=args.checkpoint_dir,
        starting_offsets=args.starting_offsets,
        max_offsets_per_trigger=args.max_offsets_per_trigger,
        trigger_interval=args.trigger_interval,
        available_now=args.available_now,
        window=args.window,
        watermark=args.watermark,
        max_clock_skew=args.max_clock_skew,
        fail_on_data_loss=args.fail_on_data_loss,
    )


def main(argv: Sequence[str] | None = None, hooks: BatchHooks | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)
    try:
        config = parse_args(argv)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run(config, hooks)


if __name__ == "__main__":
    sys.exit(main())
