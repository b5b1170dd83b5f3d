"""Django's PostgreSQL backend (``ENGINE = "config.postgres"``) with one change: the
per-request connection health check (``CONN_HEALTH_CHECKS``) looks at the socket instead of
sending ``SELECT 1``.

An idle connection has nothing to read. A server that went away (restart, idle timeout,
``pg_terminate_backend``) sends an error and closes the socket, which makes it readable: then,
or if psycopg2 already knows the connection is closed or not idle, the stock ``SELECT 1``
check decides. A healthy request thus skips a round trip (two context switches and a server
statement) on every request.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper
from psycopg2.extensions import TRANSACTION_STATUS_IDLE


class DatabaseWrapper(PostgresDatabaseWrapper):
    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed:
            return False
        if conn.info.transaction_status == TRANSACTION_STATUS_IDLE:
            poller = select.poll()
            poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
            if not poller.poll(0):
                return True
        return super().is_usable()
