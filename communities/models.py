from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Community(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    description = models.TextField(blank=True, max_length=2000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="communities_created",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Kept equal to the number of Membership rows by the join/leave services.
    member_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "communities"
        indexes = [models.Index(fields=["member_count"], name="community_member_count")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("communities:detail", kwargs={"slug": self.slug})


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "owner"
        MODERATOR = "moderator", "moderator"
        MEMBER = "member", "member"

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "community"], name="membership_unique_user"),
        ]
        indexes = [models.Index(fields=["community", "role"], name="membership_community_role")]

    def __str__(self) -> str:
        return f"{self.user} in {self.community} ({self.role})"

    @property
    def can_moderate(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.MODERATOR)
