"""What-if parameters of a simulation run, validated on start and applied to the snapshot in
memory (the database is never changed by a simulation).

``{"extra_demand": [{"item": 7, "quantity": "40", "date": "2026-03-02"}],
   "stock": {"7": "-10"},            # change of available on hand per item
   "lead_times": {"9": 12}}          # lead_time_days per item"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from config.exceptions import ValidationFailed
from config.fields import QTY_PLACES, ZERO
from planning.mrp.engine import Snapshot
from planning.mrp.sources import Demand

KEYS = {"extra_demand", "stock", "lead_times"}


def _decimal(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"{field} must be a number.", fields={field: "not a number"}) from None
    # Quantities are stored, and planned, in units of 10^-4; a finer what-if has no meaning.
    if not number.is_finite() or number.normalize().as_tuple().exponent < -QTY_PLACES:
        raise ValidationFailed(
            f"{field} must be a number with at most {QTY_PLACES} decimal places.", fields={field: "too precise"}
        )
    return number


def _item_id(value: Any, field: str, known: set[int]) -> int:
    try:
        item_id = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{field} must be an item id.", fields={field: "not an item id"}) from None
    if item_id not in known:
        raise ValidationFailed(f"{field}: item {item_id} does not exist.", fields={field: "unknown item"})
    return item_id


def scenario_validate(raw: Any, *, known_items: set[int]) -> dict:
    """Normalize the JSON parameters or raise a 400 naming the field."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValidationFailed("simulation must be an object.", fields={"simulation": "not an object"})
    unknown = set(raw) - KEYS
    if unknown:
        raise ValidationFailed(
            f"Unknown simulation keys: {', '.join(sorted(unknown))}.", fields={"simulation": "unknown keys"}
        )
    out: dict[str, Any] = {"extra_demand": [], "stock": {}, "lead_times": {}}
    for index, row in enumerate(raw.get("extra_demand") or []):
        prefix = f"simulation.extra_demand[{index}]"
        if not isinstance(row, dict):
            raise ValidationFailed(f"{prefix} must be an object.", fields={prefix: "not an object"})
        qty = _decimal(row.get("quantity"), f"{prefix}.quantity")
        if qty <= 0:
            raise ValidationFailed(f"{prefix}.quantity must be positive.", fields={f"{prefix}.quantity": "not > 0"})
        try:
            day = dt.date.fromisoformat(str(row.get("date")))
        except ValueError:
            raise ValidationFailed(f"{prefix}.date must be YYYY-MM-DD.", fields={f"{prefix}.date": "invalid"}) from None
        item_id = _item_id(row.get("item"), f"{prefix}.item", known_items)
        out["extra_demand"].append({"item": item_id, "quantity": str(qty), "date": day.isoformat()})
    for key, value in (raw.get("stock") or {}).items():
        item_id = _item_id(key, f"simulation.stock.{key}", known_items)
        out["stock"][str(item_id)] = str(_decimal(value, f"simulation.stock.{key}"))
    for key, value in (raw.get("lead_times") or {}).items():
        item_id = _item_id(key, f"simulation.lead_times.{key}", known_items)
        if not isinstance(value, int) or value < 0:
            raise ValidationFailed(
                f"simulation.lead_times.{key} must be a whole number of days >= 0.",
                fields={f"simulation.lead_times.{key}": "invalid"},
            )
        out["lead_times"][str(item_id)] = value
    return out


def scenario_apply(snapshot: Snapshot, scenario: dict) -> None:
    for index, row in enumerate(scenario.get("extra_demand", [])):
        item_id = int(row["item"])
        snapshot.demands.setdefault(item_id, []).append(
            Demand(
                item_id, Decimal(row["quantity"]), dt.date.fromisoformat(row["date"]), "simulation", index, "what-if"
            )
        )
    for key, delta in scenario.get("stock", {}).items():
        item_id = int(key)
        snapshot.on_hand[item_id] = snapshot.on_hand.get(item_id, ZERO) + Decimal(delta)
    for key, days in scenario.get("lead_times", {}).items():
        if int(key) in snapshot.items:
            snapshot.items[int(key)].lead_time_days = int(days)
