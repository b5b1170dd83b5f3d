"""The ledger's references, checked once per statement (``config.foreign_keys``), keep the
guarantees of PostgreSQL foreign keys: a movement cannot point at a missing row, a row the
ledger points at cannot be deleted or re-keyed, and a delete racing an insert loses."""

import threading
import time
from decimal import Decimal

import psycopg2
import pytest
from django.db import IntegrityError, connection, transaction

from inventory.models import Item, Location, Lot, Reservation, StockMovement
from inventory.services import DocumentRef, reservation_create
from tests.inventory.factories import ItemFactory, LocationFactory, LotFactory
from tests.inventory.helpers import receive

REF = DocumentRef(document_type="production_order", document_id=11, document_number="PO-11")


def _movement_values(posting_id: int, item_id: int, location_id: int, **extra) -> dict:
    return {
        "posting_id": posting_id,
        "movement_type": "receipt",
        "item_id": item_id,
        "location_id": location_id,
        "quantity": Decimal("1"),
        "unit_cost": Decimal("0"),
        "value": Decimal("0"),
        "posted_at": "2026-11-25T08:00:00Z",
        **extra,
    }


def _insert_movements(rows: list[dict]) -> None:
    columns = list(dict.fromkeys(c for row in rows for c in row))
    values = ", ".join("(" + ", ".join(["%s"] * len(columns)) + ")" for _ in rows)
    params = [row.get(c) for row in rows for c in columns]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO inventory_stockmovement ({', '.join(columns)}) VALUES {values}",  # noqa: S608 - test columns
            params,
        )


def _execute(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def stocked(db):
    item, location = ItemFactory(), LocationFactory()
    posting = receive(item, location, 5)
    return item, location, posting


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("column", "bad_key"),
    [
        ("posting_id", {"posting_id": 987654321}),
        ("item_id", {"item_id": 987654321}),
        ("location_id", {"location_id": 987654321}),
        ("lot_id", {"lot_id": 987654321}),
        ("reservation_id", {"reservation_id": 987654321}),
        ("reverses_id", {"reverses_id": 987654321}),
    ],
)
def test_movement_insert_naming_a_missing_row_is_refused_and_names_the_reference(stocked, column, bad_key):
    # given: a good row and a row pointing at a key that does not exist, in one statement
    item, location, posting = stocked
    good = _movement_values(posting.pk, item.pk, location.pk)
    bad = {**good, **bad_key}
    before = StockMovement.objects.count()
    # when / then: the whole statement is refused, naming the reference and the key
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        _insert_movements([good, bad])
    assert column in str(exc.value) and "987654321" in str(exc.value)
    assert StockMovement.objects.count() == before


@pytest.mark.ledger_may_disagree  # inserts movement rows directly, without their balances
@pytest.mark.django_db
def test_movement_insert_with_existing_references_of_every_kind_is_accepted(stocked):
    # given: a lot, a reservation and an earlier movement to reverse
    item, location, posting = stocked
    lot = LotFactory(item=item)
    reservation = reservation_create(
        item_id=item.pk, location_id=location.pk, quantity=Decimal("1"), reference=REF, user=None
    )
    earlier = posting.movements.get()
    row = _movement_values(
        posting.pk, item.pk, location.pk, lot_id=lot.pk, reservation_id=reservation.pk, reverses_id=earlier.pk
    )
    # when
    _insert_movements([row, {**row, "reverses_id": None}])
    # then
    assert StockMovement.objects.filter(posting=posting).count() == 3


@pytest.mark.ledger_may_disagree  # inserts movement rows directly, without their balances
@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["item", "location", "lot", "reservation"])
def test_deleting_or_rekeying_a_row_the_ledger_points_at_is_refused(stocked, kind):
    # given: a movement pointing at an item, a location, a lot and a reservation
    item, location, posting = stocked
    lot = LotFactory(item=item)
    reservation = reservation_create(
        item_id=item.pk, location_id=location.pk, quantity=Decimal("1"), reference=REF, user=None
    )
    _insert_movements(
        [_movement_values(posting.pk, item.pk, location.pk, lot_id=lot.pk, reservation_id=reservation.pk)]
    )
    target = {"item": item, "location": location, "lot": lot, "reservation": reservation}[kind]
    table = type(target)._meta.db_table
    # when / then: neither a delete nor a change of its id gets past the database
    with pytest.raises(IntegrityError, match=f" {table} violates a reference"), transaction.atomic():
        _execute(f"DELETE FROM {table} WHERE id = %s", [target.pk])  # noqa: S608 - model table
    with pytest.raises(IntegrityError, match=rf" {table}\.id violates a reference"), transaction.atomic():
        _execute(f"UPDATE {table} SET id = id + 1000000 WHERE id = %s", [target.pk])  # noqa: S608
    assert type(target).objects.filter(pk=target.pk).exists()


@pytest.mark.django_db
def test_rows_the_ledger_does_not_point_at_can_still_be_deleted():
    # given: master data never used in a posting
    item, location = ItemFactory(), LocationFactory()
    lot = LotFactory(item=item)
    # when
    lot.delete()
    item.delete()
    location.delete()
    # then
    assert not Item.objects.filter(pk=item.pk).exists() and not Location.objects.filter(pk=location.pk).exists()
    assert not Lot.objects.filter(pk=lot.pk).exists()
    assert not Reservation.objects.exists()


def _raw_connection():
    settings = connection.settings_dict
    return psycopg2.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"],
    )


@pytest.mark.ledger_may_disagree  # inserts movement rows directly, without their balances
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["insert", "delete"])
def test_delete_racing_a_movement_insert_never_leaves_a_dangling_reference(first):
    # given: an item with stock's posting header but no movement for it yet
    item, location = ItemFactory(), LocationFactory()
    other = ItemFactory()
    posting = receive(other, location, 1)
    inserter, deleter = _raw_connection(), _raw_connection()
    row = _movement_values(posting.pk, item.pk, location.pk)
    insert_sql = (
        "INSERT INTO inventory_stockmovement (posting_id, movement_type, item_id, location_id, quantity, "
        "unit_cost, value, posted_at) VALUES (%(posting_id)s, %(movement_type)s, %(item_id)s, "
        "%(location_id)s, %(quantity)s, %(unit_cost)s, %(value)s, %(posted_at)s)"
    )
    outcome: dict[str, object] = {}

    def second_step(conn, sql, params, name):
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
            conn.commit()
            outcome[name] = "committed"
        except psycopg2.Error as exc:
            conn.rollback()
            outcome[name] = exc.pgcode

    try:
        # when: one side does its write and holds its transaction open; the other starts
        # its conflicting write (which must wait), then the first commits
        if first == "insert":
            with inserter.cursor() as cursor:
                cursor.execute(insert_sql, row)
            waiter = threading.Thread(
                target=second_step, args=(deleter, "DELETE FROM inventory_item WHERE id = %s", [item.pk], "delete")
            )
        else:
            with deleter.cursor() as cursor:
                cursor.execute("DELETE FROM inventory_item WHERE id = %s", [item.pk])
            waiter = threading.Thread(target=second_step, args=(inserter, insert_sql, row, "insert"))
        waiter.start()
        time.sleep(0.3)
        assert waiter.is_alive(), "the conflicting write did not wait for the open transaction"
        (inserter if first == "insert" else deleter).commit()
        waiter.join(10)
        # then: the second writer lost with a foreign key violation, and nothing dangles
        assert outcome == {("delete" if first == "insert" else "insert"): "23503"}
    finally:
        inserter.close()
        deleter.close()
    dangling = StockMovement.objects.exclude(item_id__in=Item.objects.values("id")).count()
    assert dangling == 0
    assert Item.objects.filter(pk=item.pk).exists() == (first == "insert")
