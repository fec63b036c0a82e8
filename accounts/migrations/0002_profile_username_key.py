from django.db import migrations, models


def keys_fill(apps, schema_editor):
    """Every existing person gets a profile with the key of their username; of existing
    look-alikes only the oldest keeps the key (the others were registered before the rule)."""
    from accounts.usernames import username_key

    user_model = apps.get_model("auth", "User")
    profile_model = apps.get_model("accounts", "Profile")
    seen: set[str] = set()
    for user in user_model.objects.order_by("pk").iterator():
        key = username_key(user.username)
        profile, _ = profile_model.objects.get_or_create(user=user)
        profile.username_key = None if key in seen else key
        profile.save(update_fields=["username_key"])
        seen.add(key)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="username_key",
            field=models.CharField(editable=False, max_length=64, null=True, unique=True),
        ),
        migrations.RunPython(keys_fill, migrations.RunPython.noop),
    ]
