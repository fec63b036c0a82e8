from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from analytics.models import (
    CommunityEngagement,
    CommunityTrend,
    EngagementDeadLetter,
    EngagementGrain,
    ModelRun,
    PostEngagement,
    PredictionRun,
    SparkBatch,
    TrendPrediction,
)
from analytics.selectors.trends import model_run_live
from analytics.services.trends import model_run_promote
from analytics.tasks import trends_train
from core.admin import ReadOnlyAdmin


class EngagementAdmin(ReadOnlyAdmin):
    """Metric rows. The list opens on the day rollups, and stream-window rows open on one
    day (today, UTC): the row count and the date hierarchy then stay on a short range of
    the (grain, window_start) index even with months of minute rows in the table."""

    date_hierarchy = "window_start"
    list_filter = ("grain",)
    ordering = ("-window_start",)
    default_grain = EngagementGrain.DAY

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        query = request.GET.copy()
        if "e" not in query and "grain__exact" not in query:
            query["grain__exact"] = self.default_grain
        elif query.get("grain__exact") == EngagementGrain.WINDOW and not any(
            name.startswith("window_start__") for name in query
        ):
            today = timezone.now()
            query.update(
                {
                    "window_start__year": str(today.year),
                    "window_start__month": str(today.month),
                    "window_start__day": str(today.day),
                }
            )
        if query != request.GET:
            return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description="score", ordering="engagement_score")
    def score(self, obj: PostEngagement | CommunityEngagement) -> str:
        return f"{obj.engagement_score:.1f}"


@admin.register(PostEngagement)
class PostEngagementAdmin(EngagementAdmin):
    list_display = (
        "window_start",
        "grain",
        "post_id",
        "community_id",
        "views",
        "likes",
        "unlikes",
        "comments",
        "shares",
        "distinct_actors",
        "score",
        "updated_at",
    )
    search_fields = ("=post_id", "=community_id")


@admin.register(CommunityEngagement)
class CommunityEngagementAdmin(EngagementAdmin):
    list_display = (
        "window_start",
        "grain",
        "community_id",
        "views",
        "likes",
        "comments",
        "shares",
        "posts_created",
        "members_joined",
        "members_left",
        "distinct_actors",
        "score",
        "updated_at",
    )
    search_fields = ("=community_id",)


@admin.register(EngagementDeadLetter)
class EngagementDeadLetterAdmin(ReadOnlyAdmin):
    date_hierarchy = "received_at"
    list_display = ("received_at", "topic", "partition", "offset", "error", "value_short")
    list_filter = ("topic", "partition")
    search_fields = ("error", "=offset")
    ordering = ("-received_at", "-id")
    fields = (
        "topic",
        "partition",
        "offset",
        "kafka_timestamp",
        "received_at",
        "error",
        "key_text",
        "raw_text",
    )
    readonly_fields = fields

    @admin.display(description="value")
    def value_short(self, obj: EngagementDeadLetter) -> str:
        return Truncator(obj.raw_text).chars(80)

    @admin.display(description="raw key")
    def key_text(self, obj: EngagementDeadLetter) -> str:
        return bytes(obj.raw_key or b"").decode("utf-8", errors="replace")


@admin.register(SparkBatch)
class SparkBatchAdmin(ReadOnlyAdmin):
    date_hierarchy = "applied_at"
    list_display = (
        "applied_at",
        "query_name",
        "batch_id",
        "topic",
        "message_count",
        "output_rows",
        "watermark",
        "query_id",
    )
    list_filter = ("query_name", "topic")
    search_fields = ("=query_id", "=batch_id")
    ordering = ("-applied_at", "-id")
    readonly_fields = [field.name for field in SparkBatch._meta.fields]


@admin.register(ModelRun)
class ModelRunAdmin(ReadOnlyAdmin):
    """Trainings of the trend model, read-only. "Train now" (above the list) queues a
    training for the Celery worker instead of waiting for the schedule."""

    change_list_template = "admin/analytics/modelrun/change_list.html"
    date_hierarchy = "started_at"
    list_display = (
        "version",
        "status",
        "promoted",
        "algorithm",
        "started_at",
        "duration_seconds",
        "horizon_minutes",
        "training_rows",
        "mae_model",
        "mae_persistence",
        "mae_szabo_huberman",
        "trigger",
    )
    list_filter = ("status", "promoted", "algorithm")
    search_fields = ("version", "error")
    ordering = ("-id",)
    actions = ("promote",)

    def has_promote_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("analytics.change_modelrun")

    @admin.action(
        permissions=["promote"],
        description="Promote the selected run (overrides the beat-persistence rule)",
    )
    def promote(self, request: HttpRequest, queryset: Any) -> None:
        for run in queryset.order_by("id"):
            try:
                model_run_promote(run=run, by=request.user)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
                continue
            messages.success(request, f"{run.version} is promoted.")
        live = model_run_live()
        if live is not None:
            messages.info(request, f"Predictions use the newest promoted run: {live.version}.")

    def get_urls(self) -> list[URLPattern]:
        train_now = self.admin_site.admin_view(require_POST(self.train_now_view))
        return [
            path("train-now/", train_now, name="analytics_modelrun_train_now"),
            *super().get_urls(),
        ]

    def train_now_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        trends_train.delay(trigger="admin")
        messages.success(
            request,
            "Training queued: the worker runs it next (a training already running is not "
            "doubled). The run appears below once it starts.",
        )
        return redirect(reverse("admin:analytics_modelrun_changelist"))

    @staticmethod
    def _mae(obj: ModelRun, who: str) -> str:
        value = (obj.metrics or {}).get(who, {}).get("mae_log1p")
        return "-" if value is None else f"{value:.3f}"

    @admin.display(description="MAE model")
    def mae_model(self, obj: ModelRun) -> str:
        return self._mae(obj, "model")

    @admin.display(description="MAE persistence")
    def mae_persistence(self, obj: ModelRun) -> str:
        return self._mae(obj, "persistence")

    @admin.display(description="MAE Szabo-Huberman")
    def mae_szabo_huberman(self, obj: ModelRun) -> str:
        return self._mae(obj, "szabo_huberman")

    @admin.display(description="started by")
    def trigger(self, obj: ModelRun) -> str:
        return (obj.params or {}).get("trigger", "") or "-"


@admin.register(PredictionRun)
class PredictionRunAdmin(ReadOnlyAdmin):
    date_hierarchy = "started_at"
    list_display = (
        "id",
        "status",
        "as_of",
        "model_run",
        "posts_scored",
        "communities_scored",
        "duration_seconds",
    )
    list_filter = ("status",)
    search_fields = ("=id", "model_run__version")
    list_select_related = ("model_run",)
    ordering = ("-id",)


@admin.register(TrendPrediction)
class TrendPredictionAdmin(ReadOnlyAdmin):
    date_hierarchy = "generated_at"
    list_display = (
        "generated_at",
        "run_id",
        "rank",
        "post_id",
        "predicted_engagement",
        "last_hour_engagement",
        "trend_score",
        "model_run",
    )
    list_filter = ("model_run",)
    search_fields = ("=post__id", "=run__id")
    list_select_related = ("model_run",)
    ordering = ("-run_id", "rank")


@admin.register(CommunityTrend)
class CommunityTrendAdmin(TrendPredictionAdmin):
    list_display = (
        "generated_at",
        "run_id",
        "rank",
        "community_id",
        "predicted_engagement",
        "last_hour_engagement",
        "trend_score",
        "posts_scored",
        "model_run",
    )
    search_fields = ("=community__id", "=run__id")
