"""Order generation through the real Celery worker on real Redis, and called directly:
exact orders, pegging and reservations; idempotent under retries and concurrency; a
failure rolls back completely and can be retried."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from inventory.models import Reservation
from planning.models import Routing
from production.models import ProductionOrder
from sales import services
from sales.enums import LineFulfilment, SalesOrderStatus
from sales.models import LinePegging, SalesOrder
from sales.selectors import line_fulfilment_map, sales_demand_open
from sales.tasks import sales_order_generate_task
from tests.conftest import wait_until
from tests.inventory.helpers import assert_ledger_consistent
from tests.planning.factories import RoutingFactory, RoutingOperationFactory
from tests.sales.conftest import in_days
from tests.sales.helpers import order_for

pytestmark = pytest.mark.celery


def _status(order_id: int) -> str:
    return SalesOrder.objects.get(pk=order_id).status


def _mixed(splant, planner):
    return order_for(
        splant,
        planner,
        (splant.mts, 4),
        (splant.mts_short, 5),
        (splant.mto, 3),
        (splant.ato, 2),
        (splant.eto, 1),
    )


@pytest.mark.django_db(transaction=True)
def test_sales_order_confirm_generates_orders_through_the_worker(celery_worker, splant, planner):
    # given a mixed order: MTS in stock, MTS short, MTO with MTO sub-assemblies, ATO, ETO
    order = _mixed(splant, planner)
    lines = {ln.item_id: ln for ln in order.lines.all()}

    # when it is confirmed (the task is queued on commit and run by the real worker)
    result = services.sales_order_confirm(order_id=order.pk, user=planner)
    wait_until(lambda: _status(order.pk) not in (SalesOrderStatus.CONFIRMED,))

    # then the confirmation reported the MTS shortfall
    short = {a.sku: a.shortfall for a in result.availability}
    assert short == {
        "FG-MTS": 0,
        "FG-MTS-SHORT": 3,
        "FG-MTO": 0,
        "FG-ATO": 0,
        "FG-ETO": 0,
    }
    order.refresh_from_db()
    assert order.status == SalesOrderStatus.IN_PRODUCTION, order.generation_error
    # exactly these production orders, pegged to their lines
    made = {
        (
            po.item.sku,
            po.order_type,
            po.quantity,
            po.sales_order_line_id,
            po.parent.item.sku if po.parent else None,
        )
        for po in ProductionOrder.objects.select_related("item", "parent__item")
    }
    assert made == {
        ("FG-MTO", "MTO", Decimal(3), lines[splant.mto.pk].pk, None),
        ("SA-MTO", "MTO", Decimal(6), lines[splant.mto.pk].pk, "FG-MTO"),
        ("SA-MTO2", "MTO", Decimal(6), lines[splant.mto.pk].pk, "SA-MTO"),
        ("FG-ATO", "ATO", Decimal(2), lines[splant.ato.pk].pk, None),
        ("FG-ETO", "ETO", Decimal(1), lines[splant.eto.pk].pk, None),
    }
    # the MTO top order is due one shipping day before the requested date
    top = ProductionOrder.objects.get(item=splant.mto)
    assert top.due_date == in_days(29)
    # the ETO order starts in engineering with no structure (no BOM)
    eto = ProductionOrder.objects.get(item=splant.eto)
    assert eto.in_engineering and not eto.components.exists()
    # the ATO order takes its sub-assembly from stock: a component, no order of its own
    ato = ProductionOrder.objects.get(item=splant.ato)
    assert list(ato.components.values_list("item__sku", flat=True)) == ["SA-STK", "PP-A"]
    assert not ProductionOrder.objects.filter(item=splant.sa_stock).exists()
    # pegging paths
    assert set(LinePegging.objects.values_list("line__item__sku", "path", "level", "kind")) == {
        ("FG-MTS", "res", 0, "reservation"),
        ("FG-MTS-SHORT", "res", 0, "reservation"),
        ("FG-MTO", "0", 0, "production_order"),
        ("FG-MTO", "0/10", 1, "production_order"),
        ("FG-MTO", "0/10/10", 2, "production_order"),
        ("FG-ATO", "0", 0, "production_order"),
        ("FG-ETO", "0", 0, "production_order"),
    }
    # MTS: reserved what is there, in FG-STORE, against the sales order line
    reservations = {
        r.document_line_id: (r.item.sku, r.location.code, r.quantity)
        for r in Reservation.objects.filter(document_type="sales_order", document_id=order.pk).select_related(
            "item", "location"
        )
    }
    assert reservations == {
        lines[splant.mts.pk].pk: ("FG-MTS", "FG-STORE", Decimal(4)),
        lines[splant.mts_short.pk].pk: ("FG-MTS-SHORT", "FG-STORE", Decimal(2)),
    }
    # the shortfall is left to planning
    demand = sales_demand_open()
    assert [(d.line_id, d.quantity_open, d.strategy) for d in demand] == [
        (lines[splant.mts_short.pk].pk, Decimal(3), "MTS")
    ]
    fulfilment = line_fulfilment_map(line_ids=[ln.pk for ln in lines.values()])
    assert {sku.item.sku: fulfilment[sku.pk].status for sku in lines.values()} == {
        "FG-MTS": LineFulfilment.READY,
        "FG-MTS-SHORT": LineFulfilment.AWAITING_SUPPLY,
        "FG-MTO": LineFulfilment.IN_PRODUCTION,
        "FG-ATO": LineFulfilment.IN_PRODUCTION,
        "FG-ETO": LineFulfilment.IN_PRODUCTION,
    }
    assert_ledger_consistent()


def test_sales_order_generate_twice_creates_nothing_more(splant, planner, django_capture_on_commit_callbacks):
    # given a confirmed, generated order
    order = _mixed(splant, planner)
    with django_capture_on_commit_callbacks(execute=False):
        services.sales_order_confirm(order_id=order.pk, user=planner)
    first = services.sales_order_generate(order_id=order.pk)
    counts = (ProductionOrder.objects.count(), Reservation.objects.count(), LinePegging.objects.count())

    # when the task runs again (a redelivery) and the status is forced back (a crash between
    # commit and ack, replayed against stale state)
    again = sales_order_generate_task(order.pk)
    SalesOrder.objects.filter(pk=order.pk).update(status=SalesOrderStatus.CONFIRMED)
    forced = services.sales_order_generate(order_id=order.pk)

    # then the pegging constraint stopped every second creation
    assert first.production_orders_created == 5 and first.reservations_created == 2
    assert again["production_orders_created"] == 0
    assert forced.production_orders_created == 0 and forced.reservations_created == 0
    assert (
        ProductionOrder.objects.count(),
        Reservation.objects.count(),
        LinePegging.objects.count(),
    ) == counts
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_sales_order_generate_concurrently_creates_one_set(splant, planner, django_capture_on_commit_callbacks):
    # given a confirmed order (task not run)
    order = _mixed(splant, planner)
    with django_capture_on_commit_callbacks(execute=False):
        services.sales_order_confirm(order_id=order.pk, user=planner)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            sales_order_generate_task(order.pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    # when four workers run the task at once
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    # then exactly one set of orders and reservations exists
    assert errors == []
    assert ProductionOrder.objects.count() == 5
    assert Reservation.objects.filter(document_type="sales_order").count() == 2
    assert LinePegging.objects.count() == 7
    assert _status(order.pk) == SalesOrderStatus.IN_PRODUCTION
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_sales_order_generate_failure_rolls_back_and_retry_succeeds(celery_worker, splant, planner, planner_api):
    # given an MTO sub-assembly without a routing, after the MTS line (which would reserve)
    Routing.objects.filter(item=splant.sa_mto2).delete()
    order = order_for(splant, planner, (splant.mts, 4), (splant.mto, 1))

    # when it is confirmed over the API
    response = planner_api.post(f"/api/v1/sales-orders/{order.pk}/confirm/")
    assert response.status_code == 200
    wait_until(lambda: _status(order.pk) == SalesOrderStatus.GENERATION_FAILED)

    # then nothing of the half-way generation is left, and the reason is visible
    assert ProductionOrder.objects.count() == 0
    assert Reservation.objects.filter(document_type="sales_order").count() == 0
    assert LinePegging.objects.count() == 0
    body = planner_api.get(f"/api/v1/sales-orders/{order.pk}/").json()
    assert body["status"] == "generation_failed"
    assert "SA-MTO2" in body["generation_error"] and "routing" in body["generation_error"]
    assert_ledger_consistent()

    # when the data is fixed and the generation retried
    routing = RoutingFactory(item=splant.sa_mto2)
    RoutingOperationFactory(routing=routing, sequence=10, work_center=splant.wc)
    response = planner_api.post(f"/api/v1/sales-orders/{order.pk}/retry-generation/")
    assert response.status_code == 200
    wait_until(lambda: _status(order.pk) == SalesOrderStatus.IN_PRODUCTION)

    # then everything is there once, and the error is gone
    assert ProductionOrder.objects.count() == 3
    assert Reservation.objects.filter(document_type="sales_order").count() == 1
    order.refresh_from_db()
    assert order.generation_error == "" and order.generation_attempts == 2
    assert_ledger_consistent()


def test_sales_order_generate_mts_shortfall_made_at_once(splant, planner, django_capture_on_commit_callbacks):
    # given an MTS item configured to produce a shortfall immediately, none in stock
    order = order_for(splant, planner, (splant.mts_make_now, 4))
    with django_capture_on_commit_callbacks(execute=False):
        services.sales_order_confirm(order_id=order.pk, user=planner)

    # when generated
    services.sales_order_generate(order_id=order.pk)

    # then an MTS order covers the shortfall and no demand is left for planning
    po = ProductionOrder.objects.get()
    assert (po.order_type, po.quantity, po.item_id) == ("MTS", Decimal(4), splant.mts_make_now.pk)
    assert sales_demand_open() == []


def test_sales_order_generate_all_in_stock_is_ready(splant, planner, django_capture_on_commit_callbacks):
    # given an MTS line fully in stock
    order = order_for(splant, planner, (splant.mts, 10))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.sales_order_confirm(order_id=order.pk, user=planner)

    # when generated
    assert len(callbacks) == 1  # the generation task, queued on commit
    services.sales_order_generate(order_id=order.pk)

    # then the order is ready to ship

    assert _status(order.pk) == SalesOrderStatus.READY


def test_sales_demand_open_is_one_query(splant, planner, django_assert_num_queries):
    for _ in range(3):
        order = order_for(splant, planner, (splant.mts_short, 5), (splant.mto, 1))
        SalesOrder.objects.filter(pk=order.pk).update(status=SalesOrderStatus.CONFIRMED)
    with django_assert_num_queries(1):
        demand = sales_demand_open(item_ids=[splant.mts_short.pk])
    assert [d.quantity_open for d in demand] == [Decimal(5)] * 3


@pytest.mark.django_db
def test_sales_orders_status_refresh_follows_production(splant, planner, django_capture_on_commit_callbacks):
    # given an MTO order in production
    order = order_for(splant, planner, (splant.mto, 1))
    with django_capture_on_commit_callbacks(execute=False):
        services.sales_order_confirm(order_id=order.pk, user=planner)
    services.sales_order_generate(order_id=order.pk)
    assert _status(order.pk) == SalesOrderStatus.IN_PRODUCTION
    assert services.sales_orders_status_refresh() == 0

    # when its pegged orders complete (completion itself is tested with confirmations)
    ProductionOrder.objects.filter(sales_order_line_id__isnull=False).update(status="completed")
    changed = services.sales_orders_status_refresh()

    # then the order is ready, and a reopened order puts it back in production
    assert changed == 1 and _status(order.pk) == SalesOrderStatus.READY
    ProductionOrder.objects.filter(sales_order_line_id__isnull=False, parent__isnull=True).update(status="in_progress")
    assert services.sales_orders_status_refresh() == 1
    assert _status(order.pk) == SalesOrderStatus.IN_PRODUCTION
