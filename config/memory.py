"""Garbage collector settings for the long-running processes (web workers, task workers)."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Move everything allocated at start-up (Django, DRF, Celery, URL patterns, serializers:
    well over 100,000 objects) to the collector's permanent generation. A full collection then
    scans only what requests and tasks allocated, instead of pausing the process for tens of
    milliseconds every few posting batches to re-scan objects that live for ever."""
    gc.collect()
    gc.freeze()
