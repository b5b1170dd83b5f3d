"""The posting-errors page: who sees it, what it shows, Retry, and a constant query count."""

from decimal import Decimal

import pytest
from django.test import Client

from config.roles import Role
from production import services
from production.enums import PostingStatus
from production.models import Confirmation, PostingOutbox
from production.services import ConfirmationInput
from tests.inventory.helpers import assert_ledger_consistent
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db

URL = "/production/posting-errors/"


@pytest.fixture
def client_for(user_with_role):
    def make(role: str) -> Client:
        client = Client()
        client.force_login(user_with_role(role))
        return client

    return make


@pytest.fixture
def failed_posting(plant, planner, django_capture_on_commit_callbacks):
    """Make a confirmation whose backflush fails for lack of P-BACK; returns a factory."""
    plant.stock(back=1)  # each order needs 4

    def make() -> Confirmation:
        order = services.production_order_create(
            item_id=plant.finished.pk, quantity=Decimal(2), due_date=in_days(30), user=planner
        )
        services.production_order_release(order_id=order.pk, user=planner, force=True, reason="test shortage")
        with django_capture_on_commit_callbacks(execute=False):
            confirmation = services.confirmation_create(
                data=ConfirmationInput(operation_id=order.operations.get(sequence=20).pk, good_quantity=Decimal(2)),
                user=planner,
            )
        assert services.confirmation_post(confirmation_id=confirmation.pk) == PostingStatus.FAILED
        return confirmation

    return make


def test_posting_errors_page_shows_the_failed_confirmation_and_its_message(client_for, failed_posting):
    # given a confirmation whose posting failed for a shortage
    confirmation = failed_posting()

    # when a viewer opens the queue
    response = client_for(Role.VIEWER).get(URL)

    # then it shows the order, the shortage message, and no Retry button for a viewer
    assert response.status_code == 200
    html = response.content.decode()
    assert confirmation.order.number in html
    assert f"/production/orders/{confirmation.order_id}/" in html
    assert "<strong>P-BACK</strong> at RM-STORE: needed 4, available 1 (short 3)" in " ".join(html.split())
    assert ">Retry</button>" not in html


def test_posting_errors_page_operator_forbidden(client_for):
    assert client_for(Role.OPERATOR).get(URL).status_code == 403


def test_retry_from_the_page_says_when_it_is_still_short(client_for, failed_posting):
    # given a failed posting whose stock has not arrived
    confirmation = failed_posting()

    # when a planner presses Retry
    response = client_for(Role.PLANNER).post(f"{URL}{confirmation.pk}/retry/", follow=True)

    # then the page says at once that it is still not posted, and why; the row stays
    confirmation.refresh_from_db()
    assert confirmation.posting_status == PostingStatus.FAILED
    html = response.content.decode()
    assert f"Confirmation {confirmation.pk} of {confirmation.order.number} is still not posted: " in html
    assert "Insufficient stock of P-BACK" in html
    assert "queued again" not in html
    assert confirmation.order.number in html.split("<tbody>")[1]
    assert PostingOutbox.objects.get(confirmation=confirmation).status == "failed"


def test_retry_from_the_page_posts_once_the_stock_is_there(client_for, failed_posting, plant):
    # given a failed posting, and then the missing stock arrives
    confirmation = failed_posting()
    plant.stock(back=10)

    # when a planner presses Retry
    response = client_for(Role.PLANNER).post(f"{URL}{confirmation.pk}/retry/", follow=True)

    # then it is posted there and then, and gone from the list
    confirmation.refresh_from_db()
    assert confirmation.posting_status == PostingStatus.POSTED
    html = response.content.decode()
    assert f"Confirmation {confirmation.pk} of {confirmation.order.number} is posted." in html
    assert confirmation.order.number not in html.split("<tbody>")[1]
    assert_ledger_consistent()


def test_confirmation_posting_retry_viewer_forbidden_and_nothing_changes(client_for, failed_posting):
    confirmation = failed_posting()

    assert client_for(Role.VIEWER).post(f"{URL}{confirmation.pk}/retry/").status_code == 403

    confirmation.refresh_from_db()
    assert confirmation.posting_status == PostingStatus.FAILED


def test_confirmation_posting_retry_twice_shows_the_conflict(client_for, failed_posting, plant):
    # given a posting that a retry has posted
    confirmation = failed_posting()
    plant.stock(back=10)
    planner = client_for(Role.PLANNER)
    planner.post(f"{URL}{confirmation.pk}/retry/")

    # when a second Retry arrives (a stale page)
    response = planner.post(f"{URL}{confirmation.pk}/retry/", follow=True)

    # then the service's 409 message is shown, not a 500
    assert response.status_code == 200
    assert "not failed" in response.content.decode()


def test_dashboard_counts_failed_postings(client_for, failed_posting):
    failed_posting()
    failed_posting()

    html = client_for(Role.VIEWER).get("/").content.decode()

    assert "<strong>2</strong> failed postings" in html


def test_posting_errors_page_constant_queries(client_for, failed_posting, django_assert_max_num_queries):
    # given one failed posting, the page costs N queries
    viewer = client_for(Role.PLANNER)
    failed_posting()
    viewer.get(URL)  # warm the session and role caches
    with django_assert_max_num_queries(12) as one:
        assert viewer.get(URL).status_code == 200
    # when there are 21 of them
    for _ in range(20):
        failed_posting()
    # then the page costs the same
    with django_assert_max_num_queries(len(one.captured_queries)) as many:
        response = viewer.get(URL)
    assert response.content.decode().count(">Retry</button>") == 21
    assert len(many.captured_queries) == len(one.captured_queries)
