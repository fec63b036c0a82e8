"""The trend model: Spark MLlib pipelines on the features of `features.py`, the time-based
split, training with the baselines measured on the same holdout, and scoring.

The default algorithm is a hurdle model. Most posts get no engagement at all in the next
hour (about nine rows in ten), so one gradient-boosted classifier gives the chance p of any
engagement and a second, fitted on the rows that had some, gives its size on the log1p
scale (mean `size`, residual spread `spread`). The forecast is the median of that mixture:
0 when p <= 1/2 (more likely nothing than something), else the (p - 1/2)/p quantile of the
size, taken as normal on the log1p scale. The median is the forecast that minimises the
absolute error, and it leaves the posts that will most likely stay quiet tied at 0 instead
of ordering them by noise. `gbt` and `linear` regress log1p(engagement) directly (the mean,
not the median); they stay as candidates to compare with.

Every algorithm predicts log1p(engagement over the horizon) in the column `prediction`;
`with_prediction` turns it back with expm1."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pyspark.ml import Pipeline, PipelineModel, Transformer
from pyspark.ml.classification import GBTClassificationModel, GBTClassifier
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.regression import GBTRegressionModel, GBTRegressor, LinearRegression
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.trends import metrics
from spark_jobs.trends.features import (
    FEATURE_COLUMNS,
    LABEL_COLUMN,
    LOOKBACK_MINUTES,
    TARGET_COLUMN,
    FeatureConfig,
)
from spark_jobs.trends.history import split_index

ALGORITHMS = ("hurdle", "gbt", "linear")
DEFAULT_ALGORITHMS = ("hurdle",)
PREDICTION = "predicted_engagement"
# The hurdle model's chance of any engagement over the horizon (null for the others): it
# orders the posts the forecast leaves tied at 0.
CHANCE = "engagement_chance"
_CHANCE_VECTOR = "_chance_vector"
_SIZE = "_size"


@dataclass(frozen=True)
class TrainConfig:
    features: FeatureConfig = field(default_factory=FeatureConfig)
    holdout_fraction: float = 0.25
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    seed: int = 7
    gbt_max_iter: int = 40
    gbt_max_depth: int = 5
    gbt_step_size: float = 0.1
    gbt_subsampling_rate: float = 0.8
    linear_reg_param: float = 0.01
    top_k: int = 10
    # The chance model sees every row that had activity in the last LOOKBACK_MINUTES or is
    # younger than that, and this share of the other, quiet ones (three rows in four, of
    # which about one in seventy gets any engagement), each weighted by its inverse: the
    # same loss in expectation for about half the rows.
    quiet_sample_fraction: float = 0.2

    def params(self) -> dict[str, Any]:
        return {
            "horizon_minutes": self.features.horizon_minutes,
            "max_age_hours": self.features.max_age_hours,
            "holdout_fraction": self.holdout_fraction,
            "algorithms": list(self.algorithms),
            "seed": self.seed,
            "gbt": {  # also each of the hurdle model's two stages
                "maxIter": self.gbt_max_iter,
                "maxDepth": self.gbt_max_depth,
                "stepSize": self.gbt_step_size,
                "subsamplingRate": self.gbt_subsampling_rate,
            },
            "linear": {"regParam": self.linear_reg_param, "elasticNetParam": 0.0},
            "quiet_sample_fraction": self.quiet_sample_fraction,
            "features": list(FEATURE_COLUMNS),
            "label": "log1p(engagement over the horizon)",
            "forecast": "hurdle: median of P(any) x log1p size; gbt, linear: mean of log1p",
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


def _normal_quantile(q: Column) -> Column:
    """The standard normal quantile of q in (0, 1), Abramowitz & Stegun 26.2.23 (absolute
    error below 4.5e-4): Spark SQL has no inverse normal CDF."""
    tail = F.least(q, 1.0 - q)
    t = F.sqrt(-2.0 * F.log(tail))
    x = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (
        1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t
    )
    return F.when(q < 0.5, -x).otherwise(x)


class HurdleMedian(Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """The last stage of the hurdle pipeline: from the classifier's probability and the size
    regressor's log1p mean to `prediction` (the median forecast, log1p) and CHANCE."""

    spread = Param(
        Params._dummy(),
        "spread",
        "residual standard deviation of the size model (log1p scale)",
        typeConverter=TypeConverters.toFloat,
    )

    def __init__(self, spread: float = 1.0) -> None:
        super().__init__()
        self._set(spread=spread)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        chance = vector_to_array(F.col(_CHANCE_VECTOR))[1]
        quantile = F.least(F.greatest((chance - 0.5) / chance, F.lit(1e-6)), F.lit(1 - 1e-6))
        median = F.when(
            chance > 0.5,
            F.greatest(
                F.col(_SIZE) + self.getOrDefault(self.spread) * _normal_quantile(quantile),
                F.lit(0.0),
            ),
        ).otherwise(0.0)
        return dataset.withColumn(CHANCE, chance).withColumn("prediction", median)


def _gbt_params(config: TrainConfig) -> dict[str, Any]:
    return {
        "maxIter": config.gbt_max_iter,
        "maxDepth": config.gbt_max_depth,
        "stepSize": config.gbt_step_size,
        "subsamplingRate": config.gbt_subsampling_rate,
        "seed": config.seed,
    }


def _assembler() -> VectorAssembler:
    return VectorAssembler(inputCols=list(FEATURE_COLUMNS), outputCol="features")


def build_pipeline(algorithm: str, config: TrainConfig) -> Pipeline:
    """The regressors' pipelines (`gbt`, `linear`); the hurdle model is fitted by
    `fit_hurdle`."""
    if algorithm == "gbt":
        regressor = GBTRegressor(labelCol=LABEL_COLUMN, **_gbt_params(config))
    elif algorithm == "linear":
        regressor = LinearRegression(
            labelCol=LABEL_COLUMN, regParam=config.linear_reg_param, elasticNetParam=0.0
        )
    else:
        raise ValueError(f"no plain pipeline for {algorithm!r}; choose from gbt, linear")
    return Pipeline(stages=[_assembler(), regressor])


def fit_hurdle(train: DataFrame, config: TrainConfig) -> PipelineModel:
    """The chance model on the training rows (the quiet ones sampled, see TrainConfig), the
    size model on the rows with engagement, and the spread of the size model's residuals
    there; one PipelineModel."""
    assembler = _assembler()
    engaged = (F.col(TARGET_COLUMN) > 0).cast("double")
    rows = assembler.transform(train).withColumn("_engaged", engaged)
    fraction = config.quiet_sample_fraction
    quiet = (F.col("log_engagement_180m") == 0.0) & (F.col("age_minutes") > LOOKBACK_MINUTES)
    sampled = rows.where(~quiet | (F.rand(config.seed) < fraction)).withColumn(
        "_weight", F.when(quiet, 1.0 / fraction).otherwise(1.0)
    )
    chance = (
        GBTClassifier(
            labelCol="_engaged",
            predictionCol="_engaged_guess",
            weightCol="_weight",
            **_gbt_params(config),
        )
        .setProbabilityCol(_CHANCE_VECTOR)
        .setRawPredictionCol("_chance_raw")
        .fit(sampled)
    )
    positive = rows.where(F.col("_engaged") == 1.0).cache()
    try:
        size = GBTRegressor(labelCol=LABEL_COLUMN, predictionCol=_SIZE, **_gbt_params(config)).fit(
            positive
        )
        residual = size.transform(positive).agg(
            F.stddev_pop(F.col(LABEL_COLUMN) - F.col(_SIZE)).alias("spread")
        )
        spread = residual.first()["spread"] or 0.0
    finally:
        positive.unpersist()
    return PipelineModel(stages=[assembler, chance, size, HurdleMedian(spread=float(spread))])


def fit(algorithm: str, train: DataFrame, config: TrainConfig) -> PipelineModel:
    if algorithm == "hurdle":
        return fit_hurdle(train, config)
    return build_pipeline(algorithm, config).fit(train)


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
    split_at = times[split_index(len(times), holdout_fraction)]
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
    """The model's prediction on the natural scale (engagement over the horizon, >= 0) in
    `name`, and CHANCE (null unless the model gives it)."""
    scored = model.transform(features)
    if CHANCE not in scored.columns:
        scored = scored.withColumn(CHANCE, F.lit(None).cast("double"))
    return scored.withColumn(name, F.expm1(F.greatest(F.col("prediction"), F.lit(0.0)))).drop(
        "features", "prediction", _CHANCE_VECTOR, "_chance_raw", "_engaged_guess", _SIZE
    )


def _importances(model: GBTClassificationModel | GBTRegressionModel) -> dict[str, float]:
    weights = model.featureImportances.toArray()
    return dict(zip(FEATURE_COLUMNS, map(float, weights), strict=True))


def _model_details(model: PipelineModel, algorithm: str) -> dict[str, Any]:
    """What the fitted model learnt, for the run's record: feature importances per part
    (the hurdle model's "chance" and "size"; the regressor's "engagement"), or the linear
    model's coefficients."""
    stage = model.stages[-1]
    if algorithm == "hurdle":
        return {
            "feature_importances": {
                "chance": _importances(model.stages[1]),
                "size": _importances(model.stages[2]),
            },
            "spread": stage.getOrDefault(stage.spread),
        }
    if algorithm == "gbt":
        return {"feature_importances": {"engagement": _importances(stage)}}
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
        models[algorithm] = fit(algorithm, train, config)
        timings[f"fit_{algorithm}_seconds"] = round(time.monotonic() - started, 3)
        started = time.monotonic()
        scored = with_prediction(models[algorithm], holdout, algorithm).cache()
        results[algorithm] = metrics.evaluate(scored, algorithm, k=config.top_k, tie_break=CHANCE)
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
    promote, note = promotion(results, best)
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


def promotion(results: dict[str, dict[str, Any]], best: str) -> tuple[bool, str]:
    """Promoted only when the model beats persistence on both MAE (lower) and Spearman
    (higher), measured on the same holdout."""

    def value(name: str, metric: str, missing: float) -> float:
        found = results[name].get(metric)
        return missing if found is None else float(found)

    mae_model = value(best, "mae_log1p", math.inf)
    mae_persistence = value(metrics.PERSISTENCE, "mae_log1p", math.inf)
    rho_model = value(best, "spearman", -math.inf)
    rho_persistence = value(metrics.PERSISTENCE, "spearman", -math.inf)
    failed = [
        label
        for label, beaten in (
            ("MAE", mae_model < mae_persistence),
            ("Spearman", rho_model > rho_persistence),
        )
        if not beaten
    ]
    note = (
        f"{best} MAE {mae_model:.4f} vs persistence {mae_persistence:.4f}, Spearman "
        f"{rho_model:.3f} vs {rho_persistence:.3f}: "
    )
    if failed:
        return False, note + f"not promoted (no better than persistence on {' and '.join(failed)})"
    return True, note + "promoted"


def ranked_posts(scored: DataFrame, *, horizon_minutes: int = 60) -> DataFrame:
    """Scored candidates with `trend_score` and `rank` per prediction time (1 = the most
    predicted engagement; ties, such as the posts forecast to get nothing, broken by the
    chance of any engagement, then by post id)."""
    hourly = F.col(PREDICTION) * (60.0 / horizon_minutes)
    order = Window.partitionBy("as_of").orderBy(
        F.desc(PREDICTION), F.desc_nulls_last(CHANCE), "post_id"
    )
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
