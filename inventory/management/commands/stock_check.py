import sys

from django.core.management.base import BaseCommand

from inventory.models import Item, Location, Lot
from inventory.selectors import stock_ledger_check


class Command(BaseCommand):
    help = "Recompute balances from the ledger and open reservations; exit 1 and list differences."

    def handle(self, *args, **options):
        differences = stock_ledger_check()
        if not differences:
            self.stdout.write("Ledger and balances agree.")
            return
        skus = dict(Item.objects.filter(pk__in={d.item_id for d in differences}).values_list("pk", "sku"))
        codes = dict(Location.objects.filter(pk__in={d.location_id for d in differences}).values_list("pk", "code"))
        lots = dict(
            Lot.objects.filter(pk__in={d.lot_id for d in differences if d.lot_id}).values_list("pk", "lot_number")
        )
        header = f"{'item':<16} {'location':<12} {'lot':<12} {'field':<9} {'expected':>16} {'actual':>16}"
        self.stdout.write(header)
        for d in differences:
            self.stdout.write(
                f"{skus.get(d.item_id, d.item_id)!s:<16} {codes.get(d.location_id, d.location_id)!s:<12} "
                f"{lots.get(d.lot_id, '') if d.lot_id else '':<12} {d.field:<9} {d.expected:>16} {d.actual:>16}"
            )
        self.stderr.write(f"{len(differences)} difference(s) between ledger and balances.")
        sys.exit(1)
