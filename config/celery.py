import os

from celery import Celery
from celery.signals import worker_process_init

from config.memory import freeze_startup_heap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("prodorders")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _freeze_startup_heap(**_kwargs) -> None:
    freeze_startup_heap()
