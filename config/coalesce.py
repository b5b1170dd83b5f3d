"""Coalesced task queueing: one queued run of a task stands for every request to run it
that arrives before it starts.

Group-commit work (posting all pending confirmations in one transaction) needs one run
per burst, not one per request: queueing a Celery task costs far more than the ``SET NX``
that tells whether a run is already waiting. The flag lives in the broker's Redis, per
queue and task, and expires after ``COALESCE_TTL_MS``, so a run that was lost delays the
next one by at most that long (the work itself is never lost: it sits in an outbox that a
periodic sweeper re-queues).
"""

from __future__ import annotations

from functools import cache

import redis
from celery import current_app
from django.conf import settings

COALESCE_TTL_MS = 2000


@cache
def _client() -> redis.Redis:
    url = settings.CELERY_BROKER_URL
    if url.startswith("redis+socket://"):
        url = "unix://" + url.removeprefix("redis+socket://")
    return redis.Redis.from_url(url)


def _flag(task) -> str:
    return f"prodorders:coalesce:{current_app.conf.task_default_queue}:{task.name}"


def delay_coalesced(task, *args) -> bool:
    """Queue ``task(*args)`` unless a coalesced run of it is queued and has not started.
    Returns whether it queued one."""
    if not _client().set(_flag(task), 1, nx=True, px=COALESCE_TTL_MS):
        return False
    task.delay(*args)
    return True


def coalesced_run_started(task) -> None:
    """Called first thing by the task: requests from now on queue a new run, because this
    one may already have read past their work."""
    _client().delete(_flag(task))
