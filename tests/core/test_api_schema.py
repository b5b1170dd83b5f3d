"""The OpenAPI schema at /api/schema/: operations tagged by resource, Idempotency-Key where the
view honours it, the one error shape on error responses, the REST API only, generated without a
warning."""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from drf_spectacular.plumbing import load_enum_name_overrides

ERROR_REF = "#/components/schemas/Error"
CONFIRMATIONS = "/api/v1/confirmations/"
RELEASE = "/api/v1/production-orders/{id}/release/"


@pytest.fixture(scope="module")
def schema() -> dict:
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _header(operation: dict, name: str) -> dict | None:
    return next((p for p in operation.get("parameters", []) if p["in"] == "header" and p["name"] == name), None)


def _error_schema(operation: dict, status: str) -> str:
    return operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]


@pytest.mark.parametrize(("path", "ok"), [(CONFIRMATIONS, "201"), (RELEASE, "200")])
def test_idempotent_commands_document_the_idempotency_key(schema, path, ok):
    operation = schema["paths"][path]["post"]

    header = _header(operation, "Idempotency-Key")
    assert header is not None
    assert header.get("required") is False
    for words in ("Idempotent-Replayed: true", "422", "409", "24 hours"):
        assert words in header["description"]
    assert "Idempotent-Replayed" in operation["responses"][ok]["headers"]
    assert "request_in_flight" in operation["responses"]["409"]["description"]
    assert "idempotency_key_reused" in operation["responses"]["422"]["description"]
    assert _error_schema(operation, "409") == ERROR_REF
    assert _error_schema(operation, "422") == ERROR_REF


@pytest.mark.parametrize(
    ("path", "method"),
    [
        (CONFIRMATIONS, "get"),
        ("/api/v1/production-orders/{id}/", "get"),
        ("/api/v1/production-orders/{id}/components/", "get"),
        ("/api/v1/items/{id}/", "patch"),
    ],
)
def test_reads_and_idempotent_methods_have_no_idempotency_key(schema, path, method):
    operation = schema["paths"][path][method]

    assert _header(operation, "Idempotency-Key") is None
    assert "422" not in operation["responses"]


def test_every_post_honours_an_idempotency_key(schema):
    """A POST is what a machine's retry or a double tap repeats: every one takes the key."""
    posts = [(path, ops["post"]) for path, ops in schema["paths"].items() if "post" in ops]
    unkeyed = [path for path, operation in posts if _header(operation, "Idempotency-Key") is None]

    assert len(posts) > 30
    assert unkeyed == []


def test_error_responses_have_the_error_shape(schema):
    release = schema["paths"][RELEASE]["post"]
    detail = schema["paths"]["/api/v1/production-orders/{id}/"]["get"]

    assert schema["components"]["schemas"]["Error"]["required"] == ["code", "fields", "message"]
    # the order's state conflict, the stale If-Match documented by the view, bad input, no such order
    for status in ("400", "401", "403", "404", "409", "412"):
        assert _error_schema(release, status) == ERROR_REF
    assert "stale_version" in release["responses"]["412"]["description"]
    assert _error_schema(detail, "404") == ERROR_REF
    assert "409" not in detail["responses"]
    # a body too large for the server: on operations that take one
    assert _error_schema(schema["paths"][CONFIRMATIONS]["post"], "413") == ERROR_REF
    assert "413" not in detail["responses"]


def _operations(schema: dict):
    for path, path_item in schema["paths"].items():
        for method, operation in path_item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


@pytest.mark.parametrize(
    ("path", "method", "tag"),
    [
        (CONFIRMATIONS, "post", "confirmations"),
        (RELEASE, "post", "production-orders"),
        ("/api/v1/boms/{id}/explode/", "get", "boms"),
        ("/api/v1/stock-movements/", "get", "stock-movements"),
        ("/api/v1/sales-orders/{id}/confirm/", "post", "sales-orders"),
        ("/api/v1/planning-runs/", "post", "planning-runs"),
    ],
)
def test_an_operation_is_tagged_with_its_resource(schema, path, method, tag):
    assert schema["paths"][path][method]["tags"] == [tag]


def test_every_operation_is_tagged_with_the_first_path_segment_after_the_version(schema):
    """Swagger UI groups by tag: one group per resource, none called "api"."""
    mistagged = {
        (method, path): operation.get("tags")
        for path, method, operation in _operations(schema)
        if operation.get("tags") != [path.removeprefix("/api/v1/").split("/")[0]]
    }

    assert mistagged == {}
    assert not any("api" in operation["tags"] for _, _, operation in _operations(schema))


def test_schema_generates_without_warnings_or_errors(tmp_path):
    """What drf-spectacular warns about ends up in generated clients: enums named ``Status9dcEnum``,
    one choice set under two names, operationIds with numeral suffixes, two components of one
    name, views it could not understand. ``--fail-on-warn`` fails on any warning or error (they are
    printed to the captured stderr), ``--validate`` checks the result against the OpenAPI spec."""
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yml"))

    # Two overrides naming one choice set are reported only when the overrides are first loaded
    # (cached for the process), so check them here rather than rely on the stats above.
    overrides = settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]
    assert sorted(load_enum_name_overrides().values()) == sorted(overrides), "two names for one choice set"


def test_schema_documents_only_the_rest_api(schema):
    assert schema["paths"]
    assert all(path.startswith("/api/v1/") for path in schema["paths"])


def test_a_reversal_documents_its_reason_as_required(schema):
    operation = schema["paths"]["/api/v1/confirmations/{id}/reverse/"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert body["required"] == ["reason"]
