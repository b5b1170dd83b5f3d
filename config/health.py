"""Reachability of the database and the broker, for ``/healthz`` and start-up."""

from __future__ import annotations

from django.conf import settings
from django.db import connection


def check_database() -> str | None:
    """None when reachable, else one line that names the setting."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"DATABASE_URL: database unreachable ({detail})"
    return None


def check_broker(timeout: float = 2.0) -> str | None:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            conn.default_channel.client.ping()
    except Exception as exc:
        return f"REDIS_URL: broker unreachable at {_safe_url(settings.CELERY_BROKER_URL)} ({exc})"
    return None


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
