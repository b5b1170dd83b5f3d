"""Idempotency-Key semantics on a real write, on the real database."""

import hashlib
import json
import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test import override_settings
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from config.idempotency import idempotent
from config.models import IdempotencyRecord
from config.roles import Role

_gate = {"entered": threading.Event(), "release": threading.Event(), "block": False}


class _CreateGroupView(APIView):
    write_roles = {Role.PLANNER}

    @idempotent
    def post(self, request):
        if _gate["block"]:
            _gate["entered"].set()
            _gate["release"].wait(10)
        group = Group.objects.create(name=request.data["name"])
        return Response({"id": group.pk, "name": group.name}, status=201)


class _VersionedView(APIView):
    """A command like the production-order ones: If-Match in, ETag (and here Location) out."""

    write_roles = {Role.PLANNER}

    @idempotent
    def post(self, request):
        group = Group.objects.create(name=request.data["name"])
        return Response(
            {"id": group.pk},
            status=201,
            headers={"ETag": f'"{group.pk}"', "Location": f"/groups/{group.pk}/", "X-Not-Replayed": "1"},
        )


urlpatterns = [path("groups/", _CreateGroupView.as_view()), path("versioned/", _VersionedView.as_view())]


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_same_key_and_body_replays_the_first_response(planner_api):
    first = planner_api.post("/groups/", {"name": "g1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = planner_api.post("/groups/", {"name": "g1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Group.objects.filter(name="g1").count() == 1


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_same_key_other_body_is_422(planner_api):
    planner_api.post("/groups/", {"name": "g1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    response = planner_api.post("/groups/", {"name": "g2"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert not Group.objects.filter(name="g2").exists()


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_a_replay_carries_the_etag_and_location_of_the_first_response(planner_api):
    first = planner_api.post("/versioned/", {"name": "v1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-e")
    Group.objects.create(name="moves the next pk")

    second = planner_api.post("/versioned/", {"name": "v1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-e")

    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["ETag"] == first.headers["ETag"] == f'"{first.json()["id"]}"'
    assert second.headers["Location"] == first.headers["Location"]
    assert "X-Not-Replayed" not in second.headers  # only the headers a replay needs are kept
    assert Group.objects.filter(name="v1").count() == 1


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_a_replay_of_a_response_without_etag_has_none(planner_api):
    planner_api.post("/groups/", {"name": "g1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    second = planner_api.post("/groups/", {"name": "g1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert second.headers["Idempotent-Replayed"] == "true"
    assert "ETag" not in second.headers
    assert "Location" not in second.headers


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize(("first_if_match", "second_if_match"), [('"1"', '"2"'), ('"1"', None), (None, '"1"')])
def test_same_key_and_body_with_another_if_match_is_422_and_writes_nothing(
    planner_api, first_if_match, second_if_match
):
    def send(if_match):
        headers = {"HTTP_IDEMPOTENCY_KEY": "k-m"} | ({"HTTP_IF_MATCH": if_match} if if_match else {})
        return planner_api.post("/versioned/", {"name": "m"}, format="json", **headers)

    first = send(first_if_match)
    record = IdempotencyRecord.objects.values().get(key="k-m")

    response = send(second_if_match)

    assert first.status_code == 201
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert "Idempotent-Replayed" not in response.headers
    assert Group.objects.filter(name="m").count() == 1
    assert IdempotencyRecord.objects.values().get(key="k-m") == record


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_same_key_body_and_if_match_replays(planner_api):
    headers = {"HTTP_IDEMPOTENCY_KEY": "k-s", "HTTP_IF_MATCH": '"7"'}
    first = planner_api.post("/versioned/", {"name": "s"}, format="json", **headers)

    second = planner_api.post("/versioned/", {"name": "s"}, format="json", **headers)

    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Group.objects.filter(name="s").count() == 1


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_keys_are_scoped_to_the_client(api_client_for):
    one, two = api_client_for(Role.PLANNER), api_client_for(Role.PLANNER)

    one.post("/groups/", {"name": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    response = two.post("/groups/", {"name": "b"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")

    assert response.status_code == 201
    assert Group.objects.filter(name__in=["a", "b"]).count() == 2


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_a_failed_request_can_be_retried_with_the_same_key(planner_api):
    Group.objects.create(name="taken")
    with pytest.raises(Exception):  # noqa: B017 - the unique violation surfaces as a 500
        planner_api.post("/groups/", {"name": "taken"}, format="json", HTTP_IDEMPOTENCY_KEY="k-9")
    Group.objects.filter(name="taken").delete()

    response = planner_api.post("/groups/", {"name": "taken"}, format="json", HTTP_IDEMPOTENCY_KEY="k-9")

    assert response.status_code == 201
    assert IdempotencyRecord.objects.get(key="k-9").state == IdempotencyRecord.State.DONE


@pytest.mark.django_db(transaction=True)
@override_settings(ROOT_URLCONF=__name__)
def test_retry_while_first_is_in_flight_gets_409(api_client_for):
    client = api_client_for(Role.PLANNER)
    results: dict[str, int] = {}

    def first_request():
        try:
            results["first"] = client.post(
                "/groups/", {"name": "slow"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
            ).status_code
        finally:
            connection.close()

    _gate.update(block=True)
    _gate["entered"].clear()
    _gate["release"].clear()
    thread = threading.Thread(target=first_request)
    thread.start()
    try:
        assert _gate["entered"].wait(10)
        _gate["block"] = False
        retry = client.post("/groups/", {"name": "slow"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    finally:
        _gate["release"].set()
        thread.join(10)

    assert retry.status_code == 409
    assert retry.json()["code"] == "request_in_flight"
    assert results["first"] == 201
    assert Group.objects.filter(name="slow").count() == 1
    with transaction.atomic():
        assert IdempotencyRecord.objects.get(key="k-2").state == IdempotencyRecord.State.DONE


_race: dict = {}


class _RacedView(APIView):
    """While it runs, another connection commits the record of its key: what a first
    request that committed (and freed the lock) just before this one took it leaves."""

    write_roles = {Role.PLANNER}

    @idempotent
    def post(self, request):
        Group.objects.create(name=request.data["name"])

        def first_request_commits():
            try:
                IdempotencyRecord.objects.create(**_race)
            finally:
                connection.close()

        thread = threading.Thread(target=first_request_commits)
        thread.start()
        thread.join(10)
        return Response({"name": request.data["name"], "from": "second request"}, status=201)


urlpatterns.append(path("raced/", _RacedView.as_view()))


@pytest.mark.django_db(transaction=True)
@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize(("first_body", "expected"), [({"name": "r1"}, 201), ({"name": "other"}, 422)])
def test_a_record_committed_after_the_lookup_wins(api_client_for, first_body, expected):
    client = api_client_for(Role.PLANNER)
    canonical = json.dumps(first_body, sort_keys=True, separators=(",", ":"))
    _race.clear()
    _race.update(
        user_id=client.user.pk,
        key="k-race",
        fingerprint=hashlib.sha256(f"POST\n/raced/\n{canonical}".encode()).hexdigest(),
        state=IdempotencyRecord.State.DONE,
        response_status=201,
        response_body={"name": first_body["name"], "from": "first request"},
    )

    response = client.post("/raced/", {"name": "r1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-race")

    assert response.status_code == expected
    if expected == 201:
        assert response.json() == {"name": "r1", "from": "first request"}
        assert response.headers["Idempotent-Replayed"] == "true"
    else:
        assert response.json()["code"] == "idempotency_key_reused"
    assert not Group.objects.filter(name="r1").exists()  # the second request's write rolled back
    assert IdempotencyRecord.objects.filter(key="k-race").count() == 1


@pytest.mark.django_db
def test_service_atomic_opens_no_savepoint_inside_an_all_or_nothing_transaction():
    from django.test.utils import CaptureQueriesContext

    from config.db import all_or_nothing, service_atomic

    @service_atomic
    def service():
        Group.objects.create(name=f"g{Group.objects.count()}")

    with CaptureQueriesContext(connection) as plain:
        service()
    with transaction.atomic(), all_or_nothing(), CaptureQueriesContext(connection) as lean:
        service()

    assert any(q["sql"].startswith("SAVEPOINT") for q in plain.captured_queries)
    assert not any(q["sql"].startswith("SAVEPOINT") for q in lean.captured_queries)
    assert not getattr(connection, "all_or_nothing", False)  # restored on the way out
