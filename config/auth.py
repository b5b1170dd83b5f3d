"""API authentication: knox tokens, read with the user and the user's roles in one query."""

from __future__ import annotations

from hmac import compare_digest

from django.contrib.auth.models import Group
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from django.utils import timezone
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework import exceptions

from config.roles import ALL_ROLES, cache_roles


class TokenAuthentication(KnoxTokenAuthentication):
    """``Authorization: Token <token>``. Knox's own class reads the token, then every other
    token of the user (to delete expired ones), then the roles: three queries per request on
    the shop floor's hottest path. Here one query returns token, user and roles; an expired
    token is refused, and ``auth_tokens_purge_task`` deletes expired tokens."""

    def authenticate_credentials(self, token: bytes):
        text = token.decode("utf-8", "replace")
        candidates = (
            AuthToken.objects.filter(token_key=text[: CONSTANTS.TOKEN_KEY_LENGTH])
            .select_related("user")
            .annotate(
                role_names=ArraySubquery(
                    Group.objects.filter(user=OuterRef("user_id"), name__in=ALL_ROLES).values("name")
                )
            )
        )
        digest = hash_token(text)
        now = timezone.now()
        for auth_token in candidates:
            if auth_token.expiry is not None and auth_token.expiry < now:
                continue
            if compare_digest(digest, auth_token.digest):
                user = auth_token.user
                if not user.is_active:
                    raise exceptions.AuthenticationFailed("User inactive or deleted.")
                cache_roles(user, auth_token.role_names)
                return user, auth_token
        raise exceptions.AuthenticationFailed("Invalid token.")
