"""REST API v1: what the trend model expects to take off, from the newest prediction batch
(`analytics.selectors.trends`). Public: it lists only posts anyone can see. Until the first
batch, the posts endpoint falls back to the hot ranking, labelled (`source` "hot" and a
`note` saying why), and the communities endpoint says why it is empty."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.models import PredictionRun
from analytics.selectors.trends import TrendingState, trending_community_list, trending_state
from core.api import QueryParams
from core.api_docs import ERROR_RESPONSES
from posts.models import Post
from posts.selectors import post_list_hot, trending_post_list
from spark_jobs.contract import score_formula

MAX_LIMIT = 100
ERRORS = {code: ERROR_RESPONSES[code] for code in (400, 429)}


class TrendingParams(QueryParams):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=20, required=False)


class BatchOutput(serializers.Serializer):
    source = serializers.ChoiceField(
        choices=["model", "hot"],
        help_text="`model`: the newest prediction batch; `hot`: no predictions yet, so the "
        "hot ranking (posts) or nothing (communities).",
    )
    note = serializers.CharField(
        allow_blank=True, help_text="Why there are no predictions yet (empty with `model`)."
    )
    as_of = serializers.DateTimeField(
        allow_null=True, help_text="The prediction time: features use data before it."
    )
    generated_at = serializers.DateTimeField(allow_null=True, help_text="When the batch finished.")
    horizon_minutes = serializers.IntegerField(
        allow_null=True, help_text="Predictions are engagement over this many minutes."
    )
    model_version = serializers.CharField(allow_null=True)


class TrendingPostOutput(serializers.Serializer):
    rank = serializers.IntegerField(
        help_text="1 = the most predicted engagement (with `source` hot: the hottest)."
    )
    post_id = serializers.IntegerField()
    url = serializers.CharField(help_text="The post's page.")
    community = serializers.CharField(help_text="Community slug.")
    author = serializers.CharField()
    kind = serializers.CharField()
    created_at = serializers.DateTimeField()
    predicted_engagement = serializers.FloatField(
        allow_null=True,
        help_text=f"Predicted engagement score over the horizon ({score_formula()}); null "
        "with `source` hot.",
    )
    last_hour_engagement = serializers.FloatField(
        allow_null=True, help_text="Engagement score in the hour before as_of."
    )
    trend_score = serializers.FloatField(
        allow_null=True,
        help_text="log2((predicted per hour + 1) / (last hour + 1)): above 0 = speeding up.",
    )
    hot_score = serializers.FloatField(help_text="The post's hot score (the fallback order).")


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


def _batch(state: TrendingState) -> dict:
    run: PredictionRun | None = state.batch
    labels = {"source": state.source, "note": state.note}
    if run is None:
        return {
            **labels,
            "as_of": None,
            "generated_at": None,
            "horizon_minutes": None,
            "model_version": None,
        }
    return {
        **labels,
        "as_of": run.as_of,
        "generated_at": run.finished_at,
        "horizon_minutes": run.model_run.horizon_minutes if run.model_run else None,
        "model_version": run.model_run.version if run.model_run else None,
    }


def _limit(request: Request) -> int:
    params = TrendingParams(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data["limit"]


def _post_fields(post: Post) -> dict:
    return {
        "post_id": post.pk,
        "url": post.get_absolute_url(),
        "community": post.community.slug,
        "author": post.author.username,
        "kind": post.kind,
        "created_at": post.created_at,
        "hot_score": post.hot_score,
    }


@extend_schema(
    summary="Trending posts: the most predicted engagement over the next horizon",
    description="From the newest prediction batch. Until a model has been trained and "
    "applied, the hot ranking instead, with `source` hot, a `note` saying why, null batch "
    "fields and null predictions.",
    parameters=[TrendingParams],
    responses={200: TrendingPostListOutput, **ERRORS},
)
class TrendingPostsApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        limit = _limit(request)
        state = trending_state()
        if state.batch is None:
            hot = post_list_hot(viewer=request.user)[:limit]
            results = [
                {
                    "rank": rank,
                    **_post_fields(post),
                    "predicted_engagement": None,
                    "last_hour_engagement": None,
                    "trend_score": None,
                }
                for rank, post in enumerate(hot, start=1)
            ]
        else:
            results = [
                {
                    "rank": row.rank,
                    **_post_fields(row.post),
                    "predicted_engagement": row.predicted_engagement,
                    "last_hour_engagement": row.last_hour_engagement,
                    "trend_score": row.trend_score,
                }
                for row in trending_post_list(run=state.batch, limit=limit)
            ]
        return Response(TrendingPostListOutput({**_batch(state), "results": results}).data)


@extend_schema(
    summary="Trending communities: the most predicted engagement over the next horizon",
    description="From the newest prediction batch; empty, with `source` hot and a `note` "
    "saying why, until a model has been trained and applied.",
    parameters=[TrendingParams],
    responses={200: TrendingCommunityListOutput, **ERRORS},
)
class TrendingCommunitiesApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        limit = _limit(request)
        state = trending_state()
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
            for row in trending_community_list(run=state.batch, limit=limit)
        ]
        return Response(TrendingCommunityListOutput({**_batch(state), "results": results}).data)
