from django.conf import settings
from django.db import models


class Profile(models.Model):
    """What a person tells others about themselves, beside Django's user row."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    bio = models.CharField(max_length=280, blank=True)

    def __str__(self) -> str:
        return f"profile of {self.user}"
