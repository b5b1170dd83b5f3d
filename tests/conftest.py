"""Shared fixtures: users per role with real API tokens, a real Celery worker on real Redis,
and Chromium for browser tests."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from knox.models import AuthToken
from rest_framework.test import APIClient

from config.roles import Role
from tests.factories import UserFactory


@pytest.fixture(scope="session", autouse=True)
def _isolated_task_queue(worker_id: str) -> None:
    # Tasks sent by this test process go to a queue of its own, so parallel test runs
    # (xdist workers, two checkouts on one machine) never consume each other's tasks.
    from config.celery import app

    queue = f"prodorders-test-{worker_id}-{os.getpid()}"
    app.conf.task_default_queue = queue
    app.conf.task_default_routing_key = queue


@pytest.fixture
def user_with_role(db) -> Callable[..., object]:
    def make(role: str, **kwargs):
        user = UserFactory(**kwargs)
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user

    return make


@pytest.fixture
def api_client_for(user_with_role) -> Callable[[str], APIClient]:
    """An API client authenticated the way integrations are: a knox token header."""

    def make(role: str, user=None) -> APIClient:
        user = user or user_with_role(role)
        _, token = AuthToken.objects.create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        client.user = user
        return client

    return make


@pytest.fixture
def planner_api(api_client_for) -> APIClient:
    return api_client_for(Role.PLANNER)


@pytest.fixture
def viewer_api(api_client_for) -> APIClient:
    return api_client_for(Role.VIEWER)


@pytest.fixture
def operator_api(api_client_for) -> APIClient:
    return api_client_for(Role.OPERATOR)


@pytest.fixture
def integration_api(api_client_for) -> APIClient:
    return api_client_for(Role.INTEGRATION)


@pytest.fixture(scope="session")
def celery_session_worker(django_db_setup, django_db_blocker) -> Iterator[object]:
    """A real Celery worker (threads, in this process) consuming from real Redis.
    Tests that use it need ``transactional_db``: the worker has its own DB connection and
    sees only committed rows."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    with django_db_blocker.unblock():
        app.connection_for_write().default_channel.queue_purge(app.conf.task_default_queue)
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30) as worker:
            yield worker


@pytest.fixture
def celery_worker(celery_session_worker, transactional_db) -> object:
    return celery_session_worker


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.05) -> object:
    """Poll until predicate() is truthy; fail the test with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(interval)


CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str | None:
    for path in (os.environ.get("CHROMIUM_PATH"), *CHROMIUM_CANDIDATES):
        if path and os.path.exists(path):
            return path
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    path = chromium_path()
    if path is None:
        message = "no Chromium found at /usr/bin/chromium (apt-get install chromium chromium-driver)"
        if os.environ.get("PRODORDERS_REQUIRE_BROWSER"):
            pytest.fail(f"browser tests required in CI but {message}")
        pytest.skip(f"browser tests skipped: {message}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; Django's ORM calls
    # made by the test itself are still plain synchronous calls.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=path,
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield instance
        instance.close()


ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def page(browser, live_server) -> Iterator[object]:
    """A fresh browser context on the live server (desktop viewport)."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


def screenshot(pg, name: str) -> Path:
    """Save a full-page screenshot as a test artifact (git-ignored folder)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    return path


def login(pg, username: str, password: str = "secret-pass-123") -> None:  # noqa: S107 - test users' password
    pg.goto("/login/")
    pg.get_by_label("Username").fill(username)
    pg.get_by_label("Password").fill(password)
    pg.get_by_role("button", name="Sign in").click()


@pytest.fixture(autouse=True)
def _api_contract(monkeypatch):
    """Every API response a test gets is checked against the OpenAPI schema
    (tests/schema_contract.py): a documented status and a body the schema describes."""
    from django.test import Client

    from tests import schema_contract

    original = Client.request

    def request(self, **environ):
        response = original(self, **environ)
        schema_contract.check(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", ""), response)
        return response

    monkeypatch.setattr(Client, "request", request)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After every test that touched the database and passed, the ledger check must pass too:
    every balance equals its ledger sum and its open reservations. Runs after the test's body,
    before its transaction is rolled back (or its tables flushed), so it sees what the test left."""
    result = yield
    uses_db = item.get_closest_marker("django_db") or {"db", "transactional_db"} & set(item.fixturenames)
    if uses_db and not item.get_closest_marker("ledger_may_disagree"):
        from tests.inventory.helpers import assert_ledger_consistent

        assert_ledger_consistent()
    return result
