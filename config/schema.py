"""OpenAPI schema additions that hold for the whole API, so that no endpoint has to repeat them:
operations tagged by resource, the token scheme, the one error shape on every 4xx response, and
``Idempotency-Key`` on every view method decorated with ``config.idempotency.idempotent``; and
only the ``/api/v1/`` endpoints.

The hooks are in ``SPECTACULAR_SETTINGS`` and the schema class is DRF's ``DEFAULT_SCHEMA_CLASS``
(both config/settings/api.py), so ``manage.py spectacular`` and the ``/api/schema/`` view both
run them.
"""

from __future__ import annotations

from collections.abc import Iterator
from copy import deepcopy
from functools import cache
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ComponentRegistry, ResolvedComponent, build_mocked_view
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS
from rest_framework.viewsets import ViewSetMixin

from config.idempotency import HEADER as IDEMPOTENCY_HEADER

WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
API_PREFIX = "/api/v1/"


class AutoSchema(SpectacularAutoSchema):
    """Tags each operation with its resource, the first path segment after ``/api/v1/``
    (``production-orders``, ``confirmations``, ...), so the docs group operations by resource.
    drf-spectacular would take the first segment after ``SCHEMA_PATH_PREFIX``, which is
    pinned to "" (see config/settings/api.py) and so gives every operation the tag ``api``.
    ``@extend_schema(tags=...)`` on a view still wins."""

    def get_tags(self) -> list[str]:
        if self.path.startswith(API_PREFIX):
            resource = self.path.removeprefix(API_PREFIX).split("/", 1)[0]
            if resource and not resource.startswith("{"):
                return [resource]
        return super().get_tags()

    # DRF pages and filters only a viewset's ``list``: an extra action (``/components/``,
    # ``/audit/``, ``/load/``, ...) answers its whole result as it is. Documenting those as
    # paginated and filterable, as drf-spectacular does for any view returning ``many=True``,
    # would make a generated client look for ``results`` that never come.
    def _pages_and_filters(self) -> bool:
        action = getattr(self.view, "action", None)
        return action is None or action == "list"

    def _get_paginator(self):
        return super()._get_paginator() if self._pages_and_filters() else None

    def get_filter_backends(self) -> list[Any]:
        return super().get_filter_backends() if self._pages_and_filters() else []


class KnoxTokenScheme(OpenApiAuthenticationExtension):
    target_class = "knox.auth.TokenAuthentication"
    match_subclasses = True  # config.auth.TokenAuthentication, the one in use
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>`; issue one with `manage.py issue_token <username>`.",
        }


class ErrorSerializer(serializers.Serializer):
    """The body of every error response (``config.exceptions``). A request that failed wrote nothing."""

    code = serializers.CharField(
        help_text="Machine-readable: `invalid`, `not_authenticated`, `permission_denied`, `not_found`, "
        "`state_conflict`, `insufficient_stock`, `stale_version`, `request_in_flight`, "
        "`idempotency_key_reused`, or a more specific code."
    )
    message = serializers.CharField(help_text="For people: what went wrong, naming the field.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per offending field (dotted paths for nested fields); empty when the error "
        "is not about a field.",
    )


# ------------------------------------------------------------------ endpoints
def preprocess_api_only(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[tuple[str, str, str, Any]]:
    """Keep the REST API's endpoints: DRF views the pages use (the shop floor's confirm button)
    are not part of the integration contract."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(API_PREFIX)]


# ------------------------------------------------------------------ error responses
ERROR_REASONS = {
    "400": "The request is invalid (code `invalid` or a more specific one); `fields` names each offending field.",
    "401": "Not authenticated: send `Authorization: Token <token>`.",
    "403": "Your role does not allow this.",
    "404": "No such object: the path or the body names one that does not exist (code `not_found`).",
    "409": "The object's current state does not allow this (code `state_conflict`, `insufficient_stock`, ...).",
    "413": "The request body is larger than the server accepts (code `request_too_large`).",
    "500": "The server failed to handle the request (code `server_error`); nothing was written. The details "
    "are in the server's log.",
}


@cache
def _error_component() -> ResolvedComponent:
    view = build_mocked_view("GET", "/", extend_schema(responses=ErrorSerializer), ComponentRegistry())
    return view.schema.resolve_serializer(ErrorSerializer, "response")


def _error_content(result: dict) -> dict:
    """The ``Error`` body, its component added to ``result`` on first use."""
    component = _error_component()
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(component.name, deepcopy(component.schema))
    return {"application/json": {"schema": component.ref}}


def add_error_response(result: dict, operation: dict, status: str, reason: str) -> None:
    """Document that ``operation`` may answer ``status`` with the error shape, for ``reason``
    (added to the description of a response documented already)."""
    response = operation.setdefault("responses", {}).setdefault(status, {"description": ""})
    description = response.get("description", "")
    if reason not in description:
        response["description"] = f"{description}\n\n{reason}" if description else reason
    response.setdefault("content", _error_content(result))


def _operations(result: dict) -> Iterator[tuple[str, dict]]:
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield method, operation


def postprocess_error_responses(result: dict, generator: Any, **kwargs: Any) -> dict:
    """Give every operation the error responses it can produce, all with the ``Error`` body:
    400 when it takes input, 413 when it takes a body, 401/403 when it needs a login, 404 when the path or the
    body names an object, 409 when it writes, 500 always; and the error body on 4xx responses documented without
    one (412)."""
    for method, operation in _operations(result):
        parameters = operation.get("parameters", [])
        security = operation.get("security", [])
        if "requestBody" in operation or any(p.get("in") != "path" for p in parameters):
            add_error_response(result, operation, "400", ERROR_REASONS["400"])
        if "requestBody" in operation:
            add_error_response(result, operation, "413", ERROR_REASONS["413"])
        if security and {} not in security:
            # 401 comes from the token authenticator (it names a WWW-Authenticate scheme);
            # a view with session authentication only answers a missing login with 403.
            if any(KnoxTokenScheme.name in requirement for requirement in security):
                add_error_response(result, operation, "401", ERROR_REASONS["401"])
            add_error_response(result, operation, "403", ERROR_REASONS["403"])
        if "requestBody" in operation or any(p.get("in") == "path" for p in parameters):
            add_error_response(result, operation, "404", ERROR_REASONS["404"])
        if method in WRITE_METHODS:
            add_error_response(result, operation, "409", ERROR_REASONS["409"])
        add_error_response(result, operation, "500", ERROR_REASONS["500"])
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                response.setdefault("content", _error_content(result))
    return result


# ------------------------------------------------------------------ Idempotency-Key
IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": IDEMPOTENCY_HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": (
        "Optional; makes the request safe to retry. A repeat with the same key, the same body and the same "
        "`If-Match` (if any) is not run again: it gets the first (successful) response, with its `ETag` and "
        "`Location` headers and the header `Idempotent-Replayed: true`. The same key with another body or "
        "another `If-Match` gets 422 (`idempotency_key_reused`); a repeat while the first request is still "
        "running gets 409 (`request_in_flight`). Keys are scoped to the authenticated client and kept at "
        "least 24 hours. A request that failed stored nothing, so its retry runs anew."
    ),
}
REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "schema": {"type": "string", "enum": ["true"]},
        "description": "Present when this is the stored response to an earlier request with the same "
        "Idempotency-Key; the request was not run again.",
    }
}
IN_FLIGHT = "A request with the same Idempotency-Key is still running (code `request_in_flight`): retry later."
KEY_REUSED = "The Idempotency-Key was used before with another body or `If-Match` (code `idempotency_key_reused`)."


def _handler(view: Any, method: str) -> Any:
    """The view method that answers ``method``, as the generator resolves it."""
    if isinstance(view, ViewSetMixin):
        return getattr(view, view.action, None) if view.action else None
    return getattr(view, method.lower(), None)


def postprocess_idempotency_keys(result: dict, generator: Any, **kwargs: Any) -> dict:
    """Document ``Idempotency-Key`` (request header, replay header, 409 and 422) on every
    operation whose view method is marked by ``config.idempotency.idempotent``."""
    for path, _path_regex, method, callback in generator.endpoints:
        view = generator.create_view(callback, method)
        if method.upper() in SAFE_METHODS or not getattr(_handler(view, method), "idempotent", False):
            continue
        operation = result.get("paths", {}).get(generator.coerce_path(path, method, view), {}).get(method.lower())
        if operation is None:  # left out of this schema (permissions, @extend_schema(exclude=True))
            continue
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("in") == "header" and p.get("name") == IDEMPOTENCY_HEADER for p in parameters):
            parameters.append(dict(IDEMPOTENCY_KEY_PARAMETER))
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                response.setdefault("headers", {}).update(REPLAYED_HEADER)
        add_error_response(result, operation, "400", ERROR_REASONS["400"])
        add_error_response(result, operation, "409", IN_FLIGHT)
        add_error_response(result, operation, "422", KEY_REUSED)
    return result
