"""Benchmark: the trend model against its baselines on generator data with planted viral posts.

    .venv/bin/python bench/trends.py --setup      # first time: build the scratch database
    .venv/bin/python bench/trends.py              # measure again on it

1. `--setup` builds a scratch database (default streamer_trends_bench) the way the product
   fills it: `seed_fake_data --users 300 --communities 12 --posts 2000 --actions 60000
   --days 3 --ground-truth var/bench/trends-gt.json` through the services, the outbox
   published to its own Kafka topic (bench.trends.events), and the metric tables filled by
   `run_spark_job engagement --available-now` (own checkpoint under var/bench).
2. Training: `run_spark_job trends_train` — the command the Celery task runs — timed; its
   report has the holdout (last 25% of prediction times) MAE on log1p, Spearman and
   precision@10 of GBT, linear regression, persistence and Szabo-Huberman.
3. Prediction: `run_spark_job trends_predict` at the end of the data, timed.
4. Viral posts: the three planted bursts all lie before the holdout, so for each one a model
   is trained on the data before the burst started only (`--until` = burst start), and the
   viral post's rank among all candidates is read at times into its burst, for the model,
   both baselines and the actual next-hour engagement.

Results are printed and written to var/bench/trends-results.json. Uses its own database,
Redis database and Kafka topic; Spark runs local[2].
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_DIR, app_env, arguments, database_create, manage_timed
from spark_jobs.contract import local_redis_url

GROUND_TRUTH = BENCH_DIR / "trends-gt.json"
MODELS = BENCH_DIR / "models"
RESULTS = BENCH_DIR / "trends-results.json"
SEED_ARGS = ["--users", "300", "--communities", "12", "--posts", "2000", "--actions", "60000"]
SEED_ARGS += ["--days", "3", "--ground-truth", str(GROUND_TRUTH)]
BURST_OFFSETS = (-15, 0, 10, 20, 30, 45, 60, 90, 120, 150)


def bench_env(database: str) -> dict[str, str]:
    """The app's bench environment with a Celery broker, Kafka topic and Spark master of its
    own."""
    return app_env(
        database,
        CELERY_BROKER_URL=local_redis_url(13),
        CELERY_RESULT_BACKEND=local_redis_url(13),
        KAFKA_EVENTS_TOPIC="bench.trends.events",
        SPARK_MASTER=os.environ.get("SPARK_MASTER", "local[2]"),
    )


def setup(env: dict[str, str], database: str) -> None:
    database_create(database)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    print(f"seeding ({' '.join(SEED_ARGS)}) …", flush=True)
    manage_timed(env, "seed_fake_data", *SEED_ARGS, log=BENCH_DIR / "seed.log")
    manage_timed(env, "kafka_setup")
    print("publishing the outbox …", flush=True)
    manage_timed(
        env,
        "shell",
        "-c",
        "from events.publisher import outbox_publish_pending as p; print(p(budget_seconds=3600))",
    )
    print("engagement job (available-now) …", flush=True)
    seconds = manage_timed(
        env,
        "run_spark_job",
        "--available-now",
        "--checkpoint-dir",
        str(BENCH_DIR / f"checkpoints-{database}"),
        "--pid-file",
        str(BENCH_DIR / f"spark-{database}.pid"),
        "engagement",
        log=BENCH_DIR / "engagement.log",
    )
    print(f"metric tables filled in {seconds:.0f} s", flush=True)


def train(env: dict[str, str], version: str, *extra: str) -> tuple[dict, float]:
    report = BENCH_DIR / f"train-{version}.json"
    seconds = manage_timed(
        env,
        "run_spark_job",
        "trends_train",
        "--version",
        version,
        "--model-dir",
        str(MODELS),
        "--report",
        str(report),
        *extra,
        log=BENCH_DIR / f"train-{version}.log",
    )
    result = json.loads(report.read_text())
    if result["status"] != "succeeded":
        raise SystemExit(f"training {version} failed: {result.get('error')}")
    return result, seconds


def predict(env: dict[str, str], artefact: str, as_of: datetime) -> tuple[dict, float]:
    report = BENCH_DIR / "predict.json"
    seconds = manage_timed(
        env,
        "run_spark_job",
        "trends_predict",
        "--model-path",
        artefact,
        "--as-of",
        as_of.isoformat(),
        "--report",
        str(report),
        log=BENCH_DIR / "predict.log",
    )
    return json.loads(report.read_text()), seconds


def viral_ranks(burst: dict, report: dict) -> list[dict]:
    """Ranks of the burst's post at times into the burst: model, baselines, actual."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from spark_jobs.common.session import spark_session
    from spark_jobs.trends import metrics
    from spark_jobs.trends.features import training_frame
    from spark_jobs.trends.model import PREDICTION, with_prediction
    from spark_jobs.trends.predict import model_load
    from spark_jobs.trends.sources import load_inputs

    start = datetime.fromisoformat(burst["start"]).replace(tzinfo=None, second=0, microsecond=0)
    moments = [start + timedelta(minutes=m) for m in BURST_OFFSETS]
    spark = spark_session("bench-trends-viral")
    try:
        loaded = model_load(Path(report["artefact_path"]))
        inputs = load_inputs(
            spark, first_as_of=moments[0], last_as_of=moments[-1], horizon_minutes=60
        )
        frame = training_frame(
            times=spark.createDataFrame([(m,) for m in moments], "as_of timestamp"),
            posts=inputs.posts,
            post_activity=inputs.post_activity,
            community_activity=inputs.community_activity,
            config=loaded.features,
        )
        frame = metrics.with_szabo_huberman(
            metrics.with_persistence(with_prediction(loaded.model, frame)),
            report["params"]["szabo_huberman"],
        )
        ranked = frame.select(
            "as_of",
            "post_id",
            F.col(PREDICTION),
            F.col("engagement_60m"),
            F.col("engagement_next"),
            F.count("*").over(Window.partitionBy("as_of")).alias("candidates"),
            *(
                F.row_number()
                .over(Window.partitionBy("as_of").orderBy(F.desc(column), "post_id"))
                .alias(f"rank_{name}")
                for name, column in (
                    ("model", PREDICTION),
                    ("persistence", metrics.PERSISTENCE),
                    ("szabo_huberman", metrics.SZABO_HUBERMAN),
                    ("actual", "engagement_next"),
                )
            ),
        ).where(F.col("post_id") == burst["post_id"])
        rows = sorted(ranked.collect(), key=lambda row: row["as_of"])
    finally:
        spark.stop()
    return [
        {
            "minutes_into_burst": int((row["as_of"] - start).total_seconds() // 60),
            "candidates": row["candidates"],
            "rank_model": row["rank_model"],
            "rank_persistence": row["rank_persistence"],
            "rank_szabo_huberman": row["rank_szabo_huberman"],
            "rank_actual": row["rank_actual"],
            "predicted": round(row[PREDICTION], 1),
            "last_hour": round(row["engagement_60m"], 1),
            "actual_next_hour": round(row["engagement_next"], 1),
        }
        for row in rows
    ]


def metrics_table(report: dict) -> str:
    lines = ["| predictor | MAE log1p | Spearman | precision@10 |", "| --- | --- | --- | --- |"]
    for name in ("gbt", "linear", "persistence", "szabo_huberman"):
        m = report["metrics"][name]
        chosen = " (chosen)" if name == report["algorithm"] else ""
        lines.append(
            f"| {name}{chosen} | {m['mae_log1p']:.4f} | {m['spearman']:.3f} | "
            f"{m['precision_at_10']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = arguments(__doc__, database="streamer_trends_bench")
    parser.add_argument("--setup", action="store_true", help="seed and fill the database first")
    parser.add_argument("--skip-viral", action="store_true", help="skip step 4")
    args = parser.parse_args()
    env = bench_env(args.database)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "SPARK_MASTER")})
    if args.setup:
        setup(env, args.database)
    stamp = f"{datetime.now():%Y%m%dT%H%M%S}"

    print("training (holdout = last 25% of prediction times) …", flush=True)
    report, train_seconds = train(env, f"bench-{stamp}")
    as_of = datetime.fromisoformat(report["data_until"]) + timedelta(minutes=60)
    print("predicting …", flush=True)
    prediction, predict_seconds = predict(env, report["artefact_path"], as_of)
    results: dict = {
        "database": args.database,
        "training": {
            "wall_seconds": round(train_seconds, 1),
            "job_timings": report["timings"],
            "training_rows": report["training_rows"],
            "holdout_rows": report["holdout_rows"],
            "holdout_from": report["holdout_from"],
            "algorithm": report["algorithm"],
            "promotion_note": report["promotion_note"],
            "metrics": report["metrics"],
        },
        "prediction": {
            "wall_seconds": round(predict_seconds, 1),
            "as_of": prediction["as_of"],
            "posts_scored": prediction.get("posts_scored"),
            "job_timings": prediction["timings"],
        },
        "viral": [],
    }
    print(metrics_table(report))
    print(
        f"training: {train_seconds:.0f} s wall ({report['training_rows']} training rows, "
        f"{report['holdout_rows']} holdout rows); prediction: {predict_seconds:.0f} s wall "
        f"for {prediction.get('posts_scored')} posts",
        flush=True,
    )
    if not args.skip_viral:
        truth = json.loads(GROUND_TRUTH.read_text())["viral_posts"]
        for burst in truth:
            until = datetime.fromisoformat(burst["start"]).replace(tzinfo=None, microsecond=0)
            print(f"viral post {burst['post_id']}: model trained until {until} …", flush=True)
            before, _ = train(
                env, f"bench-{stamp}-viral-{burst['post_id']}", "--until", until.isoformat()
            )
            ranks = viral_ranks(burst, before)
            results["viral"].append(
                {
                    "post_id": burst["post_id"],
                    "burst_start": burst["start"],
                    "burst_actions": burst["actions"],
                    "model_trained_until": until.isoformat(),
                    "model_metrics": before["metrics"]["model"],
                    "ranks": ranks,
                }
            )
            print("  min  model  persistence  szabo_huberman  actual  (of candidates)")
            for r in ranks:
                print(
                    f"  {r['minutes_into_burst']:>4}  {r['rank_model']:>5}  "
                    f"{r['rank_persistence']:>11}  {r['rank_szabo_huberman']:>14}  "
                    f"{r['rank_actual']:>6}  ({r['candidates']})",
                    flush=True,
                )
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    print(f"results: {RESULTS}")


if __name__ == "__main__":
    main()
