"""The sink's database connection: MariaDB/MySQL through mysqlclient, configured by the same
`DATABASE_URL` Django reads (jobs run outside Django)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import MySQLdb
from MySQLdb.cursors import Cursor

DEFAULT_DATABASE_URL = "mysql://streamer:streamer@127.0.0.1:3307/streamer"
# Deadlock found / lock wait timeout: the whole transaction is safe to run again.
RETRYABLE_ERRORS = {1205, 1213}

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatabaseAddress:
    host: str
    port: int
    user: str
    password: str
    name: str

    @classmethod
    def from_url(cls, url: str) -> DatabaseAddress:
        parts = urlsplit(url)
        if parts.scheme not in {"mysql", "mysql2", "mariadb", "mysqlgis"}:
            raise ValueError(f"DATABASE_URL must be a mysql:// URL, got {parts.scheme}://")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            name=parts.path.lstrip("/"),
        )


def database_url() -> str:
    return os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


def connect(url: str | None = None) -> MySQLdb.Connection:
    """A connection with autocommit off and the session in UTC, which is how Django stores
    datetimes (naive UTC) when USE_TZ is on."""
    address = DatabaseAddress.from_url(url or database_url())
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
