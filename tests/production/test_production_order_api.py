import pytest

from config.roles import Role
from production import services
from production.models import ProductionOrder
from tests.inventory.helpers import assert_ledger_consistent
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db
URL = "/api/v1/production-orders/"


def _create(api, plant, **extra):
    body = {"item_sku": "FIN", "quantity": "5", "due_date": str(in_days(30)), **extra}
    return api.post(URL, body, format="json")


def test_planner_takes_an_order_from_planned_to_closed(plant, planner_api):
    plant.stock()

    created = _create(planner_api, plant)
    assert created.status_code == 201, created.json()
    order = created.json()
    assert order["status"] == "planned" and len(order["components"]) == 4 and len(order["operations"]) == 2

    availability = planner_api.get(f"{URL}{order['id']}/availability/").json()
    assert availability["ready"] is True

    released = planner_api.post(f"{URL}{order['id']}/release/", {}, format="json")
    assert released.status_code == 200, released.json()
    assert released.json()["status"] == "released"
    assert {c["category"] for c in released.json()["costs"]} >= {
        "material",
        "labor",
        "machine",
        "overhead",
        "output",
    }

    closed = planner_api.post(f"{URL}{order['id']}/close/", {"reason": "done"}, format="json")
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"

    audit = planner_api.get(f"{URL}{order['id']}/audit/").json()
    assert [(t["from_status"], t["to_status"]) for t in audit["transitions"]] == [
        ("planned", "released"),
        ("released", "closed"),
    ]
    assert audit["transitions"][1]["reason"] == "done"
    assert any(e["context"] and e["context"].get("action") == "release" for e in audit["changes"])
    assert_ledger_consistent()


def test_create_honours_idempotency_key(plant, planner_api):
    first = planner_api.post(
        URL,
        {"item_sku": "FIN", "quantity": "5", "due_date": str(in_days(30))},
        format="json",
        HTTP_IDEMPOTENCY_KEY="abc",
    )
    again = planner_api.post(
        URL,
        {"item_sku": "FIN", "quantity": "5", "due_date": str(in_days(30))},
        format="json",
        HTTP_IDEMPOTENCY_KEY="abc",
    )

    assert first.status_code == again.status_code == 201
    assert first.json()["number"] == again.json()["number"]
    assert ProductionOrder.objects.count() == 1


def test_bad_input_gets_400_naming_the_field(plant, planner_api):
    response = planner_api.post(URL, {"item_sku": "FIN", "quantity": "0", "due_date": str(in_days(3))}, format="json")

    assert response.status_code == 400
    assert "quantity" in response.json()["fields"]
    assert not ProductionOrder.objects.exists()

    unknown = planner_api.post(URL, {"item_sku": "NOPE", "quantity": "1", "due_date": str(in_days(3))}, format="json")
    assert unknown.status_code == 400 and "item_sku" in unknown.json()["fields"]


def test_release_with_shortage_is_409_with_the_shortage_list(plant, planner_api):
    order = _create(planner_api, plant).json()

    response = planner_api.post(f"{URL}{order['id']}/release/", {}, format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "shortages"
    assert any("P-BACK" in line for line in body["fields"]["components"])


def test_stale_if_match_is_412(plant, planner_api):
    order = _create(planner_api, plant).json()
    etag = planner_api.get(f"{URL}{order['id']}/").headers["ETag"]

    ok = planner_api.patch(f"{URL}{order['id']}/", {"priority": 2}, format="json", HTTP_IF_MATCH=etag)
    stale = planner_api.patch(f"{URL}{order['id']}/", {"priority": 3}, format="json", HTTP_IF_MATCH=etag)

    assert ok.status_code == 200
    assert stale.status_code == 412
    assert stale.json()["code"] == "stale_version"


def test_viewer_reads_but_cannot_release(plant, planner_api, viewer_api):
    order = _create(planner_api, plant).json()

    assert viewer_api.get(f"{URL}{order['id']}/").status_code == 200
    assert viewer_api.post(f"{URL}{order['id']}/release/", {}, format="json").status_code == 403
    assert (
        viewer_api.post(
            URL, {"item_sku": "FIN", "quantity": "1", "due_date": str(in_days(3))}, format="json"
        ).status_code
        == 403
    )


def test_list_costs_a_constant_number_of_queries(plant, planner, planner_api, django_assert_max_num_queries):
    services.production_order_create(item_id=plant.finished.pk, quantity=1, due_date=in_days(10), user=planner)
    with django_assert_max_num_queries(8) as one:
        planner_api.get(URL)
    for _ in range(20):
        services.production_order_create(item_id=plant.finished.pk, quantity=1, due_date=in_days(10), user=planner)

    with django_assert_max_num_queries(len(one.captured_queries)):
        response = planner_api.get(URL)

    assert response.json()["count"] == 21


def test_list_filters(plant, planner, planner_api):
    plant.stock()
    a = services.production_order_create(item_id=plant.finished.pk, quantity=1, due_date=in_days(10), user=planner)
    services.production_order_create(item_id=plant.finished.pk, quantity=1, due_date=in_days(40), user=planner)
    services.production_order_release(order_id=a.pk, user=planner)

    released = planner_api.get(URL, {"status": "released"}).json()
    due_soon = planner_api.get(URL, {"due_to": str(in_days(20))}).json()
    at_wc = planner_api.get(URL, {"work_center": plant.wc_a.pk}).json()

    assert [o["id"] for o in released["results"]] == [a.pk]
    assert [o["id"] for o in due_soon["results"]] == [a.pk]
    assert at_wc["count"] == 2


def test_operator_cannot_create_orders(plant, api_client_for):
    operator = api_client_for(Role.OPERATOR)

    assert _create(operator, plant).status_code == 403


def test_planner_edits_components_and_operations_of_a_planned_order_over_the_api(plant, planner_api, viewer_api):
    order = _create(planner_api, plant).json()
    base = f"{URL}{order['id']}"

    added = planner_api.post(
        f"{base}/components/", {"item": plant.part_fwd.pk, "quantity_per_unit": "2"}, format="json"
    )
    assert added.status_code == 201, added.json()
    assert len(added.json()) == 5
    new = max(added.json(), key=lambda c: c["id"])
    updated = planner_api.put(
        f"{base}/components/{new['id']}/", {"item": plant.part_fwd.pk, "quantity_per_unit": "3"}, format="json"
    )
    assert updated.status_code == 200, updated.json()
    assert {c["id"]: c["quantity_per_unit"] for c in updated.json()}[new["id"]] == "3.0000"
    assert planner_api.delete(f"{base}/components/{new['id']}/").status_code == 204
    assert len(planner_api.get(f"{base}/components/").json()) == 4

    op = planner_api.post(
        f"{base}/operations/", {"sequence": 30, "work_center": plant.wc_b.pk, "setup_minutes": "5"}, format="json"
    )
    assert op.status_code == 201, op.json()
    third = next(o for o in op.json() if o["sequence"] == 30)
    changed = planner_api.put(
        f"{base}/operations/{third['id']}/",
        {"sequence": 30, "work_center": plant.wc_b.pk, "setup_minutes": "7"},
        format="json",
    )
    assert changed.status_code == 200, changed.json()
    assert next(o for o in changed.json() if o["sequence"] == 30)["setup_minutes"] == "7.0000"
    assert planner_api.delete(f"{base}/operations/{third['id']}/").status_code == 204
    assert [o["sequence"] for o in planner_api.get(f"{base}/operations/").json()] == [10, 20]

    bad = planner_api.post(f"{base}/operations/", {"sequence": 0, "work_center": plant.wc_b.pk}, format="json")
    assert bad.status_code == 400 and "sequence" in bad.json()["fields"]
    assert viewer_api.post(f"{base}/components/", {"item": plant.part_fwd.pk}, format="json").status_code == 403


def test_issue_errors_name_the_request_fields(plant, planner, planner_api):
    from decimal import Decimal

    from tests.inventory.factories import LocationFactory, LotFactory

    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(10), due_date=in_days(30), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner)
    lot_part = order.components.get(item=plant.part_lot).pk
    inactive = LocationFactory(is_active=False)

    def fields(index=1, **line):
        lines = [{"component": lot_part, "quantity": "1"} for _ in range(index + 1)]
        lines[index].update(line)
        response = planner_api.post(f"{URL}{order.pk}/issue/", {"lines": lines}, format="json")
        assert response.status_code == 400, response.content
        return set(response.json()["fields"])

    assert fields(lot=LotFactory().pk) == {"lines[1].lot"}
    assert fields(location=999999) == {"lines[1].location"}
    assert fields(location=inactive.pk) == {"lines[1].location"}
    assert fields(index=0, quantity="0") == {"lines[0].quantity"}


def test_reschedule_honours_idempotency_key(plant, planner_api):
    order = planner_api.post(
        URL, {"item_sku": "FIN", "quantity": "5", "due_date": str(in_days(30))}, format="json"
    ).json()
    body = {"due_date": str(in_days(40))}

    first = planner_api.post(f"{URL}{order['id']}/reschedule/", body, format="json", HTTP_IDEMPOTENCY_KEY="move-1")
    again = planner_api.post(f"{URL}{order['id']}/reschedule/", body, format="json", HTTP_IDEMPOTENCY_KEY="move-1")
    other = planner_api.post(
        f"{URL}{order['id']}/reschedule/",
        {"due_date": str(in_days(50))},
        format="json",
        HTTP_IDEMPOTENCY_KEY="move-1",
    )

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert other.status_code == 422
    moved = ProductionOrder.objects.get(pk=order["id"])
    assert moved.due_date == in_days(40)
    assert moved.version == order["version"] + 1


def test_a_double_tapped_component_add_adds_one_component(plant, planner_api):
    order = _create(planner_api, plant).json()
    base = f"{URL}{order['id']}"
    body = {"item": plant.part_fwd.pk, "quantity_per_unit": "2"}

    first = planner_api.post(f"{base}/components/", body, format="json", HTTP_IDEMPOTENCY_KEY="tap")
    again = planner_api.post(f"{base}/components/", body, format="json", HTTP_IDEMPOTENCY_KEY="tap")
    # A GET with a key is a plain read: nothing stored, nothing replayed.
    read = planner_api.get(f"{base}/components/", HTTP_IDEMPOTENCY_KEY="tap")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert len(first.json()) == 5
    assert read.status_code == 200 and len(read.json()) == 5
    assert "Idempotent-Replayed" not in read.headers
