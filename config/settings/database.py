import dj_database_url

from config import embedded

DATABASES = {"default": dj_database_url.parse(embedded.database_url(), conn_max_age=60, conn_health_checks=True)}
DATABASES["default"].setdefault("TEST", {})
