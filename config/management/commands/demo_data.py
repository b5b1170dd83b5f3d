from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

import inventory.demo
import planning.demo
import production.demo
import sales.demo
from config.demo import demo_users_load


class Command(BaseCommand):
    help = "Load the demo factory: users per role, items, BOMs, work centers, routings, customers, stock (idempotent)."

    def handle(self, *args, **options):
        call_command("roles_sync", verbosity=0)
        with transaction.atomic():
            demo_users_load()
            # Dependency order: inventory <- planning <- production <- sales.
            for module in (inventory.demo, planning.demo, production.demo, sales.demo):
                module.load()
        self.stdout.write("Demo data in place.")
