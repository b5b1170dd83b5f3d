"""Demo data for the inventory app (docs/demo-factory.md); called by `manage.py demo_data`
in dependency order. Idempotent: keyed by codes, opening stock posted once by posting key."""

from __future__ import annotations

from decimal import Decimal

from inventory.enums import BomStatus, Flushing
from inventory.models import Bom, Item, Location, Lot, UnitOfMeasure, Warehouse
from inventory.services import DocumentRef, PostingLine, bom_create, stock_post

D = Decimal
UNITS = [("pcs", "Pieces", 0), ("kg", "Kilogram", 3), ("m", "Metre", 3), ("l", "Litre", 3)]
LOCATIONS = [
    ("RM-STORE", "Raw materials and purchased parts", False),
    ("WIP-LINE1", "Line-side stock, assembly line 1", False),
    ("FG-STORE", "Finished goods", False),
    ("SCRAP", "Scrap", True),
]
# sku, name, type, uom, procurement, strategy, lot, standard cost
ITEMS = [
    ("FG-1000", "City bike", "finished", "pcs", "make", "MTS", False, "310.00"),
    ("FG-2000", "Cargo bike", "finished", "pcs", "make", "MTO", False, "720.00"),
    ("FG-3000", "Custom e-bike", "finished", "pcs", "make", "ETO", False, "1450.00"),
    ("FG-4000", "Kids bike (configured)", "finished", "pcs", "make", "ATO", False, "180.00"),
    ("SA-100", "Frame, welded and painted", "semi_finished", "pcs", "make", "MTS", True, "95.00"),
    ("SA-110", "Cargo frame", "semi_finished", "pcs", "make", "MTO", True, "260.00"),
    ("SA-200", "Wheel, built", "semi_finished", "pcs", "make", "MTS", False, "38.00"),
    ("SA-300", "Drivetrain kit (phantom)", "semi_finished", "pcs", "make", "MTS", False, "41.00"),
    ("RM-STEEL", "Steel tube 28 mm", "raw", "m", "buy", "MTS", True, "6.50"),
    ("RM-PAINT", "Powder coat", "raw", "kg", "buy", "MTS", True, "12.00"),
    ("PP-RIM", 'Rim 28"', "purchased", "pcs", "buy", "MTS", False, "9.00"),
    ("PP-SPOKE", "Spoke", "purchased", "pcs", "buy", "MTS", False, "0.20"),
    ("PP-HUB", "Hub", "purchased", "pcs", "buy", "MTS", False, "11.00"),
    ("PP-TIRE", 'Tire 28"', "purchased", "pcs", "buy", "MTS", False, "8.00"),
    ("PP-CHAIN", "Chain", "purchased", "pcs", "buy", "MTS", False, "14.00"),
    ("PP-PEDAL", "Pedal pair", "purchased", "pcs", "buy", "MTS", False, "12.00"),
    ("PP-CRANK", "Crankset", "purchased", "pcs", "buy", "MTS", False, "15.00"),
    ("PP-SADDLE", "Saddle", "purchased", "pcs", "buy", "MTS", False, "16.00"),
    ("PP-HANDLEBAR", "Handlebar", "purchased", "pcs", "buy", "MTS", False, "13.00"),
    ("PP-MOTOR", "Hub motor kit", "purchased", "pcs", "buy", "MTS", True, "380.00"),
    ("PP-BOX", "Cargo box", "purchased", "pcs", "buy", "MTS", False, "120.00"),
]
B, M = Flushing.BACKWARD, Flushing.MANUAL
# parent -> (component, qty, scrap %, phantom, op, flushing); sub-assemblies first.
BOMS: dict[str, list[tuple]] = {
    "SA-100": [("RM-STEEL", "4.2", "5", False, 10, B), ("RM-PAINT", "0.4", "0", False, 30, B)],
    "SA-110": [("RM-STEEL", "7.5", "5", False, 10, B), ("RM-PAINT", "0.8", "0", False, 30, B)],
    "SA-200": [
        ("PP-RIM", "1", "0", False, 10, B),
        ("PP-SPOKE", "36", "2", False, 10, B),
        ("PP-HUB", "1", "0", False, 10, B),
        ("PP-TIRE", "1", "0", False, 10, B),
    ],
    "SA-300": [
        ("PP-CHAIN", "1", "0", False, None, B),
        ("PP-CRANK", "1", "0", False, None, B),
        ("PP-PEDAL", "1", "0", False, None, B),
    ],
    "FG-1000": [
        ("SA-100", "1", "0", False, 10, B),
        ("SA-200", "2", "0", False, 10, B),
        ("SA-300", "1", "0", True, 10, B),
        ("PP-SADDLE", "1", "0", False, 20, B),
        ("PP-HANDLEBAR", "1", "0", False, 20, B),
    ],
    "FG-2000": [
        ("SA-110", "1", "0", False, 10, B),
        ("SA-200", "3", "0", False, 10, B),
        ("SA-300", "1", "0", True, None, B),
        ("PP-BOX", "1", "0", False, 20, B),
        ("PP-SADDLE", "1", "0", False, 20, B),
    ],
    "FG-3000": [
        ("SA-100", "1", "0", False, None, M),
        ("SA-200", "2", "0", False, None, M),
        ("SA-300", "1", "0", True, None, M),
        ("PP-MOTOR", "1", "0", False, None, M),
        ("PP-SADDLE", "1", "0", False, None, M),
        ("PP-HANDLEBAR", "1", "0", False, None, M),
    ],
    "FG-4000": [
        ("SA-200", "2", "0", False, None, M),
        ("PP-SADDLE", "1", "0", False, None, M),
        ("PP-HANDLEBAR", "1", "0", False, None, M),
        ("PP-PEDAL", "1", "0", False, None, M),
    ],
}
LOTS = [("RM-STEEL", "ST-2401"), ("RM-STEEL", "ST-2402"), ("RM-PAINT", "PC-2401"), ("RM-PAINT", "PC-2402"),
        ("SA-100", "FR-0001"), ("PP-MOTOR", "MO-0001")]  # fmt: skip
# sku, location, quantity, lot: enough purchased parts for ~20 bikes; PP-MOTOR short (1).
STOCK = [
    ("PP-RIM", "RM-STORE", "50", None), ("PP-SPOKE", "RM-STORE", "1800", None), ("PP-HUB", "RM-STORE", "50", None),
    ("PP-TIRE", "RM-STORE", "50", None), ("PP-CHAIN", "RM-STORE", "25", None), ("PP-PEDAL", "RM-STORE", "25", None),
    ("PP-CRANK", "RM-STORE", "25", None), ("PP-SADDLE", "RM-STORE", "25", None),
    ("PP-HANDLEBAR", "RM-STORE", "25", None), ("PP-BOX", "RM-STORE", "5", None),
    ("PP-MOTOR", "RM-STORE", "1", "MO-0001"),
    ("RM-STEEL", "RM-STORE", "60", "ST-2401"), ("RM-STEEL", "RM-STORE", "50", "ST-2402"),
    ("RM-PAINT", "RM-STORE", "6", "PC-2401"), ("RM-PAINT", "RM-STORE", "5", "PC-2402"),
    ("SA-200", "RM-STORE", "10", None), ("SA-100", "RM-STORE", "4", "FR-0001"),
    ("FG-1000", "FG-STORE", "5", None),
]  # fmt: skip
OPENING_KEY = "demo:opening-stock"


def load() -> None:
    units = {code: UnitOfMeasure.objects.get_or_create(code=code, defaults={"name": n, "decimals": d})[0]
             for code, n, d in UNITS}  # fmt: skip
    warehouse, _ = Warehouse.objects.get_or_create(code="MAIN", defaults={"name": "Main plant"})
    locations = {
        code: Location.objects.get_or_create(
            code=code, defaults={"warehouse": warehouse, "name": name, "allow_negative": negative}
        )[0]
        for code, name, negative in LOCATIONS
    }
    items = {}
    for sku, name, item_type, uom, procurement, strategy, lot, cost in ITEMS:
        items[sku], _ = Item.objects.get_or_create(
            sku=sku,
            defaults={
                "name": name, "item_type": item_type, "uom": units[uom], "procurement": procurement,
                "strategy": strategy, "lot_tracked": lot, "standard_cost": D(cost), "lead_time_days": 5,
            },
        )  # fmt: skip
    lots = {number: Lot.objects.get_or_create(item=items[sku], lot_number=number)[0] for sku, number in LOTS}
    for parent, lines in BOMS.items():
        if Bom.objects.filter(item=items[parent], version=1).exists():
            continue
        bom_create(
            item_id=items[parent].pk,
            version=1,
            status=BomStatus.ACTIVE,
            user=None,
            lines=[
                {
                    "component_id": items[c].pk,
                    "quantity": D(q),
                    "scrap_percent": D(s),
                    "phantom": ph,
                    "operation_sequence": op,
                    "flushing": fl,
                }
                for c, q, s, ph, op, fl in lines
            ],
        )
    # Opening balances go through the ledger like any receipt; the key makes a re-run a no-op.
    stock_post(
        movement_type="receipt",
        lines=[
            PostingLine(
                item_id=items[sku].pk,
                location_id=locations[loc].pk,
                quantity=D(qty),
                lot_id=lots[lot].pk if lot else None,
            )
            for sku, loc, qty, lot in STOCK
        ],
        reference=DocumentRef(document_type="opening_stock", document_id=1, document_number="OPENING"),
        user=None,
        posting_key=OPENING_KEY,
        note="Demo opening balances",
    )
