"""The merge and split dialogs of the production order page, through Django's test client:
the candidates the merge dialog offers, the commands, stale pages, role checks, and what
the page shows of merged sources and split origins."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from config.roles import Role
from production import services
from production.enums import OrderStatus
from production.models import ProductionOrder
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_for(user_with_role):
    def make(role: str) -> Client:
        client = Client()
        client.force_login(user_with_role(role))
        return client

    return make


def _order(plant, planner, qty, days=30, **extra) -> ProductionOrder:
    return services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(qty), due_date=in_days(days), user=planner, **extra
    )


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_order_page_offers_merge_and_split_dialogs_to_planners_only(client_for, plant, planner):
    order = _order(plant, planner, 5)

    page = client_for(Role.PLANNER).get(f"/production/orders/{order.pk}/").content.decode()
    assert 'data-open="dlg-merge"' in page
    assert f'hx-get="/production/orders/{order.pk}/merge/"' in page
    assert 'id="dlg-split"' in page

    viewer_page = client_for(Role.VIEWER).get(f"/production/orders/{order.pk}/").content.decode()
    assert "dlg-merge" not in viewer_page and "dlg-split" not in viewer_page


def test_merge_dialog_lists_only_compatible_orders(client_for, plant, planner):
    # given the order, a compatible one, one of another type, and one already cancelled
    order = _order(plant, planner, 5)
    compatible = _order(plant, planner, 2, days=10)
    mto = _order(plant, planner, 2, order_type="MTO")
    cancelled = services.production_order_cancel(order_id=_order(plant, planner, 1).pk, user=planner)

    response = client_for(Role.PLANNER).get(f"/production/orders/{order.pk}/merge/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    html = response.content.decode()
    assert f'name="source_orders" value="{compatible.pk}"' in html
    for other in (mto, cancelled, order):
        assert f'value="{other.pk}"' not in html
    assert "<html" not in html  # a fragment for the dialog, not a page


def test_merge_dialog_is_for_planners(client_for, plant, planner):
    order = _order(plant, planner, 5)
    source = _order(plant, planner, 2)
    viewer = client_for(Role.VIEWER)

    assert viewer.get(f"/production/orders/{order.pk}/merge/").status_code == 403
    assert viewer.post(f"/production/orders/{order.pk}/merge/", {"source_orders": [source.pk]}).status_code == 403
    assert viewer.post(f"/production/orders/{order.pk}/split/", {"quantity": "1"}).status_code == 403
    source.refresh_from_db()
    assert source.status == OrderStatus.PLANNED
    assert ProductionOrder.objects.count() == 2


def test_merging_from_the_page_shows_the_sources_and_their_allocation(client_for, plant, planner):
    order = _order(plant, planner, 5, days=30)
    source = _order(plant, planner, 2, days=10)
    client = client_for(Role.PLANNER)

    response = client.post(
        f"/production/orders/{order.pk}/merge/",
        {"source_orders": [source.pk], "version": order.version, "reason": "one setup"},
        follow=True,
    )

    assert f"Merged 1 order into {order.number}." in _messages(response)
    order.refresh_from_db()
    assert order.quantity == Decimal(7)
    html = response.content.decode()
    assert "Merged orders" in html
    assert f'href="/production/orders/{source.pk}/"' in html
    assert "(own quantity)" in html
    # the merged order's page says where it went and shows the same shares
    source_page = client.get(f"/production/orders/{source.pk}/").content.decode()
    assert f"Merged into {order.number}" in source_page
    assert 'class="badge status-merged"' in source_page
    assert "dlg-merge" not in source_page and "dlg-split" not in source_page


def test_merge_from_a_stale_page_is_refused_with_a_message(client_for, plant, planner):
    order = _order(plant, planner, 5)
    source = _order(plant, planner, 2)
    shown = order.version
    services.production_order_update(order_id=order.pk, user=planner, priority=2)

    response = _post_follow(
        client_for(Role.PLANNER),
        f"/production/orders/{order.pk}/merge/",
        {"source_orders": [source.pk], "version": shown},
    )

    assert any("changed by someone else" in m for m in _messages(response))
    source.refresh_from_db()
    assert source.status == OrderStatus.PLANNED


def test_merge_refusal_is_shown_as_a_message(client_for, plant, planner):
    order = _order(plant, planner, 5)
    other_type = _order(plant, planner, 2, order_type="MTO")

    response = _post_follow(
        client_for(Role.PLANNER), f"/production/orders/{order.pk}/merge/", {"source_orders": [other_type.pk]}
    )

    assert any("only orders for the same item" in m for m in _messages(response))
    order.refresh_from_db()
    assert order.quantity == Decimal(5)


def test_splitting_from_the_page_links_both_orders(client_for, plant, planner):
    order = _order(plant, planner, 5)
    client = client_for(Role.PLANNER)

    response = _post_follow(
        client,
        f"/production/orders/{order.pk}/split/",
        {"quantity": "2", "due_date": str(in_days(40)), "version": order.version},
    )

    new = ProductionOrder.objects.get(split_from=order)
    assert f"Split 2 off into {new.number}." in _messages(response)
    html = response.content.decode()
    assert "Split off" in html and f'href="/production/orders/{new.pk}/"' in html
    new_page = client.get(f"/production/orders/{new.pk}/").content.decode()
    assert "Split from" in new_page and order.number in new_page
    assert new.due_date == in_days(40)


def test_split_refusal_is_shown_as_a_message(client_for, plant, planner):
    order = _order(plant, planner, 5)

    response = _post_follow(client_for(Role.PLANNER), f"/production/orders/{order.pk}/split/", {"quantity": "5"})

    assert any("must be less than the open quantity" in m for m in _messages(response))
    assert ProductionOrder.objects.count() == 1


def _post_follow(client: Client, url: str, data: dict):
    return client.post(url, data, follow=True)
