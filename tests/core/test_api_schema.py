"""The OpenAPI schema at /api/schema/: the one error shape on error responses, one component
per name."""

import pytest
from django.test import Client

ERROR_REF = "#/components/schemas/Error"
RELEASE = "/api/v1/production-orders/{id}/release/"


@pytest.fixture(scope="module")
def schema() -> dict:
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _error_schema(operation: dict, status: str) -> str:
    return operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]


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
