"""The database backend's per-request health check: no round trip while the connection is
healthy, and a connection the server dropped is noticed and replaced."""

import time

import pytest
from django.db import connection, connections


def _last_query(pid: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row[0] if row else ""


@pytest.fixture
def other():
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


@pytest.mark.django_db(transaction=True)
def test_health_check_of_a_healthy_connection_sends_nothing_to_the_server(other):
    # given: a connection whose last statement is known
    with other.cursor() as cursor:
        cursor.execute("SELECT 'marker-statement'")
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    # when
    usable = other.is_usable()
    # then: usable, and the server saw no new statement from it
    assert usable is True
    assert _last_query(pid) == "SELECT pg_backend_pid()"


@pytest.mark.django_db(transaction=True)
def test_health_check_notices_a_connection_the_server_dropped_and_django_reconnects(other):
    # given: the server terminates the connection's backend
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while _last_query(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    # when / then: the check sees it without a query failing first
    assert other.is_usable() is False
    # and the per-request check (what Django runs at a request's first query) reconnects
    other.health_check_done = False
    other.close_if_health_check_failed()
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
