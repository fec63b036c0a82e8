"""Holdout metrics and baselines of the trend model, as pure DataFrame functions.

Every metric compares a prediction column (engagement over the horizon, natural scale)
with the target `engagement_next` over rows keyed by (post_id, as_of):
- `mae_log1p`: mean |log1p(predicted) - log1p(actual)|, negatives clipped to 0;
- `spearman`: rank correlation over all rows (average ranks for ties);
- `precision_at_10`: per prediction time, the share of the ten posts ranked highest by the
  prediction that are among the ten with most actual engagement (a post tied with the
  tenth counts), over min(10, posts with any engagement); averaged over the times that had
  any engagement at all;
- `ndcg_at_10`: per prediction time, the discounted gain of the ten posts ranked highest by
  the prediction (gain = the actual engagement, clipped at 0, discounted by log2(rank + 1))
  over that of the ten with most actual engagement; averaged over the same times.

The top-k metrics rank as the product's lists do: by the prediction, then (for the hurdle
model, whose median forecast leaves the posts more likely to stay quiet tied at 0) by the
chance of any engagement, then by post id. `spearman` is the standard one on the forecast
values: tied forecasts share their average rank, as tied targets do. (Breaking the ties
among the ~90% of rows forecast and getting 0 would only add rank variance that no target
difference matches, so it would lower Spearman without saying anything about the order.)
"""

from __future__ import annotations

import math

from pyspark.ml.feature import VectorAssembler
from pyspark.ml.stat import Correlation
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.window import WindowSpec

from spark_jobs.trends.features import TARGET_COLUMN

# Post-age buckets (minutes) of the Szabo-Huberman baseline: its offset b depends on how
# far into a post's life the early count is taken, as b(t_i, t_r) does in the paper.
AGE_BUCKET_EDGES = (60, 120, 240, 480, 960, 1440, 2880)
PERSISTENCE = "persistence"
SZABO_HUBERMAN = "szabo_huberman"


def _log1p(column: str | Column) -> Column:
    value = F.col(column) if isinstance(column, str) else column
    return F.log1p(F.greatest(value, F.lit(0.0)))


def mae_log1p(frame: DataFrame, prediction: str, target: str = TARGET_COLUMN) -> float | None:
    row = frame.agg(F.avg(F.abs(_log1p(prediction) - _log1p(target))).alias("mae")).first()
    return None if row is None or row["mae"] is None else float(row["mae"])


def ranking_score(prediction: str, tie_break: str | None = None) -> Column:
    """One number that orders rows as the lists do: by `prediction` (>= 0), then by
    `tie_break` (a chance in [0, 1]) among the rows predicted 0."""
    predicted = F.col(prediction).cast("double")
    if tie_break is None:
        return predicted
    return F.when(predicted > 0, predicted + 1.0).otherwise(
        F.coalesce(F.col(tie_break), F.lit(0.0))
    )


def _rank_windows(
    prediction: str, target: str, tie_break: str | None
) -> tuple[WindowSpec, WindowSpec]:
    """Per prediction time: the lists' order by the prediction, and the order by the target."""
    by_prediction = Window.partitionBy("as_of").orderBy(
        F.desc(ranking_score(prediction, tie_break)), "post_id"
    )
    by_target = Window.partitionBy("as_of").orderBy(F.desc(target), "post_id")
    return by_prediction, by_target


def spearman(frame: DataFrame, prediction: str, target: str = TARGET_COLUMN) -> float | None:
    """MLlib's Spearman correlation (average ranks for ties); None when either side is
    constant."""
    pairs = VectorAssembler(inputCols=["_p", "_t"], outputCol="_pair").transform(
        frame.select(
            F.col(prediction).cast("double").alias("_p"),
            F.col(target).cast("double").alias("_t"),
        )
    )
    matrix = Correlation.corr(pairs, "_pair", "spearman").first()[0]
    value = float(matrix.toArray()[0][1])
    return None if math.isnan(value) else value


def precision_at_k(
    frame: DataFrame,
    prediction: str,
    target: str = TARGET_COLUMN,
    k: int = 10,
    tie_break: str | None = None,
) -> float | None:
    by_prediction, by_target = _rank_windows(prediction, target, tie_break)
    ranked = frame.select(
        "as_of",
        "post_id",
        F.col(target).alias("_t"),
        F.row_number().over(by_prediction).alias("_rank_p"),
        F.row_number().over(by_target).alias("_rank_t"),
        F.least(F.count_if(F.col(target) > 0).over(Window.partitionBy("as_of")), F.lit(k)).alias(
            "_k"
        ),
    ).where(F.col("_k") > 0)
    threshold = ranked.where(F.col("_rank_t") == F.col("_k")).select(
        "as_of", F.col("_t").alias("_threshold")
    )
    per_time = (
        ranked.join(threshold, "as_of")
        .groupBy("as_of")
        .agg(
            (
                F.count_if(
                    (F.col("_rank_p") <= k)
                    & (F.col("_t") >= F.col("_threshold"))
                    & (F.col("_t") > 0)
                )
                / F.first("_k")
            ).alias("_precision")
        )
    )
    value = per_time.agg(F.avg("_precision").alias("p")).first()["p"]
    return None if value is None else float(value)


def ndcg_at_k(
    frame: DataFrame,
    prediction: str,
    target: str = TARGET_COLUMN,
    k: int = 10,
    tie_break: str | None = None,
) -> float | None:
    gain = F.greatest(F.col(target).cast("double"), F.lit(0.0))
    by_prediction, by_target = _rank_windows(prediction, target, tie_break)
    ranked = frame.select(
        "as_of",
        gain.alias("_gain"),
        F.row_number().over(by_prediction).alias("_rank_p"),
        F.row_number().over(by_target).alias("_rank_t"),
    ).where((F.col("_rank_p") <= k) | (F.col("_rank_t") <= k))

    def dcg(rank: str) -> Column:
        return F.sum(
            F.when(F.col(rank) <= k, F.col("_gain") / F.log2(F.col(rank) + 1.0)).otherwise(0.0)
        )

    per_time = (
        ranked.groupBy("as_of")
        .agg(dcg("_rank_p").alias("_dcg"), dcg("_rank_t").alias("_ideal"))
        .where(F.col("_ideal") > 0)
    )
    value = per_time.agg(F.avg(F.col("_dcg") / F.col("_ideal")).alias("n")).first()["n"]
    return None if value is None else float(value)


def evaluate(
    frame: DataFrame,
    prediction: str,
    target: str = TARGET_COLUMN,
    k: int = 10,
    tie_break: str | None = None,
) -> dict[str, float | int | None]:
    return {
        "mae_log1p": mae_log1p(frame, prediction, target),
        "spearman": spearman(frame, prediction, target),
        f"precision_at_{k}": precision_at_k(frame, prediction, target, k, tie_break),
        f"ndcg_at_{k}": ndcg_at_k(frame, prediction, target, k, tie_break),
        "rows": frame.count(),
    }


def with_persistence(frame: DataFrame) -> DataFrame:
    """Persistence: the next horizon brings what the last hour brought."""
    return frame.withColumn(PERSISTENCE, F.greatest(F.col("engagement_60m"), F.lit(0.0)))


def age_bucket(age_minutes: Column) -> Column:
    bucket = F.lit(len(AGE_BUCKET_EDGES))
    for index, edge in reversed(list(enumerate(AGE_BUCKET_EDGES))):
        bucket = F.when(age_minutes < edge, F.lit(index)).otherwise(bucket)
    return bucket


def szabo_huberman_fit(train: DataFrame) -> dict[str, float]:
    """Szabo & Huberman (2010): ln N(t_r) = ln N(t_i) + b(t_i, t_r), N cumulative popularity.

    Here N(t) is the post's engagement up to t, t_r = t_i + horizon, and b is fit per
    post-age bucket as the mean log1p difference on the training rows (log1p so that posts
    with no engagement yet are kept). Returns {"b_<bucket>": b, "b_all": overall b}."""
    delta = _log1p(F.col("engagement_total") + F.col(TARGET_COLUMN)) - _log1p("engagement_total")
    rows = (
        train.select(age_bucket(F.col("age_minutes")).alias("bucket"), delta.alias("delta"))
        .groupBy("bucket")
        .agg(F.avg("delta").alias("b"), F.count("*").alias("n"))
        .collect()
    )
    fitted = {f"b_{row['bucket']}": float(row["b"]) for row in rows}
    total = sum(row["n"] for row in rows)
    fitted["b_all"] = sum(row["b"] * row["n"] for row in rows) / total if total else 0.0
    return fitted


def with_szabo_huberman(frame: DataFrame, fitted: dict[str, float]) -> DataFrame:
    """N(t + horizon) = expm1(log1p(N(t)) + b); the prediction is its increase over N(t)."""
    b = F.lit(fitted["b_all"])
    bucket = age_bucket(F.col("age_minutes"))
    for name, value in fitted.items():
        if name != "b_all":
            b = F.when(bucket == int(name.removeprefix("b_")), F.lit(value)).otherwise(b)
    future_total = F.expm1(_log1p("engagement_total") + b)
    return frame.withColumn(
        SZABO_HUBERMAN,
        F.greatest(future_total - F.greatest(F.col("engagement_total"), F.lit(0.0)), F.lit(0.0)),
    )
