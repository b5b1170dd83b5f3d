"""Domain error types that services raise, and the one API error shape.

Every error response is ``{"code": str, "message": str, "fields": {field: [messages]}}``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """Base of every error a service raises on purpose. Nothing is written when it is raised:
    services run in one transaction, which the error rolls back."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.fields = {k: v if isinstance(v, list) else [v] for k, v in (fields or {}).items()}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "fields": self.fields}


class ValidationFailed(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"


class Forbidden(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "forbidden"


class StateConflict(DomainError):
    """The object is not in a state that allows the action (409)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "state_conflict"


class InsufficientStock(StateConflict):
    default_code = "insufficient_stock"


class RequestInFlight(DomainError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "request_in_flight"


class PreconditionFailed(DomainError):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"


class IdempotencyKeyReused(DomainError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"


def _flatten_fields(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten_fields(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                out.update(_flatten_fields(item, f"{prefix}[{index}]" if prefix else str(index)))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return {k: v for k, v in out.items() if v}


def _message_from_fields(fields: dict[str, list[str]]) -> str:
    parts = []
    for name, messages in fields.items():
        label = "request" if name == "non_field_errors" else name
        parts.append(f"{label}: {' '.join(messages)}")
    return "; ".join(parts) or "The request is invalid."


def error_response(code: str, message: str, status_code: int, fields: dict | None = None, headers=None):
    return Response({"code": code, "message": message, "fields": fields or {}}, status=status_code, headers=headers)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        fields = _flatten_fields(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
        return error_response("invalid", _message_from_fields(fields), 400, fields)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.ValidationError):
        fields = _flatten_fields(exc.detail)
        response.data = {"code": "invalid", "message": _message_from_fields(fields), "fields": fields}
        return response
    detail = getattr(exc, "detail", None)
    code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    response.data = {"code": str(code), "message": str(detail) if detail else str(exc), "fields": {}}
    return response
