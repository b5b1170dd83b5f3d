"""Thin tasks: load by id, call a service. Every one is safe to run twice."""

from celery import shared_task
from django.db import OperationalError

from config.coalesce import coalesced_run_started
from production.services.confirmations import confirmation_post, posting_outbox_sweep


@shared_task(
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
    acks_late=True,
)
def confirmation_post_task(confirmation_id: int) -> str:
    """Backflush and goods receipt of a confirmation, together with every other pending one
    (group commit; see ``confirmation_post``). A redelivered or duplicated task finds the
    confirmation no longer pending and does nothing."""
    coalesced_run_started(confirmation_post_task)
    return confirmation_post(confirmation_id=confirmation_id)


@shared_task
def posting_outbox_sweep_task() -> dict[str, int]:
    return posting_outbox_sweep()
