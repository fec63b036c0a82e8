"""What a Spark standalone cluster says of itself: the master's web UI JSON (`/json/`: its
workers and running applications) and each live worker's (`/json/`: the executors it runs).
Read by the pipeline health (`analytics.selectors.health`); short timeouts, since a dead
master or worker must not hold a status page up."""

from __future__ import annotations

from dataclasses import dataclass, field

import requests

from core.health import one_line

TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class SparkWorkerState:
    address: str  # host:port of the worker's RPC endpoint
    alive: bool
    cores: int
    cores_used: int
    executors: int  # executors of the watched application on this worker


@dataclass(frozen=True)
class SparkClusterState:
    """The master's view of its workers and of one application (by name).

    A worker that died and came back registers again under a new id at the same address, and
    the master keeps the dead entry for a while: workers are counted by address, alive if
    any entry there is."""

    master_ui: str
    reachable: bool
    error: str = ""
    status: str = ""
    workers: tuple[SparkWorkerState, ...] = ()
    app_name: str = ""
    app_id: str | None = None
    app_state: str = ""
    app_cores: int = 0
    worker_errors: tuple[str, ...] = field(default=())

    @property
    def workers_alive(self) -> int:
        return sum(w.alive for w in self.workers)

    @property
    def workers_lost(self) -> int:
        return sum(not w.alive for w in self.workers)

    @property
    def executors(self) -> int:
        return sum(w.executors for w in self.workers)

    def describe(self) -> str:
        if not self.reachable:
            return f"master {self.master_ui} not answering ({self.error})"
        cores = sum(w.cores for w in self.workers if w.alive)
        used = sum(w.cores_used for w in self.workers if w.alive)
        parts = [
            f"{self.workers_alive} of {len(self.workers)} workers alive ({used}/{cores} cores used)"
        ]
        if self.workers_lost:
            lost = ", ".join(w.address for w in self.workers if not w.alive)
            parts.append(f"lost: {lost}")
        if self.app_id is None:
            parts.append(f"{self.app_name}: not running on the cluster")
        else:
            executors = f"{self.executors}" + ("+?" if self.worker_errors else "")
            parts.append(
                f"{self.app_name} ({self.app_id}, {self.app_state}): {executors} executors, "
                f"{self.app_cores} cores"
            )
        if self.worker_errors:
            parts.append(f"workers not answering: {', '.join(self.worker_errors)}")
        return "; ".join(parts)

    @property
    def app_has_executors(self) -> bool:
        """The master's own answer: cores granted to the application (its executors' cores)."""
        return self.app_id is not None and self.app_cores > 0


def _json(url: str) -> dict:
    response = requests.get(url.rstrip("/") + "/json/", timeout=TIMEOUT_SECONDS)
    response.raise_for_status()
    return response.json()


def spark_cluster_state(master_ui: str, *, app_name: str) -> SparkClusterState:
    """The cluster behind the master UI at `master_ui`, and the running application named
    `app_name` (the newest, if several)."""
    try:
        master = _json(master_ui)
    except (requests.RequestException, ValueError) as exc:
        return SparkClusterState(master_ui, False, error=one_line(exc), app_name=app_name)
    apps = [a for a in master.get("activeapps", []) if a.get("name") == app_name]
    app = max(apps, key=lambda a: a.get("starttime", 0), default=None)
    app_id = app["id"] if app else None
    by_address: dict[str, list[dict]] = {}
    for worker in master.get("workers", []):
        by_address.setdefault(f"{worker['host']}:{worker['port']}", []).append(worker)
    workers, errors = [], []
    for address, entries in sorted(by_address.items()):
        alive = [w for w in entries if w.get("state") == "ALIVE"]
        executors = 0
        if alive and app_id:
            try:
                state = _json(alive[0]["webuiaddress"])
                executors = sum(e.get("appid") == app_id for e in state.get("executors", []))
            except (requests.RequestException, ValueError):
                errors.append(address)
        chosen = alive[0] if alive else entries[-1]
        workers.append(
            SparkWorkerState(
                address=address,
                alive=bool(alive),
                cores=int(chosen.get("cores", 0)),
                cores_used=int(chosen.get("coresused", 0)),
                executors=executors,
            )
        )
    return SparkClusterState(
        master_ui,
        True,
        status=master.get("status", ""),
        workers=tuple(workers),
        app_name=app_name,
        app_id=app_id,
        app_state=app.get("state", "") if app else "",
        app_cores=int(app.get("cores", 0)) if app else 0,
        worker_errors=tuple(errors),
    )
