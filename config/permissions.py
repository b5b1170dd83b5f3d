from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from config.roles import OFFICE_ROLES, PLANNING_ROLES, roles_refusal, user_roles


class RolePermission(BasePermission):
    """Role check shared by every API view.

    A view may declare ``read_roles`` and ``write_roles`` (sets of role names), and
    ``action_roles`` mapping a viewset action (``"confirm"``, ``"create"``) to the roles that
    may call it. Defaults: the office roles (everyone but the operator) may read; planners and
    admins may write. So the shop-floor operator gets only what a view grants the role by
    name (confirmations, ``production/apis_confirmations.py``), and a new endpoint is closed
    to the floor until someone decides otherwise. A user with no role at all gets nothing.
    """

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        roles = user_roles(request.user)
        if not roles:
            # DRF makes a permission instance per request: the message is this request's.
            self.message = roles_refusal(frozenset(), roles)
            return False
        action = getattr(view, "action", None)
        action_roles = getattr(view, "action_roles", {}) or {}
        if action in action_roles:
            allowed = action_roles[action]
        elif request.method in SAFE_METHODS:
            allowed = getattr(view, "read_roles", OFFICE_ROLES)
        else:
            allowed = getattr(view, "write_roles", PLANNING_ROLES)
        if roles & set(allowed):
            return True
        self.message = roles_refusal(set(allowed), roles)
        return False
