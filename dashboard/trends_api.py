"""REST API v1: what the trend model expects to take off, from the newest prediction batch
(`analytics.selectors.trends`). Public: it lists only posts anyone can see."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.models import PredictionRun
from analytics.selectors.trends import prediction_batch_latest, trending_community_list
from core.api import QueryParams
from core.api_docs import ERROR_RESPONSES
from posts.selectors import trending_post_list
from spark_jobs.contract import score_formula

MAX_LIMIT = 100
ERRORS = {code: ERROR_RESPONSES[code] for code in (400, 429)}


class TrendingParams(QueryParams):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=20, required=False)


class BatchOutput(serializers.Serializer):
    as_of = serializers.DateTimeField(
        allow_null=True, help_text="The prediction time: features use data before it."
    )
    generated_at = serializers.DateTimeField(allow_null=True, help_text="When the batch finished.")
    horizon_minutes = serializers.IntegerField(
        allow_null=True, help_text="Predictions are engagement over this many minutes."
    )
    model_version = serializers.CharField(allow_null=True)


class TrendingPostOutput(serializers.Serializer):
    rank = serializers.IntegerField(help_text="1 = the most predicted engagement.")
    post_id = serializers.IntegerField()
    url = serializers.CharField(help_text="The post's page.")
    community = serializers.CharField(help_text="Community slug.")
    author = serializers.CharField()
    kind = serializers.CharField()
    created_at = serializers.DateTimeField()
    predicted_engagement = serializers.FloatField(
        help_text=f"Predicted engagement score over the horizon ({score_formula()})."
    )
    last_hour_engagement = serializers.FloatField(
        help_text="Engagement score in the hour before as_of."
    )
    trend_score = serializers.FloatField(
        help_text="log2((predicted per hour + 1) / (last hour + 1)): above 0 = speeding up."
    )


class TrendingPostListOutput(BatchOutput):
    results = TrendingPostOutput(many=True)


class TrendingCommunityOutput(serializers.Serializer):
    rank = serializers.IntegerField()
    community = serializers.CharField(help_text="Community slug.")
    name = serializers.CharField()
    url = serializers.CharField()
    predicted_engagement = serializers.FloatField(
        help_text="Sum of the predictions for the community's recent posts."
    )
    last_hour_engagement = serializers.FloatField()
    trend_score = serializers.FloatField()
    posts_scored = serializers.IntegerField()


class TrendingCommunityListOutput(BatchOutput):
    results = TrendingCommunityOutput(many=True)


def _batch(run: PredictionRun | None) -> dict:
    if run is None:
        return {"as_of": None, "generated_at": None, "horizon_minutes": None, "model_version": None}
    return {
        "as_of": run.as_of,
        "generated_at": run.finished_at,
        "horizon_minutes": run.model_run.horizon_minutes if run.model_run else None,
        "model_version": run.model_run.version if run.model_run else None,
    }


def _limit(request: Request) -> int:
    params = TrendingParams(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data["limit"]


@extend_schema(
    summary="Trending posts: the most predicted engagement over the next horizon",
    description="From the newest prediction batch; empty `results` (and null batch fields) "
    "until a model has been trained and applied.",
    parameters=[TrendingParams],
    responses={200: TrendingPostListOutput, **ERRORS},
)
class TrendingPostsApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        limit = _limit(request)
        run = prediction_batch_latest()
        results = [
            {
                "rank": row.rank,
                "post_id": row.post_id,
                "url": row.post.get_absolute_url(),
                "community": row.post.community.slug,
                "author": row.post.author.username,
                "kind": row.post.kind,
                "created_at": row.post.created_at,
                "predicted_engagement": row.predicted_engagement,
                "last_hour_engagement": row.last_hour_engagement,
                "trend_score": row.trend_score,
            }
            for row in trending_post_list(run=run, limit=limit)
        ]
        return Response(TrendingPostListOutput({**_batch(run), "results": results}).data)


@extend_schema(
    summary="Trending communities: the most predicted engagement over the next horizon",
    parameters=[TrendingParams],
    responses={200: TrendingCommunityListOutput, **ERRORS},
)
class TrendingCommunitiesApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        limit = _limit(request)
        run = prediction_batch_latest()
        results = [
            {
                "rank": row.rank,
                "community": row.community.slug,
                "name": row.community.name,
                "url": row.community.get_absolute_url(),
                "predicted_engagement": row.predicted_engagement,
                "last_hour_engagement": row.last_hour_engagement,
                "trend_score": row.trend_score,
                "posts_scored": row.posts_scored,
            }
            for row in trending_community_list(run=run, limit=limit)
        ]
        return Response(TrendingCommunityListOutput({**_batch(run), "results": results}).data)
