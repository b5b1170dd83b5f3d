"""config.db.insert_parts / update_parts send what Django's own save() would send."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from config.db import insert_parts, update_parts
from production.models import Confirmation, OrderOperation, PostingOutbox


def _django_values(obj, names=None) -> list:
    """What save() sends for these fields (pre_save already applied to ``obj``); JSON
    adapters compared by the value they wrap."""
    fields = obj._meta.concrete_fields if names is None else [obj._meta.get_field(n) for n in names]
    return [_comparable(f.get_db_prep_save(getattr(obj, f.attname), connection)) for f in fields if not f.primary_key]


def _comparable(value):
    return ("json", value.adapted) if hasattr(value, "adapted") else value


@pytest.mark.parametrize(
    "values",
    [
        {},  # defaults
        {"good_quantity": Decimal("1.23456"), "final": True, "output_lot_number": "L-1", "posted_at": None},
        # Types save() converts: an int for a decimal, a string for a decimal, a naive datetime.
        {"good_quantity": 3, "scrap_quantity": "2.5", "confirmed_at": dt.datetime(2026, 1, 2, 3, 4, 5)},
        {"order_id": 7, "operation_id": 8, "work_center_id": 9, "operator_id": 1, "created_by_id": 1},
    ],
)
@pytest.mark.filterwarnings("ignore:DateTimeField Confirmation.confirmed_at received a naive datetime")
def test_insert_parts_sends_what_save_would(values):
    # Given a confirmation as a service builds it
    obj = Confirmation(**{"confirmed_at": timezone.now(), "posting_error": {"shortages": [1]}, **values})
    # When its INSERT is prepared
    columns, params = insert_parts(obj)
    # Then every column but the id is there, valued as Django prepares it
    expected = _django_values(obj)
    assert obj.created_at is not None  # auto_now_add applied to the instance
    assert len(columns) == len(params) == len(expected) == len(Confirmation._meta.concrete_fields) - 1
    assert [_comparable(p) for p in params] == expected
    assert [type(p) for p in params] == [type(e) for e in (_raw(obj))]
    assert columns[0] == connection.ops.quote_name(Confirmation._meta.concrete_fields[1].column)


def _raw(obj) -> list:
    return [
        f.get_db_prep_save(getattr(obj, f.attname), connection) for f in obj._meta.concrete_fields if not f.primary_key
    ]


def test_insert_parts_excludes_and_prepares_json():
    outbox = PostingOutbox(payload={"receipt": "1"})
    columns, params = insert_parts(outbox, exclude=["confirmation_id"])
    assert connection.ops.quote_name("confirmation_id") not in columns
    payload = params[columns.index(connection.ops.quote_name("payload"))]
    assert _comparable(payload) == ("json", {"receipt": "1"})


def test_update_parts_sends_what_save_would():
    op = OrderOperation(confirmed_good=Decimal("2"), actual_start=timezone.now(), status="started")
    names = ["confirmed_good", "actual_start", "status"]
    assignments, params = update_parts(op, names)
    assert assignments == ", ".join(f"{connection.ops.quote_name(op._meta.get_field(n).column)} = %s" for n in names)
    assert params == _django_values(op, names)
