"""REST API v1 routes: the contract outside clients rely on (see README, /api/docs/)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from accounts.api import LogoutApi, RegisterApi, TokenApi
from communities.api import CommunityViewSet
from posts.api import CommentViewSet, PostViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("communities", CommunityViewSet, basename="community")
router.register("posts", PostViewSet, basename="post")
router.register("comments", CommentViewSet, basename="comment")

urlpatterns = [
    path("auth/register/", RegisterApi.as_view(), name="api-register"),
    path("auth/token/", TokenApi.as_view(), name="api-token"),
    path("auth/logout/", LogoutApi.as_view(), name="api-logout"),
    path("analytics/", include("dashboard.api_urls")),
    path("", include(router.urls)),
]
