"""Demo users, one per role. Passwords are for the local demo only."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from config.roles import Role

DEMO_USERS: list[tuple[str, str, str]] = [
    ("planner", "planner-demo", Role.PLANNER),
    ("operator", "operator-demo", Role.OPERATOR),
    ("integration", "integration-demo", Role.INTEGRATION),
    ("viewer", "viewer-demo", Role.VIEWER),
    ("admin", "admin-demo", Role.ADMIN),
]


def demo_users_load() -> None:
    User = get_user_model()
    for username, password, role in DEMO_USERS:
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_password(password)
            user.first_name = role.label if hasattr(role, "label") else str(role).title()
        user.is_staff = user.is_superuser = role == Role.ADMIN
        user.save()
        user.groups.add(Group.objects.get(name=role))
