"""The feature builder on small static DataFrames: windows, growth, totals, author and
community history, candidates, targets, and the leakage rule."""

from __future__ import annotations

import math

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_jobs.trends.features import (
    DEFAULT_FEATURES,
    FEATURE_COLUMNS,
    KEY_COLUMNS,
    RAW_COLUMNS,
    FeatureConfig,
    post_features,
    post_targets,
    training_frame,
)
from spark_jobs.trends.tests.helpers import (
    T0,
    History,
    minute_row,
    minutes,
    times_frame,
)

pytestmark = pytest.mark.spark

COLUMNS = [*KEY_COLUMNS, *RAW_COLUMNS, *FEATURE_COLUMNS]


def base_history() -> History:
    history = History()
    history.posts += [
        (1, 7, 100, "image", minutes(-120), None),
        (2, 7, 100, "quote", minutes(-600), None),
        (3, 8, 200, "video", minutes(-30), None),
    ]
    history.post_activity += [
        minute_row(1, -3, 2.0, 2.0),
        minute_row(1, -10, 3.0),
        minute_row(1, -30, 5.0),
        minute_row(1, -90, 7.0),
        minute_row(2, -400, 10.0),
        # A summary of old history, as the job passes hour rollups before its window rows.
        (2, minutes(-600), minutes(-480), 20.0, 4.0, 25.0),
    ]
    history.community_activity += [
        (7, minutes(-700), minutes(-480), 0.0, 12.0, 2.0),
        (7, minutes(-20), minutes(-19), 8.0, 1.0, 0.0),
        (7, minutes(-70), minutes(-69), 4.0, 0.0, 0.0),
        (8, minutes(-5), minutes(-4), 1.5, 3.0, 1.0),
    ]
    return history


def features_at(spark, history: History, moments, config=DEFAULT_FEATURES):
    return post_features(times=times_frame(spark, moments), config=config, **history.frames(spark))


def by_post(frame) -> dict[int, dict]:
    return {row["post_id"]: row.asDict() for row in frame.collect()}


def test_recent_windows_growth_and_totals(spark):
    rows = by_post(features_at(spark, base_history(), [T0]))
    post = rows[1]
    assert (post["engagement_5m"], post["engagement_15m"], post["engagement_60m"]) == (
        2.0,
        5.0,
        10.0,
    )
    assert post["engagement_total"] == 17.0
    assert post["log_engagement_60m"] == pytest.approx(math.log1p(10))
    assert post["log_actors_60m"] == pytest.approx(math.log1p(4))
    # Last 5 minutes vs the 10 before, per 5 minutes; last 15 vs the 45 before, per 15.
    assert post["growth_5m_15m"] == pytest.approx(math.log1p(2) - math.log1p(3 / 2))
    assert post["growth_15m_60m"] == pytest.approx(math.log1p(5) - math.log1p(5 / 3))
    assert post["age_minutes"] == 120.0
    assert post["log_age_minutes"] == pytest.approx(math.log1p(120))
    assert (post["kind_image"], post["kind_video"]) == (1.0, 0.0)
    assert post["hour_sin"] == pytest.approx(math.sin(2 * math.pi * 12 / 24))


def test_velocity_decay_time_since_last_and_context(spark):
    rows = by_post(features_at(spark, base_history(), [T0]))
    post = rows[1]
    # Rows of post 1 end 2, 9, 29 and 89 minutes before T0 (actions = engagement here).
    assert post["log_engagement_180m"] == pytest.approx(math.log1p(17))
    assert post["log_actions_5m"] == pytest.approx(math.log1p(2))
    assert post["log_actions_60m"] == pytest.approx(math.log1p(10))
    decayed = sum(n * math.exp(-ago / 10) for n, ago in ((2, 2), (3, 9), (5, 29), (7, 89)))
    assert post["log_decayed_actions_10m"] == pytest.approx(math.log1p(decayed))
    assert post["growth_60m_180m"] == pytest.approx(math.log1p(10) - math.log1p(7 / 2))
    assert post["log_minutes_since_last"] == pytest.approx(math.log1p(2))
    assert post["actor_share_60m"] == pytest.approx(4 / 10)
    assert post["log_rate_lifetime"] == pytest.approx(math.log1p(17 * 60 / 120))
    # Community 7 had 8 in the last hour; the site 8 + 1.5.
    assert post["community_share_60m"] == pytest.approx(1.0)
    assert post["log_site_engagement_60m"] == pytest.approx(math.log1p(9.5))
    # Post 2's newest row ended 399 minutes ago; post 3 never had any: since it was made.
    assert rows[2]["log_minutes_since_last"] == pytest.approx(math.log1p(399))
    assert rows[3]["log_minutes_since_last"] == pytest.approx(math.log1p(30))
    assert rows[3]["community_share_60m"] == 0.0


def test_summary_rows_count_in_totals_only(spark):
    post = by_post(features_at(spark, base_history(), [T0]))[2]
    assert post["engagement_total"] == 30.0
    assert post["engagement_60m"] == 0.0


def test_author_and_community_history(spark):
    rows = by_post(features_at(spark, base_history(), [T0]))
    # Author 100 wrote posts 1 and 2: each sees the other as prior history.
    assert rows[1]["log_author_prior_posts"] == pytest.approx(math.log1p(1))
    assert rows[1]["log_author_mean_engagement"] == pytest.approx(math.log1p(30))
    assert rows[2]["log_author_mean_engagement"] == pytest.approx(math.log1p(17))
    assert rows[3]["log_author_prior_posts"] == 0.0
    assert rows[1]["log_community_members"] == pytest.approx(math.log1p(11))
    assert rows[1]["log_community_engagement_60m"] == pytest.approx(math.log1p(8))
    assert rows[3]["log_community_members"] == pytest.approx(math.log1p(2))


def test_candidates_are_alive_young_and_created(spark):
    history = base_history()
    history.posts += [
        (4, 7, 100, "quote", minutes(5), None),
        (5, 7, 100, "quote", minutes(-60 * 49), None),
        (6, 7, 100, "quote", minutes(-50), minutes(-1)),
        (7, 7, 100, "quote", minutes(-50), minutes(10)),
    ]
    rows = by_post(features_at(spark, history, [T0]))
    assert sorted(rows) == [1, 2, 3, 7]
    # The author's history holds the old and the deleted post, not the one made after T0.
    assert rows[1]["log_author_prior_posts"] == pytest.approx(math.log1p(4))


def test_targets_take_the_horizon_after_as_of(spark):
    history = base_history()
    history.post_activity += [
        minute_row(1, 0, 1.0),
        minute_row(1, 59, 2.0),
        minute_row(1, 60, 4.0),
        (1, minutes(-0.5), minutes(0.5), 8.0, 1.0, 8.0),
    ]
    frames = history.frames(spark)
    targets = post_targets(
        times=times_frame(spark, [T0]), post_activity=frames["post_activity"]
    ).collect()
    assert [(r["post_id"], r["engagement_next"]) for r in targets] == [(1, 3.0)]
    shorter = post_targets(
        times=times_frame(spark, [T0]),
        post_activity=frames["post_activity"],
        config=FeatureConfig(horizon_minutes=30),
    ).collect()
    assert shorter[0]["engagement_next"] == 1.0
    # The straddling row is in neither the features nor the target.
    assert by_post(features_at(spark, history, [T0]))[1]["engagement_total"] == 17.0


def test_training_frame_fills_missing_targets_with_zero(spark):
    frame = training_frame(
        times=times_frame(spark, [T0]), config=FeatureConfig(), **base_history().frames(spark)
    )
    rows = {r["post_id"]: (r["engagement_next"], r["label"]) for r in frame.collect()}
    assert rows == {1: (0.0, 0.0), 2: (0.0, 0.0), 3: (0.0, 0.0)}


def test_changing_data_after_as_of_changes_no_feature_at_as_of(spark):
    """The leakage test: everything that happens after T0 is rewritten or added, and the
    features at T0 (computed together with a later time) stay exactly the same."""
    moments = [T0, minutes(30)]
    before = base_history()
    after = base_history()
    after.posts += [
        (9, 7, 100, "video", minutes(1), None),
        (10, 8, 200, "quote", minutes(2), None),
    ]
    after.posts = [(*post[:5], minutes(3)) if post[0] == 3 else post for post in after.posts]
    after.post_activity += [
        minute_row(1, 0, 500.0, 50.0),
        minute_row(1, 15, 70.0),
        minute_row(2, 1, 90.0),
        minute_row(9, 4, 300.0),
        (2, minutes(0), minutes(60), 1000.0, 10.0, 1000.0),
    ]
    after.community_activity += [
        (7, minutes(0), minutes(1), 900.0, 40.0, 0.0),
        (8, minutes(5), minutes(6), 10.0, 0.0, 3.0),
    ]
    at_t0 = F.col("as_of") == F.lit(T0)
    first = features_at(spark, before, moments).where(at_t0).select(*COLUMNS)
    second = features_at(spark, after, moments).where(at_t0).select(*COLUMNS)
    assert first.count() == 3
    assertDataFrameEqual(first, second)
    later = by_post(features_at(spark, after, moments).where(~at_t0))
    assert later[1]["engagement_60m"] == 580.0
    assert 3 not in later
