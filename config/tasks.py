from celery import shared_task
from django.conf import settings
from django.utils import timezone
from knox.models import AuthToken

from config.models import IdempotencyRecord


@shared_task
def idempotency_keys_purge_task() -> int:
    """Idempotency keys are kept at least 24 h (IDEMPOTENCY_KEY_TTL, default 48 h)."""
    cutoff = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task
def auth_tokens_purge_task() -> int:
    """Expired API tokens are refused at once and deleted here."""
    deleted, _ = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    return deleted
