"""Every GET of the REST API answers what its OpenAPI schema says it answers.

Other systems generate clients from ``/api/schema/``: a list documented as paginated that
comes back as a bare array, an object documented as another, or a ``null`` where the schema
promises a string breaks them at run time. This calls every documented GET endpoint against
the demo factory (plus a posted confirmation, a refused one and a planning run) and validates
each answer against the documented 200 response with a JSON Schema validator."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

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
from tests import schema_contract


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

    # An order far beyond the stock, released anyway: its operations (in turn, as a backflushing
    # one reports no more than the one before it confirmed) backflush what is not there.
    order = services.production_order_create(
        item_id=Item.objects.get(sku="FG-2000").pk, quantity=Decimal(500), due_date=released.due_date, user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner, reason="test", force=True)
    for operation in order.operations.order_by("sequence"):
        services.confirmation_create(
            data=services.ConfirmationInput(operation_id=operation.pk, good_quantity=Decimal(500)), user=planner
        )
    services.confirmations_post_pending()

    campaign = services.production_order_create(
        item_id=Item.objects.get(sku="FG-1000").pk,
        quantity=Decimal(100),
        user=planner,
        is_campaign=True,
        campaign_start=released.due_date,
        campaign_end=released.due_date + dt.timedelta(days=30),
    )

    run = planning_run_start(mode="regenerative", user=planner)
    planning_run_execute(run_id=run.pk)
    return {"operation": first.pk, "item": Item.objects.get(sku="SA-100").pk, "campaign": campaign.pk}


def test_every_get_answers_its_documented_response(factory):
    assert Confirmation.objects.filter(posting_status=PostingStatus.POSTED).exists()
    assert Confirmation.objects.filter(posting_status=PostingStatus.FAILED).exists()
    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    schema = client.get("/api/schema/", {"format": "json"}).json()
    queries = {
        "/api/v1/confirmations/preview/": {"operation": factory["operation"], "good_quantity": "1"},
        "/api/v1/boms/where-used/": {"item": factory["item"]},
    }

    ids = {"/api/v1/production-orders/{id}/campaign-report/": factory["campaign"]}

    checked, empty, mismatches = [], [], {}
    for path, path_item in schema["paths"].items():
        if "get" not in path_item:
            continue
        url = path
        if "{id}" in path:
            listing = client.get(path.split("{id}")[0]).json()
            if not listing["results"]:
                empty.append(path)
                continue
            url = path.replace("{id}", str(ids.get(path, listing["results"][0]["id"])))
        response = client.get(url, queries.get(path, {}))
        assert response.status_code == 200, (path, response.content[:300])
        try:
            schema_contract.check("GET", url, response)
        except AssertionError as error:
            mismatches[path] = str(error)
        checked.append(path)

    assert mismatches == {}, "\n".join(mismatches.values())
    # The fixture leaves something behind every detail endpoint, so each one was checked.
    assert empty == []
    assert len(checked) > 50
