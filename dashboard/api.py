"""REST API v1 for analytics: KPIs, engagement time series and top lists, read from the
metric tables by `analytics.selectors` and named by `dashboard.describe`. Staff only, except
a post's engagement, which anyone who can see the post may read. The admin "Analytics" page
is a client of these endpoints."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.selectors import engagement as selectors
from analytics.selectors.summary import analytics_summary
from analytics.selectors.trends import (
    PREDICTION_BATCHES,
    model_run_list,
    trend_predictions_with_actuals,
)
from communities.models import Community
from core.api import QueryParams
from core.api_docs import ERROR_RESPONSES
from dashboard.describe import predictions_described, top_list_described
from posts.selectors import post_get_for_viewer
from spark_jobs.contract import score_formula

POST_ID_REGEX = r"[0-9]{1,18}"
SLUG_REGEX = r"[-a-zA-Z0-9_]{1,50}"

STAFF_ERRORS = {code: ERROR_RESPONSES[code] for code in (400, 401, 403, 429)}
STAFF_ERRORS_404 = {**STAFF_ERRORS, 404: ERROR_RESPONSES[404]}
PUBLIC_ERRORS = {code: ERROR_RESPONSES[code] for code in (400, 404, 429)}


# --- inputs -------------------------------------------------------------------------------


class SeriesParams(QueryParams):
    granularity = serializers.ChoiceField(
        choices=selectors.GRANULARITIES,
        required=False,
        help_text=(
            "Bucket size (default hour). `minute` reads the stream windows and allows ranges "
            "up to 2 days; `hour` up to 92 days; `day` up to 3 years."
        ),
    )
    since = serializers.DateTimeField(
        required=False,
        help_text="Start (ISO 8601; UTC when no offset), rounded down to a bucket. Default: "
        "1 hour, 48 hours or 30 days before `until`, by granularity.",
    )
    until = serializers.DateTimeField(
        required=False, help_text="End, exclusive (ISO 8601). Default: now."
    )

    def validate(self, attrs: dict) -> selectors.SeriesRange:
        return selectors.series_range_resolve(
            granularity=attrs.get("granularity"),
            since=attrs.get("since"),
            until=attrs.get("until"),
        )


class TopParams(QueryParams):
    entity = serializers.ChoiceField(choices=selectors.TOP_ENTITIES, default="post")
    metric = serializers.ChoiceField(choices=selectors.TOP_METRICS, default="engagement_score")
    period = serializers.ChoiceField(
        choices=list(selectors.TOP_PERIODS),
        default="day",
        help_text="; ".join(
            f"`{name}`: {description}" for name, (_, description) in selectors.TOP_PERIODS.items()
        ),
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=selectors.TOP_MAX_LIMIT, default=10, required=False
    )
    community = serializers.SlugField(
        max_length=50, required=False, help_text="With entity=post: only this community's posts."
    )


class LimitParams(QueryParams):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20, required=False)


class PredictionParams(LimitParams):
    batch = serializers.ChoiceField(
        choices=PREDICTION_BATCHES,
        default="latest",
        help_text="`latest`: the newest predictions, with the engagement so far; `evaluated`: "
        "the newest batch whose horizon has passed, with final actuals.",
    )


def _params(serializer_class: type[serializers.Serializer], request: Request):
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


# --- outputs ------------------------------------------------------------------------------


class PostPointOutput(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Bucket start (UTC).")
    views = serializers.IntegerField()
    likes = serializers.IntegerField()
    unlikes = serializers.IntegerField()
    net_likes = serializers.IntegerField()
    comments = serializers.IntegerField()
    shares = serializers.IntegerField()
    distinct_actors = serializers.IntegerField(
        allow_null=True,
        help_text="Distinct users in the bucket, approximately (a HyperLogLog estimate: exact "
        "for small counts, about 0.8% relative error above); null for site-wide series.",
    )
    engagement_score = serializers.FloatField(help_text=f"{score_formula()}.")


class CommunityPointOutput(PostPointOutput):
    posts_created = serializers.IntegerField()
    members_joined = serializers.IntegerField()
    members_left = serializers.IntegerField()


class PostTotalsOutput(serializers.Serializer):
    views = serializers.IntegerField()
    likes = serializers.IntegerField()
    unlikes = serializers.IntegerField()
    net_likes = serializers.IntegerField()
    comments = serializers.IntegerField()
    shares = serializers.IntegerField()
    distinct_actors = serializers.IntegerField(
        allow_null=True, help_text="Always null: distinct users do not add up across buckets."
    )
    engagement_score = serializers.FloatField()


class CommunityTotalsOutput(PostTotalsOutput):
    posts_created = serializers.IntegerField()
    members_joined = serializers.IntegerField()
    members_left = serializers.IntegerField()


class SeriesOutput(serializers.Serializer):
    granularity = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()


class PostSeriesOutput(SeriesOutput):
    post = serializers.IntegerField()
    community = serializers.CharField()
    points = PostPointOutput(many=True)
    totals = PostTotalsOutput()


class CommunitySeriesOutput(SeriesOutput):
    community = serializers.CharField(allow_null=True, help_text="Slug; null for the site.")
    points = CommunityPointOutput(many=True)
    totals = CommunityTotalsOutput()


class TopMetricsOutput(serializers.Serializer):
    engagement_score = serializers.FloatField()
    views = serializers.IntegerField()
    likes = serializers.IntegerField()
    net_likes = serializers.IntegerField()
    comments = serializers.IntegerField()
    shares = serializers.IntegerField()


class TopEntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    community = serializers.CharField(allow_null=True, help_text="Community slug.")
    url = serializers.CharField(allow_null=True)
    admin_url = serializers.CharField(allow_null=True)
    deleted = serializers.BooleanField()
    value = serializers.FloatField(help_text="The ranked metric's sum over the period.")
    metrics = TopMetricsOutput()


class TopOutput(serializers.Serializer):
    entity = serializers.CharField()
    metric = serializers.CharField()
    period = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    results = TopEntryOutput(many=True)


class MinuteOutput(serializers.Serializer):
    start = serializers.DateTimeField()
    events = serializers.IntegerField()


class HealthOutput(serializers.Serializer):
    state = serializers.CharField(help_text="green, amber or red (thresholds in settings).")
    detail = serializers.CharField()


class TodayOutput(serializers.Serializer):
    posts = serializers.IntegerField()
    views = serializers.IntegerField()
    likes = serializers.IntegerField()
    comments = serializers.IntegerField()
    shares = serializers.IntegerField()
    members_joined = serializers.IntegerField()


class OutboxOutput(serializers.Serializer):
    pending = serializers.IntegerField()
    failed = serializers.IntegerField()
    oldest_pending_at = serializers.DateTimeField(allow_null=True)
    oldest_age_seconds = serializers.FloatField()
    health = HealthOutput()


class KafkaOutput(serializers.Serializer):
    servers = serializers.CharField(source="cluster.servers")
    reachable = serializers.BooleanField(source="cluster.reachable")
    brokers_up = serializers.ListField(
        child=serializers.IntegerField(), source="cluster.brokers_up", help_text="Node ids."
    )
    brokers_down = serializers.ListField(
        child=serializers.IntegerField(),
        source="cluster.brokers_down",
        help_text="Nodes holding a replica of the topic (or fenced) that are not serving.",
    )
    partitions = serializers.IntegerField(source="cluster.partitions")
    replication_factor = serializers.IntegerField(source="cluster.replication_factor")
    min_insync_replicas = serializers.IntegerField(
        source="cluster.min_insync_replicas", allow_null=True
    )
    under_replicated = serializers.IntegerField(
        source="cluster.under_replicated",
        help_text="Partitions with fewer in-sync replicas than replicas.",
    )
    below_min_isr = serializers.IntegerField(
        source="cluster.below_min_isr",
        help_text="Partitions below min.insync.replicas: acks=all writes to them fail.",
    )
    offline = serializers.IntegerField(source="cluster.offline", help_text="Without a leader.")
    health = HealthOutput()


class SparkClusterOutput(serializers.Serializer):
    """Null fields when SPARK_MASTER_UI_URL names no standalone master (local mode)."""

    master = serializers.CharField()
    master_ui = serializers.CharField(source="cluster.master_ui", allow_null=True)
    reachable = serializers.BooleanField(source="cluster.reachable", allow_null=True)
    workers_alive = serializers.IntegerField(source="cluster.workers_alive", allow_null=True)
    workers_lost = serializers.IntegerField(
        source="cluster.workers_lost",
        allow_null=True,
        help_text="Worker addresses the master knows with no live worker.",
    )
    app_id = serializers.CharField(
        source="cluster.app_id", allow_null=True, help_text="The engagement job's application."
    )
    executors = serializers.IntegerField(
        source="cluster.executors", allow_null=True, help_text="The job's executors."
    )
    health = HealthOutput()


class SparkOutput(serializers.Serializer):
    running = serializers.BooleanField(help_text="Its process runs on this host (pid file).")
    last_batch_id = serializers.IntegerField(allow_null=True)
    last_batch_at = serializers.DateTimeField(allow_null=True)
    last_batch_age_seconds = serializers.FloatField(allow_null=True)
    watermark = serializers.DateTimeField(allow_null=True)
    lag_events = serializers.IntegerField(
        allow_null=True, help_text="Messages on the topic past the last batch; null if unknown."
    )
    lag_error = serializers.CharField(allow_blank=True)
    late_events_last_batch = serializers.IntegerField(
        help_text="Events the last batch dropped behind the watermark (not counted)."
    )
    late_events_today = serializers.IntegerField(
        help_text="Events dropped behind the watermark by today's (UTC) batches."
    )
    health = HealthOutput()


class DeadLettersOutput(serializers.Serializer):
    total = serializers.IntegerField()
    last_24h = serializers.IntegerField()
    latest_at = serializers.DateTimeField(allow_null=True)
    health = HealthOutput()


class BaselineMetricsOutput(serializers.Serializer):
    mae_log1p = serializers.FloatField(required=False, allow_null=True)
    spearman = serializers.FloatField(required=False, allow_null=True)
    precision_at_10 = serializers.FloatField(required=False, allow_null=True)
    ndcg_at_10 = serializers.FloatField(required=False, allow_null=True)


class FeatureImportanceOutput(serializers.Serializer):
    feature = serializers.CharField()
    importance = serializers.FloatField(help_text="Share of the part's splits' gain (sums to 1).")


class ModelRunOutput(serializers.Serializer):
    """One training of the trend model; runs in progress or failed leave most fields empty."""

    id = serializers.IntegerField()
    version = serializers.CharField()
    status = serializers.CharField(help_text="running, succeeded or failed.")
    algorithm = serializers.CharField(allow_blank=True)
    started_at = serializers.DateTimeField()
    trained_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    horizon_minutes = serializers.IntegerField()
    training_rows = serializers.IntegerField(allow_null=True)
    holdout_rows = serializers.IntegerField(allow_null=True)
    promoted = serializers.BooleanField(help_text="Used for predictions (it beat persistence).")
    promotion_note = serializers.CharField(allow_blank=True)
    metrics = serializers.DictField(
        child=BaselineMetricsOutput(),
        help_text="Holdout metrics of `model`, of each baseline (`persistence`, "
        "`szabo_huberman`) and of each candidate algorithm, measured in the same run.",
    )
    feature_importances = serializers.DictField(
        child=FeatureImportanceOutput(many=True),
        help_text="The chosen model's strongest features per part: `chance` (of any "
        "engagement) and `size` for the hurdle model, `engagement` for a regressor.",
    )
    trigger = serializers.CharField(
        allow_blank=True, help_text="What started it: schedule, first (no model yet) or admin."
    )
    error = serializers.CharField(allow_blank=True)


class SummaryOutput(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    events_per_minute = serializers.FloatField(
        help_text="Counted events per minute, averaged over the last 5 complete minutes."
    )
    events_last_5_minutes = MinuteOutput(many=True)
    active_users_24h = serializers.IntegerField(
        help_text="Distinct users who acted in the last 24 h, approximately (a HyperLogLog "
        "union; exact for small counts, about 0.8% relative error above)."
    )
    today = TodayOutput(help_text="Totals since 00:00 UTC, from the day rollups.")
    outbox = OutboxOutput()
    kafka = KafkaOutput()
    spark_cluster = SparkClusterOutput()
    spark = SparkOutput()
    dead_letters = DeadLettersOutput()
    health = serializers.CharField(help_text="The worst state of the pipeline parts above.")
    model_run = ModelRunOutput(allow_null=True, help_text="Latest trend model run, if any.")


class PredictionOutput(serializers.Serializer):
    post_id = serializers.IntegerField()
    label = serializers.CharField()
    community = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    deleted = serializers.BooleanField()
    rank = serializers.IntegerField(allow_null=True)
    trend_score = serializers.FloatField(allow_null=True)
    last_hour = serializers.FloatField(
        allow_null=True,
        help_text="Engagement score in the hour before the prediction (its velocity).",
    )
    predicted = serializers.FloatField(help_text="Predicted engagement score over the horizon.")
    actual = serializers.FloatField(
        help_text="Engagement score the post got over the horizon (so far, while it lasts)."
    )


class PredictionListOutput(serializers.Serializer):
    batch = serializers.CharField()
    model_run = ModelRunOutput(allow_null=True)
    as_of = serializers.DateTimeField(allow_null=True, help_text="The prediction time.")
    horizon_end = serializers.DateTimeField(allow_null=True)
    complete = serializers.BooleanField(help_text="The horizon has passed: actuals are final.")
    results = PredictionOutput(many=True)


class ModelRunListOutput(serializers.Serializer):
    results = ModelRunOutput(many=True)


# --- views --------------------------------------------------------------------------------


class AnalyticsStaffApi(APIView):
    permission_classes = [IsAdminUser]


class SummaryApi(AnalyticsStaffApi):
    @extend_schema(
        summary="KPIs and pipeline health (staff)",
        responses={200: SummaryOutput, **STAFF_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(SummaryOutput(analytics_summary()).data)


def _series_payload(series: selectors.Series, **extra) -> dict:
    return {
        "granularity": series.granularity,
        "since": series.since,
        "until": series.until,
        "points": [{"start": p.start, **p.values} for p in series.points],
        "totals": series.totals,
        **extra,
    }


@extend_schema(
    summary="Engagement over time of one post",
    description="Readable by anyone who can see the post (404 for a deleted post).",
    parameters=[
        SeriesParams,
        OpenApiParameter("post_id", OpenApiTypes.INT, OpenApiParameter.PATH),
    ],
    responses={200: PostSeriesOutput, **PUBLIC_ERRORS},
)
class PostEngagementApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request, post_id: str) -> Response:
        post = post_get_for_viewer(post_id=int(post_id), viewer=request.user)
        if post is None:
            raise Http404("No such post.")
        series_range = _params(SeriesParams, request)
        series = selectors.engagement_series_for_post(post_id=post.pk, series_range=series_range)
        payload = _series_payload(series, post=post.pk, community=post.community.slug)
        return Response(PostSeriesOutput(payload).data)


@extend_schema(
    summary="Engagement over time of one community (staff)",
    parameters=[SeriesParams],
    responses={200: CommunitySeriesOutput, **STAFF_ERRORS_404},
)
class CommunityEngagementApi(AnalyticsStaffApi):
    def get(self, request: Request, slug: str) -> Response:
        community = get_object_or_404(Community, slug=slug)
        series_range = _params(SeriesParams, request)
        series = selectors.engagement_series_for_community(
            community_id=community.pk, series_range=series_range
        )
        payload = _series_payload(series, community=community.slug)
        return Response(CommunitySeriesOutput(payload).data)


@extend_schema(
    summary="Engagement over time of the whole site (staff)",
    parameters=[SeriesParams],
    responses={200: CommunitySeriesOutput, **STAFF_ERRORS},
)
class SiteEngagementApi(AnalyticsStaffApi):
    def get(self, request: Request) -> Response:
        series_range = _params(SeriesParams, request)
        series = selectors.engagement_series_site(series_range=series_range)
        return Response(CommunitySeriesOutput(_series_payload(series, community=None)).data)


@extend_schema(
    summary="Top posts or communities by a metric over a period (staff)",
    parameters=[TopParams],
    responses={200: TopOutput, **STAFF_ERRORS_404},
)
class TopApi(AnalyticsStaffApi):
    def get(self, request: Request) -> Response:
        params = _params(TopParams, request)
        community_id = None
        if params.get("community"):
            if params["entity"] != "post":
                raise serializers.ValidationError({"community": ["Only with entity=post."]})
            community_id = get_object_or_404(Community, slug=params["community"]).pk
        top = selectors.top_list(
            entity=params["entity"],
            metric=params["metric"],
            period=params["period"],
            limit=params["limit"],
            community_id=community_id,
        )
        return Response(TopOutput(top_list_described(top)).data)


@extend_schema(
    summary="Trend model runs, newest first: the model's and the baselines' metrics (staff)",
    parameters=[LimitParams],
    responses={200: ModelRunListOutput, **STAFF_ERRORS},
)
class ModelRunListApi(AnalyticsStaffApi):
    def get(self, request: Request) -> Response:
        params = _params(LimitParams, request)
        payload = {"results": model_run_list(limit=params["limit"])}
        return Response(ModelRunListOutput(payload).data)


@extend_schema(
    summary="Trending-post predictions beside the engagement that followed (staff)",
    parameters=[PredictionParams],
    responses={200: PredictionListOutput, **STAFF_ERRORS},
)
class PredictionListApi(AnalyticsStaffApi):
    def get(self, request: Request) -> Response:
        params = _params(PredictionParams, request)
        predictions = trend_predictions_with_actuals(limit=params["limit"], batch=params["batch"])
        return Response(PredictionListOutput(predictions_described(predictions)).data)
