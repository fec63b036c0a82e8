from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from posts import listings, services
from posts.models import Comment, Like, Post, Share

COUNTERS = ("like_count", "comment_count", "share_count", "hot_score")


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = (
        "id", "kind", "community", "author", "short_text", "like_count", "comment_count",
        "share_count", "created_at", "deleted_at",
    )  # fmt: skip
    list_filter = ("kind", ("deleted_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("text", "attribution", "author__username", "community__name")
    list_select_related = ("community", "author")
    date_hierarchy = "created_at"
    raw_id_fields = ("community", "author", "shared_from")
    readonly_fields = (
        *COUNTERS, "media", "thumbnail", "media_content_type", "media_size", "media_width",
        "media_height", "media_duration", "created_at", "deleted_at",
    )  # fmt: skip
    actions = ["delete_through_service"]

    @admin.display(description="text")
    def short_text(self, post: Post) -> str:
        return post.text[:60]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Posts are created through the site (validation, media processing, events).
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        # Deleting goes through post_delete (soft delete + event), offered as an action.
        return False

    @admin.action(description="Delete selected posts (soft delete, emits post_deleted)")
    def delete_through_service(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        for post in queryset.select_related("community"):
            services.post_delete(actor=request.user, post=post)
        self.message_user(request, f"Deleted {queryset.count()} post(s).")

    def save_model(self, request: HttpRequest, obj: Post, form, change: bool) -> None:
        """An edit here changes what the post's card shows (and where it ranks)."""
        super().save_model(request, obj, form, change)
        listings.posts_changed_on_commit([obj.pk], reposts=True)


@admin.register(Like)
class LikeAdmin(admin.ModelAdmin):
    list_display = ("user", "post", "created_at")
    search_fields = ("user__username",)
    list_filter = ("created_at",)
    list_select_related = ("user", "post")
    raw_id_fields = ("user", "post")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Like | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Like | None = None) -> bool:
        return False  # counters follow rows only through post_unlike


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "author",
        "post",
        "parent",
        "depth",
        "short_body",
        "created_at",
        "deleted_at",
    )
    search_fields = ("body", "author__username")
    list_filter = (("deleted_at", admin.EmptyFieldListFilter), "created_at")
    list_select_related = ("author", "post")
    raw_id_fields = ("author", "post", "parent", "root")
    readonly_fields = ("post", "parent", "root", "depth", "created_at", "deleted_at")
    actions = ["delete_through_service"]

    @admin.display(description="body")
    def short_body(self, comment: Comment) -> str:
        return comment.body[:60]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Comment | None = None) -> bool:
        return False  # rows stay (comment_count counts them); use the action

    @admin.action(description="Delete selected comments (clears the body)")
    def delete_through_service(self, request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        for comment in queryset.select_related("post__community"):
            services.comment_delete(actor=request.user, comment=comment)
        self.message_user(request, f"Deleted {queryset.count()} comment(s).")


@admin.register(Share)
class ShareAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "post", "target_community", "repost", "comment", "created_at")
    search_fields = ("user__username", "comment")
    list_filter = ("created_at",)
    list_select_related = ("user", "post", "target_community")
    raw_id_fields = ("user", "post", "target_community", "repost")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Share | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Share | None = None) -> bool:
        return False
