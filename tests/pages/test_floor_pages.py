"""Shop-floor pages through Django's test client: sign-in answers, the entry page, the queue."""

import re
from decimal import Decimal
from unittest import mock

import pytest
from django.core import signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config.roles import Role
from production import services
from production.models import Operator, Terminal
from production.services import ConfirmationInput
from production.services.floor import floor_confirm, operation_clock_start, operator_pin_set
from tests.production.conftest import in_days

pytestmark = pytest.mark.django_db


@pytest.fixture
def floor(plant, planner, user_with_role):
    plant.stock()
    order = services.production_order_create(
        item_id=plant.finished.pk, quantity=Decimal(3), due_date=in_days(10), user=planner
    )
    services.production_order_release(order_id=order.pk, user=planner)
    terminal = Terminal.objects.create(code="T-1", name="Line tablet")
    terminal.work_centers.add(plant.wc_a, plant.wc_b)
    operator = Operator.objects.create(user=user_with_role(Role.OPERATOR), badge="4711")
    operator.work_centers.add(plant.wc_a, plant.wc_b)
    operator_pin_set(operator_id=operator.pk, pin="2468")
    return {"order": order, "terminal": terminal, "operator": operator}


@pytest.fixture
def terminal_client(floor) -> Client:
    client = Client()
    client.cookies["floor_terminal"] = signing.dumps(floor["terminal"].pk, salt="floor-terminal")
    return client


def _sign_in(client: Client, badge: str, pin: str):
    return client.post("/floor/", {"badge": badge, "pin": pin})


def _error(response) -> str:
    return response.context["error"]


def test_an_unknown_badge_and_a_wrong_pin_get_the_same_answer(terminal_client):
    unknown = _sign_in(terminal_client, "9999", "0000")
    wrong_pin = _sign_in(terminal_client, "4711", "0000")

    assert unknown.status_code == wrong_pin.status_code == 403
    assert _error(unknown) == _error(wrong_pin)
    assert "left" not in _error(wrong_pin)


def test_a_locked_badge_answers_like_an_unknown_one_and_the_right_pin_does_not_help(terminal_client, settings):
    # given a badge locked after the maximum number of wrong PINs
    answers = [_error(_sign_in(terminal_client, "4711", "0000")) for _ in range(settings.FLOOR_PIN_MAX_ATTEMPTS)]

    # when the right PIN is tried, and an unknown badge as often
    locked = _sign_in(terminal_client, "4711", "2468")
    unknown = [_error(_sign_in(terminal_client, "9999", "0000")) for _ in range(settings.FLOOR_PIN_MAX_ATTEMPTS + 1)]

    # then every answer is the same, and nobody is signed in
    assert len(set(answers) | set(unknown) | {_error(locked)}) == 1
    assert "_auth_user_id" not in terminal_client.session


def test_an_unknown_badge_costs_a_pin_hash_like_a_real_one(terminal_client):
    from django.contrib.auth import hashers

    with mock.patch("production.services.floor.check_password", wraps=hashers.check_password) as check:
        _sign_in(terminal_client, "9999", "0000")

    assert check.call_count == 1
    assert check.call_args.args[1].startswith(("pbkdf2", "argon2", "bcrypt", "scrypt", "md5"))


def test_a_signed_in_operator_opening_the_floor_gets_the_queue(terminal_client):
    _sign_in(terminal_client, "4711", "2468")

    response = terminal_client.get("/floor/")

    assert response.status_code == 302
    assert response["Location"] == "/floor/queue/"


def test_the_floor_entry_shows_the_sign_in_form_to_anyone_else(terminal_client, client, user_with_role):
    assert terminal_client.get("/floor/").templates[0].name == "floor/signin.html"
    terminal_client.force_login(user_with_role(Role.VIEWER))
    assert terminal_client.get("/floor/").templates[0].name == "floor/signin.html"


def test_a_fully_confirmed_operation_is_queued_as_ready_to_finish_not_as_0_open(terminal_client, floor, planner):
    # given op 10 confirmed for all 3 pieces, but not finally
    operation = floor["order"].operations.get(sequence=10)
    services.confirmation_create(
        data=ConfirmationInput(operation_id=operation.pk, good_quantity=Decimal(3)), user=planner
    )
    _sign_in(terminal_client, "4711", "2468")

    # when the operator opens the queue
    response = terminal_client.get("/floor/queue/")

    # then op 10 is there to be finished, and no line says "0 … open"
    entries = {e.operation.sequence: e for e in response.context["entries"]}
    assert entries[10].ready_to_finish and not entries[20].ready_to_finish
    html = response.content.decode()
    assert "Ready to finish" in html
    assert not re.search(r">0 [^<]*open<", html)


def test_the_favicon_is_served_locally(client):
    response = client.get("/favicon.ico", follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0].startswith("/static/")
    page = client.get("/login/").content.decode()
    assert 'rel="icon"' in page and "/static/favicon" in page


def test_floor_confirm_locks_the_order_before_the_clocks(floor):
    # given an operator with a running clock on op 10
    user = floor["operator"].user
    operation = floor["order"].operations.get(sequence=10)
    operation_clock_start(operation_id=operation.pk, user=user)

    # when the operator confirms
    with CaptureQueriesContext(connection) as queries:
        floor_confirm(data=ConfirmationInput(operation_id=operation.pk, good_quantity=Decimal(1)), user=user)

    # then the first row lock is the order's (the global lock order: order, then its children)
    locks = [q["sql"] for q in queries.captured_queries if "FOR NO KEY UPDATE" in q["sql"] or "FOR UPDATE" in q["sql"]]
    assert locks and 'FROM "production_productionorder"' in locks[0]
    assert any('"production_operationclock"' in sql for sql in locks[1:])


def test_the_preview_says_how_much_is_there_when_a_component_is_short(terminal_client, floor):
    _sign_in(terminal_client, "4711", "2468")
    operation = floor["order"].operations.get(sequence=20)

    # 100 P-BACK in stock, 2 per unit: 10 pieces fit, 60 do not
    fits = terminal_client.get(f"/floor/operations/{operation.pk}/preview/", {"good_quantity": "10"})
    short = terminal_client.get(f"/floor/operations/{operation.pk}/preview/", {"good_quantity": "60"})

    assert "short-note" not in fits.content.decode()
    row = re.search(r'<tr class="short">.*?</tr>', short.content.decode(), re.S).group(0)
    assert "P-BACK" in row and "only 100 here" in row
