from __future__ import annotations

import hashlib

from django.db import connection


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_*advisory*`` from a readable name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def advisory_xact_lock(name: str) -> None:
    """Wait for a transaction-scoped advisory lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key(name)])
