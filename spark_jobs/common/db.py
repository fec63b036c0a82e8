"""The sink's database connection: MariaDB/MySQL through mysqlclient, configured by the same
`DATABASE_URL` Django reads (jobs run outside Django)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import MySQLdb
from MySQLdb.cursors import Cursor

from spark_jobs.contract import database_address

# Deadlock found / lock wait timeout: the whole transaction is safe to run again.
RETRYABLE_ERRORS = {1205, 1213}

T = TypeVar("T")
log = logging.getLogger(__name__)


def connect(url: str | None = None) -> MySQLdb.Connection:
    """A connection with autocommit off and the session in UTC, which is how Django stores
    datetimes (naive UTC) when USE_TZ is on."""
    address = database_address(url)
    connection = MySQLdb.connect(
        host=address.host,
        port=address.port,
        user=address.user,
        password=address.password,
        database=address.name,
        charset="utf8mb4",
        autocommit=False,
        connect_timeout=10,
    )
    with connection.cursor() as cursor:
        cursor.execute("SET time_zone = '+00:00'")
    return connection


def run_in_transaction(
    work: Callable[[Cursor], T], *, url: str | None = None, attempts: int = 3
) -> T:
    """Run `work(cursor)` in one transaction on a fresh connection and commit; roll back on
    any error. Deadlocks and lock wait timeouts roll back and run `work` again from the
    start, so `work` must do all its reads and writes through the cursor it is given."""
    for attempt in range(1, attempts + 1):
        connection = connect(url)
        try:
            with connection.cursor() as cursor:
                result = work(cursor)
            connection.commit()
            return result
        except MySQLdb.OperationalError as exc:
            connection.rollback()
            if exc.args and exc.args[0] in RETRYABLE_ERRORS and attempt < attempts:
                log.warning("transaction retried after MySQL error %s", exc.args[0])
                time.sleep(0.2 * attempt)
                continue
            raise
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()
    raise AssertionError("unreachable")
