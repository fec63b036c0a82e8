"""Reading Django-owned tables into Spark, and writing to them, through JDBC (the MariaDB
driver `make setup` puts in var/jars/spark), configured by the same DATABASE_URL as `db.py`
(parsed by `spark_jobs.contract`).

The URL is `jdbc:mysql://…?permitMysqlScheme`: Spark picks its MySQL dialect (backtick
quoting) only for that scheme, and MariaDB Connector/J 3.x accepts it only with that flag."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession

from spark_jobs.contract import database_address

DRIVER = "org.mariadb.jdbc.Driver"


def jdbc_url(url: str | None = None) -> str:
    address = database_address(url)
    return (
        f"jdbc:mysql://{address.host}:{address.port}/{address.name}"
        "?permitMysqlScheme&useUnicode=true&characterEncoding=UTF-8"
    )


def _with_connection(options: Any, url: str | None) -> Any:
    """A DataFrameReader or DataFrameWriter with the database's JDBC options."""
    address = database_address(url)
    return (
        options.option("url", jdbc_url(url))
        .option("driver", DRIVER)
        .option("user", address.user)
        .option("password", address.password)
        .option("sessionInitStatement", "SET time_zone = '+00:00'")
    )


def jdbc_write(
    frame: DataFrame, table: str, *, url: str | None = None, batch_size: int = 10_000
) -> None:
    """Append `frame` to `table` from the executors, each partition in batched INSERTs (the
    MariaDB driver sends them with its bulk protocol) and one transaction of its own."""
    writer = _with_connection(frame.write.format("jdbc").mode("append"), url)
    writer.option("dbtable", table).option("batchsize", str(batch_size)).save()


def jdbc_read(
    spark: SparkSession,
    query: str,
    *,
    url: str | None = None,
    partition_column: str | None = None,
    bounds: tuple[int, int] | None = None,
    partitions: int = 1,
    fetch_size: int = 10_000,
) -> DataFrame:
    """A SELECT as a DataFrame. With `partition_column` and `bounds`, Spark reads it in
    `partitions` parallel range queries on that (integer) column."""
    reader = _with_connection(spark.read.format("jdbc"), url).option("fetchsize", str(fetch_size))
    if partition_column and bounds and partitions > 1 and bounds[1] > bounds[0]:
        reader = (
            reader.option("dbtable", f"({query}) AS source")
            .option("partitionColumn", partition_column)
            .option("lowerBound", str(bounds[0]))
            .option("upperBound", str(bounds[1] + 1))
            .option("numPartitions", str(partitions))
        )
    else:
        reader = reader.option("query", query)
    return reader.load()
