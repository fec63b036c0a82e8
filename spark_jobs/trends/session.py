"""The SparkSession of the trend jobs: the shared job settings plus a UTC JVM.

Spark's JDBC reader turns DATETIME values into timestamps through the JVM's default time
zone; Django stores naive UTC, so the JVM must run in UTC for the values to come back as
they are stored, whatever the host's zone."""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

from spark_jobs.common.session import spark_conf

UTC_JVM = "-Duser.timezone=UTC"


def trends_session(app_name: str) -> SparkSession:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    conf = {
        **spark_conf(app_name),
        "spark.driver.extraJavaOptions": UTC_JVM,
        "spark.executor.extraJavaOptions": UTC_JVM,
    }
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("SPARK_LOG_LEVEL", "WARN"))
    return spark
