"""The API skeleton: authentication, roles, the one error shape, schema and docs."""

import json

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from django.test import override_settings
from django.urls import get_resolver, path
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.exceptions import StateConflict
from config.roles import Role

pytestmark = pytest.mark.django_db


def test_me_with_token_returns_roles(planner_api):
    response = planner_api.get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json() == {"username": planner_api.user.username, "roles": ["planner"]}


def test_unauthenticated_request_gets_401_in_error_shape(client):
    response = client.get("/api/v1/me/", HTTP_ACCEPT="application/json")

    assert response.status_code in (401, 403)
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == "not_authenticated"


def test_expired_or_unknown_token_is_refused(client):
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION="Token not-a-real-token")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_an_expired_token_is_refused_and_purged(api_client_for, user_with_role, client):
    from datetime import timedelta

    from django.utils import timezone
    from knox.models import AuthToken

    from config.tasks import auth_tokens_purge_task

    user = user_with_role(Role.PLANNER)
    instance, token = AuthToken.objects.create(user=user, expiry=timedelta(hours=1))
    AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - timedelta(seconds=1))

    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")

    assert response.status_code == 401
    assert auth_tokens_purge_task() == 1
    assert not AuthToken.objects.filter(pk=instance.pk).exists()


def test_token_of_an_inactive_user_is_refused(api_client_for):
    api = api_client_for(Role.PLANNER)
    api.user.is_active = False
    api.user.save(update_fields=["is_active"])

    assert api.get("/api/v1/me/").status_code == 401


def test_a_refusal_names_the_roles_that_may(viewer_api, db):
    response = viewer_api.post("/api/v1/customers/", {"code": "C-1", "name": "Acme"}, format="json")

    assert response.status_code == 403
    assert response.json()["message"] == "This needs the role admin, integration or planner; you have viewer."


def test_user_without_role_gets_403(api_client_for, db):
    from tests.factories import UserFactory

    user = UserFactory()
    client = api_client_for(Role.VIEWER, user=user)
    user.groups.clear()

    response = client.get("/api/v1/me/")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert response.json()["message"] == "Your account has no role; ask an admin to give it one."


class _Body(serializers.Serializer):
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3, min_value=0)


class _ProbeView(APIView):
    write_roles = {Role.PLANNER}

    def get(self, request):
        return Response({"ok": True})

    def post(self, request):
        body = _Body(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data["quantity"] == 7:
            raise StateConflict("Order PO-1 is closed; nothing can be posted.", code="order_closed")
        Group.objects.create(name="written-by-probe")
        return Response({"ok": True}, status=201)


urlpatterns = [path("probe/", _ProbeView.as_view())]


@override_settings(ROOT_URLCONF=__name__)
def test_validation_error_names_the_field_and_writes_nothing(planner_api):
    response = planner_api.post("/probe/", {"quantity": "-1"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "quantity" in body["fields"]
    assert "quantity" in body["message"]
    assert not Group.objects.filter(name="written-by-probe").exists()


class _Lines(serializers.Serializer):
    lines = _Body(many=True)


class _LinesView(APIView):
    def post(self, request):
        _Lines(data=request.data).is_valid(raise_exception=True)
        return Response({"ok": True})


urlpatterns += [path("lines/", _LinesView.as_view())]


@override_settings(ROOT_URLCONF=__name__)
def test_errors_of_list_items_name_them_as_services_do(planner_api):
    body = {"lines": [{"quantity": "1"}, {"quantity": "-1"}]}

    response = planner_api.post("/lines/", body, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"lines[1].quantity"}
    assert response.json()["message"].startswith("lines[1].quantity: ")


@override_settings(ROOT_URLCONF=__name__)
def test_domain_error_maps_to_its_status_and_code(planner_api):
    response = planner_api.post("/probe/", {"quantity": "7"}, format="json")

    assert response.status_code == status.HTTP_409_CONFLICT
    assert response.json() == {
        "code": "order_closed",
        "message": "Order PO-1 is closed; nothing can be posted.",
        "fields": {},
    }


@override_settings(ROOT_URLCONF=__name__)
def test_viewer_may_read_but_not_write(viewer_api):
    assert viewer_api.get("/probe/").status_code == 200

    response = viewer_api.post("/probe/", {"quantity": "1"}, format="json")

    assert response.status_code == 403
    # The message names the roles that may, and the caller's own.
    assert response.json()["message"] == "This needs the role planner; you have viewer."
    assert not Group.objects.filter(name="written-by-probe").exists()


def _assert_error_shape(response, status_code: int, code: str) -> dict:
    assert response.status_code == status_code, response.content[:200]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    return body


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/no-such-resource/"),
        ("post", "/api/v1/no-such-resource/"),
        ("get", "/api/v1/production-orders/1/no-such-action/"),
        ("get", "/api/v2/"),
    ],
)
def test_unknown_api_path_is_404_in_error_shape(planner_api, debug, method, path):
    with override_settings(DEBUG=debug):
        response = getattr(planner_api, method)(path)

    body = _assert_error_shape(response, 404, "not_found")
    assert path in body["message"]


def test_unknown_api_path_without_trailing_slash_still_redirects_to_it(planner_api):
    response = planner_api.get("/api/v1/items")

    assert response.status_code == 301
    assert response["Location"] == "/api/v1/items/"


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_page_outside_the_api_keeps_its_html_404(client, debug):
    with override_settings(DEBUG=debug):
        response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


FIVE_MB = '{"note": "' + "x" * (5 * 1024 * 1024) + '"}'


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/api/v1/sales-orders/", "/api/v1/confirmations/", "/api/v1/stock-movements/"])
def test_oversized_body_is_413_in_error_shape_and_writes_nothing(planner_api, debug, path):
    from production.models import Confirmation

    with override_settings(DEBUG=debug):
        response = planner_api.post(path, data=FIVE_MB, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big-1")

    body = _assert_error_shape(response, 413, "request_too_large")
    assert "1048576" in body["message"]
    assert not Confirmation.objects.exists()


@pytest.mark.parametrize("debug", [False, True])
def test_oversized_form_body_is_413_in_error_shape(planner_api, debug):
    with override_settings(DEBUG=debug, DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        response = planner_api.post(
            "/api/v1/customers/", data="name=" + "x" * 5000, content_type="application/x-www-form-urlencoded"
        )

    _assert_error_shape(response, 413, "request_too_large")


def test_too_many_form_fields_is_400_in_error_shape(planner_api):
    with override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=10):
        response = planner_api.post(
            "/api/v1/customers/",
            data="&".join(f"f{i}=1" for i in range(20)),
            content_type="application/x-www-form-urlencoded",
        )

    _assert_error_shape(response, 400, "too_many_fields")


@pytest.mark.parametrize(
    ("status_code", "exception", "code"),
    [
        (400, RequestDataTooBig("too big"), "request_too_large"),
        (400, SuspiciousOperation("odd"), "bad_request"),
        (403, PermissionDenied(), "permission_denied"),
        (404, Http404(), "not_found"),
    ],
)
def test_django_error_handlers_answer_the_api_in_error_shape_and_pages_in_html(rf, status_code, exception, code):
    handler = get_resolver().resolve_error_handler(status_code)

    api = handler(rf.post("/api/v1/confirmations/"), exception)
    page = handler(rf.get("/production/orders/"), exception)

    assert api["Content-Type"] == "application/json"
    assert json.loads(api.content)["code"] == code
    assert set(json.loads(api.content)) == {"code", "message", "fields"}
    assert page["Content-Type"].startswith("text/html")


def _boom(*args, **kwargs):
    raise RuntimeError("boom: internal detail")


@override_settings(DEBUG=False)
def test_unhandled_error_in_the_api_is_500_in_error_shape(planner_api, monkeypatch):
    monkeypatch.setattr("config.views.user_roles", _boom)
    planner_api.raise_request_exception = False

    response = planner_api.get("/api/v1/me/")

    body = _assert_error_shape(response, 500, "server_error")
    assert "internal detail" not in body["message"]


@override_settings(DEBUG=False)
def test_unhandled_error_outside_the_api_keeps_its_html_500(client, monkeypatch):
    monkeypatch.setattr("config.views.check_database", _boom)
    client.raise_request_exception = False

    response = client.get("/healthz")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_session_write_without_csrf_token_is_refused(client, user_with_role):
    from rest_framework.test import APIClient

    user = user_with_role(Role.PLANNER)
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(user)

    with override_settings(ROOT_URLCONF=__name__):
        response = browser.post("/probe/", {"quantity": "1"}, format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]


def test_openapi_schema_and_docs_are_served(client, user_with_role):
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert b"openapi: 3" in schema.content
    assert docs.status_code == 200
    # Swagger UI comes from the app itself, never from a CDN.
    assert b"cdn" not in docs.content.lower()
    assert b"/static/drf_spectacular_sidecar/" in docs.content
