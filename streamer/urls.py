from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from communities.views import signup
from posts.views import home, media_serve

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("streamer.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("accounts/signup/", signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", home, name="home"),
    path("", include("communities.urls")),
    path("", include("posts.urls")),
]

if settings.STORAGE_BACKEND == "local":
    # Uploaded media on local disk, served by Django in every mode (django's static() helper
    # only does so with DEBUG on). In production put a web server or S3 storage in front.
    urlpatterns += [re_path(rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.+)$", media_serve)]

handler404 = "streamer.api.api_not_found"
handler500 = "streamer.api.api_server_error"
