"""Roles are Django groups. A user's roles decide what every endpoint and page allows."""

from __future__ import annotations

from django.db import models
from django.http import HttpRequest


class Role(models.TextChoices):
    PLANNER = "planner", "Planner"
    OPERATOR = "operator", "Operator"
    INTEGRATION = "integration", "Integration"
    VIEWER = "viewer", "Viewer"
    ADMIN = "admin", "Admin"


ALL_ROLES: frozenset[str] = frozenset(Role.values)
# Who may change master data and drive orders through their lifecycle.
PLANNING_ROLES: frozenset[str] = frozenset({Role.PLANNER, Role.ADMIN})
# Everyone but the shop-floor operator, who sees their queue, starts an operation and confirms
# good quantity and scrap "and nothing else" (spec): office pages and API reads by default.
OFFICE_ROLES: frozenset[str] = ALL_ROLES - {Role.OPERATOR}
# Who may reverse a confirmation: planners and admins, and machines (integration) that
# correct what they posted. Operators confirm; undoing is the office's decision.
REVERSING_ROLES: frozenset[str] = PLANNING_ROLES | {Role.INTEGRATION}


def user_roles(user) -> frozenset[str]:
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_prodorders_roles", None)
    if cached is None:
        if user.is_superuser:
            cached = ALL_ROLES
        else:
            cached = frozenset(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
        user._prodorders_roles = cached
    return cached


def cache_roles(user, names) -> None:
    """Remember roles read together with the user (one query instead of two)."""
    user._prodorders_roles = ALL_ROLES if user.is_superuser else frozenset(names) & ALL_ROLES


def has_role(user, roles: frozenset[str] | set[str]) -> bool:
    return bool(user_roles(user) & set(roles))


def roles_context(request: HttpRequest) -> dict:
    roles = user_roles(getattr(request, "user", None))
    # Office pages are for every role but the shop-floor operator (who has /floor/).
    return {"user_roles": roles, "can_plan": bool(roles & PLANNING_ROLES), "is_office": bool(roles & OFFICE_ROLES)}


def roles_refusal(allowed: frozenset[str] | set[str], roles: frozenset[str], what: str = "This") -> str:
    """What a refused user reads: the roles that may, and their own."""
    if not roles:
        return "Your account has no role; ask an admin to give it one."
    needed = sorted(allowed)
    either = needed[0] if len(needed) == 1 else f"{', '.join(needed[:-1])} or {needed[-1]}"
    return f"{what} needs the role {either}; you have {', '.join(sorted(roles))}."
