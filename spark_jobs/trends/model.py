"""The trend model: Spark MLlib pipelines on the features of `features.py`, the time-based
split, training with the baselines measured on the same holdout, and scoring.

The label is log1p(engagement over the horizon); predictions go back with expm1."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import GBTRegressor, LinearRegression
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.trends import metrics
from spark_jobs.trends.features import FEATURE_COLUMNS, LABEL_COLUMN, FeatureConfig

ALGORITHMS = ("gbt", "linear")
PREDICTION = "predicted_engagement"


@dataclass(frozen=True)
class TrainConfig:
    features: FeatureConfig = field(default_factory=FeatureConfig)
    holdout_fraction: float = 0.25
    algorithms: tuple[str, ...] = ALGORITHMS
    seed: int = 7
    gbt_max_iter: int = 40
    gbt_max_depth: int = 5
    gbt_step_size: float = 0.1
    gbt_subsampling_rate: float = 0.8
    linear_reg_param: float = 0.01
    top_k: int = 10

    def params(self) -> dict[str, Any]:
        return {
            "horizon_minutes": self.features.horizon_minutes,
            "max_age_hours": self.features.max_age_hours,
            "holdout_fraction": self.holdout_fraction,
            "algorithms": list(self.algorithms),
            "seed": self.seed,
            "gbt": {
                "maxIter": self.gbt_max_iter,
                "maxDepth": self.gbt_max_depth,
                "stepSize": self.gbt_step_size,
                "subsamplingRate": self.gbt_subsampling_rate,
            },
            "linear": {"regParam": self.linear_reg_param, "elasticNetParam": 0.0},
            "features": list(FEATURE_COLUMNS),
            "label": "log1p(engagement over the horizon)",
        }


@dataclass
class TrainingResult:
    model: PipelineModel
    algorithm: str
    metrics: dict[str, dict[str, Any]]
    params: dict[str, Any]
    training_rows: int
    holdout_rows: int
    holdout_from: datetime
    promote: bool
    promotion_note: str
    timings: dict[str, float]


def build_pipeline(algorithm: str, config: TrainConfig) -> Pipeline:
    assembler = VectorAssembler(inputCols=list(FEATURE_COLUMNS), outputCol="features")
    if algorithm == "gbt":
        regressor = GBTRegressor(
            labelCol=LABEL_COLUMN,
            maxIter=config.gbt_max_iter,
            maxDepth=config.gbt_max_depth,
            stepSize=config.gbt_step_size,
            subsamplingRate=config.gbt_subsampling_rate,
            seed=config.seed,
        )
    elif algorithm == "linear":
        regressor = LinearRegression(
            labelCol=LABEL_COLUMN, regParam=config.linear_reg_param, elasticNetParam=0.0
        )
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose from {ALGORITHMS}")
    return Pipeline(stages=[assembler, regressor])


def time_split(
    frame: DataFrame, *, holdout_fraction: float, horizon_minutes: int
) -> tuple[DataFrame, DataFrame, datetime]:
    """Train on the earlier prediction times, hold out the later ones.

    The holdout starts at `split_at` (the first held-out time). Training keeps only times
    whose horizon ends by `split_at`: a target reaching past it would contain activity
    from the holdout period, letting the model see what it is scored on."""
    times = sorted(row["as_of"] for row in frame.select("as_of").distinct().collect())
    if len(times) < 2:
        raise ValueError(f"need at least 2 prediction times, got {len(times)}")
    split_index = min(max(round(len(times) * (1 - holdout_fraction)), 1), len(times) - 1)
    split_at = times[split_index]
    latest_train = split_at - timedelta(minutes=horizon_minutes)
    if times[0] > latest_train:
        raise ValueError(
            f"not enough history: no prediction time before {latest_train} "
            f"(horizon {horizon_minutes} min before the holdout at {split_at})"
        )
    train = frame.where(F.col("as_of") <= F.lit(latest_train))
    holdout = frame.where(F.col("as_of") >= F.lit(split_at))
    return train, holdout, split_at


def with_prediction(model: PipelineModel, features: DataFrame, name: str = PREDICTION) -> DataFrame:
    """The model's prediction on the natural scale (engagement over the horizon, >= 0)."""
    scored = model.transform(features)
    return scored.withColumn(name, F.expm1(F.greatest(F.col("prediction"), F.lit(0.0)))).drop(
        "features", "prediction"
    )


def _model_details(model: PipelineModel, algorithm: str) -> dict[str, Any]:
    stage = model.stages[-1]
    if algorithm == "gbt":
        weights = stage.featureImportances.toArray()
        return {"feature_importances": dict(zip(FEATURE_COLUMNS, map(float, weights), strict=True))}
    return {
        "coefficients": dict(
            zip(FEATURE_COLUMNS, map(float, stage.coefficients.toArray()), strict=True)
        ),
        "intercept": float(stage.intercept),
    }


def fit_and_evaluate(frame: DataFrame, config: TrainConfig) -> TrainingResult:
    """Fit every candidate algorithm on the training times, score them and both baselines on
    the same holdout, and pick the algorithm with the lowest MAE on log1p. `frame` is a
    `features.training_frame` (cache it: it is read many times)."""
    timings: dict[str, float] = {}
    horizon = config.features.horizon_minutes
    train, holdout, split_at = time_split(
        frame, holdout_fraction=config.holdout_fraction, horizon_minutes=horizon
    )
    train = train.cache()
    training_rows = train.count()
    holdout = metrics.with_persistence(holdout)
    fitted_sh = metrics.szabo_huberman_fit(train)
    holdout = metrics.with_szabo_huberman(holdout, fitted_sh).cache()
    holdout_rows = holdout.count()
    if training_rows == 0 or holdout_rows == 0:
        raise ValueError(f"empty split: {training_rows} training, {holdout_rows} holdout rows")

    results: dict[str, dict[str, Any]] = {}
    models: dict[str, PipelineModel] = {}
    details: dict[str, Any] = {}
    for algorithm in config.algorithms:
        started = time.monotonic()
        models[algorithm] = build_pipeline(algorithm, config).fit(train)
        timings[f"fit_{algorithm}_seconds"] = round(time.monotonic() - started, 3)
        started = time.monotonic()
        scored = with_prediction(models[algorithm], holdout, algorithm).cache()
        results[algorithm] = metrics.evaluate(scored, algorithm, k=config.top_k)
        scored.unpersist()
        timings[f"evaluate_{algorithm}_seconds"] = round(time.monotonic() - started, 3)
        details[algorithm] = _model_details(models[algorithm], algorithm)
    for baseline in (metrics.PERSISTENCE, metrics.SZABO_HUBERMAN):
        results[baseline] = metrics.evaluate(holdout, baseline, k=config.top_k)

    def mae(name: str) -> float:
        value = results[name]["mae_log1p"]
        return math.inf if value is None else value

    best = min(config.algorithms, key=mae)
    results["model"] = {**results[best], "algorithm": best}
    promote = mae(best) < mae(metrics.PERSISTENCE)
    note = f"{best} MAE {mae(best):.4f} vs persistence {mae(metrics.PERSISTENCE):.4f}: " + (
        "promoted" if promote else "not promoted (no better than persistence)"
    )
    train.unpersist()
    holdout.unpersist()
    params = {
        **config.params(),
        "szabo_huberman": fitted_sh,
        "models": details,
        "split_at": split_at.isoformat(),
    }
    return TrainingResult(
        model=models[best],
        algorithm=best,
        metrics=results,
        params=params,
        training_rows=training_rows,
        holdout_rows=holdout_rows,
        holdout_from=split_at,
        promote=promote,
        promotion_note=note,
        timings=timings,
    )


def ranked_posts(scored: DataFrame, *, horizon_minutes: int = 60) -> DataFrame:
    """Scored candidates with `trend_score` and `rank` per prediction time (1 = the most
    predicted engagement; ties broken by post id)."""
    hourly = F.col(PREDICTION) * (60.0 / horizon_minutes)
    order = Window.partitionBy("as_of").orderBy(F.desc(PREDICTION), "post_id")
    return scored.select(
        "post_id",
        "community_id",
        "as_of",
        F.col(PREDICTION),
        F.col("engagement_60m").alias("last_hour_engagement"),
        _trend_score(hourly, F.col("engagement_60m")).alias("trend_score"),
        F.row_number().over(order).alias("rank"),
    )


def community_trends(ranked: DataFrame, *, horizon_minutes: int = 60) -> DataFrame:
    """Per community and prediction time: the sum of its candidate posts' predictions, the
    same trend score, and a rank."""
    totals = ranked.groupBy("community_id", "as_of").agg(
        F.sum(PREDICTION).alias(PREDICTION),
        F.sum("last_hour_engagement").alias("last_hour_engagement"),
        F.count("*").alias("posts_scored"),
    )
    order = Window.partitionBy("as_of").orderBy(F.desc(PREDICTION), "community_id")
    return totals.select(
        "community_id",
        "as_of",
        PREDICTION,
        "last_hour_engagement",
        "posts_scored",
        _trend_score(
            F.col(PREDICTION) * (60.0 / horizon_minutes), F.col("last_hour_engagement")
        ).alias("trend_score"),
        F.row_number().over(order).alias("rank"),
    )


def _trend_score(predicted_per_hour: Column, last_hour: Column) -> Column:
    """log2 of the predicted hourly pace over the last hour's (+1 each): 1 = doubling."""
    return F.log2((predicted_per_hour + 1.0) / (F.greatest(last_hour, F.lit(0.0)) + 1.0))
