"""Community pages. Mounted under the `communities` namespace by streamer/urls.py, which adds
the community page itself (a feed of posts, in posts/views.py)."""

from django.urls import path

from communities import views

urlpatterns = [
    path("communities/", views.community_list, name="list"),
    path("communities/new/", views.community_create, name="create"),
    path("c/<slug:slug>/edit/", views.community_edit, name="edit"),
    path("c/<slug:slug>/join/", views.community_join, name="join"),
    path("c/<slug:slug>/leave/", views.community_leave, name="leave"),
    path("c/<slug:slug>/members/", views.community_members, name="members"),
    path("c/<slug:slug>/members/<int:user_id>/role/", views.membership_role, name="role"),
]
