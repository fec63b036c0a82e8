"""Fault suite: break one part of a running Streamer at a time while live traffic flows, then
prove nothing was lost. It runs against a PRIVATE stack (its own MariaDB, Redis and Kafka on
other ports, data under var/faults/), never the shared one.

    .venv/bin/python -m tests.faults.harness                  # full: Kafka down 30 s, rate 20/s
    .venv/bin/python -m tests.faults.harness --short          # CI form (also run by pytest)
    .venv/bin/python -m tests.faults.harness --topology cluster [--short]
    .venv/bin/python -m tests.faults.harness --topology cluster --short --only kafka-node
    make faults                                               # the full form
    STREAMER_TOPOLOGY=cluster make faults                     # the full form, on the cluster

What runs: the services (infra/stack.sh with STREAMER_VAR_DIR and STREAMER_*_PORT), gunicorn
(2 workers), a Celery worker and beat, the Spark engagement job (run_spark_job), the generator
(`seed_fake_data --live`, direct mode) and a probe that acts as a user over HTTP (home page,
community page, post page, post list API, like/unlike through the API) and records every answer.

The faults, one after another, each while the generator and the probe run.

Single topology (one Kafka broker, Spark in local mode): stop Kafka for --kafka-down seconds
and start it; kill -9 the Spark job and restart it; kill -9 the Celery worker and restart it;
restart MariaDB.

Cluster topology (three KRaft nodes, the topic with 6 partitions, replication 3 and
min.insync.replicas 2; a Spark standalone master with two 1-core workers, the job holding an
executor on each; data under var/faults-cluster/):
- kill -9 Kafka node 1 (the first bootstrap address) for --kafka-down seconds, then start it:
  the health must show the broker down and its partitions under-replicated meanwhile;
- kill -9 one Spark worker (and its executor) while a batch runs on it: the job must go on
  (its driver keeps running, the batch's tasks run again on the other worker) and the health
  must show the worker lost; the worker is started again afterwards;
- kill -9 the Spark driver (the job process) while a batch runs, and restart it: it goes on
  from its checkpoint.

After each, the generator is stopped and, once the pipeline caught up, tests/faults/check.py
must report: nothing pending or failed in the outbox, zero outbox events missing from the
topic (by event_id), metric totals equal to the outbox and to the domain tables, every broker
up and no partition under-replicated. The probe's requests must all have succeeded, except
while MariaDB itself was down, when only a clean 503 (no traceback) is accepted.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
PASSWORD = "streamer-fake-people"


KAFKA_NODES = 3
SPARK_WORKERS = 2


@dataclass
class Ports:
    """STREAMER_FAULTS_PORTS="db,redis,kafka,controller,web[,spark]" moves them. In the cluster
    topology Kafka node N listens on kafka + 2(N-1) (its controller on controller + 2(N-1)),
    and Spark takes spark .. spark + 5 (master, its UI, two workers and their UIs) and
    spark + 6 for the job's driver UI."""

    db: int = 3317
    redis: int = 6390
    kafka: int = 9192
    controller: int = 9193
    web: int = 8797
    spark: int = 7177

    @classmethod
    def from_env(cls) -> Ports:
        given = os.environ.get("STREAMER_FAULTS_PORTS")
        return cls(*(int(p) for p in given.split(","))) if given else cls()

    def kafka_node(self, node: int) -> int:
        return self.kafka + 2 * (node - 1)

    def spark_worker_ui(self, worker: int) -> int:
        return self.spark + 2 * worker + 1

    @property
    def spark_driver_ui(self) -> int:
        return self.spark + 6


@dataclass
class Settings:
    short: bool = False
    topology: str = "single"
    kafka_down: float = 30.0
    rate: float = 20.0
    traffic: float = 20.0  # seconds of traffic before and after each fault
    catch_up: float = 240.0
    var_dir: Path = REPO / "var" / "faults"
    ports: Ports = field(default_factory=Ports.from_env)
    keep: bool = False  # leave the private stack running afterwards
    only: tuple[str, ...] = ()  # names of FAULTS[topology] to run; empty: all of them

    @classmethod
    def short_form(cls, topology: str = "single") -> Settings:
        if topology == "cluster":
            return cls.cluster(short=True, kafka_down=15.0, rate=10.0, traffic=6.0, catch_up=420.0)
        return cls(short=True, kafka_down=8.0, rate=10.0, traffic=6.0, catch_up=180.0)

    @classmethod
    def cluster(cls, **given: object) -> Settings:
        """The cluster topology: its own data directory; catching up includes restarting a
        Spark application on the cluster, which takes longer."""
        return cls(
            **{"topology": "cluster", "var_dir": REPO / "var" / "faults-cluster",
               "catch_up": 420.0, **given}
        )  # fmt: skip

    @property
    def is_cluster(self) -> bool:
        return self.topology == "cluster"


# The faults of each topology, by name (--only), in the order they run.
FAULTS = {
    "single": ("kafka", "spark", "worker", "mariadb"),
    "cluster": ("kafka-node", "spark-worker", "spark-driver"),
}


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
        self._topology_env = self.topology_env()

    # -- environments -----------------------------------------------------------------------
    def stack_env(self) -> dict[str, str]:
        p = self.config.ports
        return {
            **os.environ,
            "STREAMER_TOPOLOGY": self.config.topology,
            "STREAMER_VAR_DIR": str(self.var),
            "STREAMER_DB_PORT": str(p.db),
            "STREAMER_DB_NAME": "streamer_faults",
            "STREAMER_REDIS_PORT": str(p.redis),
            "STREAMER_KAFKA_PORT": str(p.kafka),
            "STREAMER_KAFKA_CONTROLLER_PORT": str(p.controller),
            "STREAMER_KAFKA_HEAP": "-Xms128m -Xmx384m",
            "STREAMER_SPARK_PORT": str(p.spark),
            "STREAMER_SPARK_WORKERS": str(SPARK_WORKERS),
            "STREAMER_SPARK_WORKER_CORES": "1",
            "STREAMER_SPARK_WORKER_MEMORY": "1g",
        }

    def addresses(self) -> dict[str, str]:
        """The app's addresses for this topology, as infra/stack.sh states them."""
        result = subprocess.run(
            [str(REPO / "infra" / "stack.sh"), "addresses"], env=self.stack_env(), text=True,
            capture_output=True, check=True, timeout=60,
        )  # fmt: skip
        return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)

    def topology_env(self) -> dict[str, str]:
        p = self.config.ports
        if not self.config.is_cluster:
            return {
                "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{p.kafka}",
                "KAFKA_EVENTS_PARTITIONS": "2",
                "KAFKA_EVENTS_REPLICATION_FACTOR": "1",
                "KAFKA_EVENTS_MIN_INSYNC_REPLICAS": "1",
                "SPARK_MASTER": "local[2]",
                "SPARK_MASTER_UI_URL": "",
            }
        return {
            **self.addresses(),
            "KAFKA_EVENTS_PARTITIONS": "6",
            "KAFKA_EVENTS_REPLICATION_FACTOR": "3",
            "KAFKA_EVENTS_MIN_INSYNC_REPLICAS": "2",
            # An executor on each worker (no trend job runs here), 768 MiB each in the
            # worker's 1 GiB; the driver's UI on, for its executors and running stages.
            "SPARK_ENGAGEMENT_CORES_MAX": str(SPARK_WORKERS),
            "SPARK_EXECUTOR_MEMORY": "768m",
            "SPARK_UI_ENABLED": "true",
            "SPARK_UI_PORT": str(p.spark_driver_ui),
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
            # Any address the app derives by itself points at this stack too.
            "STREAMER_TOPOLOGY": self.config.topology,
            "STREAMER_DB_PORT": str(p.db),
            "STREAMER_REDIS_PORT": str(p.redis),
            "STREAMER_KAFKA_PORT": str(p.kafka),
            "STREAMER_KAFKA_CONTROLLER_PORT": str(p.controller),
            "STREAMER_SPARK_PORT": str(p.spark),
            **self._topology_env,
            "KAFKA_EVENTS_TOPIC": "streamer.events",
            "SPARK_CHECKPOINT_DIR": str(self.var / "checkpoints"),
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
            env=self.stack_env(), check=True, timeout=900 if self.config.is_cluster else 180,
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

    # -- the cluster's processes (started by infra/stack.sh, named by its pid files) --------
    def service_kill9(self, name: str, *, session: bool = False) -> None:
        """kill -9 a service by its pid file; with `session`, everything in its session (a
        Spark worker with its executors: a machine lost)."""
        pid = int((self.var / "run" / f"{name}.pid").read_text().strip())
        with suppress(ProcessLookupError):
            if session:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)

    def driver_api(self, path: str) -> Any:
        """The job driver's REST API (its web UI, on in the cluster topology)."""
        url = f"http://127.0.0.1:{self.config.ports.spark_driver_ui}/api/v1/{path}"
        return requests.get(url, timeout=5).json()

    def busy_worker(self) -> int | None:
        """The worker (1..N) whose executor runs a task of the job right now, if any: the
        driver says which executors have active tasks, the workers which executors they
        host."""
        try:
            (app,) = self.driver_api("applications")
            executors = self.driver_api(f"applications/{app['id']}/executors")
        except (requests.RequestException, ValueError):
            return None
        busy = {e["id"] for e in executors if e["id"] != "driver" and e.get("activeTasks")}
        for worker in range(1, SPARK_WORKERS + 1):
            url = f"http://127.0.0.1:{self.config.ports.spark_worker_ui(worker)}/json/"
            try:
                hosted = requests.get(url, timeout=5).json().get("executors", [])
            except (requests.RequestException, ValueError):
                continue
            if any(e["appid"] == app["id"] and str(e["id"]) in busy for e in hosted):
                return worker
        return None

    def wait_busy_worker(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            worker = self.busy_worker()
            if worker is not None:
                return worker
            time.sleep(0.3)
        return None

    def health(self) -> dict:
        """The Kafka and Spark cluster health lines, as stack_status and the dashboard say."""
        return self.check("--health")

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
        return not self.bad_answers and all(
            phase["check"].get("ok") and not phase.get("unmet") for phase in self.phases
        )


class FaultRun:
    def __init__(self, config: Settings) -> None:
        names = FAULTS[config.topology]
        unknown = set(config.only) - set(names)
        if unknown:
            raise ValueError(f"no fault {', '.join(sorted(unknown))}; faults: {', '.join(names)}")
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

    def caught_up(self, phase: str, *, unmet: list[str] | None = None) -> None:
        """Wait until the check passes (or catch_up seconds), the probe paused meanwhile: its
        likes would otherwise move the counts between the outbox read and the topic read."""
        if self.probe is not None:
            self.probe.paused.set()
            self.probe.idle.wait(timeout=30)
        try:
            self._caught_up(phase, unmet or [])
        finally:
            if self.probe is not None:
                self.probe.paused.clear()

    def _caught_up(self, phase: str, unmet: list[str]) -> None:
        deadline = time.monotonic() + self.config.catch_up
        result: dict = {}
        while time.monotonic() < deadline:
            result = self.stack.check()
            if result.get("ok"):
                break
            time.sleep(3)
        log(f"{phase}: {'caught up' if result.get('ok') else 'NOT consistent'} {result}")
        for line in unmet:
            log(f"{phase}: UNMET: {line}")
        self.report.phases.append({"phase": phase, "check": result, "unmet": unmet})

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

    # -- faults on the cluster topology ------------------------------------------------------
    def watch_health(self, part: str, seen: Callable[[dict], bool], until: float) -> dict:
        """Sample the health until `seen(part's health)` or the monotonic time `until`; the
        last sample, with "seen" set to whether it matched."""
        sample: dict = {}
        while time.monotonic() < until:
            sample = self.stack.health().get(part, {})
            if sample and seen(sample):
                return {**sample, "seen": True}
            time.sleep(1)
        return {**sample, "seen": False}

    def fault_kafka_broker(self) -> None:
        """kill -9 the node the clients list first; writes go on with two of three replicas."""
        node = 1
        unmet = []
        with self.traffic():
            log(f"kill -9 Kafka node {node} for {self.config.kafka_down:g} s")
            started = time.monotonic()
            self.stack.service_kill9(f"kafka-{node}")
            try:
                # The broker is fenced after its session timeout (9 s) and its partitions'
                # ISRs shrink after replica.lag.time.max.ms (10 s): keep it down until the
                # health shows both, within the outage and at most 60 s more.
                deadline = max(started + self.config.kafka_down, time.monotonic()) + 60
                sample = self.watch_health(
                    "kafka",
                    lambda h: node in h["brokers_down"] and h["under_replicated"] > 0,
                    deadline,
                )
                log(f"health while node {node} was down: {sample}")
                if not sample["seen"] or sample.get("state") != "amber":
                    unmet.append(f"health did not show node {node} down, partitions under-"
                                 f"replicated: {sample}")  # fmt: skip
                remaining = started + self.config.kafka_down - time.monotonic()
                if remaining > 0:
                    time.sleep(remaining)
            finally:
                log(f"starting Kafka node {node} after {time.monotonic() - started:.0f} s")
                self.stack.services("start", f"kafka-{node}")
        self.caught_up(f"kafka node {node} killed, restarted", unmet=unmet)

    def fault_spark_worker(self) -> None:
        """kill -9 a worker (with its executor) while it runs a task of the job."""
        unmet = []
        with self.traffic():
            worker = self.stack.wait_busy_worker(timeout=120)
            if worker is None:
                unmet.append("no batch was seen running on a worker within 120 s")
                worker = SPARK_WORKERS
            log(f"kill -9 Spark worker {worker} and its executor while a batch runs on it")
            self.stack.service_kill9(f"spark-worker-{worker}", session=True)
            sample = self.watch_health(
                "spark_cluster", lambda h: h["workers_lost"] == 1, time.monotonic() + 60
            )
            log(f"health after the worker was lost: {sample}")
            if not sample["seen"] or sample.get("state") != "amber":
                unmet.append(f"health did not show the lost worker: {sample}")
        if self.stack.processes["spark"].poll() is not None:
            unmet.append("the job's driver exited when the worker was lost")
        self.caught_up(f"spark worker {worker} killed", unmet=unmet)
        log(f"starting Spark worker {worker} again")
        self.stack.services("start", f"spark-worker-{worker}")
        sample = self.watch_health(
            "spark_cluster",
            lambda h: h["state"] == "green" and h["executors"] == SPARK_WORKERS,
            time.monotonic() + 180,
        )
        log(f"health with the worker back: {sample}")
        if not sample["seen"]:
            self.report.phases[-1]["unmet"].append(
                f"the job did not get its executor back: {sample}"
            )

    def fault_spark_driver(self) -> None:
        unmet = []
        with self.traffic():
            if self.stack.wait_busy_worker(timeout=120) is None:
                unmet.append("no batch was seen running within 120 s")
            log("kill -9 the Spark driver (the job process) while a batch runs, then restart it")
            self.stack.kill9("spark")
            (self.var_run / "spark.pid").unlink(missing_ok=True)
            self.stack.start("spark")
        self.caught_up("spark driver killed and restarted", unmet=unmet)

    @property
    def var_run(self) -> Path:
        return self.config.var_dir / "run"

    # -- the run ----------------------------------------------------------------------------
    def ports_check(self) -> None:
        """Refuse to run on ports another process holds: a service already listening there
        that is not this stack's own (by its pid file) would be used, and broken, by us."""
        run = self.var_run
        p = self.config.ports
        ports: list[tuple[int, str | None]] = [
            (p.db, "mariadb.pid"), (p.redis, "redis.pid"), (p.web, None)
        ]  # fmt: skip
        if self.config.is_cluster:
            for node in range(1, KAFKA_NODES + 1):
                ports += [(p.kafka_node(node), f"kafka-{node}.pid"),
                          (p.controller + 2 * (node - 1), f"kafka-{node}.pid")]  # fmt: skip
            ports += [(p.spark, "spark-master.pid"), (p.spark + 1, "spark-master.pid"),
                      (p.spark_driver_ui, None)]  # fmt: skip
            for worker in range(1, SPARK_WORKERS + 1):
                ports += [(p.spark + 2 * worker, f"spark-worker-{worker}.pid"),
                          (p.spark_worker_ui(worker), f"spark-worker-{worker}.pid")]  # fmt: skip
        else:
            ports += [(p.kafka, "kafka.pid"), (p.controller, "kafka.pid")]
        for port, pid_file in ports:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) != 0:
                    continue
            if pid_file and _pid_alive(run / pid_file):
                continue
            raise RuntimeError(
                f"port {port} is used by another process; set STREAMER_FAULTS_PORTS"
                '="db,redis,kafka,controller,web,spark" to free ports'
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
                for fault in self.faults():
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

    def faults(self) -> list[Callable[[], None]]:
        if self.config.is_cluster:
            faults = [self.fault_kafka_broker, self.fault_spark_worker, self.fault_spark_driver]
        else:
            faults = [self.fault_kafka, self.fault_spark, self.fault_worker, self.fault_mariadb]
        names = FAULTS[self.config.topology]
        chosen = self.config.only or names
        return [fault for name, fault in zip(names, faults, strict=True) if name in chosen]

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
    parser.add_argument(
        "--topology",
        choices=("single", "cluster"),
        default=os.environ.get("STREAMER_TOPOLOGY", "single"),
        help="single broker and local Spark, or the cluster (default: STREAMER_TOPOLOGY)",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated faults to run, of "
        + "; ".join(f"{topology}: {', '.join(names)}" for topology, names in FAULTS.items()),
    )
    args = parser.parse_args(argv)
    if args.short:
        config = Settings.short_form(args.topology)
    else:
        config = Settings.cluster() if args.topology == "cluster" else Settings()
    for name in ("kafka_down", "rate", "traffic"):
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    config.keep = args.keep
    config.only = tuple(name for name in args.only.split(",") if name)

    def terminated(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # so the finally blocks stop what this run started

    signal.signal(signal.SIGTERM, terminated)
    report = FaultRun(config).run()
    for phase in report.phases:
        good = phase["check"].get("ok") and not phase.get("unmet")
        print(f"{phase['phase']:<36} {'OK' if good else 'FAILED'}")
        for line in phase.get("unmet", []):
            print(f"    unmet: {line}")
    print(f"probe requests: {report.requests}; during MariaDB outage: {report.during_db_outage}")
    for line in report.bad_answers:
        print(f"bad answer: {line}")
    print("fault suite:", "PASSED" if report.ok else "FAILED")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
