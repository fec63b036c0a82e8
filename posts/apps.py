from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PostsConfig(AppConfig):
    name = "posts"

    def ready(self) -> None:
        from posts.beat import periodic_tasks_ensure_on_migrate

        post_migrate.connect(
            periodic_tasks_ensure_on_migrate, sender=self, dispatch_uid="posts.periodic_tasks"
        )
