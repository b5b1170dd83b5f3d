"""The engine nets in integer units of 10^-4; the Decimal explosion stays as the reference
it must agree with, rounding included."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from planning.mrp import engine
from planning.mrp.engine import BomData, BomLineData, ItemData, Snapshot

TODAY = dt.date(2026, 3, 2)


def _snapshot(rnd: random.Random) -> Snapshot:
    """A parent (item 1) over components 2..6; component 6 is sometimes a phantom with its
    own BOM over 7 and 8; base quantities and scrap vary."""
    items = {i: ItemData(i, f"I{i}", i in (1, 6), 0, 1) for i in range(1, 9)}

    def qty() -> Decimal:
        return Decimal(rnd.choice(["1", "2", "0.5", "0.3333", "3", "0", "1.25", "7.0001"]))

    def scrap() -> Decimal:
        return Decimal(rnd.choice(["0", "0", "2", "10", "0.125", "33.333"]))

    lines = tuple(
        BomLineData(rnd.choice([2, 3, 4, 5, 6]), qty(), scrap(), rnd.random() < 0.3) for _ in range(rnd.randint(1, 6))
    )
    base = Decimal(rnd.choice(["1", "1.0000", "1", "2", "0.5", "3"]))
    boms = {
        1: [BomData(1, 1, None, None, base, lines)],
        6: [BomData(6, 1, None, None, Decimal(rnd.choice(["1", "4"])), (BomLineData(7, qty(), scrap(), False),))],
    }
    return Snapshot(TODAY, items, boms, {}, {}, {}, {})


@pytest.mark.parametrize("seed", range(200))
def test_planning_run_explode_in_units_matches_the_decimal_reference(seed):
    # given a random BOM (phantoms, base quantities, scrap) and a random order quantity
    rnd = random.Random(seed)
    snapshot = _snapshot(rnd)
    units = rnd.choice([1, 3, 10_000, 12_345, 7_000_000, 10**14])
    # when it is exploded in units and in Decimal
    planner = engine._Planner(snapshot)
    in_units = planner.explode(planner.items[1], units, TODAY.toordinal())
    reference = engine.explode(snapshot, 1, engine.from_units(units), TODAY)
    # then the same components come out, in the same order, rounded up alike
    assert in_units == [(c, engine.to_units(engine.ceil_q(q))) for c, q in reference.items()]


def test_planning_run_units_text_is_the_decimal_text():
    # given quantities in units
    for units in (0, 1, 9_999, 10_000, 123_456_789, 10**17 + 5):
        # then their COPY/message text is that of the rounded Decimal
        assert engine.units_str(units) == str(engine.ceil_q(engine.from_units(units)))
    with pytest.raises(ValueError, match="decimal places"):
        engine.to_units(Decimal("1.00005"))
