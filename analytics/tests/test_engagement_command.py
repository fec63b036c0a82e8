"""`manage.py run_spark_job` and the Spark part of `stack_status`, without starting Spark."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from kafka import KafkaProducer

from analytics.models import SparkBatch
from analytics.selectors.health import check_spark_job
from analytics.spark_runner import spark_job_pid


@pytest.fixture
def sleeper() -> Iterator[Callable[..., subprocess.Popen]]:
    """Start harmless processes whose command line we choose; all are killed afterwards."""
    started: list[subprocess.Popen] = []

    def start(*marker: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *marker])
        started.append(process)
        cmdline = Path(f"/proc/{process.pid}/cmdline")
        while b"time.sleep" not in cmdline.read_bytes():  # filled in just after exec
            time.sleep(0.01)
        return process

    yield start
    for process in started:
        process.send_signal(signal.SIGKILL)
        process.wait()


def test_the_command_builds_the_job_configuration_from_settings(capsys, settings):
    settings.SPARK_MASTER = "local[2]"

    call_command(
        "run_spark_job", "engagement", "--dry-run", "--available-now",
        "--max-offsets-per-trigger", "500", "--starting-offsets", "latest",
    )  # fmt: skip

    command, env = capsys.readouterr().out.splitlines()
    assert "-m spark_jobs.engagement.job" in command
    assert f"--topic {settings.KAFKA_EVENTS_TOPIC}" in command
    assert "--starting-offsets latest --max-offsets-per-trigger 500" in command
    assert command.endswith("--available-now")
    assert f"--checkpoint-dir {settings.SPARK_CHECKPOINT_DIR}/engagement" in command
    assert "SPARK_MASTER=local[2]" in env
    assert f"SPARK_JARS_DIR={settings.SPARK_JARS_DIR}" in env


def test_a_second_job_does_not_start_beside_a_running_one(tmp_path, sleeper, settings):
    settings.SPARK_JARS_DIR = tmp_path  # no jars: should the check miss, nothing starts
    job = sleeper("spark_jobs.engagement.job")
    pid_file = tmp_path / "spark-engagement.pid"
    pid_file.write_text(f"{job.pid}\n")

    with pytest.raises(CommandError, match=f"already runs \\(pid {job.pid}"):
        call_command("run_spark_job", "engagement", "--pid-file", str(pid_file))


def test_a_pid_file_only_counts_while_its_process_is_a_spark_job(tmp_path, sleeper):
    pid_file = tmp_path / "job.pid"
    other = sleeper()
    pid_file.write_text(str(other.pid))
    assert spark_job_pid(pid_file) is None

    job = sleeper("spark_jobs.engagement.job")
    pid_file.write_text(str(job.pid))
    assert spark_job_pid(pid_file) == job.pid

    job.send_signal(signal.SIGKILL)
    job.wait()
    assert spark_job_pid(pid_file) is None


@pytest.mark.django_db
def test_stack_status_shows_the_last_batch_and_the_lag(kafka_topic, settings, tmp_path):
    settings.VAR_DIR = tmp_path  # no pid file: whatever `make run` may be running elsewhere
    assert "no batch yet" in check_spark_job().detail
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all")
    for n in range(5):
        producer.send(kafka_topic, key=b"1", value=b"{}", partition=n % 2)
    producer.flush()
    producer.close()
    SparkBatch.objects.create(
        query_name="engagement",
        query_id="q",
        batch_id=41,
        topic=kafka_topic,
        end_offsets={"0": 2, "1": 1},
        late_events=4,
        applied_at=timezone.now(),
    )

    part = check_spark_job()

    assert not part.up
    assert "not running" in part.detail
    assert "last batch 41 at" in part.detail
    assert part.detail.endswith("lag 2 events, 4 late events today (not counted)")
