"""`manage.py run_spark_job engagement [options]`: build a Spark job's configuration from the
settings and run it as a child process (`python -m spark_jobs.<job>.job`), with its pid in
var/run/spark-<job>.pid while it runs. SIGTERM/SIGINT are passed on; the job then stops its
queries between batches.

The trend batch jobs run the same way: `manage.py run_spark_job trends_train|trends_predict
JOB ARGS…`, everything after the job name going to the job (see spark_jobs/trends)."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import signal
import subprocess
import sys
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.spark_runner import BATCH_JOBS, JOBS, job_env, pid_file_path, spark_job_pid

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: the job gets SIGTERM if this command dies, so no job outlives its supervisor."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def add_stream_options(parser: argparse.ArgumentParser) -> None:
    """The streaming job's options. They may come before or after the job name."""
    parser.add_argument(
        "--available-now",
        action="store_true",
        help="process what the topic holds now, then exit (tests, backfills)",
    )
    parser.add_argument(
        "--starting-offsets",
        default="earliest",
        help="earliest | latest | Kafka JSON; only used when the checkpoint is new",
    )
    parser.add_argument("--max-offsets-per-trigger", type=int, default=None)
    parser.add_argument("--trigger-interval", default=None, help='e.g. "5 seconds"')
    parser.add_argument("--window", default=None, help='event-time window, e.g. "1 minute"')
    parser.add_argument("--watermark", default=None, help='late-event bound, "10 minutes"')
    parser.add_argument("--topic", default=None, help="default: KAFKA_EVENTS_TOPIC")
    parser.add_argument(
        "--checkpoint-dir", default=None, help="default: SPARK_CHECKPOINT_DIR/<job>"
    )
    parser.add_argument("--pid-file", default=None, help="default: var/run/spark-<job>.pid")
    parser.add_argument("--dry-run", action="store_true", help="print the command line and exit")


class Command(BaseCommand):
    help = "Run a Spark job (master, jars, Kafka and DB from settings)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job", choices=sorted(JOBS))
        add_stream_options(parser)
        parser.add_argument(
            "job_args",
            nargs=argparse.REMAINDER,
            help="a batch job's own arguments (trends_*: see python -m spark_jobs.trends.…)",
        )

    def handle(self, *args, **options) -> None:
        job = options["job"]
        if job not in BATCH_JOBS and options["job_args"]:
            options = self.options_after_job(job, options)
        command = self.job_command(job, options)
        env = job_env(job)
        if options["dry_run"]:
            shown = {
                k: env[k]
                for k in (
                    "SPARK_MASTER", "SPARK_CORES_MAX", "SPARK_JARS_DIR", "KAFKA_BOOTSTRAP_SERVERS"
                )
                if k in env
            }  # fmt: skip
            self.stdout.write(" ".join(command))
            self.stdout.write(" ".join(f"{k}={v}" for k, v in shown.items()))
            return
        pid_file = Path(options["pid_file"] or pid_file_path(job))
        running = spark_job_pid(pid_file)
        if running:
            raise CommandError(f"the {job} job already runs (pid {running}, {pid_file})")
        self.check_jars()
        self.run_child(command, env, pid_file)

    def options_after_job(self, job: str, options: dict) -> dict:
        """`job_args` swallows whatever follows the job name; for the streaming job those
        are its own options (`run_spark_job engagement --available-now`)."""
        stream_parser = argparse.ArgumentParser(prog=f"run_spark_job {job}", add_help=False)
        add_stream_options(stream_parser)
        parsed, unknown = stream_parser.parse_known_args(options["job_args"])
        if unknown:
            raise CommandError(f"unexpected arguments for {job}: {' '.join(unknown)}")
        given = {
            key: value
            for key, value in vars(parsed).items()
            if value != stream_parser.get_default(key)
        }
        return {**options, **given, "job_args": []}

    def job_command(self, job: str, options: dict) -> list[str]:
        if job in BATCH_JOBS:
            return [sys.executable, "-m", JOBS[job], *options["job_args"]]
        if options["job_args"]:
            raise CommandError(f"unexpected arguments for {job}: {' '.join(options['job_args'])}")
        checkpoint_dir = options["checkpoint_dir"] or Path(settings.SPARK_CHECKPOINT_DIR) / job
        command = [
            sys.executable,
            "-m",
            JOBS[job],
            "--topic",
            options["topic"] or settings.KAFKA_EVENTS_TOPIC,
            "--checkpoint-dir",
            str(checkpoint_dir),
            "--starting-offsets",
            options["starting_offsets"],
        ]
        for option in ("max_offsets_per_trigger", "trigger_interval", "window", "watermark"):
            if options[option] is not None:
                command += [f"--{option.replace('_', '-')}", str(options[option])]
        if options["available_now"]:
            command.append("--available-now")
        return command

    def check_jars(self) -> None:
        jars = sorted(Path(settings.SPARK_JARS_DIR).glob("*.jar"))
        if not any(jar.name.startswith("spark-sql-kafka") for jar in jars):
            raise CommandError(
                f"no Spark Kafka connector in {settings.SPARK_JARS_DIR}: run `make setup`"
            )

    def run_child(self, command: list[str], env: dict[str, str], pid_file: Path) -> None:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, cwd=settings.BASE_DIR, env=env, preexec_fn=_die_with_parent
        )
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(f"{process.pid}\n")

        def forward(signum: int, _frame: object) -> None:
            process.send_signal(signum)

        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            status = process.wait()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            if pid_file.exists() and pid_file.read_text().strip() == str(process.pid):
                pid_file.unlink()
        if status != 0:
            raise CommandError(f"the Spark job exited with status {status}")
