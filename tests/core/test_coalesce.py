"""Coalesced queueing on the real broker: one queued run stands for a burst."""

import pytest
from celery import shared_task

from config.celery import app
from config.coalesce import coalesced_run_started, delay_coalesced

sent: list[int] = []


@shared_task(name="tests.core.coalesce_probe")
def coalesce_probe(n: int) -> int:
    return n


@pytest.fixture
def probe(monkeypatch):
    sent.clear()
    monkeypatch.setattr(coalesce_probe, "delay", lambda *args: sent.append(args))
    coalesced_run_started(coalesce_probe)
    yield coalesce_probe
    coalesced_run_started(coalesce_probe)


def test_a_burst_queues_one_run_until_it_starts(probe):
    assert delay_coalesced(probe, 1) is True
    assert delay_coalesced(probe, 2) is False
    assert delay_coalesced(probe, 3) is False
    assert sent == [(1,)]

    coalesced_run_started(probe)  # the run begins: later work needs a run of its own

    assert delay_coalesced(probe, 4) is True
    assert sent == [(1,), (4,)]


def test_the_flag_is_per_queue(probe):
    assert delay_coalesced(probe, 1) is True
    queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue + "-other"
    try:
        assert delay_coalesced(probe, 2) is True
        coalesced_run_started(probe)
    finally:
        app.conf.task_default_queue = queue
