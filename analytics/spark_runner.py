"""How Django starts the Spark jobs: which module each job is, the environment it gets from
the settings (master, jars, Kafka, database), and the pid file that says it runs. Used by
`manage.py run_spark_job`, the trend services and the pipeline health."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.conf import settings

from spark_jobs.contract import DatabaseAddress

JOBS = {
    "engagement": "spark_jobs.engagement.job",
    "trends_train": "spark_jobs.trends.train",
    "trends_predict": "spark_jobs.trends.predict",
}
BATCH_JOBS = frozenset({"trends_train", "trends_predict"})


def job_database_url() -> str:
    """DATABASE_URL for a job, from the settings Django uses right now (so a test run points
    the job at the test database)."""
    return DatabaseAddress.from_django(settings.DATABASES["default"]).url


def job_cores_max(job: str) -> int | None:
    """Cores the job may take on a standalone master (`spark.cores.max`; None: all it is
    offered). The streaming job and the trend jobs get separate budgets: a running
    application keeps its cores, so a streaming job holding them all would starve the
    trend jobs."""
    if job in BATCH_JOBS:
        return settings.SPARK_TRENDS_CORES_MAX
    return settings.SPARK_ENGAGEMENT_CORES_MAX


def job_env(job: str = "engagement") -> dict[str, str]:
    """The environment a job process runs with: this one plus the addresses it needs."""
    inherited = {key: value for key, value in os.environ.items() if key != "SPARK_CORES_MAX"}
    cores = job_cores_max(job)
    return {
        **inherited,
        **({"SPARK_CORES_MAX": str(cores)} if cores else {}),
        "SPARK_MASTER": settings.SPARK_MASTER,
        "SPARK_JARS_DIR": str(settings.SPARK_JARS_DIR),
        "KAFKA_BOOTSTRAP_SERVERS": ",".join(settings.KAFKA_BOOTSTRAP_SERVERS),
        "DATABASE_URL": job_database_url(),
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
        "PYTHONUNBUFFERED": "1",
    }


def pid_file_path(job: str) -> Path:
    return Path(settings.VAR_DIR) / "run" / f"spark-{job}.pid"


def spark_job_pid(pid_file: Path) -> int | None:
    """The pid in a Spark job's pid file when that process is alive and still a Spark job
    (not a reused pid)."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and b"spark_jobs." not in cmdline.read_bytes():
        return None
    return pid


def spark_job_pid_running(job: str) -> int | None:
    return spark_job_pid(pid_file_path(job))
