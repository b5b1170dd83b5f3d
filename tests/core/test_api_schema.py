"""The OpenAPI schema at /api/schema/: Idempotency-Key where the view honours it, the one error
shape on error responses, one component per name, the REST API only."""

import pytest
from django.test import Client

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
        ("/api/v1/production-orders/{id}/reschedule/", "post"),
    ],
)
def test_reads_and_unkeyed_commands_have_no_idempotency_key(schema, path, method):
    operation = schema["paths"][path][method]

    assert _header(operation, "Idempotency-Key") is None
    assert "422" not in operation["responses"]


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


def test_schema_has_no_two_components_of_one_name(capsys):
    Client().get("/api/schema/")

    assert "components with identical names" not in capsys.readouterr().err


def test_schema_documents_only_the_rest_api(schema):
    assert schema["paths"]
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
