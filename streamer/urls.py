"""The site's URLs. The project is the roof: it puts the apps' routes together, and is the
only place that may import every app."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.views import signup
from communities.urls import urlpatterns as community_patterns
from core.api import api_path_not_found
from posts.views import community_page, home, media_serve

# A community's page is a feed of posts, so its view lives in posts; it keeps its name,
# `communities:detail`, beside the other community pages.
communities = [path("c/<slug:slug>/", community_page, name="detail"), *community_patterns]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("streamer.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI with its settings in a script file, not inline (the CSP allows no inline script).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    re_path(r"^api(?:/|$)", api_path_not_found),
    path("accounts/signup/", signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", home, name="home"),
    path("", include((communities, "communities"))),
    path("", include("posts.urls")),
]

if settings.STORAGE_BACKEND == "local":
    # Uploaded media on local disk, served by Django in every mode (django's static() helper
    # only does so with DEBUG on). In production put a web server or S3 storage in front.
    urlpatterns += [re_path(rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.+)$", media_serve)]

handler404 = "core.api.api_not_found"
handler500 = "core.api.api_server_error"
