"""The trend training job: engagement tables -> features at a grid of past prediction
times -> MLlib models and baselines on a time-based holdout -> model artefact and a report.

Started by `manage.py run_spark_job trends_train -- --version V --model-dir DIR …` (the
Celery task `analytics.tasks.trends_train` does that); the environment gives SPARK_MASTER,
SPARK_JARS_DIR and DATABASE_URL. Writes DIR/V/model (the PipelineModel), DIR/V/meta.json
(what prediction needs) and the report JSON (metrics, rows, timings, or the error), which
the task records in ModelRun. Exit status 0 on success, 1 on failure (report still
written), 2 on bad arguments."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from spark_jobs.common.session import VAR_DIR, spark_session
from spark_jobs.contract import SparkApps
from spark_jobs.trends.features import FeatureConfig, training_frame
from spark_jobs.trends.model import (
    ALGORITHMS,
    DEFAULT_ALGORITHMS,
    TrainConfig,
    TrainingResult,
    fit_and_evaluate,
)
from spark_jobs.trends.sources import data_until, load_inputs

DEFAULT_MODEL_DIR = VAR_DIR / "models"
log = logging.getLogger("spark_jobs.trends.train")


def prediction_times(
    spark: SparkSession, *, until: datetime, history_hours: float, step_minutes: int, horizon: int
) -> DataFrame:
    """Prediction times every `step_minutes` (aligned to the step) whose horizon ends by
    `until`, over the last `history_hours`."""
    step = timedelta(minutes=step_minutes)
    last = until - timedelta(minutes=horizon)
    epoch = datetime(1970, 1, 1)
    last = epoch + ((last - epoch) // step) * step
    first = last - timedelta(hours=history_hours) + timedelta(minutes=horizon)
    moments = []
    moment = last
    while moment >= first:
        moments.append((moment,))
        moment -= step
    return spark.createDataFrame(sorted(moments), "as_of timestamp")


def train(
    spark: SparkSession,
    *,
    config: TrainConfig,
    until: datetime,
    history_hours: float,
    step_minutes: int,
    url: str | None = None,
) -> tuple[TrainingResult, dict[str, Any]]:
    started = time.monotonic()
    horizon = config.features.horizon_minutes
    times = prediction_times(
        spark, until=until, history_hours=history_hours, step_minutes=step_minutes, horizon=horizon
    ).cache()
    bounds = times.agg({"as_of": "min"}).first()[0], times.agg({"as_of": "max"}).first()[0]
    if bounds[0] is None:
        raise ValueError(f"no prediction time fits in {history_hours} h before {until}")
    inputs = load_inputs(
        spark, first_as_of=bounds[0], last_as_of=bounds[1], horizon_minutes=horizon, url=url
    )
    frame = training_frame(
        times=times,
        posts=inputs.posts,
        post_activity=inputs.post_activity,
        community_activity=inputs.community_activity,
        config=config.features,
    ).cache()
    rows = frame.count()
    features_seconds = time.monotonic() - started
    log.info("%s training rows at %s prediction times", rows, times.count())
    result = fit_and_evaluate(frame, config)
    frame.unpersist()
    extra = {
        "data_until": until,
        "first_as_of": bounds[0],
        "last_as_of": bounds[1],
        "rows": rows,
        "features_seconds": round(features_seconds, 3),
        "step_minutes": step_minutes,
        "history_hours": history_hours,
    }
    return result, extra


def save_model(
    result: TrainingResult, *, directory: Path, version: str, horizon: int, max_age: float
) -> Path:
    """The fitted PipelineModel and the settings prediction must reuse."""
    target = directory / version
    target.mkdir(parents=True, exist_ok=True)
    result.model.write().overwrite().save(str(target / "model"))
    meta = {
        "version": version,
        "algorithm": result.algorithm,
        "horizon_minutes": horizon,
        "max_age_hours": max_age,
        "features": result.params["features"],
    }
    (target / "meta.json").write_text(json.dumps(meta, indent=2))
    return target


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_report(path: Path | None, report: dict[str, Any]) -> None:
    text = json.dumps(report, indent=2, default=_json_default)
    if path is None:
        print(text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(path)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m spark_jobs.trends.train")
    parser.add_argument("--version", required=True)
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--report", type=Path, default=None, help="default: stdout")
    parser.add_argument("--horizon-minutes", type=int, default=60)
    parser.add_argument("--history-hours", type=float, default=72.0)
    parser.add_argument("--step-minutes", type=int, default=15)
    parser.add_argument("--max-age-hours", type=float, default=48.0)
    parser.add_argument("--holdout-fraction", type=float, default=0.25)
    parser.add_argument("--algorithms", default=",".join(DEFAULT_ALGORITHMS))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--until",
        type=datetime.fromisoformat,
        default=None,
        help="naive UTC; default: the streaming job's watermark",
    )
    args = parser.parse_args(argv)
    if args.horizon_minutes <= 0 or args.step_minutes <= 0 or args.history_hours <= 0:
        parser.error("--horizon-minutes, --step-minutes and --history-hours must be > 0")
    if not 0 < args.holdout_fraction < 1:
        parser.error("--holdout-fraction must be between 0 and 1")
    args.algorithms = tuple(a.strip() for a in args.algorithms.split(",") if a.strip())
    if not args.algorithms or set(args.algorithms) - set(ALGORITHMS):
        parser.error(f"--algorithms: choose from {', '.join(ALGORITHMS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)
    args = parse_args(argv)
    started = time.monotonic()
    report: dict[str, Any] = {"version": args.version, "status": "failed"}
    config = TrainConfig(
        features=FeatureConfig(
            horizon_minutes=args.horizon_minutes, max_age_hours=args.max_age_hours
        ),
        holdout_fraction=args.holdout_fraction,
        algorithms=args.algorithms,
        seed=args.seed,
    )
    spark = None
    try:
        until = args.until or data_until()
        if until is None:
            raise ValueError("the engagement tables are empty: nothing to train on")
        spark = spark_session(SparkApps.TRENDS_TRAIN)
        result, extra = train(
            spark,
            config=config,
            until=until,
            history_hours=args.history_hours,
            step_minutes=args.step_minutes,
        )
        artefact = save_model(
            result,
            directory=args.model_dir,
            version=args.version,
            horizon=args.horizon_minutes,
            max_age=args.max_age_hours,
        )
        report.update(
            status="succeeded",
            algorithm=result.algorithm,
            training_rows=result.training_rows,
            holdout_rows=result.holdout_rows,
            holdout_from=result.holdout_from,
            data_until=extra["last_as_of"],
            params={**result.params, **{k: extra[k] for k in ("step_minutes", "history_hours")}},
            metrics=result.metrics,
            promote=result.promote,
            promotion_note=result.promotion_note,
            artefact_path=str(artefact),
            timings={
                **result.timings,
                "features_seconds": extra["features_seconds"],
                "total_seconds": round(time.monotonic() - started, 3),
            },
        )
        (artefact / "report.json").write_text(json.dumps(report, indent=2, default=_json_default))
        status = 0
    except Exception as exc:
        log.exception("training failed")
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
