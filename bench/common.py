"""What the benchmarks share: a bench database of their own, the app's environment for it,
gunicorn sized for this machine, wrk with p50/p95/p99, and percentiles."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CORES = os.cpu_count() or 1
ROOT_SOCKET = REPO / "var" / "run" / "mariadb.sock"

WRK_REPORT = REPO / "bench" / "wrk_report.lua"


def database_url(name: str) -> str:
    base = os.environ.get("DATABASE_URL", "mysql://streamer:streamer@127.0.0.1:3307/streamer")
    return base.rsplit("/", 1)[0] + f"/{name}"


def app_env(db: str, **extra: str) -> dict[str, str]:
    """Production-like settings (DEBUG off) on the bench database; throttles out of the way."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "streamer.settings",
        "DATABASE_URL": database_url(db),
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-" + "x" * 40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "API_THROTTLE_ANON": "100000000/min",
        "API_THROTTLE_USER": "100000000/min",
        "API_THROTTLE_AUTH": "100000000/min",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6380/15",
        "CACHE_URL": "rediscache://127.0.0.1:6380/14",
        "MEDIA_ROOT": str(REPO / "var" / "bench-media"),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def sql(statement: str, db: str = "") -> str:
    """Run SQL as root on the local MariaDB socket (bench databases only)."""
    result = subprocess.run(
        ["mariadb", f"--socket={ROOT_SOCKET}", "-uroot", "-N", "-B", *([db] if db else []),
         "-e", statement],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout


def manage(env: dict[str, str], *args: str, capture: bool = True) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=REPO, env=env, text=True,
        capture_output=capture, check=True,
    )  # fmt: skip
    return result.stdout if capture else ""


def database_fresh(db: str) -> None:
    sql(f"DROP DATABASE IF EXISTS `{db}`")
    sql(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    manage(app_env(db), "migrate", "--no-input", "-v0")


def gunicorn_workers() -> int:
    """2 x cores + 1 is gunicorn's advice for CPU-bound sync workers; with 2 threads each."""
    return 2 * CORES + 1


@contextmanager
def gunicorn(env: dict[str, str], port: int, *, log: Path | None = None) -> Iterator[str]:
    out = open(log or os.devnull, "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "streamer.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(gunicorn_workers()), "--threads", "2", "--log-level", "warning",
         "--timeout", "60"],
        cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/api/v1/posts/?page_size=1", timeout=5).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        out.close()


def wrk(
    url: str,
    *,
    connections: int,
    seconds: int,
    script: Path = WRK_REPORT,
    headers: dict[str, str] | None = None,
    threads: int = 2,
) -> dict[str, float]:
    """Run wrk; returns requests/s, p50/p95/p99 (ms), requests, errors (non-2xx/3xx + socket)."""
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
            "-s", str(script), url]  # fmt: skip
    for name, value in (headers or {}).items():
        args[1:1] = ["-H", f"{name}: {value}"]
    output = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    figures = dict(re.findall(r"^REPORT (\w+) ([\d.]+)$", output, re.MULTILINE))
    if not figures:
        raise RuntimeError(f"wrk gave no report:\n{output}")
    return {name: float(value) for name, value in figures.items()}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]
