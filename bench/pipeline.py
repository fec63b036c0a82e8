"""Benchmark 3, the whole pipeline at a steady rate: the generator (`seed_fake_data --live`,
direct mode, --generators processes sharing the rate) sends --rate actions/s for --duration s
through the services, a Celery worker publishes the outbox to Kafka, the Spark engagement
job turns the topic into metric rows.

    .venv/bin/python bench/pipeline.py [--rate 1000] [--duration 300] [--generators 2]

Each generator process applies its share of the rate through the batch services (one
transaction per due batch of actions); one process holds ~1000 actions/s on its own on an
idle 2-core machine (bench/seed_fake_data.py measures the generator alone), two leave room
for the worker, Kafka and Spark on the same cores.

Freshness, commit -> visible metric: a probe likes/unlikes its own post twice a second
through the services; for each action it takes the time after the commit and polls the
post's day-grain metric row until the action is counted: p50/p95/p99 over the run. The post
is made after the generators have started (they only act on posts they found at start-up),
and at the end the bench checks that the post's count is the probe's own.
At the end (generator stopped, pipeline caught up) tests/faults/check.py compares the outbox,
the topic, the metric tables and the domain tables: the counts must be equal. The achieved
rate is printed beside the asked one (the generator's own ceiling on this machine is in
bench/seed_fake_data.py).

Own database (bench_pipeline), Redis db 13, topic and Spark checkpoint, all removed after.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    CORES,
    PYTHON,
    REPO,
    app_env,
    arguments,
    database_drop,
    database_fresh,
    machine_load,
    manage,
    manage_command,
    percentile,
    process_start,
    process_stop,
    sql,
    topic_delete,
    work_dir,
)
from spark_jobs.contract import local_port, local_redis_url

DB = "bench_pipeline"

# The live generators pick among the posts that exist when they start, so the probe makes its
# post only after they have started: nobody else acts on it, and its count is its own.
PROBE_START_DELAY = 30

PROBE = """
import time, json
time.sleep(START_DELAY)
from django.contrib.auth import get_user_model
from django.db.models import Sum
from analytics.models import PostEngagement
from communities.services import community_create
from posts.services import post_create, post_like, post_unlike
User = get_user_model()
user = User.objects.create_user(username="probe-" + str(time.time_ns()), password="x" * 12)
community = community_create(creator=user, name="Probe " + str(time.time_ns()),
                             slug="probe-" + str(time.time_ns()))
post = post_create(author=user, community=community, kind="quote", text="probe")

def counted():
    row = PostEngagement.objects.filter(post_id=post.pk, grain="day").aggregate(
        n=Sum("likes") + Sum("unlikes"))
    return row["n"] or 0

deadline = time.monotonic() + DURATION
done = 0
liked = False
while time.monotonic() < deadline:
    (post_unlike if liked else post_like)(user=user, post=post)
    committed = time.time()
    liked = not liked
    done += 1
    while counted() < done:
        if time.time() - committed > 300:
            print("PROBE timeout", flush=True)
            raise SystemExit(1)
        time.sleep(0.05)
    print("PROBE", round(time.time() - committed, 3), flush=True)
    time.sleep(0.5)
print("PROBE_POST", post.pk, done, flush=True)
"""


def probe_alone(probe_out: str) -> str:
    """Whether the probe's post was touched only by the probe: its likes + unlikes in the
    metrics (after catching up) equal the probe's own actions. If not, the freshness figures
    do not mean anything (the probe found its count already reached)."""
    found = re.search(r"^PROBE_POST (\d+) (\d+)$", probe_out, re.MULTILINE)
    if not found:
        return "probe: no summary line (see its output)"
    post_id, actions = int(found.group(1)), int(found.group(2))
    counted = sql(
        "SELECT COALESCE(SUM(likes + unlikes), 0) FROM analytics_post_engagement "  # noqa: S608
        f"WHERE post_id = {post_id} AND grain = 'day'",
        DB,
    ).strip()
    verdict = (
        "only the probe acted on it" if int(counted) == actions else "NOT VALID: others acted on it"
    )
    return f"probe post {post_id}: {actions} probe actions, {counted} counted: {verdict}"


def caught_up(env: dict[str, str], *, timeout: float) -> dict:
    """tests/faults/check.py until it passes (nothing pending, all on the topic, metrics equal
    to the outbox and the domain tables); its last answer."""
    check: dict = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = subprocess.run(
            [PYTHON, "-m", "tests.faults.check"], cwd=REPO, env=env, capture_output=True, text=True
        )
        check = json.loads(result.stdout) if result.returncode == 0 else {}
        if check.get("ok"):
            break
        time.sleep(3)
    return check


def main() -> None:
    parser = arguments(__doc__, rate=1000.0, duration=300.0)
    parser.add_argument("--trigger", default="1 second", help="Spark trigger interval")
    parser.add_argument(
        "--generators", type=int, default=2, help="live generator processes sharing --rate"
    )
    args = parser.parse_args()

    run, work = work_dir("pipeline")
    logs = work / "log"
    logs.mkdir(parents=True)
    topic = f"bench.pipeline.{run}"
    env = app_env(
        DB,
        CELERY_BROKER_URL=local_redis_url(13),
        CELERY_RESULT_BACKEND=local_redis_url(13),
        KAFKA_EVENTS_TOPIC=topic,
        SPARK_CHECKPOINT_DIR=str(work / "checkpoints"),
    )
    subprocess.run(
        ["redis-cli", "-p", str(local_port("REDIS", 6380)), "-n", "13", "flushdb"],
        check=True,
        capture_output=True,
    )
    database_fresh(DB)
    manage(env, "kafka_setup")
    manage(
        env,
        "seed_fake_data",
        "--users",
        "300",
        "--communities",
        "10",
        "--posts",
        "600",
        "--actions",
        "2000",
        "--viral-posts",
        "2",
        "--seed",
        "11",
    )
    celery = [PYTHON, "-m", "celery", "-A", "streamer"]
    processes = {
        "worker": process_start(
            [
                *celery,
                "worker",
                "--concurrency=2",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                f"--hostname=bench-{run}@localhost",
            ],
            env,
            logs / "worker.log",
        ),
        "beat": process_start(
            [*celery, "beat", "--loglevel=INFO", "-s", str(work / "beat-schedule")],
            env,
            logs / "beat.log",
        ),
        "spark": process_start(
            manage_command(
                "run_spark_job",
                "--trigger-interval",
                args.trigger,
                "--pid-file",
                str(work / "spark.pid"),
                "engagement",
            ),
            env,
            logs / "spark.log",
        ),
    }
    try:
        # Spark's start-up and the seed's backlog are not part of the measurement.
        started_wait = time.monotonic()
        if not caught_up(env, timeout=900):
            raise SystemExit("the pipeline did not catch up with the seed data")
        print(
            f"  pipeline caught up with the seed in {time.monotonic() - started_wait:.0f} s",
            flush=True,
        )
        generators = [
            subprocess.Popen(
                manage_command(
                    "seed_fake_data",
                    "--live",
                    "--rate",
                    str(args.rate / args.generators),
                    "--duration",
                    str(args.duration),
                    "--seed",
                    str(12 + index),
                ),
                cwd=REPO,
                env={**env, "COLUMNS": "200"},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for index in range(args.generators)
        ]
        probe_seconds = args.duration - PROBE_START_DELAY - 5
        probe = subprocess.Popen(
            manage_command(
                "shell",
                "-c",
                PROBE.replace("START_DELAY", str(PROBE_START_DELAY)).replace(
                    "DURATION", str(probe_seconds)
                ),
            ),
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        outputs = [generator.communicate()[0] for generator in generators]
        generators_done = time.monotonic()
        generated_load = machine_load()
        probe_out, _ = probe.communicate(timeout=600)
        freshness = [float(x) for x in re.findall(r"^PROBE ([\d.]+)$", probe_out, re.MULTILINE)]
        # Each generator's own live phase (after its start-up), run side by side.
        live = [re.search(r"live: (\d+) actions in ([\d.]+) s", out) for out in outputs]
        done = sum(int(m.group(1)) for m in live if m)
        generated_in = max((float(m.group(2)) for m in live if m), default=float("nan"))
        exits = [generator.returncode for generator in generators]
        for output, code in zip(outputs, exits, strict=True):
            if code:
                print(f"a generator exited {code}; its last lines:", *output.splitlines()[-8:],
                      sep="\n  ", flush=True)  # fmt: skip
        print(
            f"generator: {args.generators} processes, {done} actions in {generated_in:.1f} s = "
            f"{done / generated_in:.0f}/s (asked {args.rate:g}/s); exits {exits}; "
            f"{generated_load}",
            flush=True,
        )
        check = caught_up(env, timeout=900)
        caught_up_after = time.monotonic() - generators_done
        print(
            f"\npipeline ({CORES} cores; asked {args.rate:g} actions/s for {args.duration:g} s, "
            f"achieved {done / generated_in:.0f}/s; Spark trigger {args.trigger}; "
            f"{args.generators} generator processes)"
        )
        print(f"  machine at the end of the load: {generated_load}")
        print(
            f"  freshness commit -> visible metric, {len(freshness)} probes: "
            f"p50 {percentile(freshness, 50):.2f} s  p95 {percentile(freshness, 95):.2f} s  "
            f"p99 {percentile(freshness, 99):.2f} s  max {max(freshness, default=0):.2f} s"
        )
        print(f"  {probe_alone(probe_out)}")
        print(f"  caught up {caught_up_after:.0f} s after the generator stopped")
        print(f"  count equality at the end: {'EQUAL' if check.get('ok') else 'NOT EQUAL'}")
        for key in ("outbox_total", "missing_from_topic", "topic_duplicates"):
            print(f"    {key}: {check.get(key)}")
        print(f"    metrics: {check.get('metrics')}")
        print(
            f"    domain:  {check.get('domain')}  from metrics: {check.get('domain_from_metrics')}"
        )
    finally:
        for process in processes.values():
            process_stop(process)
        topic_delete(env, topic)
        database_drop(DB)
        shutil.rmtree(work / "checkpoints", ignore_errors=True)


if __name__ == "__main__":
    main()
