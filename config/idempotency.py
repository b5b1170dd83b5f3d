"""``Idempotency-Key`` for write endpoints (IETF httpapi idempotency-key draft semantics).

- same key, same request: the first (successful) response is replayed, with its ``ETag``
  and ``Location`` (the client's next conditional request needs the ETag);
- same key, other request (body, or ``If-Match``: a command checked against another version
  is another request): 422;
- same key while the first request is still running: 409.

One transaction per request: a transaction-scoped advisory lock on (client, key) marks the
request in flight (a second request with the key fails to take it: 409); the stored record,
read by the same statement, is replayed or refused; else the view runs and its response is
stored in the same transaction as its writes. A request either committed its writes *and*
its stored response, or neither; one that failed leaves nothing, so a retry simply runs it.

The unique (client, key) constraint is the last word. The look-up sees the database as it
was when the statement started, so a first request that commits (and frees the lock) just
before the lock is taken is missed by it: this request then runs the view, and its insert of
the record violates the constraint. Its transaction rolls back, writes and all, and it
answers from the record that won, as a retry would have been answered.

The request's transaction is all or nothing (``config.db.all_or_nothing``): a service that
runs inside it needs no savepoint of its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cache, wraps

from django.db import IntegrityError, connection, transaction
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from config.db import all_or_nothing, execute_prepared
from config.exceptions import IdempotencyKeyReused, RequestInFlight, ValidationFailed
from config.locks import advisory_key
from config.models import IdempotencyRecord

HEADER = "Idempotency-Key"
# The response headers stored with the record and sent again on a replay: those that tell the
# client about the result (the version to send as If-Match next, the created resource).
REPLAYED_HEADERS = ("ETag", "Location")


def _fingerprint(request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, cls=JSONEncoder, separators=(",", ":"))
    except (TypeError, ValueError):
        body = request.body.decode("utf-8", "replace")
    raw = f"{request.method}\n{request.path}\n{body}"
    if_match = request.headers.get("If-Match")
    if if_match is not None:
        # Appended only when sent, so a request without it keeps the fingerprint it had
        # before If-Match counted (records stored by the previous release still match).
        raw += f"\nIf-Match: {if_match.strip()}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _replayed_headers(response) -> str | None:
    """The headers of ``response`` a replay must carry, as JSON; None when it has none."""
    headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
    return json.dumps(headers) if headers else None


@cache
def _sql() -> tuple[str, str, str]:
    table = IdempotencyRecord._meta.db_table
    columns = "r.id, r.fingerprint, r.state, r.response_status, r.response_body, r.response_headers"
    return (
        # The in-flight lock and the stored record, in one round trip.
        f"SELECT pg_try_advisory_xact_lock(%s), {columns} FROM (SELECT 1) AS one "  # noqa: S608
        f"LEFT JOIN {table} r ON r.user_id = %s AND r.key = %s",
        f"SELECT {columns} FROM {table} r WHERE r.user_id = %s AND r.key = %s",  # noqa: S608
        f"INSERT INTO {table} (user_id, key, fingerprint, state, response_status, response_body, "  # noqa: S608
        "response_headers, created_at) VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, now())",
    )


def _from_row(user_id: int, key: str, row) -> IdempotencyRecord | None:
    if row is None or row[0] is None:
        return None
    pk, fingerprint, state, status, body, headers = row
    record = IdempotencyRecord(
        pk=pk,
        user_id=user_id,
        key=key,
        fingerprint=fingerprint,
        state=state,
        response_status=status,
        response_body=json.loads(body) if isinstance(body, str) else body,
        response_headers=json.loads(headers) if isinstance(headers, str) else headers,
    )
    record._state.adding = False
    return record


def _lock_and_record(user_id: int, key: str) -> tuple[bool, IdempotencyRecord | None]:
    """Take the (client, key) in-flight lock and read the stored record, by hand: this runs
    on every keyed POST."""
    with connection.cursor() as cursor:
        execute_prepared(cursor, _sql()[0], [advisory_key(f"idempotency:{user_id}:{key}"), user_id, key])
        locked, *row = cursor.fetchone()
    return bool(locked), _from_row(user_id, key, row)


def _record(user_id: int, key: str) -> IdempotencyRecord | None:
    with connection.cursor() as cursor:
        execute_prepared(cursor, _sql()[1], [user_id, key])
        return _from_row(user_id, key, cursor.fetchone())


def _insert_done(user_id: int, key: str, fingerprint: str, status: int, body: str, headers: str | None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_sql()[2], [user_id, key, fingerprint, IdempotencyRecord.State.DONE, status, body, headers])


def idempotent(view_method: Callable) -> Callable:
    """Decorate a DRF view method (``create`` or an ``@action``) to honour Idempotency-Key."""

    @wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None or request.method in SAFE_METHODS:  # a method answering GET and POST
            return view_method(self, request, *args, **kwargs)
        key = key.strip().strip('"')
        if not key or len(key) > 255:
            raise ValidationFailed(
                "Idempotency-Key must be 1 to 255 characters.",
                code="invalid_idempotency_key",
                fields={HEADER: "1 to 255 characters"},
            )
        fingerprint = _fingerprint(request)
        user_id = request.user.pk
        try:
            with transaction.atomic(), all_or_nothing():
                locked, record = _lock_and_record(user_id, key)
                if not locked:
                    raise RequestInFlight("A request with this Idempotency-Key is still being processed; retry later.")
                if record is not None and record.state == IdempotencyRecord.State.DONE:
                    return _replay(record, fingerprint)
                if record is not None and record.fingerprint != fingerprint:
                    raise _reused()
                response = view_method(self, request, *args, **kwargs)
                if not 200 <= response.status_code < 300:
                    transaction.set_rollback(True)
                    return response
                body = json.dumps(response.data, cls=JSONEncoder)
                headers = _replayed_headers(response)
                if record is None:
                    _insert_done(user_id, key, fingerprint, response.status_code, body, headers)
                else:  # a row left in flight by the earlier design
                    record.state = IdempotencyRecord.State.DONE
                    record.response_status = response.status_code
                    record.response_body = json.loads(body)
                    record.response_headers = json.loads(headers) if headers else None
                    record.save(update_fields=["state", "response_status", "response_body", "response_headers"])
                return response
        except IntegrityError:
            # Rolled back, writes and all. If the first request with this key committed
            # while this one was starting, answer from its record.
            record = _record(user_id, key)
            if record is None or record.state != IdempotencyRecord.State.DONE:
                raise
            return _replay(record, fingerprint)

    wrapper.idempotent = True  # read by the OpenAPI schema (config.schema) to document the header
    return wrapper


def _reused() -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        "This Idempotency-Key was already used with a different request (body or If-Match).",
        fields={HEADER: "used with a different request"},
    )


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    """The stored response of a finished request with this key, with the headers stored with
    it, or 422 if the key came with another request."""
    if record.fingerprint != fingerprint:
        raise _reused()
    headers = {**(record.response_headers or {}), "Idempotent-Replayed": "true"}
    return Response(record.response_body, status=record.response_status, headers=headers)
