import dj_database_url

from config import embedded

DATABASES = {"default": dj_database_url.parse(embedded.database_url(), conn_max_age=60, conn_health_checks=True)}
# Django's PostgreSQL backend whose per-request health check reads the socket instead of
# sending SELECT 1 (config/postgres/base.py).
DATABASES["default"]["ENGINE"] = "config.postgres"
DATABASES["default"].setdefault("TEST", {})
