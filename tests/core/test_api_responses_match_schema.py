"""Every GET of the REST API answers what its OpenAPI schema says it answers.

Other systems generate clients from ``/api/schema/``: a list documented as paginated that
comes back as a bare array, an object documented as another, or a ``null`` where the schema
promises a string breaks them at run time. This calls every documented GET endpoint against
the demo factory (plus a posted confirmation, a refused one and a planning run) and validates
each answer against the documented 200 response with a JSON Schema validator."""

from __future__ import annotations

from decimal import Decimal

import jsonschema
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from inventory.models import Item
from planning.mrp.run import planning_run_execute
from planning.mrp.services import planning_run_start
from production import services
from production.enums import OrderStatus, PostingStatus
from production.models import Confirmation, ProductionOrder

# Query parameters an endpoint requires, per path; filled in from the data below.
REQUIRED_QUERY = {"/api/v1/confirmations/preview/", "/api/v1/boms/where-used/"}


def _json_schema(node):
    """OpenAPI 3.0 → JSON Schema: ``nullable: true`` becomes a ``null`` alternative."""
    if isinstance(node, list):
        return [_json_schema(value) for value in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@pytest.fixture
def factory(db):
    """The demo factory with something in every resource: a posted confirmation, a refused one
    (the posting error queue), and a finished planning run with its proposals."""
    call_command("demo_data", verbosity=0)
    planner = get_user_model().objects.get(username="planner")
    released = ProductionOrder.objects.filter(status=OrderStatus.RELEASED).order_by("id").first()
    first = released.operations.order_by("sequence").first()
    posted = services.confirmation_create(
        data=services.ConfirmationInput(operation_id=first.pk, good_quantity=Decimal(1), setup_minutes=Decimal(5)),
        user=planner,
    )
    services.confirmation_post(confirmation_id=posted.pk)

    # An order far beyond the stock, released anyway: its last operation backflushes what is not there.
    order = services.production_order_create(
        item_id=Item.objects.get(sku="FG-2000").pk, quantity=Decimal(500), due_date=released.due_date, user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner, reason="test", force=True)
    services.confirmation_create(
        data=services.ConfirmationInput(
            operation_id=order.operations.order_by("-sequence").first().pk, good_quantity=Decimal(500)
        ),
        user=planner,
    )
    services.confirmations_post_pending()

    run = planning_run_start(mode="regenerative", user=planner)
    planning_run_execute(run_id=run.pk)
    return {"operation": first.pk, "item": Item.objects.get(sku="SA-100").pk}


def test_every_get_answers_its_documented_response(factory):
    assert Confirmation.objects.filter(posting_status=PostingStatus.POSTED).exists()
    assert Confirmation.objects.filter(posting_status=PostingStatus.FAILED).exists()
    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    schema = client.get("/api/schema/", {"format": "json"}).json()
    components = _json_schema(schema["components"])
    queries = {
        "/api/v1/confirmations/preview/": {"operation": factory["operation"], "good_quantity": "1"},
        "/api/v1/boms/where-used/": {"item": factory["item"]},
    }

    checked, empty, mismatches = [], [], {}
    for path, path_item in schema["paths"].items():
        operation = path_item.get("get")
        if operation is None:
            continue
        url = path
        if "{id}" in path:
            listing = client.get(path.split("{id}")[0]).json()
            if not listing["results"]:
                empty.append(path)
                continue
            url = path.replace("{id}", str(listing["results"][0]["id"]))
        response = client.get(url, queries.get(path, {}))
        assert response.status_code == 200, (path, response.content[:300])
        documented = operation["responses"]["200"]["content"]["application/json"]["schema"]
        validator = jsonschema.Draft202012Validator(
            {**_json_schema(documented), "components": components},
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message[:160]}" for e in validator.iter_errors(response.json())
        ]
        if errors:
            mismatches[path] = errors[:3]
        checked.append(path)

    assert mismatches == {}, "\n".join(f"{path}: {errors}" for path, errors in mismatches.items())
    # The fixture leaves something behind every detail endpoint, so each one was checked.
    assert empty == []
    assert len(checked) > 50
