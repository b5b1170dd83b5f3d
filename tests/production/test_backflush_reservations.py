"""A backflush takes only what its order may take: its own reservation as far as stock backs
it (oldest claim first, as ``stock_cover`` counts it), and beyond that unreserved stock. The
shortage it fails with says the same in its message, its list and on the pages, and the
sweeper retries it only when that much has arrived."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from inventory.enums import ItemType, Procurement
from inventory.selectors import stock_cover
from production import services
from production.enums import PostingStatus
from production.models import Confirmation, ProductionOrder
from production.services import ConfirmationInput
from tests.inventory.factories import BomFactory, BomLineFactory, ItemFactory, LotFactory, UnitFactory
from tests.inventory.helpers import receive
from tests.planning.factories import RoutingFactory, RoutingOperationFactory
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db


class Frame:
    """A frame of 2 m steel and 0.5 kg paint per piece, both backflushed at its one operation;
    with ``lots`` both are lot-tracked and stocked in two lots (as the demo's RM-STEEL)."""

    def __init__(self, plant, lots: bool):
        self.plant = plant
        self.lots = lots
        self.steel = ItemFactory(sku="STEEL", lot_tracked=lots, uom=UnitFactory(code="m", decimals=2))
        self.paint = ItemFactory(sku="PAINT", lot_tracked=lots, uom=UnitFactory(code="kg", decimals=3))
        self.item = ItemFactory(sku="FRAME", item_type=ItemType.FINISHED, procurement=Procurement.MAKE)
        bom = BomFactory(item=self.item)
        for position, (component, quantity) in enumerate(((self.steel, "2"), (self.paint, "0.5")), start=1):
            BomLineFactory(
                bom=bom,
                position=position,
                component=component,
                quantity=Decimal(quantity),
                flushing="backward",
                operation_sequence=10,
            )
        routing = RoutingFactory(item=self.item)
        RoutingOperationFactory(routing=routing, sequence=10, work_center=plant.wc_a, run_minutes_per_unit=6)
        self._lot_index = 0

    def receive(self, item, quantity) -> None:
        lot = None
        if self.lots:
            self._lot_index += 1
            lot = LotFactory(item=item, lot_number=f"{item.sku}-{self._lot_index}")
        receive(item, self.plant.rm, quantity, lot=lot)

    def released(self, planner, quantity, *, force=False) -> ProductionOrder:
        order = services.production_order_create(
            item_id=self.item.pk, quantity=Decimal(quantity), due_date=in_days(30), user=planner
        )
        services.production_order_release(
            order_id=order.pk, user=planner, force=force, reason="test shortage" if force else ""
        )
        return order

    def cover(self, order: ProductionOrder, item) -> tuple[Decimal, Decimal]:
        """(open, backed by stock) of the order's reservation of ``item``."""
        [row] = [
            (r.open_quantity, r.on_hand)
            for r in stock_cover(pairs=[(item.pk, self.plant.rm.pk)]).reservations
            if r.document_id == order.pk
        ]
        return row


@pytest.fixture(params=[False, True], ids=["plain", "lot-tracked"])
def frame(plant, request) -> Frame:
    return Frame(plant, request.param)


def _confirm(order, planner, good, capture) -> Confirmation:
    with capture(execute=False):
        return services.confirmation_create(
            data=ConfirmationInput(operation_id=order.operations.get().pk, good_quantity=Decimal(good)), user=planner
        )


def _shortages(confirmation) -> dict[str, tuple[str, str, str]]:
    error = Confirmation.objects.get(pk=confirmation.pk).posting_error
    assert error["code"] == "insufficient_stock"
    return {s["item"]: (s["needed"], s["available"], s["short"]) for s in error["shortages"]}


def test_a_forced_order_backflushes_no_stock_that_backs_an_older_orders_reservation(
    frame, planner, django_capture_on_commit_callbacks
):
    # given 8 m steel and 2 kg paint; the first order reserves 6 m and 1.5 kg within them, the
    # second is released with shortages and reserves 10 m and 2.5 kg, of which only 2 m and
    # 0.5 kg are backed by stock
    frame.receive(frame.steel, 5)
    frame.receive(frame.steel, 3)
    frame.receive(frame.paint, 2)
    first = frame.released(planner, 3)
    second = frame.released(planner, 5, force=True)
    confirmation = _confirm(second, planner, 5, django_capture_on_commit_callbacks)

    # when the second confirms 5 pieces (10 m, 2.5 kg)
    assert services.confirmation_post(confirmation_id=confirmation.pk) == PostingStatus.FAILED

    # then its posting fails short of what is its own, message and list alike
    assert _shortages(confirmation) == {"STEEL": ("10", "2", "8"), "PAINT": ("2.5", "0.5", "2")}
    message = Confirmation.objects.get(pk=confirmation.pk).posting_error["message"]
    assert "STEEL at RM-STORE needed 10, available 2" in message
    assert "PAINT at RM-STORE needed 2.5, available 0.5" in message

    # when enough arrives to cover the backflush on hand, but not without the first order's stock
    frame.receive(frame.steel, 2)
    frame.receive(frame.paint, Decimal("0.5"))

    # then the sweeper leaves it, a planner's retry fails with the new figures, and the first
    # order's reservation stays fully backed
    assert services.posting_outbox_sweep(older_than_seconds=0)["retried"] == 0
    retried = services.confirmation_posting_retry_now(confirmation_id=confirmation.pk)
    assert retried.posting_status == PostingStatus.FAILED
    assert _shortages(confirmation) == {"STEEL": ("10", "4", "6"), "PAINT": ("2.5", "1", "1.5")}
    assert frame.cover(first, frame.steel) == (6, 6)
    assert frame.cover(first, frame.paint) == (Decimal("1.5"), Decimal("1.5"))

    # when what is short arrives
    frame.receive(frame.steel, 6)
    frame.receive(frame.paint, Decimal("1.5"))

    # then the sweeper retries it, it posts, and the first order is still covered
    assert services.posting_outbox_sweep(older_than_seconds=0)["retried"] == 1
    assert services.confirmation_post(confirmation_id=confirmation.pk) == PostingStatus.POSTED
    assert frame.cover(first, frame.steel) == (6, 6)
    assert frame.cover(first, frame.paint) == (Decimal("1.5"), Decimal("1.5"))


def test_a_backflush_beyond_its_own_reservation_takes_only_unreserved_stock_and_is_retried_when_that_arrives(
    frame, planner, settings, django_capture_on_commit_callbacks
):
    # given 16 m steel and 4 kg paint, all of it reserved by two orders (10 m + 6 m)
    settings.CONFIRMATION_TOLERANCE_PERCENT = 50
    frame.receive(frame.steel, 16)
    frame.receive(frame.paint, 4)
    first = frame.released(planner, 5)
    second = frame.released(planner, 3)

    # when the second confirms 4 pieces: 8 m, 2 more than its 6 m
    confirmation = _confirm(second, planner, 4, django_capture_on_commit_callbacks)
    assert services.confirmation_post(confirmation_id=confirmation.pk) == PostingStatus.FAILED

    # then it is short by what is beyond its reservation, though 16 m are on hand
    assert _shortages(confirmation) == {"STEEL": ("8", "6", "2"), "PAINT": ("2", "1.5", "0.5")}
    error = Confirmation.objects.get(pk=confirmation.pk).posting_error
    assert "STEEL at RM-STORE needed 8, available 6 (short 2)" in error["message"]
    assert services.posting_outbox_sweep(older_than_seconds=0)["retried"] == 0

    # when part of the shortage arrives, nothing is retried; when all of it has, it posts
    frame.receive(frame.steel, 1)
    frame.receive(frame.paint, Decimal("0.5"))
    assert services.posting_outbox_sweep(older_than_seconds=0)["retried"] == 0
    frame.receive(frame.steel, 1)
    assert services.posting_outbox_sweep(older_than_seconds=0)["retried"] == 1
    assert services.confirmation_post(confirmation_id=confirmation.pk) == PostingStatus.POSTED
    assert frame.cover(first, frame.steel) == (10, 10)


def test_a_single_shortage_says_the_same_in_the_message_the_list_and_the_retry_banner(
    frame, planner, user_with_role, django_capture_on_commit_callbacks
):
    # given a forced order whose paint is there but whose steel is short
    frame.receive(frame.steel, 8)
    frame.receive(frame.paint, 10)
    frame.released(planner, 3)
    second = frame.released(planner, 5, force=True)
    confirmation = _confirm(second, planner, 5, django_capture_on_commit_callbacks)
    assert services.confirmation_post(confirmation_id=confirmation.pk) == PostingStatus.FAILED

    # then the recorded error names the one shortage with the list's figures
    error = Confirmation.objects.get(pk=confirmation.pk).posting_error
    assert error["shortages"] == [
        {"item": "STEEL", "location": "RM-STORE", "needed": "10", "available": "2", "short": "8"}
    ]
    assert error["message"] == "Insufficient stock of STEEL at RM-STORE: needed 10, available 2 (short 8)."
    assert (error["fields"]["needed"], error["fields"]["available"]) == (["10"], ["2"])

    # when a planner retries it on the posting-errors page
    client = Client()
    client.force_login(planner)
    page = client.post(f"/production/posting-errors/{confirmation.pk}/retry/", follow=True).content.decode()

    # then the banner and the table give the same figures
    assert "still not posted: Insufficient stock of STEEL at RM-STORE: needed 10, available 2 (short 8)." in page
    assert "needed 10, available 2 (short 8)" in page.split('class="shortages"')[1]


def test_the_posting_run_reads_no_more_for_the_reservation_rule_however_many_it_posts(
    frame, planner, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    # given stock for everything, and runs of one and of five pending confirmations
    frame.receive(frame.steel, 100)
    frame.receive(frame.paint, 100)
    orders = [frame.released(planner, 2) for _ in range(6)]
    _confirm(orders[0], planner, 1, django_capture_on_commit_callbacks)
    with django_assert_max_num_queries(100) as one:
        assert set(services.confirmations_post_pending().values()) == {PostingStatus.POSTED}
    for order in orders[1:]:
        _confirm(order, planner, 1, django_capture_on_commit_callbacks)

    # then five cost the statements of one
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert list(services.confirmations_post_pending().values()).count(PostingStatus.POSTED) == 5
