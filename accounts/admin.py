from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from accounts.models import Profile
from accounts.services import profile_ensure, tokens_revoke


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "bio")
    search_fields = ("user__username", "bio")
    raw_id_fields = ("user",)


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class PersonAdmin(UserAdmin):
    """Django's user admin, plus revoking a person's API tokens (their API log-out)."""

    actions = ["api_tokens_revoke"]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        profile_ensure(user=obj)

    @admin.action(description="Revoke the API tokens of the selected people")
    def api_tokens_revoke(self, request, queryset) -> None:
        revoked = sum(tokens_revoke(user=user) for user in queryset)
        self.message_user(request, f"Revoked {revoked} API token(s).", messages.SUCCESS)
