"""The trend prediction job: the live model applied to every candidate post at one
prediction time, written as a PredictionRun's TrendPrediction and CommunityTrend rows.

Started by `manage.py run_spark_job trends_predict -- --model-path DIR --run-id N …` (the
Celery task `analytics.tasks.trends_predict` does that). Features come from the same
`features.post_features` as in training. Without --run-id nothing is written and the
report lists the top posts (for trying a model by hand). Exit status 0 on success, 1 on
failure (report still written), 2 on bad arguments."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.common.session import spark_session
from spark_jobs.contract import SparkApps
from spark_jobs.trends.features import FEATURE_COLUMNS, FeatureConfig, post_features
from spark_jobs.trends.model import community_trends, ranked_posts, with_prediction
from spark_jobs.trends.sink import predictions_write
from spark_jobs.trends.sources import load_inputs
from spark_jobs.trends.train import write_report

log = logging.getLogger("spark_jobs.trends.predict")


@dataclass(frozen=True)
class LoadedModel:
    model: PipelineModel
    version: str
    horizon_minutes: int
    max_age_hours: float

    @property
    def features(self) -> FeatureConfig:
        return FeatureConfig(horizon_minutes=self.horizon_minutes, max_age_hours=self.max_age_hours)


def model_load(path: Path) -> LoadedModel:
    """A model saved by the training job; refuses one built on other feature columns."""
    meta = json.loads((path / "meta.json").read_text())
    if tuple(meta["features"]) != FEATURE_COLUMNS:
        raise ValueError(f"model {meta['version']} was trained on other features; train a new one")
    return LoadedModel(
        model=PipelineModel.load(str(path / "model")),
        version=meta["version"],
        horizon_minutes=int(meta["horizon_minutes"]),
        max_age_hours=float(meta["max_age_hours"]),
    )


def score(
    spark: SparkSession,
    loaded: LoadedModel,
    *,
    as_of: datetime,
    url: str | None = None,
) -> tuple[DataFrame, DataFrame]:
    """(ranked posts, community trends) at `as_of`, from the tables as they are now."""
    inputs = load_inputs(spark, first_as_of=as_of, last_as_of=as_of, horizon_minutes=0, url=url)
    features = post_features(
        times=spark.createDataFrame([(as_of,)], "as_of timestamp"),
        posts=inputs.posts,
        post_activity=inputs.post_activity,
        community_activity=inputs.community_activity,
        config=loaded.features,
    )
    scored = with_prediction(loaded.model, features)
    ranked = ranked_posts(scored, horizon_minutes=loaded.horizon_minutes).cache()
    return ranked, community_trends(ranked, horizon_minutes=loaded.horizon_minutes)


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m spark_jobs.trends.predict")
    parser.add_argument("--model-path", type=Path, required=True, help="var/models/<version>")
    parser.add_argument("--run-id", type=int, default=None, help="PredictionRun to fill")
    parser.add_argument("--model-run-id", type=int, default=None)
    parser.add_argument(
        "--as-of",
        type=datetime.fromisoformat,
        default=None,
        help="naive UTC prediction time; default: now, to the minute",
    )
    parser.add_argument("--store-top", type=int, default=500, help="posts stored per run (0: all)")
    parser.add_argument("--report", type=Path, default=None, help="default: stdout")
    args = parser.parse_args(argv)
    if args.run_id is not None and args.model_run_id is None:
        parser.error("--run-id needs --model-run-id")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)
    args = parse_args(argv)
    started = time.monotonic()
    as_of = floor_minute(args.as_of or datetime.now(UTC).replace(tzinfo=None))
    report: dict[str, Any] = {"status": "failed", "as_of": as_of, "run_id": args.run_id}
    spark = None
    try:
        spark = spark_session(SparkApps.TRENDS_PREDICT)
        loaded = model_load(args.model_path)
        ranked, communities = score(spark, loaded, as_of=as_of)
        kept = ranked if args.store_top <= 0 else ranked.where(F.col("rank") <= args.store_top)
        posts = [row.asDict() for row in kept.orderBy("rank").collect()]
        community_rows = [row.asDict() for row in communities.orderBy("rank").collect()]
        posts_scored = ranked.count()
        scored_seconds = time.monotonic() - started
        if args.run_id is not None:
            predictions_write(
                run_id=args.run_id,
                model_run_id=args.model_run_id,
                generated_at=datetime.now(UTC).replace(tzinfo=None),
                posts=posts,
                communities=community_rows,
            )
        report.update(
            status="succeeded",
            model_version=loaded.version,
            posts_scored=posts_scored,
            posts_stored=len(posts),
            communities_scored=len(community_rows),
            top=[
                {k: row[k] for k in ("post_id", "rank", "predicted_engagement", "trend_score")}
                for row in posts[:10]
            ],
            timings={"score_seconds": round(scored_seconds, 3)},
        )
        status = 0
    except Exception as exc:
        log.exception("prediction failed")
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["traceback"] = traceback.format_exc()[-4000:]
        status = 1
    finally:
        report["timings"] = {
            **report.get("timings", {}),
            "total_seconds": round(time.monotonic() - started, 3),
        }
        write_report(args.report, report)
        if spark is not None:
            spark.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
