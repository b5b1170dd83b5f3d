from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand

from config.roles import Role

OUR_APPS = ["inventory", "planning", "production", "sales"]


class Command(BaseCommand):
    help = "Create the role groups and give each the Django model permissions it needs (idempotent)."

    def handle(self, *args, **options):
        ours = Permission.objects.filter(content_type__app_label__in=OUR_APPS)
        views = ours.filter(codename__startswith="view_")
        grants = {
            Role.VIEWER: views,
            Role.OPERATOR: views,
            Role.INTEGRATION: views | ours.filter(content_type__app_label="sales"),
            Role.PLANNER: ours.exclude(codename__startswith="delete_")
            | ours.filter(content_type__app_label__in=["production", "planning"], codename__startswith="delete_"),
            Role.ADMIN: Permission.objects.all(),
        }
        for role in Role:
            group, _ = Group.objects.get_or_create(name=role.value)
            group.permissions.set(grants[role])
        if options["verbosity"] > 0:
            self.stdout.write(f"{len(Role)} role groups in place.")
