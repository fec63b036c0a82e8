"""Fault suite: break one part of a running Streamer at a time while live traffic flows, then
prove nothing was lost. It runs against a PRIVATE stack (its own MariaDB, Redis and Kafka on
other ports, data under var/faults/), never the shared one.

    .venv/bin/python -m tests.faults.harness                  # full: Kafka down 30 s, rate 20/s
    .venv/bin/python -m tests.faults.harness --short          # CI form (also run by pytest)
    make faults                                               # the full form

What runs: the services (infra/stack.sh with STREAMER_VAR_DIR and STREAMER_*_PORT), gunicorn
(2 workers), a Celery worker and beat, the Spark engagement job (run_spark_job), the generator
(`seed_fake_data --live`, direct mode) and a probe that acts as a user over HTTP (home page,
community page, post page, post list API, like/unlike through the API) and records every answer.

The faults, one after another, each while the generator and the probe run: stop Kafka for
--kafka-down seconds and start it; kill -9 the Spark job and restart it; kill -9 the Celery
worker and restart it; restart MariaDB. After each, the generator is stopped and, once the
pipeline caught up, tests/faults/check.py must report: nothing pending or failed in the outbox,
zero outbox events missing from the topic (by event_id), metric totals equal to the outbox
and to the domain tables. The probe's requests must all have succeeded, except while MariaDB
itself was down, when only a clean 503 (no traceback) is accepted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
PASSWORD = "streamer-fake-people"


@dataclass
class Ports:
    """STREAMER_FAULTS_PORTS="db,redis,kafka,controller,web" moves them."""

    db: int = 3317
    redis: int = 6390
    kafka: int = 9192
    controller: int = 9193
    web: int = 8797

    @classmethod
    def from_env(cls) -> Ports:
        given = os.environ.get("STREAMER_FAULTS_PORTS")
        return cls(*(int(p) for p in given.split(","))) if given else cls()


@dataclass
class Settings:
    short: bool = False
    kafka_down: float = 30.0
    rate: float = 20.0
    traffic: float = 20.0  # seconds of traffic before and after each fault
    catch_up: float = 240.0
    var_dir: Path = REPO / "var" / "faults"
    ports: Ports = field(default_factory=Ports.from_env)
    keep: bool = False  # leave the private stack running afterwards

    @classmethod
    def short_form(cls) -> Settings:
        return cls(short=True, kafka_down=8.0, rate=10.0, traffic=6.0, catch_up=180.0)


def log(message: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Stack:
    """The private services and the app processes, with the environment they share."""

    def __init__(self, config: Settings) -> None:
        self.config = config
        self.var = config.var_dir
        self.logs = self.var / "log"
        self.processes: dict[str, subprocess.Popen] = {}
        self.var.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)

    # -- environments -----------------------------------------------------------------------
    def stack_env(self) -> dict[str, str]:
        p = self.config.ports
        return {
            **os.environ,
            "STREAMER_VAR_DIR": str(self.var),
            "STREAMER_DB_PORT": str(p.db),
            "STREAMER_DB_NAME": "streamer_faults",
            "STREAMER_REDIS_PORT": str(p.redis),
            "STREAMER_KAFKA_PORT": str(p.kafka),
            "STREAMER_KAFKA_CONTROLLER_PORT": str(p.controller),
            "STREAMER_KAFKA_HEAP": "-Xms128m -Xmx384m",
        }

    def app_env(self) -> dict[str, str]:
        p = self.config.ports
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "DJANGO_", "PYTEST"))
        }
        return {
            **env,
            "DJANGO_SETTINGS_MODULE": "streamer.settings",
            "DEBUG": "false",
            "SECRET_KEY": "faults-only-secret-key-" + "x" * 40,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": f"mysql://streamer:streamer@127.0.0.1:{p.db}/streamer_faults",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{p.redis}/0",
            "CELERY_RESULT_BACKEND": f"redis://127.0.0.1:{p.redis}/1",
            "CACHE_URL": f"rediscache://127.0.0.1:{p.redis}/2",
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{p.kafka}",
            "KAFKA_EVENTS_TOPIC": "streamer.events",
            "KAFKA_EVENTS_PARTITIONS": "2",
            "SPARK_CHECKPOINT_DIR": str(self.var / "checkpoints"),
            "SPARK_MASTER": "local[2]",
            "MEDIA_ROOT": str(self.var / "media"),
            "API_THROTTLE_ANON": "1000000/min",
            "API_THROTTLE_USER": "1000000/min",
            "API_THROTTLE_AUTH": "1000000/min",
            "OUTBOX_SWEEP_SECONDS": "2",
            "OUTBOX_BACKOFF_MAX_SECONDS": "4",
            "KAFKA_PRODUCER_REQUEST_TIMEOUT_MS": "3000",
            "KAFKA_PRODUCER_DELIVERY_TIMEOUT_MS": "5000",
            "KAFKA_PRODUCER_MAX_BLOCK_MS": "3000",
            "PYTHONUNBUFFERED": "1",
        }

    # -- services ---------------------------------------------------------------------------
    def services(self, action: str, *names: str) -> None:
        subprocess.run(
            [str(REPO / "infra" / "stack.sh"), action, *names],
            env=self.stack_env(), check=True, timeout=180,
        )  # fmt: skip

    def manage(self, *args: str, timeout: float = 600) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=REPO, env=self.app_env(), text=True,
            capture_output=True, timeout=timeout,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def check(self, *args: str) -> dict:
        result = subprocess.run(
            [PYTHON, "-m", "tests.faults.check", *args], cwd=REPO, env=self.app_env(),
            text=True, capture_output=True, timeout=120,
        )  # fmt: skip
        if result.returncode != 0:
            return {"ok": False, "error": result.stderr.strip().splitlines()[-1:]}
        return json.loads(result.stdout)

    # -- app processes ----------------------------------------------------------------------
    COMMANDS = {
        "web": lambda port: [PYTHON, "-m", "gunicorn", "streamer.wsgi", "--bind",
                             f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
                             "--timeout", "30", "--log-level", "warning"],
        "worker": lambda _: [PYTHON, "-m", "celery", "-A", "streamer", "worker", "--pool=solo",
                             "--loglevel=INFO", "--hostname=faults@localhost",
                             "--without-gossip", "--without-mingle"],
        "beat": lambda _: [PYTHON, "-m", "celery", "-A", "streamer", "beat", "--loglevel=INFO"],
        "spark": lambda _: [PYTHON, "manage.py", "run_spark_job", "--trigger-interval",
                            "2 seconds", "--pid-file", "PIDFILE", "engagement"],
    }  # fmt: skip

    def start(self, name: str, command: list[str] | None = None) -> subprocess.Popen:
        command = command or self.COMMANDS[name](self.config.ports.web)
        command = [str(self.var / "run" / "spark.pid") if c == "PIDFILE" else c for c in command]
        with open(self.logs / f"{name}.log", "ab") as out:
            process = subprocess.Popen(
                command, cwd=REPO, env=self.app_env(), stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.processes[name] = process
        return process

    def kill9(self, name: str) -> None:
        """SIGKILL the process and everything it started (its own session/process group)."""
        process = self.processes.pop(name)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self, name: str, timeout: float = 60) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name, timeout=20)

    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.config.ports.web}"

    def wait_web(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with suppress(requests.RequestException):
                if requests.get(self.web_url() + "/api/v1/posts/", timeout=5).status_code == 200:
                    return
            time.sleep(0.5)
        raise RuntimeError("gunicorn did not answer")


@dataclass
class Answer:
    at: float
    what: str
    status: int  # 0 = no answer (connection refused/reset, timeout)
    clean: bool  # no traceback/debug page in the body


class Probe(threading.Thread):
    """A user on the site: pages, the API, and like/unlike through the API, ~4 requests/s."""

    def __init__(self, base: str, target: dict) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.target = target
        self.answers: list[Answer] = []
        self.halt = threading.Event()
        self.paused = threading.Event()  # set while the harness checks consistency
        self.idle = threading.Event()  # set by the probe when it is paused between rounds
        self.session = requests.Session()
        self.token: str | None = None

    def _record(self, what: str, method: str, path: str, **kwargs) -> requests.Response | None:
        try:
            response = self.session.request(method, self.base + path, timeout=15, **kwargs)
        except requests.RequestException:
            self.answers.append(Answer(time.time(), what, 0, True))
            return None
        body = response.text
        clean = "Traceback" not in body and "Exception Value" not in body
        self.answers.append(Answer(time.time(), what, response.status_code, clean))
        return response

    def _login(self) -> None:
        response = self._record(
            "api token", "POST", "/api/v1/auth/token/",
            json={"username": self.target["username"], "password": PASSWORD},
        )  # fmt: skip
        if response is not None and response.status_code == 200:
            self.token = response.json()["token"]

    def run(self) -> None:
        post, slug = self.target["post_id"], self.target["slug"]
        liked = False
        while not self.halt.is_set():
            if self.paused.is_set():
                self.idle.set()
                self.halt.wait(0.2)
                continue
            self.idle.clear()
            if self.token is None:
                self._login()
            headers = {"Authorization": f"Token {self.token}"} if self.token else {}
            self._record("home page", "GET", "/")
            self._record("community page", "GET", f"/c/{slug}/")
            self._record("post page", "GET", f"/p/{post}/")
            self._record("post list api", "GET", "/api/v1/posts/", params={"page_size": 20})
            if self.token:
                method = "DELETE" if liked else "POST"
                response = self._record(
                    "like api", method, f"/api/v1/posts/{post}/like/", headers=headers
                )
                if response is not None and response.status_code == 200:
                    liked = not liked
            self.halt.wait(1.0)


@dataclass
class Outage:
    started: float
    ended: float


@dataclass
class Report:
    phases: list[dict] = field(default_factory=list)
    bad_answers: list[str] = field(default_factory=list)
    requests: int = 0
    during_db_outage: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.bad_answers and all(phase["check"].get("ok") for phase in self.phases)


class FaultRun:
    def __init__(self, config: Settings) -> None:
        self.config = config
        self.stack = Stack(config)
        self.db_outages: list[Outage] = []
        self.report = Report()
        self.probe: Probe | None = None

    # -- traffic ----------------------------------------------------------------------------
    def generator_start(self) -> None:
        self.stack.start(
            "generator",
            [PYTHON, "manage.py", "seed_fake_data", "--live", "--rate", str(self.config.rate),
             "--workers", "1", "--seed", str(int(time.time()))],
        )  # fmt: skip

    def generator_stop(self) -> None:
        process = self.stack.processes.pop("generator", None)
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # the generator stops between batches on SIGINT
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    @contextmanager
    def traffic(self) -> Iterator[None]:
        self.generator_start()
        time.sleep(self.config.traffic)
        try:
            yield
            time.sleep(self.config.traffic)
        finally:
            self.generator_stop()

    def caught_up(self, phase: str) -> None:
        """Wait until the check passes (or catch_up seconds), the probe paused meanwhile: its
        likes would otherwise move the counts between the outbox read and the topic read."""
        if self.probe is not None:
            self.probe.paused.set()
            self.probe.idle.wait(timeout=30)
        try:
            self._caught_up(phase)
        finally:
            if self.probe is not None:
                self.probe.paused.clear()

    def _caught_up(self, phase: str) -> None:
        deadline = time.monotonic() + self.config.catch_up
        result: dict = {}
        while time.monotonic() < deadline:
            result = self.stack.check()
            if result.get("ok"):
                break
            time.sleep(3)
        log(f"{phase}: {'caught up' if result.get('ok') else 'NOT consistent'} {result}")
        self.report.phases.append({"phase": phase, "check": result})

    # -- faults -----------------------------------------------------------------------------
    def fault_kafka(self) -> None:
        with self.traffic():
            log(f"stopping Kafka for {self.config.kafka_down:g} s")
            self.stack.services("stop", "kafka")
            try:
                time.sleep(self.config.kafka_down)
            finally:
                self.stack.services("start", "kafka")
        self.caught_up("kafka stopped and started")

    def fault_spark(self) -> None:
        with self.traffic():
            log("kill -9 the Spark job, then restart it")
            self.stack.kill9("spark")
            (self.var_run / "spark.pid").unlink(missing_ok=True)
            self.stack.start("spark")
        self.caught_up("spark job killed and restarted")

    def fault_worker(self) -> None:
        with self.traffic():
            log("kill -9 the Celery worker, then restart it")
            self.stack.kill9("worker")
            time.sleep(2)
            self.stack.start("worker")
        self.caught_up("celery worker killed and restarted")

    def fault_mariadb(self) -> None:
        with self.traffic():
            log("restarting MariaDB")
            outage = Outage(time.time(), 0.0)
            try:
                self.stack.services("stop", "mariadb")
            finally:
                self.stack.services("start", "mariadb")
                outage.ended = time.time() + 1.0  # the first request on each old connection
                self.db_outages.append(outage)
            # The generator (direct mode) fails with the database; start a new one.
            if self.stack.processes["generator"].poll() is not None:
                self.stack.processes.pop("generator")
                self.generator_start()
            for name in ("worker", "beat", "spark"):
                if self.stack.processes[name].poll() is not None:
                    log(f"{name} exited with the database; restarting it")
                    self.stack.processes.pop(name)
                    (self.var_run / "spark.pid").unlink(missing_ok=True)
                    self.stack.start(name)
        self.caught_up("mariadb restarted")

    @property
    def var_run(self) -> Path:
        return self.config.var_dir / "run"

    # -- the run ----------------------------------------------------------------------------
    def ports_check(self) -> None:
        """Refuse to run on ports another process holds: a service already listening there
        that is not this stack's own (by its pid file) would be used, and broken, by us."""
        run = self.var_run
        p = self.config.ports
        for port, pid_file in ((p.db, "mariadb.pid"), (p.redis, "redis.pid"),
                               (p.kafka, "kafka.pid"), (p.controller, "kafka.pid"),
                               (p.web, None)):  # fmt: skip
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) != 0:
                    continue
            if pid_file and _pid_alive(run / pid_file):
                continue
            raise RuntimeError(
                f"port {port} is used by another process; set STREAMER_FAULTS_PORTS"
                '="db,redis,kafka,controller,web" to free ports'
            )

    def prepare(self) -> dict:
        log(f"private stack under {self.config.var_dir}")
        self.ports_check()
        self.stack.services("start")
        self.stack.manage("migrate", "--no-input", "-v0")
        self.stack.manage("kafka_setup")
        target = self.stack.check("--probe")
        if "username" not in target:
            log("seeding a small world")
            self.stack.manage(
                "seed_fake_data", "--users", "60", "--communities", "4", "--posts", "80",
                "--actions", "400", "--viral-posts", "1", "--workers", "1", "--seed", "7",
            )  # fmt: skip
            target = self.stack.check("--probe")
        return target

    def run(self) -> Report:
        try:
            target = self.prepare()
            for name in ("web", "worker", "beat", "spark"):
                self.stack.start(name)
            self.stack.wait_web()
            self.caught_up("baseline")
            probe = self.probe = Probe(self.stack.web_url(), target)
            probe.start()
            try:
                for fault in (self.fault_kafka, self.fault_spark, self.fault_worker,
                              self.fault_mariadb):  # fmt: skip
                    fault()
            finally:
                probe.halt.set()
                probe.join(timeout=30)
            self.judge(probe.answers)
        finally:
            self.stack.stop_all()
            if not self.config.keep:
                with suppress(Exception):
                    self.stack.services("stop")
        return self.report

    def judge(self, answers: list[Answer]) -> None:
        """Every answer a success, except during a MariaDB outage: then a clean 503 only."""
        self.report.requests = len(answers)
        for answer in answers:
            in_outage = any(o.started <= answer.at <= o.ended for o in self.db_outages)
            good = answer.status in (200, 201) and answer.clean
            if in_outage:
                key = str(answer.status)
                self.report.during_db_outage[key] = self.report.during_db_outage.get(key, 0) + 1
                good = good or (answer.status == 503 and answer.clean)
            if not good:
                self.report.bad_answers.append(
                    f"{time.strftime('%H:%M:%S', time.localtime(answer.at))} {answer.what}: "
                    f"{answer.status or 'no answer'}{'' if answer.clean else ' (traceback)'}"
                )


def _pid_alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="CI form: short outages, low rate")
    parser.add_argument("--kafka-down", type=float, help="seconds Kafka stays stopped")
    parser.add_argument("--rate", type=float, help="generator actions/s")
    parser.add_argument("--traffic", type=float, help="seconds of traffic around each fault")
    parser.add_argument("--keep", action="store_true", help="leave the private stack running")
    args = parser.parse_args(argv)
    config = Settings.short_form() if args.short else Settings()
    for name in ("kafka_down", "rate", "traffic"):
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    config.keep = args.keep

    def terminated(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # so the finally blocks stop what this run started

    signal.signal(signal.SIGTERM, terminated)
    report = FaultRun(config).run()
    for phase in report.phases:
        print(f"{phase['phase']:<36} {'OK' if phase['check'].get('ok') else 'FAILED'}")
    print(f"probe requests: {report.requests}; during MariaDB outage: {report.during_db_outage}")
    for line in report.bad_answers:
        print(f"bad answer: {line}")
    print("fault suite:", "PASSED" if report.ok else "FAILED")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
