from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from config.exceptions import InsufficientStock, StateConflict, ValidationFailed
from inventory.models import Reservation, StockBalance, StockMovement, StockPosting
from inventory.selectors import stock_available, stock_ledger_check
from inventory.services import (
    DocumentRef,
    PostingLine,
    quantity_to_base,
    reservation_create,
    reservations_release,
    stock_post,
    stock_posting_reverse,
    stock_transfer,
)
from tests.inventory.factories import ItemFactory, ItemUnitConversionFactory, LocationFactory, LotFactory
from tests.inventory.helpers import assert_ledger_consistent, receive

REF = DocumentRef(document_type="production_order", document_id=7, document_number="PO-7")
pytestmark = pytest.mark.django_db


def issue(item, location, qty, **kw):
    return stock_post(
        movement_type="issue",
        lines=[PostingLine(item_id=item.pk, location_id=location.pk, quantity=-Decimal(qty), **kw)],
        reference=REF,
        user=None,
    )


def balance(item, location, lot=None):
    return StockBalance.objects.get(item=item, location=location, lot=lot)


def test_stock_post_receipt_and_issue_update_balance_and_ledger():
    # given
    item, loc = ItemFactory(standard_cost=Decimal("3")), LocationFactory()
    # when
    receive(item, loc, 10)
    posting = issue(item, loc, 4)
    # then
    assert balance(item, loc).on_hand == 6
    movement = posting.movements.get()
    assert movement.quantity == -4 and movement.value == Decimal("-12") and movement.unit_cost == 3
    assert posting.document_type == "production_order" and posting.document_id == 7
    assert_ledger_consistent()


def test_stock_post_refuses_negative_on_hand_naming_item_location_needed_available():
    item, loc = ItemFactory(sku="PP-RIM"), LocationFactory(code="RM-STORE")
    receive(item, loc, 3)
    with pytest.raises(InsufficientStock) as exc:
        issue(item, loc, 5)
    assert "PP-RIM" in exc.value.message and "RM-STORE" in exc.value.message
    assert exc.value.fields["needed"] == ["5"] and exc.value.fields["available"] == ["3"]
    assert exc.value.status_code == 409
    assert balance(item, loc).on_hand == 3 and StockPosting.objects.count() == 1


def test_stock_post_allows_negative_where_location_allows():
    item, scrap = ItemFactory(), LocationFactory(allow_negative=True)
    issue(item, scrap, 2)
    assert balance(item, scrap).on_hand == -2
    assert_ledger_consistent()


def test_stock_post_batch_is_atomic():
    item, loc = ItemFactory(), LocationFactory()
    receive(item, loc, 1)
    other = ItemFactory()
    with pytest.raises(InsufficientStock):
        stock_post(
            movement_type="issue",
            lines=[
                PostingLine(item_id=item.pk, location_id=loc.pk, quantity=Decimal(-1)),
                PostingLine(item_id=other.pk, location_id=loc.pk, quantity=Decimal(-1)),
            ],
            reference=REF,
            user=None,
        )
    assert balance(item, loc).on_hand == 1 and StockMovement.objects.count() == 1


@pytest.mark.parametrize(
    ("movement_type", "qty", "code", "field"),
    [
        ("receipt", "0", "invalid_quantity", "lines[0].quantity"),
        ("receipt", "-1", "invalid_quantity", "lines[0].quantity"),
        ("issue", "1", "invalid_quantity", "lines[0].quantity"),
        ("receipt", "1.5", "too_many_decimals", "lines[0].quantity"),
        ("bogus", "1", "invalid_movement_type", "movement_type"),
    ],
)
def test_stock_post_bad_input_is_refused_and_writes_nothing(movement_type, qty, code, field):
    item, loc = ItemFactory(), LocationFactory()
    with pytest.raises(ValidationFailed) as exc:
        stock_post(
            movement_type=movement_type,
            lines=[PostingLine(item_id=item.pk, location_id=loc.pk, quantity=Decimal(qty))],
            reference=REF,
            user=None,
        )
    assert exc.value.code == code and field in exc.value.fields
    assert not StockPosting.objects.exists()


def test_stock_post_lot_rules():
    lot = LotFactory()
    plain, loc = ItemFactory(), LocationFactory()
    with pytest.raises(ValidationFailed) as exc:
        receive(lot.item, loc, 1)
    assert exc.value.code == "lot_required"
    with pytest.raises(ValidationFailed) as exc:
        receive(plain, loc, 1, lot=lot)
    assert exc.value.code == "lot_not_allowed"
    receive(lot.item, loc, 2, lot=lot)
    assert balance(lot.item, loc, lot).on_hand == 2


def test_stock_post_same_posting_key_posts_once():
    item, loc = ItemFactory(), LocationFactory()
    line = PostingLine(item_id=item.pk, location_id=loc.pk, quantity=Decimal(5))
    first = stock_post(movement_type="receipt", lines=[line], reference=REF, user=None, posting_key="conf-1")
    again = stock_post(movement_type="receipt", lines=[line], reference=REF, user=None, posting_key="conf-1")
    assert first.pk == again.pk and StockMovement.objects.count() == 1 and balance(item, loc).on_hand == 5


def test_stock_transfer_moves_between_locations():
    item, a, b = ItemFactory(), LocationFactory(), LocationFactory()
    receive(item, a, 5)
    stock_transfer(
        item_id=item.pk,
        from_location_id=a.pk,
        to_location_id=b.pk,
        quantity=Decimal(2),
        reference=REF,
        user=None,
    )
    assert balance(item, a).on_hand == 3 and balance(item, b).on_hand == 2
    with pytest.raises(ValidationFailed):
        stock_transfer(
            item_id=item.pk,
            from_location_id=a.pk,
            to_location_id=a.pk,
            quantity=Decimal(1),
            reference=REF,
            user=None,
        )


def test_stock_posting_reverse_writes_opposite_rows_once():
    item, loc = ItemFactory(), LocationFactory()
    posting = receive(item, loc, 5)
    reversal = stock_posting_reverse(posting_id=posting.pk, user=None, reason="wrong item")
    assert balance(item, loc).on_hand == 0
    assert reversal.reversal_of_id == posting.pk
    assert reversal.movements.get().reverses_id == posting.movements.get().pk
    with pytest.raises(StateConflict) as exc:
        stock_posting_reverse(posting_id=posting.pk, user=None, reason="again")
    assert exc.value.code == "already_reversed"
    with pytest.raises(StateConflict) as exc:
        stock_posting_reverse(posting_id=reversal.pk, user=None, reason="undo")
    assert exc.value.code == "reversal_of_reversal"
    assert_ledger_consistent()


def test_stock_posting_reverse_of_consumed_receipt_is_insufficient():
    item, loc = ItemFactory(), LocationFactory()
    posting = receive(item, loc, 5)
    issue(item, loc, 4)
    with pytest.raises(InsufficientStock):
        stock_posting_reverse(posting_id=posting.pk, user=None, reason="late")


def test_reservation_create_and_issue_consumes_it():
    item, loc = ItemFactory(), LocationFactory()
    receive(item, loc, 10)
    res = reservation_create(item_id=item.pk, location_id=loc.pk, quantity=Decimal(6), reference=REF, user=None)
    assert balance(item, loc).reserved == 6
    assert stock_available(item_ids=[item.pk]) == {item.pk: Decimal(4)}
    with pytest.raises(InsufficientStock):
        reservation_create(item_id=item.pk, location_id=loc.pk, quantity=Decimal(5), reference=REF, user=None)
    issue(item, loc, 4, reservation_id=res.pk)
    res.refresh_from_db()
    assert res.consumed_quantity == 4 and res.status == "open" and balance(item, loc).reserved == 2
    issue(item, loc, 3, reservation_id=res.pk)
    res.refresh_from_db()
    assert res.status == "closed" and balance(item, loc).reserved == 0 and balance(item, loc).on_hand == 3
    assert_ledger_consistent()


def test_reservation_create_allow_shortage_and_release():
    item, loc = ItemFactory(), LocationFactory()
    reservation_create(
        item_id=item.pk,
        location_id=loc.pk,
        quantity=Decimal(3),
        reference=REF,
        user=None,
        allow_shortage=True,
    )
    reservation_create(
        item_id=item.pk,
        location_id=loc.pk,
        quantity=Decimal(2),
        reference=REF,
        user=None,
        allow_shortage=True,
    )
    assert stock_available(item_ids=[item.pk]) == {item.pk: Decimal(-5)}
    assert reservations_release(document_type="production_order", document_id=7, user=None) == 2
    assert balance(item, loc).reserved == 0 and not Reservation.objects.filter(status="open").exists()
    assert_ledger_consistent()


def test_quantity_to_base_converts_or_refuses():
    conversion = ItemUnitConversionFactory(factor=Decimal(12))
    assert quantity_to_base(item_id=conversion.item_id, quantity=Decimal(2), uom_code="box") == 24
    assert quantity_to_base(item_id=conversion.item_id, quantity=Decimal(2), uom_code="pcs") == 2
    with pytest.raises(ValidationFailed) as exc:
        quantity_to_base(item_id=ItemFactory().pk, quantity=Decimal(2), uom_code="box")
    assert exc.value.code == "no_unit_conversion" and "uom" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        quantity_to_base(item_id=conversion.item_id, quantity=Decimal(2), uom_code="nope")
    assert exc.value.code == "unknown_unit"


@pytest.mark.parametrize("table", ["inventory_stockmovement", "inventory_stockposting"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET document_line_id = 1", "DELETE FROM {t}"])
def test_ledger_rows_refuse_update_and_delete_in_the_database(table, statement):
    item, loc = ItemFactory(), LocationFactory()
    receive(item, loc, 1)
    if table == "inventory_stockposting":
        statement = statement.replace("document_line_id = 1", "note = 'x'")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement.format(t=table))
    assert StockMovement.objects.count() == 1


@pytest.mark.ledger_may_disagree  # breaks a balance on purpose
def test_stock_check_command_reports_differences_with_exit_code_1(capsys):
    item, loc = ItemFactory(sku="DRIFT"), LocationFactory()
    receive(item, loc, 5)
    call_command("stock_check")
    StockBalance.objects.filter(item=item).update(on_hand=7)  # simulate drift
    assert len(stock_ledger_check()) == 1
    with pytest.raises(SystemExit) as exc:
        call_command("stock_check")
    assert exc.value.code == 1
    assert "DRIFT" in capsys.readouterr().out


def test_an_issue_may_not_take_stock_reserved_for_another_document():
    from inventory.services import reservation_create

    user = None
    item = ItemFactory(lot_tracked=True)
    location = LocationFactory()
    lot = LotFactory(item=item)
    receive(item, location, 10, lot=lot)
    other = reservation_create(
        item_id=item.pk,
        location_id=location.pk,
        quantity=Decimal(8),
        reference=DocumentRef(document_type="sales_order", document_id=1),
        user=user,
    )
    mine = reservation_create(
        item_id=item.pk,
        location_id=location.pk,
        quantity=Decimal(2),
        reference=DocumentRef(document_type="production_order", document_id=2),
        user=user,
    )

    with pytest.raises(InsufficientStock) as error:
        stock_post(
            movement_type="issue",
            lines=[PostingLine(item_id=item.pk, location_id=location.pk, lot_id=lot.pk, quantity=Decimal(-1))],
            reference=DocumentRef(document_type="test", document_id=3),
            user=user,
        )
    assert "reserved for other documents" in error.value.message
    # Consuming one's own reservation is fine, across lots.
    stock_post(
        movement_type="issue",
        lines=[
            PostingLine(
                item_id=item.pk, location_id=location.pk, lot_id=lot.pk, quantity=Decimal(-2), reservation_id=mine.pk
            )
        ],
        reference=DocumentRef(document_type="production_order", document_id=2),
        user=user,
    )
    assert other.quantity == Decimal(8)
    assert_ledger_consistent()


def test_a_reversed_issue_reserves_again_what_its_document_asks_for_and_no_more():
    from inventory.services import ReserveAgain

    # Given a reservation of 6, fully consumed by an issue of 6, and one of 4 partly consumed
    item, loc = ItemFactory(), LocationFactory()
    receive(item, loc, 10)
    full = reservation_create(item_id=item.pk, location_id=loc.pk, quantity=Decimal(6), reference=REF, user=None)
    posting = issue(item, loc, 6, reservation_id=full.pk)
    full.refresh_from_db()
    assert (full.status, full.consumed_quantity) == ("closed", Decimal(6))

    # When the issue is reversed, reserving again at most 6 but leaving it open for at most 5
    stock_posting_reverse(
        posting_id=posting.pk,
        user=None,
        reason="wrong order",
        reserve_again=[ReserveAgain(reservation_id=full.pk, quantity=Decimal(6), open_at_most=Decimal(5))],
    )

    # Then it is open again for 5, and the balance says so
    full.refresh_from_db()
    assert (full.status, full.consumed_quantity) == ("open", Decimal(1))
    assert balance(item, loc).reserved == Decimal(5)
    assert balance(item, loc).on_hand == Decimal(10)
    assert_ledger_consistent()


def test_reserving_again_stock_a_reversal_does_not_put_back_is_refused_and_a_released_reservation_stays_released():
    from inventory.services import ReserveAgain

    item, other, loc = ItemFactory(), ItemFactory(), LocationFactory()
    receive(item, loc, 10)
    receive(other, loc, 10)
    res = reservation_create(item_id=other.pk, location_id=loc.pk, quantity=Decimal(3), reference=REF, user=None)
    posting = issue(item, loc, 2)

    with pytest.raises(ValidationFailed) as error:
        stock_posting_reverse(
            posting_id=posting.pk,
            user=None,
            reason="x",
            reserve_again=[ReserveAgain(reservation_id=res.pk, quantity=Decimal(2), open_at_most=Decimal(3))],
        )
    assert error.value.code == "reservation_mismatch"

    released = reservation_create(item_id=item.pk, location_id=loc.pk, quantity=Decimal(4), reference=REF, user=None)
    issue_2 = issue(item, loc, 1, reservation_id=released.pk)
    reservations_release(document_type=REF.document_type, document_id=REF.document_id, user=None)
    stock_posting_reverse(
        posting_id=issue_2.pk,
        user=None,
        reason="x",
        reserve_again=[ReserveAgain(reservation_id=released.pk, quantity=Decimal(1), open_at_most=Decimal(4))],
    )
    released.refresh_from_db()
    assert (released.status, released.consumed_quantity) == ("closed", Decimal(1))
    assert balance(item, loc).reserved == 0
    assert_ledger_consistent()
