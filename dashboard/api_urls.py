"""REST API v1 routes under /api/v1/analytics/ (mounted by streamer.api_urls)."""

from django.urls import path, re_path

from dashboard import api, trends_api

urlpatterns = [
    path("summary/", api.SummaryApi.as_view(), name="api-analytics-summary"),
    path("engagement/", api.SiteEngagementApi.as_view(), name="api-analytics-site-engagement"),
    re_path(
        rf"^posts/(?P<post_id>{api.POST_ID_REGEX})/engagement/$",
        api.PostEngagementApi.as_view(),
        name="api-analytics-post-engagement",
    ),
    re_path(
        rf"^communities/(?P<slug>{api.SLUG_REGEX})/engagement/$",
        api.CommunityEngagementApi.as_view(),
        name="api-analytics-community-engagement",
    ),
    path("top/", api.TopApi.as_view(), name="api-analytics-top"),
    path("model-runs/", api.ModelRunListApi.as_view(), name="api-analytics-model-runs"),
    path("predictions/", api.PredictionListApi.as_view(), name="api-analytics-predictions"),
    path("trending/", trends_api.TrendingPostsApi.as_view(), name="api-analytics-trending"),
    path(
        "trending/communities/",
        trends_api.TrendingCommunitiesApi.as_view(),
        name="api-analytics-trending-communities",
    ),
]
