"""``Idempotency-Key`` for write endpoints (IETF httpapi idempotency-key draft semantics).

- same key, same body: the first (successful) response is replayed;
- same key, other body: 422;
- same key while the first request is still running: 409.

One transaction per request: a transaction-scoped advisory lock on (client, key) marks the
request in flight (a second request with the key fails to take it: 409); then the stored
record, read after the lock, is replayed or refused; else the view runs and its response is
stored in the same transaction as its writes. A request either committed its writes *and*
its stored response, or neither; one that failed leaves nothing, so a retry simply runs it.
The unique (client, key) constraint stays the last word.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cache, wraps

from django.db import connection, transaction
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from config.db import execute_prepared
from config.exceptions import IdempotencyKeyReused, RequestInFlight, ValidationFailed
from config.locks import try_advisory_xact_lock
from config.models import IdempotencyRecord

HEADER = "Idempotency-Key"


def _fingerprint(request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, cls=JSONEncoder, separators=(",", ":"))
    except (TypeError, ValueError):
        body = request.body.decode("utf-8", "replace")
    raw = f"{request.method}\n{request.path}\n{body}"
    return hashlib.sha256(raw.encode()).hexdigest()


@cache
def _sql() -> tuple[str, str]:
    table = IdempotencyRecord._meta.db_table
    return (
        f"SELECT id, fingerprint, state, response_status, response_body FROM {table} "  # noqa: S608
        "WHERE user_id = %s AND key = %s",
        f"INSERT INTO {table} (user_id, key, fingerprint, state, response_status, response_body, created_at) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s, %s::jsonb, now())",
    )


def _record(user_id: int, key: str) -> IdempotencyRecord | None:
    """The stored record of (client, key), read by hand: this runs on every keyed POST."""
    with connection.cursor() as cursor:
        execute_prepared(cursor, _sql()[0], [user_id, key])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, fingerprint, state, status, body = row
    record = IdempotencyRecord(
        pk=pk,
        user_id=user_id,
        key=key,
        fingerprint=fingerprint,
        state=state,
        response_status=status,
        response_body=json.loads(body) if isinstance(body, str) else body,
    )
    record._state.adding = False
    return record


def _insert_done(user_id: int, key: str, fingerprint: str, status: int, body: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_sql()[1], [user_id, key, fingerprint, IdempotencyRecord.State.DONE, status, body])


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
        with transaction.atomic():
            if not try_advisory_xact_lock(f"idempotency:{request.user.pk}:{key}"):
                raise RequestInFlight("A request with this Idempotency-Key is still being processed; retry later.")
            record = _record(request.user.pk, key)
            if record is not None:
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
            if not 200 <= response.status_code < 300:
                transaction.set_rollback(True)
                return response
            body = json.dumps(response.data, cls=JSONEncoder)
            if record is None:
                _insert_done(request.user.pk, key, fingerprint, response.status_code, body)
            else:  # a row left in flight by the earlier design
                record.state = IdempotencyRecord.State.DONE
                record.response_status = response.status_code
                record.response_body = json.loads(body)
                record.save(update_fields=["state", "response_status", "response_body"])
            return response

    wrapper.idempotent = True  # read by the OpenAPI schema (config.schema) to document the header
    return wrapper
