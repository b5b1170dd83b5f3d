import datetime as dt
from decimal import Decimal

import pytest

from config.exceptions import ValidationFailed
from inventory.models import Item
from inventory.services import bom_create, bom_explode, bom_update, bom_where_used, low_level_codes_update
from tests.inventory.factories import BomFactory, BomLineFactory, ItemFactory

pytestmark = pytest.mark.django_db


def make(parent, *lines, base=1, status="active"):
    return bom_create(
        item_id=parent.pk,
        status=status,
        base_quantity=Decimal(base),
        user=None,
        lines=[
            {"component_id": c.pk, "quantity": Decimal(q), "scrap_percent": Decimal(s), "phantom": ph}
            for c, q, s, ph in lines
        ],
    )


@pytest.fixture
def five_levels():
    top, a, b, c, d, e, f, p, by = (ItemFactory(sku=s) for s in ["TOP", "A", "B", "C", "D", "E", "F", "P", "BY"])
    make(d, (e, 5, 20, False))  # D is used as a phantom
    make(c, (d, 2, 0, True))
    make(b, (c, 3, 0, False))
    make(a, (b, 2, 5, False))
    make(p, (f, 2, 0, False))
    bom = make(top, (a, 4, 10, False), (p, 1, 0, True), (by, -1, 0, False), base=2)
    return bom


def test_bom_explode_five_levels_with_phantoms_scrap_and_by_product(five_levels):
    # when
    lines = bom_explode(bom_id=five_levels.pk, quantity=Decimal(10))
    # then: hand calculation, per (level, sku)
    #   A  = 10 / 2 x 4 x 1.10          = 22
    #   F  = 10 / 2 x 1 (phantom P) x 2 = 10      (P's components at P's level)
    #   BY = 10 / 2 x -1                = -5      (by-product, not exploded)
    #   B  = 22 x 2 x 1.05              = 46.2
    #   C  = 46.2 x 3                   = 138.6
    #   E  = 138.6 x 2 (phantom D) x 5 x 1.20 = 1663.2
    got = {(ln.level, ln.sku): ln.quantity for ln in lines}
    assert got == {
        (1, "A"): Decimal("22"),
        (1, "F"): Decimal("10"),
        (1, "BY"): Decimal("-5"),
        (2, "B"): Decimal("46.2"),
        (3, "C"): Decimal("138.6"),
        (4, "E"): Decimal("1663.2"),
    }


def test_bom_explode_is_set_based(five_levels, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        bom_explode(bom_id=five_levels.pk, quantity=Decimal(1))


def test_bom_explode_refuses_inactive_bom():
    bom = BomFactory(status="draft")
    with pytest.raises(ValidationFailed) as exc:
        bom_explode(bom_id=bom.pk, quantity=Decimal(1))
    assert exc.value.code == "bom_not_active" and "bom" in exc.value.fields
    expired = BomFactory(valid_to=dt.date(2020, 1, 1))
    with pytest.raises(ValidationFailed):
        bom_explode(bom_id=expired.pk, quantity=Decimal(1))


def test_bom_explode_uses_bom_valid_on_date():
    top, old, new = ItemFactory(), ItemFactory(sku="OLD"), ItemFactory(sku="NEW")
    sub = ItemFactory(sku="SUB")
    BomLineFactory(bom=BomFactory(item=sub, version=1, valid_to=dt.date(2024, 12, 31)), component=old)
    BomLineFactory(bom=BomFactory(item=sub, version=2, valid_from=dt.date(2025, 1, 1)), component=new)
    bom = make(top, (sub, 1, 0, False))
    skus = {ln.sku for ln in bom_explode(bom_id=bom.pk, quantity=Decimal(1), on_date=dt.date(2024, 6, 1))}
    assert skus == {"SUB", "OLD"}
    skus = {ln.sku for ln in bom_explode(bom_id=bom.pk, quantity=Decimal(1), on_date=dt.date(2025, 6, 1))}
    assert skus == {"SUB", "NEW"}


def test_bom_create_refuses_component_equal_to_parent():
    item = ItemFactory(sku="FG-1")
    with pytest.raises(ValidationFailed) as exc:
        make(item, (item, 1, 0, False))
    assert exc.value.code == "bom_cycle" and "lines[0].component" in exc.value.fields


def test_bom_create_refuses_cycle_at_any_depth_showing_path():
    fg, sa, rm = ItemFactory(sku="FG-1"), ItemFactory(sku="SA-1"), ItemFactory(sku="RM-1")
    make(fg, (sa, 1, 0, False))
    make(sa, (rm, 1, 0, False), status="draft")
    with pytest.raises(ValidationFailed) as exc:
        make(rm, (fg, 1, 0, False))
    assert exc.value.code == "bom_cycle"
    assert "RM-1 → FG-1 → SA-1 → RM-1" in exc.value.message


def test_bom_update_refuses_lines_that_close_a_cycle():
    fg, sa = ItemFactory(sku="FG-1"), ItemFactory(sku="SA-1")
    make(fg, (sa, 1, 0, False))
    sa_bom = make(sa, (ItemFactory(), 1, 0, False))
    with pytest.raises(ValidationFailed) as exc:
        bom_update(bom_id=sa_bom.pk, user=None, lines=[{"component_id": fg.pk, "quantity": Decimal(1)}])
    assert "SA-1 → FG-1 → SA-1" in exc.value.message


def test_bom_where_used_lists_every_level(five_levels):
    e = Item.objects.get(sku="E")
    used = [(w.level, w.sku) for w in bom_where_used(item_id=e.pk)]
    assert used == [(1, "D"), (2, "C"), (3, "B"), (4, "A"), (5, "TOP")]


def test_low_level_codes_follow_deepest_use(five_levels):
    low_level_codes_update()
    codes = dict(Item.objects.values_list("sku", "low_level_code"))
    assert codes["TOP"] == 0 and codes["A"] == 1 and codes["E"] == 5 and codes["F"] == 2 and codes["BY"] == 1
