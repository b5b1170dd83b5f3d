from datetime import timedelta

import pytest
from django.utils import timezone

from config.models import IdempotencyRecord
from config.tasks import idempotency_keys_purge_task
from tests.conftest import wait_until
from tests.factories import UserFactory


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_healthz_is_503_naming_the_setting_when_the_broker_is_down(client, settings):
    from config.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original

    assert response.status_code == 503
    assert response.json()["broker"].startswith("REDIS_URL")


@pytest.mark.celery
def test_purge_task_runs_on_the_real_worker(celery_worker):
    user = UserFactory()
    old = IdempotencyRecord.objects.create(user=user, key="old", fingerprint="x")
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    fresh = IdempotencyRecord.objects.create(user=user, key="fresh", fingerprint="y")

    idempotency_keys_purge_task.delay()

    wait_until(lambda: not IdempotencyRecord.objects.filter(pk=old.pk).exists())
    assert IdempotencyRecord.objects.filter(pk=fresh.pk).exists()
