"""API authentication: knox tokens, read with the user and the user's roles in one query."""

from __future__ import annotations

from functools import cache
from hmac import compare_digest

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework import exceptions

from config.db import column_count, execute_prepared, instance_from_row, select_columns
from config.roles import ALL_ROLES, cache_roles


@cache
def _token_sql() -> str:
    user = get_user_model()
    groups = user._meta.get_field("groups")
    through = groups.remote_field.through._meta.db_table
    return (
        f"SELECT {select_columns(AuthToken, 't')}, {select_columns(user, 'u')}, "  # noqa: S608
        f"ARRAY(SELECT g.name FROM {groups.related_model._meta.db_table} g JOIN {through} ug ON ug.group_id = g.id "
        "WHERE ug.user_id = u.id AND g.name = ANY(%s)) "
        f"FROM {AuthToken._meta.db_table} t JOIN {user._meta.db_table} u ON u.id = t.user_id "
        "WHERE t.token_key = %s"
    )


class TokenAuthentication(KnoxTokenAuthentication):
    """``Authorization: Token <token>``. Knox's own class reads the token, then every other
    token of the user (to delete expired ones), then the roles: three queries per request on
    the shop floor's hottest path. Here one query returns token, user and roles; an expired
    token is refused, and ``auth_tokens_purge_task`` deletes expired tokens."""

    def authenticate_credentials(self, token: bytes):
        text = token.decode("utf-8", "replace")
        with connection.cursor() as cursor:
            execute_prepared(cursor, _token_sql(), [sorted(ALL_ROLES), text[: CONSTANTS.TOKEN_KEY_LENGTH]])
            rows = cursor.fetchall()
        digest = hash_token(text)
        now = timezone.now()
        split = column_count(AuthToken)
        for row in rows:
            auth_token = instance_from_row(AuthToken, row[:split])
            if auth_token.expiry is not None and auth_token.expiry < now:
                continue
            if compare_digest(digest, auth_token.digest):
                user = instance_from_row(get_user_model(), row[split:-1])
                if not user.is_active:
                    raise exceptions.AuthenticationFailed("User inactive or deleted.")
                auth_token.user = user
                cache_roles(user, row[-1])
                return user, auth_token
        raise exceptions.AuthenticationFailed("Invalid token.")
