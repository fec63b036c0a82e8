from django.conf import settings
from django.db import models


class Profile(models.Model):
    """What a person tells others about themselves, beside Django's user row."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    bio = models.CharField(max_length=280, blank=True)
    # accounts.usernames.username_key of the username: one per look-alike group. NULL (which
    # a unique column allows many times) for look-alikes registered before the rule.
    username_key = models.CharField(  # noqa: DJ001
        max_length=64, unique=True, null=True, editable=False
    )

    def __str__(self) -> str:
        return f"profile of {self.user}"
