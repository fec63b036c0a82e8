"""SparkSession configuration shared by every Streamer Spark job.

Jobs run outside Django (a spark-submit style subprocess or a test), so this module reads
plain environment variables with the same names and defaults as `streamer/settings.py`.

The driver runs in this process (client mode) wherever SPARK_MASTER points: `local[*]`, a
standalone master (`spark://host:7077`), or any other master spark-submit knows. On a
cluster the executors get the connector jars from the driver (`spark.jars`: Spark serves
them, no path has to exist on the workers), run no Python code of ours (the transforms are
Spark SQL; the sinks' transactions run in the driver), and must reach Kafka, the database
and the checkpoint directory themselves."""

from __future__ import annotations

import os
from pathlib import Path

from pyspark.sql import SparkSession

from spark_jobs.contract import local_kafka_bootstrap, local_spark_master

REPO_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = REPO_DIR / "var"


def spark_master() -> str:
    return os.environ.get("SPARK_MASTER", local_spark_master())


def kafka_bootstrap_servers() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", local_kafka_bootstrap())


def connector_jars() -> list[str]:
    """The Kafka source and JDBC driver jars that `make setup` resolved from Maven Central."""
    jars_dir = Path(os.environ.get("SPARK_JARS_DIR", VAR_DIR / "jars" / "spark"))
    jars = sorted(str(jar) for jar in jars_dir.glob("*.jar"))
    if not jars:
        raise RuntimeError(f"no connector jars in {jars_dir}: run `make setup`")
    return jars


ROCKSDB_STATE_STORE = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
# Spark's JDBC reader turns DATETIME values into timestamps through the JVM's default time
# zone; Django stores naive UTC, so the JVMs run in UTC for values to come back as stored,
# whatever the host's zone.
UTC_JVM = "-Duser.timezone=UTC"


# Cluster settings taken from the environment when given (spark.* name -> variable):
# how many cores the application may take on a standalone master (the runner sets it per job,
# see analytics.spark_runner), each executor's heap, the address executors use to reach the
# driver (on a real cluster, this host's address on the workers' network), and the port of
# the driver's web UI when SPARK_UI_ENABLED turns it on (its REST API lists the executors and
# the running stages; the fault suite watches it).
OPTIONAL_CONF = {
    "spark.cores.max": "SPARK_CORES_MAX",
    "spark.executor.memory": "SPARK_EXECUTOR_MEMORY",
    "spark.driver.host": "SPARK_DRIVER_HOST",
    "spark.ui.port": "SPARK_UI_PORT",
}


def spark_conf(app_name: str) -> dict[str, str]:
    """Settings for a job, as spark-submit `--conf` pairs or SparkSession builder options.

    Streaming state (the event_id de-duplication inside the watermark) lives in RocksDB, off
    the JVM heap: with the default in-heap store a 5,000,000-event replay ran the 1 GB driver
    out of memory. A checkpoint keeps the provider it was started with."""
    optional = {
        key: os.environ[name] for key, name in OPTIONAL_CONF.items() if os.environ.get(name)
    }
    return {
        **optional,
        "spark.app.name": app_name,
        "spark.master": spark_master(),
        "spark.jars": ",".join(connector_jars()),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": os.environ.get("SPARK_SHUFFLE_PARTITIONS", "4"),
        "spark.driver.memory": os.environ.get("SPARK_DRIVER_MEMORY", "1g"),
        "spark.ui.enabled": os.environ.get("SPARK_UI_ENABLED", "false"),
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.streaming.forceDeleteTempCheckpointLocation": "true",
        "spark.sql.streaming.stateStore.providerClass": os.environ.get(
            "SPARK_STATE_STORE_PROVIDER", ROCKSDB_STATE_STORE
        ),
        # Each micro-batch checkpoints only the state it changed (a changelog) instead of
        # uploading RocksDB files; snapshots are taken in the background.
        "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
        "spark.driver.extraJavaOptions": UTC_JVM,
        "spark.executor.extraJavaOptions": UTC_JVM,
    }


def spark_session(app_name: str) -> SparkSession:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder
    for key, value in spark_conf(app_name).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("SPARK_LOG_LEVEL", "WARN"))
    return spark
