import os

from celery.schedules import crontab

from config import embedded

CELERY_BROKER_URL = embedded.redis_url()
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# A task is acknowledged only after it ran; a worker that dies mid-task gets it redelivered.
# Every task is idempotent (unique constraints), so redelivery is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "prodorders")
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "sales-orders-status-refresh": {
        "task": "sales.tasks.sales_orders_status_refresh_task",
        "schedule": 30.0,
    },
    "posting-outbox-sweep": {
        "task": "production.tasks.posting_outbox_sweep_task",
        "schedule": 15.0,
    },
    "idempotency-keys-purge": {
        "task": "config.tasks.idempotency_keys_purge_task",
        "schedule": crontab(minute=17),
    },
    "auth-tokens-purge": {
        "task": "config.tasks.auth_tokens_purge_task",
        "schedule": crontab(minute=23),
    },
}
