"""``Idempotency-Key`` for write endpoints (IETF httpapi idempotency-key draft semantics).

- same key, same body: the first (successful) response is replayed;
- same key, other body: 422;
- same key while the first request is still running: 409.

The record is claimed with a committed insert, then locked ``FOR UPDATE NOWAIT`` for the
whole request inside the request's transaction; the response is stored in that same
transaction, so a request either committed its writes *and* its stored response, or
neither. A request that failed or whose process died leaves the row unlocked and
unfinished, and the next retry with the same body simply runs it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps

from django.db import OperationalError, transaction
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from config.exceptions import IdempotencyKeyReused, RequestInFlight, ValidationFailed
from config.models import IdempotencyRecord

HEADER = "Idempotency-Key"


def _fingerprint(request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, cls=JSONEncoder, separators=(",", ":"))
    except (TypeError, ValueError):
        body = request.body.decode("utf-8", "replace")
    raw = f"{request.method}\n{request.path}\n{body}"
    return hashlib.sha256(raw.encode()).hexdigest()


def idempotent(view_method: Callable) -> Callable:
    """Decorate a DRF view method (``create`` or an ``@action``) to honour Idempotency-Key."""

    @wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        key = key.strip().strip('"')
        if not key or len(key) > 255:
            raise ValidationFailed(
                "Idempotency-Key must be 1 to 255 characters.",
                code="invalid_idempotency_key",
                fields={HEADER: "1 to 255 characters"},
            )
        fingerprint = _fingerprint(request)
        IdempotencyRecord.objects.bulk_create(
            [IdempotencyRecord(user=request.user, key=key, fingerprint=fingerprint)], ignore_conflicts=True
        )
        with transaction.atomic():
            try:
                record = IdempotencyRecord.objects.select_for_update(nowait=True).get(user=request.user, key=key)
            except OperationalError as exc:
                raise RequestInFlight(
                    "A request with this Idempotency-Key is still being processed; retry later."
                ) from exc
            if record.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was already used with a different request body.",
                    fields={HEADER: "used with a different request"},
                )
            if record.state == IdempotencyRecord.State.DONE:
                return Response(
                    record.response_body,
                    status=record.response_status,
                    headers={"Idempotent-Replayed": "true"},
                )
            response = view_method(self, request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                record.state = IdempotencyRecord.State.DONE
                record.response_status = response.status_code
                record.response_body = json.loads(json.dumps(response.data, cls=JSONEncoder))
                record.save(update_fields=["state", "response_status", "response_body"])
            else:
                transaction.set_rollback(True)
            return response

    return wrapper
