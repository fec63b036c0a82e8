from django.urls import path

from posts import views

app_name = "posts"

urlpatterns = [
    path("submit/", views.post_create, name="create"),
    path("trending/", views.trending, name="trending"),
    path("p/<int:post_id>/", views.post_detail, name="detail"),
    path("p/<int:post_id>/like/", views.post_like, name="like"),
    path("p/<int:post_id>/unlike/", views.post_unlike, name="unlike"),
    path("p/<int:post_id>/comment/", views.comment_create, name="comment"),
    path("p/<int:post_id>/share/", views.post_share, name="share"),
    path("p/<int:post_id>/delete/", views.post_delete, name="delete"),
    path("comments/<int:comment_id>/delete/", views.comment_delete, name="comment_delete"),
    path("u/<str:username>/", views.user_profile, name="profile"),
]
