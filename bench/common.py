"""What the benchmarks share: where the repository, its interpreter and the bench's scratch
space are; their command lines; a bench database of their own (its URL, the app's environment
for it, SQL as root, a fresh migrated copy); `manage.py` runs (captured, or timed with their
output in a log); processes started in the background with a log and stopped again; gunicorn
sized for this machine; wrk with p50/p95/p99; percentiles; and, for the benches that run
Django in their own process, Django set up on a throw-away copy of the configured database."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from spark_jobs.contract import database_address, local_redis_url

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CORES = os.cpu_count() or 1
BENCH_DIR = REPO / "var" / "bench"
ROOT_SOCKET = REPO / "var" / "run" / "mariadb.sock"

WRK_REPORT = REPO / "bench" / "wrk_report.lua"


def arguments(doc: str, **defaults: int | float | str | bool) -> argparse.ArgumentParser:
    """The bench's command line, described by the first paragraph of DOC, with an option
    --NAME (underscores as dashes) for each of DEFAULTS, of its default's type (a flag for
    False). Options with a help text are added by the caller."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    for name, default in defaults.items():
        option = "--" + name.replace("_", "-")
        if default is False:
            parser.add_argument(option, action="store_true")
        else:
            parser.add_argument(option, type=type(default), default=default)
    return parser


# --- a bench database of its own ------------------------------------------------------------


def bench_database_url(name: str) -> str:
    """The configured DATABASE_URL (or the app's default) with database NAME instead: the same
    server and user, parsed by the project's one DATABASE_URL parser."""
    return database_address().with_name(name).url


def app_env(db: str, **extra: str) -> dict[str, str]:
    """Production-like settings (DEBUG off) on the bench database; throttles out of the way.
    No worker drains the Celery broker database (Redis 15): queued publisher runs are simply
    dropped, unless EXTRA points the broker elsewhere."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "streamer.settings",
        "DATABASE_URL": bench_database_url(db),
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-" + "x" * 40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "API_THROTTLE_ANON": "100000000/min",
        "API_THROTTLE_USER": "100000000/min",
        "API_THROTTLE_AUTH": "100000000/min",
        "CELERY_BROKER_URL": local_redis_url(15),
        "CACHE_URL": local_redis_url(14, "rediscache"),
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


def database_create(db: str) -> None:
    """Create the database unless it exists, and migrate it."""
    sql(f"CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    manage(app_env(db), "migrate", "--no-input", "-v0")


def database_fresh(db: str) -> None:
    database_drop(db)
    database_create(db)


def database_drop(db: str) -> None:
    sql(f"DROP DATABASE IF EXISTS `{db}`")


# --- manage.py ------------------------------------------------------------------------------


def manage_command(*args: str) -> list[str]:
    return [PYTHON, "manage.py", *args]


def manage(env: dict[str, str], *args: str, capture: bool = True) -> str:
    """Run `manage.py ARGS`; its standard output when captured."""
    result = subprocess.run(
        manage_command(*args), cwd=REPO, env=env, text=True, capture_output=capture, check=True
    )
    return result.stdout if capture else ""


def manage_timed(
    env: dict[str, str], *args: str, log: Path | None = None, append: bool = False
) -> float:
    """Run `manage.py ARGS` and return its wall time in seconds. Its output goes to the
    terminal, or to LOG (overwritten, or added to with APPEND). Raises CalledProcessError
    when it fails."""
    started = time.monotonic()
    if log is None:
        subprocess.run(manage_command(*args), cwd=REPO, env=env, check=True)
    else:
        with open(log, "ab" if append else "wb") as out:
            subprocess.run(
                manage_command(*args), cwd=REPO, env=env, check=True,
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
    return time.monotonic() - started


def topic_delete(env: dict[str, str], topic: str) -> None:
    """Delete a Kafka topic through the app (for benches that do not run Django themselves)."""
    manage(
        env,
        "shell",
        "-c",
        f"from events.kafka_admin import topic_delete; topic_delete(name={topic!r})",
    )


def work_dir(kind: str) -> tuple[str, Path]:
    """A new run id and a new directory var/bench/KIND-<run id> for the run's files."""
    run = uuid.uuid4().hex[:8]
    path = BENCH_DIR / f"{kind}-{run}"
    path.mkdir(parents=True)
    return run, path


# --- processes in the background ------------------------------------------------------------


def process_start(
    command: list[str], env: dict[str, str], log: Path, *, own_group: bool = True
) -> subprocess.Popen:
    """Start COMMAND in the repository with its output added to LOG; in a process group of its
    own (so process_stop reaches its children too) unless OWN_GROUP is false."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=own_group,
        )  # fmt: skip


def process_stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
    """Send SIG (to its whole group when it leads one), wait up to TIMEOUT, then SIGKILL."""

    def send(signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(process.pid) == process.pid:
                os.killpg(process.pid, signum)
            else:
                process.send_signal(signum)

    if process.poll() is not None:
        return
    send(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait()


# --- HTTP: gunicorn and wrk -----------------------------------------------------------------


def gunicorn_workers() -> int:
    """2 x cores + 1 is gunicorn's advice for CPU-bound sync workers; with 2 threads each."""
    return 2 * CORES + 1


@contextmanager
def gunicorn(
    env: dict[str, str],
    port: int,
    *,
    log: Path | None = None,
    workers: int | None = None,
    threads: int = 2,
) -> Iterator[str]:
    """The app on gunicorn at 127.0.0.1:PORT (gunicorn_workers() workers unless WORKERS), once
    it answers; yields its base URL and stops it afterwards."""
    out = open(log or os.devnull, "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "streamer.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers or gunicorn_workers()), "--threads", str(threads),
         "--log-level", "warning", "--timeout", "60"],
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


def machine_load() -> str:
    """The load averages, for printing beside a figure: the machine is shared, and a figure
    taken on a busy machine says little."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f} / {five:.1f} / {fifteen:.1f} (1/5/15 min) on {CORES} cores"


class TreeMemory:
    """Peak resident memory of a process and all its descendants together (Linux /proc),
    sampled every `interval` seconds in a thread while the `with` block runs."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval, self.peak_bytes = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.wait(self.interval):
            total = sum(_rss_pages(pid) for pid in _tree(self.pid)) * page
            self.peak_bytes = max(self.peak_bytes, total)


def _tree(pid: int) -> list[int]:
    pids, index = [pid], 0
    while index < len(pids):
        for task in Path(f"/proc/{pids[index]}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                pids += [int(child) for child in task.read_text().split()]
        index += 1
    return pids


def _rss_pages(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


# --- Django in the bench's own process ------------------------------------------------------


def django_setup(*quiet: str) -> None:
    """Set Django up on the configured settings; the loggers named in QUIET show errors only."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamer.settings")
    import django

    django.setup()
    for name in quiet:
        logging.getLogger(name).setLevel(logging.ERROR)


@contextmanager
def django_database(
    prefix: str, *, reuse: bool = False, keep: bool = False, serialize: bool = True
) -> Iterator[str]:
    """Switch Django's connection to a migrated database PREFIX_<configured name> on the same
    server (Django's test database machinery; REUSE keeps one left by an earlier run), and
    drop it afterwards unless KEEP. Yields its name."""
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = f"{prefix}_{old_name}"
    connection.creation.create_test_db(
        verbosity=0, autoclobber=True, keepdb=reuse, serialize=serialize
    )
    try:
        yield connection.settings_dict["NAME"]
    finally:
        if not keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)
