"""The API skeleton: authentication, roles, the one error shape, schema and docs."""

import pytest
from django.contrib.auth.models import Group
from django.test import override_settings
from django.urls import path
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


def test_user_without_role_gets_403(api_client_for, db):
    from tests.factories import UserFactory

    user = UserFactory()
    client = api_client_for(Role.VIEWER, user=user)
    user.groups.clear()

    response = client.get("/api/v1/me/")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


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
    assert not Group.objects.filter(name="written-by-probe").exists()


def test_unknown_api_path_is_404_in_error_shape(planner_api):
    response = planner_api.get("/api/v1/no-such-resource/")

    assert response.status_code == 404


def test_oversized_body_is_refused(planner_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = planner_api.post("/api/v1/me/", data="x" * 5000, content_type="application/json")

    assert response.status_code in (400, 405, 413)


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
