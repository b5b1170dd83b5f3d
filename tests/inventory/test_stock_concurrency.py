"""Real parallel transactions on Postgres: no lost update, no oversell, no deadlock."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from config.exceptions import InsufficientStock
from inventory.models import StockBalance, StockMovement
from inventory.services import DocumentRef, PostingLine, stock_post, stock_transfer
from tests.inventory.factories import ItemFactory, LocationFactory
from tests.inventory.helpers import assert_ledger_consistent, receive

THREADS = 8


def run_in_threads(work) -> list:
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def runner(n: int) -> None:
        try:
            barrier.wait()
            work(n)
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return errors


@pytest.mark.django_db(transaction=True)
def test_stock_post_concurrent_issues_never_oversell_and_transfers_never_deadlock():
    # given: 10 scarce units of A at X; B stocked at X and Y for opposite transfers
    a, b = ItemFactory(), ItemFactory()
    x, y = LocationFactory(), LocationFactory()
    receive(a, x, 10)
    receive(b, x, 100)
    receive(b, y, 100)
    issued = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for round_ in range(5):
            # Issue A together with a transfer of B, in a direction that depends on the
            # thread: opposite lock orders unless the service sorts them.
            src, dst = (x, y) if n % 2 else (y, x)
            try:
                stock_post(
                    movement_type="issue",
                    lines=[PostingLine(item_id=a.pk, location_id=x.pk, quantity=Decimal(-1))],
                    reference=DocumentRef("test", n, document_line_id=round_),
                    user=None,
                )
                with lock:
                    issued.append(1)
            except InsufficientStock:
                pass
            stock_transfer(
                item_id=b.pk,
                from_location_id=src.pk,
                to_location_id=dst.pk,
                quantity=Decimal(3),
                reference=DocumentRef("test", n),
                user=None,
            )

    # when
    errors = run_in_threads(work)

    # then: all finished, exactly 10 issued, nothing lost
    assert errors == []
    assert len(issued) == 10
    assert StockBalance.objects.get(item=a, location=x).on_hand == 0
    b_total = sum(StockBalance.objects.filter(item=b).values_list("on_hand", flat=True))
    assert b_total == 200
    assert StockMovement.objects.filter(item=a, movement_type="issue").count() == 10
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_stock_post_concurrent_same_posting_key_posts_once():
    item, loc = ItemFactory(), LocationFactory()

    def work(n: int) -> None:
        stock_post(
            movement_type="receipt",
            lines=[PostingLine(item_id=item.pk, location_id=loc.pk, quantity=Decimal(5))],
            reference=DocumentRef("confirmation", 1),
            user=None,
            posting_key="confirmation:1",
        )

    assert run_in_threads(work) == []
    assert StockBalance.objects.get(item=item, location=loc).on_hand == 5
    assert StockMovement.objects.count() == 1
