"""Metrics, baselines, the time split, the hurdle model's forecast and promotion rule, and
training plus prediction on a small synthetic history in which a planted viral post must
come out first."""

from __future__ import annotations

import math
from datetime import timedelta
from statistics import NormalDist

import pytest
from pyspark.ml import PipelineModel
from pyspark.ml.linalg import Vectors, VectorUDT
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.trends import metrics
from spark_jobs.trends.features import FeatureConfig, post_features, training_frame
from spark_jobs.trends.history import minimum_history_minutes, training_times
from spark_jobs.trends.model import (
    CHANCE,
    PREDICTION,
    HurdleMedian,
    TrainConfig,
    community_trends,
    fit_and_evaluate,
    promotion,
    ranked_posts,
    time_split,
    with_prediction,
)
from spark_jobs.trends.tests.helpers import T0, minutes, synthetic_history, times_frame

pytestmark = pytest.mark.spark

FAST = TrainConfig(
    features=FeatureConfig(horizon_minutes=60, max_age_hours=48),
    holdout_fraction=0.3,
    algorithms=("hurdle", "linear"),
    gbt_max_iter=15,
    gbt_max_depth=4,
)


def scored_frame(spark, rows):
    schema = "as_of timestamp, post_id long, p double, engagement_next double"
    return spark.createDataFrame(rows, schema)


def test_metrics_on_a_hand_made_holdout(spark):
    frame = scored_frame(
        spark,
        [
            (T0, 1, 9.0, 10.0),
            (T0, 2, 5.0, 0.0),
            (T0, 3, 1.0, 4.0),
            (T0, 4, 0.0, 0.0),
            (minutes(15), 1, 3.0, 0.0),
            (minutes(15), 2, 2.0, 7.0),
            (minutes(15), 3, 1.0, 7.0),
            (minutes(15), 4, 0.0, 0.0),
        ],
    )
    mae = (
        sum(
            abs(math.log1p(p) - math.log1p(t))
            for p, t in [(9, 10), (5, 0), (1, 4), (0, 0), (3, 0), (2, 7), (1, 7), (0, 0)]
        )
        / 8
    )
    assert metrics.mae_log1p(frame, "p") == pytest.approx(mae)
    # Top 2 by prediction at T0: posts 1, 2 (one hit of two); at +15: 1, 2 (post 2 ties post 3
    # for the most engagement, so it is a hit) -> (1/2 + 1/2) / 2.
    assert metrics.precision_at_k(frame, "p", k=2) == pytest.approx(0.5)
    assert metrics.precision_at_k(frame, "p", k=1) == pytest.approx(0.5)
    # NDCG@2 at T0: gains 10 (rank 1) and 0 over the ideal 10 and 4; at +15: 0 and 7 over
    # 7 and 7 (discounts 1 and 1/log2 3).
    third = 1 / math.log2(3)
    at_t0, at_15 = 10 / (10 + 4 * third), 7 * third / (7 + 7 * third)
    assert metrics.ndcg_at_k(frame, "p", k=2) == pytest.approx((at_t0 + at_15) / 2)
    perfect = frame.withColumn("p", F.col("engagement_next"))
    assert metrics.spearman(perfect, "p") == pytest.approx(1.0)
    assert metrics.precision_at_k(perfect, "p", k=2) == pytest.approx(1.0)
    assert metrics.ndcg_at_k(perfect, "p", k=2) == pytest.approx(1.0)
    reversed_ = frame.withColumn("p", -F.col("engagement_next"))
    assert metrics.spearman(reversed_, "p") == pytest.approx(-1.0)


def test_top_k_metrics_break_ties_at_zero_by_the_chance_as_the_lists_do(spark):
    """Three posts forecast 0 (the hurdle model's median when quiet is likelier): the lists
    order them by the chance of any engagement, and so do precision@k and NDCG@k; Spearman
    is on the forecast values (ties share their average rank)."""
    rows = [
        (T0, 1, 4.0, 0.9, 5.0),
        (T0, 2, 0.0, 0.1, 0.0),
        (T0, 3, 0.0, 0.2, 1.0),
        (T0, 4, 0.0, 0.45, 3.0),
    ]
    frame = spark.createDataFrame(
        rows, "as_of timestamp, post_id long, p double, chance double, engagement_next double"
    )
    # Forecast ranks 4, 2, 2, 2 (average of the tie) against actual ranks 4, 1, 2, 3.
    assert metrics.spearman(frame, "p") == pytest.approx(0.7745967, abs=1e-6)
    # By post id alone post 2 would be second and a miss; by the chance post 4 is.
    assert metrics.precision_at_k(frame, "p", k=2, tie_break="chance") == pytest.approx(1.0)
    assert metrics.precision_at_k(frame, "p", k=2) == pytest.approx(0.5)
    assert metrics.ndcg_at_k(frame, "p", k=3, tie_break="chance") == pytest.approx(1.0)


def test_szabo_huberman_fits_a_log_offset_per_age(spark):
    rows = [
        # age 30 min: the count doubles (in log1p terms: +log 2 for N+1 = 2, 4, ...)
        (T0, 1, 30.0, 1.0, 2.0),
        (T0, 2, 30.0, 3.0, 4.0),
        # age 3000 min: nothing more happens
        (T0, 3, 3000.0, 5.0, 0.0),
    ]
    frame = spark.createDataFrame(
        rows,
        "as_of timestamp, post_id long, age_minutes double, engagement_total double, "
        "engagement_next double",
    )
    fitted = metrics.szabo_huberman_fit(frame)
    assert fitted["b_0"] == pytest.approx(math.log(2))
    assert fitted["b_7"] == pytest.approx(0.0)
    predicted = {
        r["post_id"]: r[metrics.SZABO_HUBERMAN]
        for r in metrics.with_szabo_huberman(frame, fitted).collect()
    }
    assert predicted == pytest.approx({1: 2.0, 2: 4.0, 3: 0.0})


def test_hurdle_forecast_is_the_median_of_chance_times_size(spark):
    """p <= 1/2: more likely nothing, so 0. Above: the (p - 1/2)/p quantile of a normal size
    (mean 2, spread 0.5 on the log1p scale), never below 0."""
    rows = [(1, 0.3, 2.0), (2, 0.5, 2.0), (3, 0.8, 2.0), (4, 0.99, 2.0), (5, 0.6, 0.1)]
    schema = T.StructType(
        [
            T.StructField("post_id", T.LongType()),
            T.StructField("_chance_vector", VectorUDT()),
            T.StructField("_size", T.DoubleType()),
        ]
    )
    frame = spark.createDataFrame(
        [(i, Vectors.dense([1 - p, p]), size) for i, p, size in rows], schema
    )
    out = {r["post_id"]: r for r in HurdleMedian(spread=0.5).transform(frame).collect()}

    def median(p: float, size: float) -> float:
        if p <= 0.5:
            return 0.0
        return max(0.0, size + 0.5 * NormalDist().inv_cdf((p - 0.5) / p))

    for post_id, p, size in rows:
        assert out[post_id][CHANCE] == pytest.approx(p)
        assert out[post_id]["prediction"] == pytest.approx(median(p, size), abs=1e-3)
    assert out[1]["prediction"] == out[2]["prediction"] == out[5]["prediction"] == 0.0
    assert 0 < out[3]["prediction"] < out[4]["prediction"] < 2.0


def test_promotion_needs_both_mae_and_spearman_better_than_persistence():
    def results(mae: float, rho: float | None) -> dict:
        return {
            "hurdle": {"mae_log1p": mae, "spearman": rho},
            metrics.PERSISTENCE: {"mae_log1p": 0.08, "spearman": 0.66},
        }

    assert promotion(results(0.06, 0.70), "hurdle")[0]
    promote, note = promotion(results(0.06, 0.50), "hurdle")
    assert not promote and "on Spearman" in note
    promote, note = promotion(results(0.09, 0.70), "hurdle")
    assert not promote and "on MAE" in note
    assert not promotion(results(0.06, None), "hurdle")[0]


def test_the_first_training_waits_for_enough_history(spark):
    """With exactly the minutes `minimum_history_minutes` asks for, the prediction times a
    training makes split into at least 4 training times and a holdout."""
    needed = minimum_history_minutes(horizon_minutes=60, step_minutes=15, holdout_fraction=0.25)
    # Times step-aligned after the first activity, the last one's horizon within the data.
    count = (needed - 60) // 15
    times = [T0 + timedelta(minutes=15 * i) for i in range(count)]
    frame = times_frame(spark, times).withColumn("post_id", F.lit(1))
    train, _, _ = time_split(frame, holdout_fraction=0.25, horizon_minutes=60)
    assert train.count() >= 4
    assert training_times(count, holdout_fraction=0.25, step_minutes=15, horizon=60) >= 4
    assert training_times(count - 1, holdout_fraction=0.25, step_minutes=15, horizon=60) < 4


def test_time_split_keeps_training_horizons_out_of_the_holdout(spark):
    times = [T0 + timedelta(minutes=15 * i) for i in range(20)]
    frame = times_frame(spark, times).withColumn("post_id", F.lit(1))
    train, holdout, split_at = time_split(frame, holdout_fraction=0.25, horizon_minutes=60)
    assert split_at == times[15]
    assert max(r["as_of"] for r in train.collect()) == times[11]
    assert min(r["as_of"] for r in holdout.collect()) == times[15]
    with pytest.raises(ValueError, match="not enough history"):
        time_split(frame, holdout_fraction=0.25, horizon_minutes=400)


def test_training_and_prediction_rank_the_viral_post_first(spark, tmp_path):
    history = synthetic_history()
    frames = history.frames(spark)
    grid = times_frame(spark, [T0 - timedelta(minutes=10 * i) for i in range(6, 58)])
    frame = training_frame(times=grid, config=FAST.features, **frames).cache()
    result = fit_and_evaluate(frame, FAST)

    assert result.training_rows > 0 and result.holdout_rows > 0
    for name in ("hurdle", "linear", "persistence", "szabo_huberman", "model"):
        assert set(result.metrics[name]) >= {
            "mae_log1p",
            "spearman",
            "precision_at_10",
            "ndcg_at_10",
        }
    assert result.algorithm in ("hurdle", "linear")
    assert result.metrics["model"]["mae_log1p"] == min(
        result.metrics["hurdle"]["mae_log1p"], result.metrics["linear"]["mae_log1p"]
    )
    assert result.promote == promotion(result.metrics, result.algorithm)[0]
    importances = result.params["models"]["hurdle"]["feature_importances"]
    assert set(importances) == {"chance", "size"}
    assert sum(importances["chance"].values()) == pytest.approx(1.0)

    result.model.write().overwrite().save(str(tmp_path / "model"))
    model = PipelineModel.load(str(tmp_path / "model"))
    features = post_features(times=times_frame(spark, [T0]), config=FAST.features, **frames)
    ranked = ranked_posts(with_prediction(model, features)).cache()
    assert result.algorithm == "hurdle" or ranked.where(F.col(CHANCE).isNotNull()).count() == 0
    top = ranked.orderBy("rank").limit(3).collect()
    assert top[0]["post_id"] == 1
    assert top[0]["rank"] == 1
    assert top[0][PREDICTION] > 2 * top[1][PREDICTION]
    assert top[0]["trend_score"] == pytest.approx(
        math.log2((top[0][PREDICTION] + 1) / (top[0]["last_hour_engagement"] + 1))
    )
    communities = community_trends(ranked).orderBy("rank").collect()
    assert communities[0]["community_id"] == 2
    assert sum(c["posts_scored"] for c in communities) == ranked.count()
