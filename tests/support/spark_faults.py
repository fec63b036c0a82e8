"""Crashes injected into the engagement job for the crash tests, as sink hooks
(`spark_jobs.engagement.sink.BatchHooks`): production code carries no fault of its own.

Run the job with them as `python -m tests.support.spark_faults ARGS…` (the job's own
arguments) and ENGAGEMENT_FAULT=<kind>:<batch id>:

- `crash_in_batch:B` SIGKILLs the job inside batch B's open transaction, after its rows
  (MariaDB rolls the transaction back when the connection drops);
- `fail_in_batch:B` raises there instead (the query stops with an error);
- `crash_after_commit:B` SIGKILLs the job after batch B committed, before Spark records the
  batch as done, so a restart re-runs a batch the ledger already has."""

from __future__ import annotations

import logging
import os
import signal
import sys
from dataclasses import dataclass

from spark_jobs.engagement import job
from spark_jobs.engagement.sink import BatchInfo

KINDS = ("crash_in_batch", "fail_in_batch", "crash_after_commit")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fault:
    kind: str
    batch_id: int

    @classmethod
    def from_env(cls) -> Fault | None:
        spec = os.environ.get("ENGAGEMENT_FAULT", "").strip()
        if not spec:
            return None
        kind, batch_id = spec.split(":")[:2]
        if kind not in KINDS:
            raise ValueError(f"ENGAGEMENT_FAULT kind must be one of {KINDS}")
        return cls(kind=kind, batch_id=int(batch_id))

    def inside_transaction(self, batch: BatchInfo) -> None:
        if self.kind != "crash_after_commit" and batch.batch_id == self.batch_id:
            self._strike()

    def after_commit(self, batch: BatchInfo) -> None:
        if self.kind == "crash_after_commit" and batch.batch_id == self.batch_id:
            self._strike()

    def _strike(self) -> None:
        if self.kind == "fail_in_batch":
            raise RuntimeError(f"injected failure in batch {self.batch_id}")
        log.warning("injected crash (%s) in batch %s", self.kind, self.batch_id)
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(job.main(hooks=Fault.from_env()))
