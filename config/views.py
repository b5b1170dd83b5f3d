from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.health import check_broker, check_database
from config.roles import ALL_ROLES, user_roles


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    database = check_database()
    broker = check_broker(timeout=1.0)
    ok = database is None and broker is None
    body = {
        "status": "ok" if ok else "error",
        "database": database or "ok",
        "broker": broker or "ok",
    }
    return JsonResponse(body, status=200 if ok else 503)


class Me(APIView):
    # Every client may ask who it is, the shop-floor operator too.
    read_roles = ALL_ROLES

    @extend_schema(
        responses=inline_serializer(
            "Me",
            {"username": serializers.CharField(), "roles": serializers.ListField(child=serializers.CharField())},
        )
    )
    def get(self, request: Request) -> Response:
        """The authenticated client and its roles."""
        return Response({"username": request.user.get_username(), "roles": sorted(user_roles(request.user))})


me = Me.as_view()
