from decimal import Decimal

import pytest

from inventory.models import Item, StockMovement, StockPosting
from inventory.services import DocumentRef, reservation_create
from tests.inventory.factories import (
    BomFactory,
    BomLineFactory,
    ItemFactory,
    ItemUnitConversionFactory,
    LocationFactory,
    LotFactory,
    UnitFactory,
)
from tests.inventory.helpers import assert_ledger_consistent, receive

pytestmark = pytest.mark.django_db
API = "/api/v1"


def assert_error(response, status, code, field=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"} and body["code"] == code
    if field:
        assert field in body["fields"], body


def make_rows(n):
    for _ in range(n):
        item, loc = ItemFactory(), LocationFactory()
        lot = LotFactory(item=ItemFactory(lot_tracked=True))
        receive(item, loc, 5)
        receive(lot.item, loc, 2, lot=lot)
        reservation_create(
            item_id=item.pk,
            location_id=loc.pk,
            quantity=Decimal(1),
            reference=DocumentRef("so", 1),
            user=None,
        )
        BomLineFactory(bom=BomFactory(item=ItemFactory()), component=item)


@pytest.mark.parametrize(
    "resource",
    [
        "items",
        "units",
        "locations",
        "lots",
        "stock-balances",
        "stock-movements",
        "stock-postings",
        "reservations",
        "boms",
    ],
)
def test_list_endpoints_cost_constant_queries(resource, viewer_api, django_assert_max_num_queries):
    make_rows(1)
    with django_assert_max_num_queries(12) as one:
        assert viewer_api.get(f"{API}/{resource}/").status_code == 200
    make_rows(29)
    with django_assert_max_num_queries(len(one)):
        response = viewer_api.get(f"{API}/{resource}/")
    assert (response.status_code == 200 and response.json()["count"] >= 30) or resource == "units"


def test_items_create_read_and_role_check(planner_api, viewer_api):
    UnitFactory(code="pcs")
    body = {"sku": "PP-X", "name": "X", "item_type": "purchased", "uom": "pcs", "procurement": "buy"}
    assert viewer_api.post(f"{API}/items/", body).status_code == 403
    response = planner_api.post(f"{API}/items/", body)
    assert response.status_code == 201, response.content
    assert viewer_api.get(f"{API}/items/?sku=PP-X").json()["results"][0]["name"] == "X"
    assert_error(planner_api.post(f"{API}/items/", body), 400, "invalid", "sku")
    assert_error(planner_api.post(f"{API}/items/", {**body, "sku": "Y", "uom": "zz"}), 400, "invalid", "uom")


def test_locations_and_lots_create(planner_api):
    from tests.inventory.factories import WarehouseFactory

    WarehouseFactory(code="MAIN")
    response = planner_api.post(
        f"{API}/locations/", {"warehouse_code": "MAIN", "code": "SCRAP", "allow_negative": True}
    )
    assert response.status_code == 201 and response.json()["allow_negative"] is True
    plain = ItemFactory()
    assert_error(
        planner_api.post(f"{API}/lots/", {"item": plain.pk, "lot_number": "L1"}),
        400,
        "lot_not_allowed",
        "item",
    )
    lot_item = ItemFactory(lot_tracked=True)
    assert planner_api.post(f"{API}/lots/", {"item": lot_item.pk, "lot_number": "L1"}).status_code == 201


def test_stock_movements_post_receipt_issue_transfer_and_filters(planner_api, viewer_api):
    item, a, b = ItemFactory(sku="PP-RIM"), LocationFactory(code="A"), LocationFactory(code="B")
    r = planner_api.post(
        f"{API}/stock-movements/",
        {"movement_type": "receipt", "item": item.pk, "location": a.pk, "quantity": "10"},
    )
    assert r.status_code == 201, r.content
    assert r.json()["movements"][0]["quantity"] == "10.0000"
    r = planner_api.post(
        f"{API}/stock-movements/",
        {
            "movement_type": "transfer",
            "item": item.pk,
            "location": a.pk,
            "to_location": b.pk,
            "quantity": "4",
        },
    )
    assert r.status_code == 201, r.content
    r = planner_api.post(
        f"{API}/stock-movements/",
        {"movement_type": "issue", "item": item.pk, "location": a.pk, "quantity": "2"},
    )
    assert r.json()["movements"][0]["quantity"] == "-2.0000"
    balances = viewer_api.get(f"{API}/stock-balances/?sku=PP-RIM&location={a.pk}").json()["results"]
    assert [x["on_hand"] for x in balances] == ["4.0000"]
    assert viewer_api.get(f"{API}/stock-movements/?item={item.pk}&movement_type=transfer").json()["count"] == 2
    assert_ledger_consistent()


def test_stock_movements_post_errors_write_nothing(planner_api):
    item, loc = ItemFactory(sku="PP-HUB"), LocationFactory(code="RM")
    lot = LotFactory()
    post = lambda **kw: planner_api.post(  # noqa: E731
        f"{API}/stock-movements/",
        {"movement_type": "receipt", "item": item.pk, "location": loc.pk, "quantity": "1", **kw},
    )
    assert_error(post(quantity="0"), 400, "invalid", "quantity")
    assert_error(post(quantity="-3"), 400, "invalid", "quantity")
    assert_error(post(uom="box"), 400, "unknown_unit", "uom")
    UnitFactory(code="box")
    assert_error(post(uom="box"), 400, "no_unit_conversion", "uom")
    assert_error(post(lot=lot.pk), 400, "lot_not_allowed", "lot")
    assert_error(post(item=lot.item.pk), 400, "lot_required", "lot")
    response = post(movement_type="issue", quantity="5")
    assert_error(response, 409, "insufficient_stock", "needed")
    assert "PP-HUB" in response.json()["message"] and "RM" in response.json()["message"]
    assert not StockMovement.objects.exists()


def test_stock_movement_errors_name_the_request_fields(planner_api):
    item, lot_item = ItemFactory(), ItemFactory(lot_tracked=True)
    loc, other = LocationFactory(), LocationFactory()
    inactive = LocationFactory(is_active=False)
    lot = LotFactory(item=lot_item)
    receive(lot_item, loc, 5, lot=lot)

    def fields(**body):
        body = {"movement_type": "receipt", "item": item.pk, "location": loc.pk, "quantity": "1", **body}
        response = planner_api.post(f"{API}/stock-movements/", body)
        assert response.status_code == 400, response.content
        return set(response.json()["fields"])

    assert fields(item=lot_item.pk) == {"lot"}
    assert fields(lot=lot.pk) == {"lot"}
    assert fields(item=999999) == {"item"}
    assert fields(location=999999) == {"location"}
    assert fields(location=inactive.pk) == {"location"}
    assert fields(quantity="1.00001") == {"quantity"}
    assert fields(unit_cost="-1") == {"unit_cost"}
    transfer = {"movement_type": "transfer", "item": lot_item.pk, "lot": lot.pk}
    assert fields(**transfer, to_location=999999) == {"to_location"}
    assert fields(**transfer, to_location=inactive.pk) == {"to_location"}
    assert fields(**transfer, to_location=loc.pk) == {"to_location"}
    assert fields(**{**transfer, "lot": None}, to_location=other.pk) == {"lot"}
    assert not StockMovement.objects.filter(location=other).exists()


def test_stock_movements_post_converts_units(planner_api):
    conversion = ItemUnitConversionFactory(factor=Decimal(12))
    loc = LocationFactory()
    r = planner_api.post(
        f"{API}/stock-movements/",
        {
            "movement_type": "receipt",
            "item": conversion.item_id,
            "location": loc.pk,
            "quantity": "2",
            "uom": "box",
        },
    )
    assert r.status_code == 201 and r.json()["movements"][0]["quantity"] == "24.0000"


def test_stock_movements_post_honours_idempotency_key(planner_api):
    item, loc = ItemFactory(), LocationFactory()
    body = {"movement_type": "receipt", "item": item.pk, "location": loc.pk, "quantity": "3"}
    first = planner_api.post(f"{API}/stock-movements/", body, HTTP_IDEMPOTENCY_KEY="abc")
    again = planner_api.post(f"{API}/stock-movements/", body, HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert StockPosting.objects.count() == 1
    other = planner_api.post(f"{API}/stock-movements/", {**body, "quantity": "4"}, HTTP_IDEMPOTENCY_KEY="abc")
    assert_error(other, 422, "idempotency_key_reused")


def test_stock_postings_reverse(planner_api, viewer_api):
    item, loc = ItemFactory(), LocationFactory()
    posting = receive(item, loc, 3)
    url = f"{API}/stock-postings/{posting.pk}/reverse/"
    assert viewer_api.post(url, {"reason": "x"}).status_code == 403
    assert_error(planner_api.post(url, {}), 400, "invalid", "reason")
    r = planner_api.post(url, {"reason": "typo"})
    assert r.status_code == 201 and r.json()["reversal_of"] == posting.pk
    assert_error(planner_api.post(url, {"reason": "again"}), 409, "already_reversed", "posting_id")
    assert_error(planner_api.post(f"{API}/stock-postings/999999/reverse/", {"reason": "x"}), 404, "not_found")
    assert_ledger_consistent()


def test_reservations_read(viewer_api):
    item, loc = ItemFactory(), LocationFactory()
    receive(item, loc, 3)
    reservation_create(
        item_id=item.pk, location_id=loc.pk, quantity=Decimal(2), reference=DocumentRef("so", 9), user=None
    )
    rows = viewer_api.get(f"{API}/reservations/?document_type=so&document_id=9").json()["results"]
    assert [(r["quantity"], r["status"]) for r in rows] == [("2.0000", "open")]
    assert viewer_api.post(f"{API}/reservations/", {}).status_code in (403, 405)


def test_boms_crud_explode_where_used(planner_api, viewer_api):
    fg, sa, rm = ItemFactory(sku="FG-1"), ItemFactory(sku="SA-1"), ItemFactory(sku="RM-1")
    body = {
        "item": sa.pk,
        "status": "active",
        "lines": [{"component": rm.pk, "quantity": "2", "scrap_percent": "50"}],
    }
    r = planner_api.post(f"{API}/boms/", body, format="json")
    assert r.status_code == 201, r.content
    sa_bom = r.json()["id"]
    r = planner_api.post(
        f"{API}/boms/",
        {"item": fg.pk, "status": "active", "lines": [{"component": sa.pk, "quantity": "1"}]},
        format="json",
    )
    fg_bom = r.json()["id"]
    explode = viewer_api.get(f"{API}/boms/{fg_bom}/explode/?quantity=2&date=2030-01-01").json()["lines"]
    assert [(x["level"], x["sku"], x["quantity"]) for x in explode] == [
        (1, "SA-1", "2.0000"),
        (2, "RM-1", "6.0000"),
    ]
    used = viewer_api.get(f"{API}/boms/where-used/?item={rm.pk}").json()["lines"]
    assert [(x["level"], x["sku"]) for x in used] == [(1, "SA-1"), (2, "FG-1")]
    # a cycle through PUT is refused with the path, nothing written
    r = planner_api.put(
        f"{API}/boms/{sa_bom}/",
        {"item": sa.pk, "status": "active", "lines": [{"component": fg.pk, "quantity": "1"}]},
        format="json",
    )
    assert_error(r, 400, "bom_cycle")
    assert "SA-1 → FG-1 → SA-1" in r.json()["message"]
    r = planner_api.post(
        f"{API}/boms/", {"item": rm.pk, "lines": [{"component": rm.pk, "quantity": "1"}]}, format="json"
    )
    assert_error(r, 400, "bom_cycle", "lines[0].component")
    assert Item.objects.get(sku="RM-1").low_level_code == 2
    draft = planner_api.post(
        f"{API}/boms/",
        {"item": rm.pk, "lines": [{"component": ItemFactory().pk, "quantity": "1"}]},
        format="json",
    )
    assert_error(viewer_api.get(f"{API}/boms/{draft.json()['id']}/explode/"), 400, "bom_not_active", "bom")
    assert_error(viewer_api.get(f"{API}/boms/{fg_bom}/explode/?quantity=0"), 400, "invalid_quantity", "quantity")
    assert planner_api.delete(f"{API}/boms/{draft.json()['id']}/").status_code == 204
    assert viewer_api.delete(f"{API}/boms/{fg_bom}/").status_code == 403


def test_demo_load_is_idempotent():
    from inventory import demo
    from inventory.selectors import stock_available

    demo.load()
    demo.load()
    assert Item.objects.count() == 21 and StockPosting.objects.count() == 1
    motor = Item.objects.get(sku="PP-MOTOR")
    assert stock_available(item_ids=[motor.pk]) == {motor.pk: Decimal(1)}
    assert_ledger_consistent()
