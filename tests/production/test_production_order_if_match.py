"""Optimistic concurrency on every order command over the API: a stale ``If-Match`` is
refused with 412 and changes nothing, the current one succeeds and moves the ETag, and no
``If-Match`` at all skips the check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest

from inventory.models import StockBalance, StockMovement
from production import services
from production.models import ProductionOrder
from tests.inventory.factories import ItemFactory
from tests.inventory.helpers import receive
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db
URL = "/api/v1/production-orders/"


@dataclass(frozen=True)
class Command:
    """One order command: the state it needs (``prepare`` returns the order) and the request."""

    name: str
    prepare: Callable
    send: Callable  # (api, order, headers) -> response
    deletes_order: bool = False


def _planned(plant, planner, **extra) -> ProductionOrder:
    return services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(2), due_date=in_days(30), user=planner, **extra
    )


def _releasable(plant, planner) -> ProductionOrder:
    plant.stock()
    return _planned(plant, planner)


def _released(plant, planner) -> ProductionOrder:
    order = _releasable(plant, planner)
    return services.production_order_release(order_id=order.pk, user=planner)


def _eto(plant, planner) -> ProductionOrder:
    return _planned(plant, planner, order_type="ETO")


def _first(order, related: str) -> int:
    return getattr(order, related).order_by("pk").values_list("pk", flat=True).first()


def _post(path: str, body: dict | None = None) -> Callable:
    return lambda api, order, headers: api.post(f"{URL}{order.pk}/{path}", body or {}, format="json", **headers)


COMMANDS = [
    Command("release", _releasable, _post("release/")),
    Command("close", _released, _post("close/", {"reason": "done"})),
    Command("cancel", _planned, _post("cancel/", {"reason": "not needed"})),
    Command("approve-engineering", _eto, _post("approve-engineering/", {"reason": "structure done"})),
    Command("reschedule", _planned, _post("reschedule/", {"due_date": str(in_days(40))})),
    Command(
        "update",
        _planned,
        lambda api, order, headers: api.patch(f"{URL}{order.pk}/", {"quantity": "3"}, format="json", **headers),
    ),
    Command(
        "delete",
        _planned,
        lambda api, order, headers: api.delete(f"{URL}{order.pk}/", **headers),
        deletes_order=True,
    ),
    Command(
        "component-add",
        _planned,
        lambda api, order, headers: api.post(
            f"{URL}{order.pk}/components/",
            {"item": order.components.first().item_id, "quantity_per_unit": "1"},
            format="json",
            **headers,
        ),
    ),
    Command(
        "component-update",
        _planned,
        lambda api, order, headers: api.put(
            f"{URL}{order.pk}/components/{_first(order, 'components')}/",
            {"item": order.components.order_by("pk").first().item_id, "quantity_per_unit": "7"},
            format="json",
            **headers,
        ),
    ),
    Command(
        "component-remove",
        _planned,
        lambda api, order, headers: api.delete(f"{URL}{order.pk}/components/{_first(order, 'components')}/", **headers),
    ),
    Command(
        "operation-add",
        _planned,
        lambda api, order, headers: api.post(
            f"{URL}{order.pk}/operations/",
            {"sequence": 30, "work_center": order.operations.first().work_center_id, "setup_minutes": "5"},
            format="json",
            **headers,
        ),
    ),
    Command(
        "operation-update",
        _planned,
        lambda api, order, headers: api.put(
            f"{URL}{order.pk}/operations/{_first(order, 'operations')}/",
            {"sequence": 10, "work_center": order.operations.first().work_center_id, "setup_minutes": "45"},
            format="json",
            **headers,
        ),
    ),
    Command(
        "operation-remove",
        _planned,
        lambda api, order, headers: api.delete(f"{URL}{order.pk}/operations/{_first(order, 'operations')}/", **headers),
    ),
]
IDS = [c.name for c in COMMANDS]


def _state(api, order) -> dict:
    """Everything a client can see of the order, audit trail included."""
    detail = api.get(f"{URL}{order.pk}/")
    return {
        "etag": detail.headers["ETag"],
        "detail": detail.json(),
        "audit": api.get(f"{URL}{order.pk}/audit/").json(),
    }


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_stale_if_match_is_refused_with_412_and_nothing_changes(command, plant, planner, planner_api):
    # given a planner who read the order, and another planner who changed it since
    order = command.prepare(plant, planner)
    read_etag = planner_api.get(f"{URL}{order.pk}/").headers["ETag"]
    services.production_order_update(order_id=order.pk, user=planner, priority=order.priority + 1)
    before = _state(planner_api, order)
    assert before["etag"] != read_etag

    # when the first planner sends the command with the version they read
    response = command.send(planner_api, order, {"HTTP_IF_MATCH": read_etag})

    # then it is refused in the one error shape, and the order is as the other planner left it
    assert response.status_code == 412, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == "stale_version"
    assert "changed by someone else" in body["message"]
    assert body["fields"] == {"version": ["stale"]}
    assert _state(planner_api, order) == before


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_current_if_match_succeeds_and_moves_the_etag(command, plant, planner, planner_api):
    # given
    order = command.prepare(plant, planner)
    etag = planner_api.get(f"{URL}{order.pk}/").headers["ETag"]

    # when
    response = command.send(planner_api, order, {"HTTP_IF_MATCH": etag})

    # then
    assert 200 <= response.status_code < 300, response.content
    if command.deletes_order:
        assert not ProductionOrder.objects.filter(pk=order.pk).exists()
        return
    current = planner_api.get(f"{URL}{order.pk}/").headers["ETag"]
    assert current != etag, "the command did not bump the order's version"
    assert response.headers["ETag"] == current


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_without_if_match_the_command_still_works(command, plant, planner, planner_api):
    order = command.prepare(plant, planner)
    services.production_order_update(order_id=order.pk, user=planner, priority=order.priority + 1)

    response = command.send(planner_api, order, {})

    assert 200 <= response.status_code < 300, response.content


def test_if_match_star_and_weak_etags_are_accepted(plant, planner, planner_api):
    order = _planned(plant, planner)

    star = planner_api.post(f"{URL}{order.pk}/reschedule/", {}, format="json", HTTP_IF_MATCH="*")
    weak = planner_api.post(
        f"{URL}{order.pk}/reschedule/", {}, format="json", HTTP_IF_MATCH=f'W/"{star.json()["version"]}"'
    )

    assert star.status_code == weak.status_code == 200
    assert weak.json()["version"] == star.json()["version"] + 1


def test_if_match_that_is_not_an_etag_is_400(plant, planner, planner_api):
    order = _planned(plant, planner)

    response = planner_api.post(f"{URL}{order.pk}/release/", {}, format="json", HTTP_IF_MATCH="yesterday")

    assert response.status_code == 400
    assert "If-Match" in response.json()["fields"]
    order.refresh_from_db()
    assert order.status == "planned"


def test_stale_version_is_checked_before_the_status(plant, planner, planner_api):
    # given an order another planner cancelled after we read it
    order = _planned(plant, planner)
    etag = planner_api.get(f"{URL}{order.pk}/").headers["ETag"]
    services.production_order_cancel(order_id=order.pk, user=planner, reason="gone")

    # when we try to release the version we saw
    response = planner_api.post(f"{URL}{order.pk}/release/", {}, format="json", HTTP_IF_MATCH=etag)

    # then we learn that our view is stale, not a state error about a status we never saw
    assert response.status_code == 412


def test_a_keyed_command_replays_with_its_etag_and_another_if_match_is_another_request(plant, planner, planner_api):
    # given a release sent with an Idempotency-Key and the version the client read
    order = _releasable(plant, planner)
    read_etag = planner_api.get(f"{URL}{order.pk}/").headers["ETag"]

    def release(if_match: str):
        return planner_api.post(
            f"{URL}{order.pk}/release/", {}, format="json", HTTP_IDEMPOTENCY_KEY="rel-1", HTTP_IF_MATCH=if_match
        )

    first = release(read_etag)
    after = _state(planner_api, order)

    # when the client retries it as sent, and then (wrongly) with the version the release answered
    retry = release(read_etag)
    other = release(first.headers["ETag"])

    # then the retry gets the first answer with the ETag to go on with; the other is another request
    assert first.status_code == retry.status_code == 200, first.content
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["ETag"] == first.headers["ETag"] == after["etag"] != read_etag
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert _state(planner_api, order) == after


# --- manual issue: it posts stock, and moves the version only when it changes the structure


def _issue(api, order, line: dict, **headers):
    return api.post(f"{URL}{order.pk}/issue/", {"lines": [line]}, format="json", **headers)


def _posted(order) -> list:
    return list(
        StockMovement.objects.filter(posting__document_type="production_order", posting__document_id=order.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@pytest.mark.parametrize("line", ["listed", "unplanned"])
def test_issue_with_a_stale_if_match_is_refused_with_412_and_writes_nothing(line, plant, planner, planner_api):
    # given a planner who read a released order, and another planner who changed it since
    order = _released(plant, planner)
    glue = ItemFactory(sku="GLUE")
    receive(glue, plant.rm, 5)
    read_etag = planner_api.get(f"{URL}{order.pk}/").headers["ETag"]
    services.production_order_update(order_id=order.pk, user=planner, priority=order.priority + 1)
    before, posted = _state(planner_api, order), _posted(order)

    # when the first planner issues (a listed component, or an item the order does not list)
    body = (
        {"component": order.components.get(item=plant.part_lot).pk, "quantity": "2"}
        if line == "listed"
        else {"item": glue.pk, "quantity": "2"}
    )
    response = _issue(planner_api, order, body, HTTP_IF_MATCH=read_etag)

    # then it is refused in the one error shape: no stock moved, no component added or changed
    assert response.status_code == 412, response.content
    assert response.json()["code"] == "stale_version"
    assert response.json()["fields"] == {"version": ["stale"]}
    assert _posted(order) == posted
    assert _state(planner_api, order) == before
    assert StockBalance.objects.get(item=glue, location=plant.rm).on_hand == 5


def test_issue_of_a_listed_component_with_the_current_if_match_keeps_the_version(plant, planner, planner_api):
    # given
    order = _released(plant, planner)
    component = order.components.get(item=plant.part_lot)
    etag = planner_api.get(f"{URL}{order.pk}/").headers["ETag"]

    # when
    response = _issue(planner_api, order, {"component": component.pk, "quantity": "2"}, HTTP_IF_MATCH=etag)

    # then the issue is posted, and the ETag is the order's, unchanged: only stock moved
    assert response.status_code == 201, response.content
    assert response.headers["ETag"] == etag == planner_api.get(f"{URL}{order.pk}/").headers["ETag"]
    issued = {c["id"]: c["issued_quantity"] for c in response.json()["components"]}
    assert Decimal(issued[component.pk]) == Decimal(2)
    assert len(_posted(order)) > 0


def test_issue_of_an_unplanned_item_adds_a_component_and_moves_the_version(plant, planner, planner_api):
    # given
    order = _released(plant, planner)
    glue = ItemFactory(sku="GLUE")
    receive(glue, plant.rm, 5)
    etag = planner_api.get(f"{URL}{order.pk}/").headers["ETag"]

    # when
    response = _issue(planner_api, order, {"item": glue.pk, "quantity": "2"}, HTTP_IF_MATCH=etag)

    # then the order's structure changed: a new component, a new version, the new ETag answered
    assert response.status_code == 201, response.content
    assert [c["item_sku"] for c in response.json()["components"]][-1] == "GLUE"
    current = planner_api.get(f"{URL}{order.pk}/").headers["ETag"]
    assert current != etag
    assert response.headers["ETag"] == current
    # and a command sent with the version read before the issue is now stale
    stale = _issue(planner_api, order, {"item": glue.pk, "quantity": "1"}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 412


def test_issue_without_if_match_is_not_checked(plant, planner, planner_api):
    order = _released(plant, planner)
    services.production_order_update(order_id=order.pk, user=planner, priority=order.priority + 1)

    response = _issue(planner_api, order, {"component": order.components.get(item=plant.part_lot).pk, "quantity": "1"})

    assert response.status_code == 201, response.content
