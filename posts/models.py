from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from communities.models import Community


class Post(models.Model):
    """A quote, image or video in a community.

    A post created by sharing (`shared_from` set) is a repost: it has no text or media of its
    own, shows the original inside it, and keeps the original's kind. The counters are kept
    equal to the Like/Comment/Share rows by the services, in the same transaction as the row.
    `hot_score` is the ranking column described in posts.ranking."""

    class Kind(models.TextChoices):
        QUOTE = "quote", "quote"
        IMAGE = "image", "image"
        VIDEO = "video", "video"

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # Quote text, or the caption of an image/video, or a repost's share comment.
    text = models.TextField(blank=True, max_length=5000)
    attribution = models.CharField(max_length=200, blank=True)
    shared_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reposts"
    )

    media = models.FileField(upload_to="posts/media/", blank=True, max_length=200)
    thumbnail = models.FileField(upload_to="posts/thumbs/", blank=True, max_length=200)
    media_content_type = models.CharField(max_length=32, blank=True)
    media_size = models.PositiveBigIntegerField(null=True, blank=True)
    media_width = models.PositiveIntegerField(null=True, blank=True)
    media_height = models.PositiveIntegerField(null=True, blank=True)
    media_duration = models.FloatField(null=True, blank=True, help_text="Seconds (videos).")

    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    like_count = models.PositiveIntegerField(default=0)
    comment_count = models.PositiveIntegerField(default=0)
    share_count = models.PositiveIntegerField(default=0)
    hot_score = models.FloatField(default=0.0)

    class Meta:
        indexes = [
            models.Index(fields=["hot_score"], name="post_hot"),
            models.Index(fields=["community", "hot_score"], name="post_community_hot"),
            models.Index(fields=["created_at"], name="post_created"),
            models.Index(fields=["community", "created_at"], name="post_community_created"),
            models.Index(fields=["author", "created_at"], name="post_author_created"),
            models.Index(fields=["like_count"], name="post_likes"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} in {self.community_id}"

    def get_absolute_url(self) -> str:
        return reverse("posts:detail", kwargs={"post_id": self.pk})

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def content(self) -> "Post":
        """The post whose text and media are shown: the original for a repost."""
        return self.shared_from if self.shared_from_id else self


class Like(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="likes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="likes"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "post"], name="like_unique_user_post"),
        ]

    def __str__(self) -> str:
        return f"{self.user} likes post {self.post_id}"


class Comment(models.Model):
    """A comment or a reply. `root` is the top-level comment of the thread (NULL on a
    top-level comment), so a page of threads with all their replies loads in one query."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments"
    )
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    root = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    depth = models.PositiveSmallIntegerField(default=0)
    body = models.TextField(max_length=5000)
    created_at = models.DateTimeField(default=timezone.now)
    # Deleted comments keep their row (and their place in the thread and in comment_count);
    # the body is cleared.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["post", "parent", "created_at"], name="comment_post_parent"),
            models.Index(fields=["post", "root"], name="comment_post_root"),
        ]

    def __str__(self) -> str:
        return f"comment #{self.pk} on post {self.post_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Share(models.Model):
    """A user shared `post`. With a target community, `repost` is the post created there."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shares"
    )
    target_community = models.ForeignKey(
        Community, on_delete=models.SET_NULL, null=True, blank=True, related_name="shares_in"
    )
    repost = models.OneToOneField(
        Post, on_delete=models.SET_NULL, null=True, blank=True, related_name="share_record"
    )
    comment = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["post", "created_at"], name="share_post_created")]

    def __str__(self) -> str:
        return f"{self.user} shared post {self.post_id}"
