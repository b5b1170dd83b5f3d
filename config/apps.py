from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Framework glue shared by all apps: idempotency keys, roles, error shape."""

    name = "config"
    label = "core"
    verbose_name = "Core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from config import schema  # noqa: F401  (registers OpenAPI extensions)
