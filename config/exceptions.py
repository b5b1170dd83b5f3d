"""Domain error types that services raise, and the one API error shape.

Every error response under ``/api/`` is ``{"code": str, "message": str, "fields": {field:
[messages]}}``: from the DRF exception handler for errors inside a view, from the Django
error handlers (``handler400`` ... in ``config/urls.py``) for what fails outside one, and from
``UnknownApiEndpoint`` for a path no route matches. Pages keep Django's HTML error pages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

API_PATH_PREFIX = "/api/"


class DomainError(Exception):
    """Base of every error a service raises on purpose. Nothing is written when it is raised:
    services run in one transaction, which the error rolls back."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        # Messages per field are strings, as the API documents them (an id becomes "42").
        self.fields = {
            k: [m if isinstance(m, str) else str(m) for m in (v if isinstance(v, list) else [v])]
            for k, v in (fields or {}).items()
        }

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


@contextmanager
def request_field_names(rename: Callable[[str], str]) -> Iterator[None]:
    """Around a service call in an API view: a domain error's ``fields`` name the service's
    arguments (``lines[0].lot_id``); ``rename`` maps each to the request's field (``lot``), so
    that an error names what the client sent."""
    try:
        yield
    except DomainError as exc:
        renamed: dict[str, list] = {}
        for name, messages in exc.fields.items():
            renamed.setdefault(rename(name), []).extend(messages)
        exc.fields = renamed
        raise


def _flatten_fields(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            # DRF keys a list's item errors by index: lines[1].quantity, as services name them.
            if not prefix:
                name = str(key)
            elif isinstance(key, int):
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}"
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


def _suspicious_request_error(exc: SuspiciousOperation) -> tuple[int, str, str]:
    """Status, code and message for a request Django refuses to read: the body over
    DATA_UPLOAD_MAX_MEMORY_SIZE (raised where the body is read, so in DRF's parsing or the
    idempotency fingerprint, with DEBUG on or off), too many form fields or files."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return 413, "request_too_large", f"The request body is larger than the limit of {limit} bytes."
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return 400, "too_many_fields", f"The request has more than {limit} fields."
    if isinstance(exc, TooManyFilesSent):
        return 400, "too_many_files", f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files."
    return 400, "bad_request", "The request is malformed."


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, SuspiciousOperation):
        # Django would log it to its security logger and answer an HTML 400; keep the log.
        logging.getLogger(f"django.security.{exc.__class__.__name__}").error(str(exc))
        status_code, code, message = _suspicious_request_error(exc)
        return error_response(code, message, status_code)
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


# ------------------------------------------------------------------ outside DRF's views
def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PATH_PREFIX)


def _json_error(code: str, message: str, status_code: int) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "fields": {}}, status=status_code)


class UnknownApiEndpoint(APIView):
    """Every ``/api/.../`` path that no route matches (the last pattern under ``api/``): a 404
    in the error shape with DEBUG on or off, where Django would render its HTML 404 page
    (with DEBUG on it does not even consult ``handler404``). Paths without the trailing
    slash are left unmatched, so ``APPEND_SLASH`` still redirects ``/api/v1/items`` to
    ``/api/v1/items/``."""

    authentication_classes = ()
    permission_classes = ()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raise drf_exceptions.NotFound(f"No API endpoint at {request.path}.")


# Django's error views, set as handler400/403/404/500 in config/urls.py. They answer with
# DEBUG off (with DEBUG on Django shows its technical pages instead).
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, SuspiciousOperation):
        status_code, code, message = _suspicious_request_error(exception)
        return _json_error(code, message, status_code)
    return _json_error("bad_request", "The request is malformed.", 400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.permission_denied(request, exception)
    return _json_error("permission_denied", str(drf_exceptions.PermissionDenied.default_detail), 403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.page_not_found(request, exception)
    return _json_error("not_found", f"No API endpoint at {request.path}.", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    if not _is_api(request):
        return defaults.server_error(request)
    # The details are in the log, never in the response.
    return _json_error("server_error", "The server failed to handle this request.", 500)
