"""Stock posting throughput: 8 concurrent writers (threads, one DB connection each) against
one hot item and against spread items, then the ledger check.

    DATABASE_URL=postgres://... python bench/stock_postings.py [--seconds 5] [--writers 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from inventory.models import Item, Location, UnitOfMeasure, Warehouse  # noqa: E402
from inventory.selectors import stock_ledger_check  # noqa: E402
from inventory.services import DocumentRef, PostingLine, stock_post  # noqa: E402


def setup(tag: str, n_items: int) -> tuple[list[Item], Location]:
    pcs, _ = UnitOfMeasure.objects.get_or_create(code="pcs", defaults={"name": "Pieces", "decimals": 0})
    wh, _ = Warehouse.objects.get_or_create(code="BENCH", defaults={"name": "Bench"})
    loc = Location.objects.create(warehouse=wh, code=f"B-{tag}")
    items = [
        Item.objects.create(sku=f"B-{tag}-{i}", name="bench", item_type="purchased", uom=pcs, procurement="buy")
        for i in range(n_items)
    ]
    stock_post(
        movement_type="receipt",
        lines=[PostingLine(item_id=it.pk, location_id=loc.pk, quantity=Decimal(10**9)) for it in items],
        reference=DocumentRef("bench", 0),
        user=None,
    )
    return items, loc


def run(label: str, writers: int, seconds: float, pick) -> float:
    counts = [0] * writers
    stop = time.monotonic() + seconds
    barrier = threading.Barrier(writers)

    def writer(n: int) -> None:
        try:
            item, loc = pick(n)
            barrier.wait()
            while time.monotonic() < stop:
                stock_post(
                    movement_type="issue",
                    lines=[PostingLine(item_id=item.pk, location_id=loc.pk, quantity=Decimal(-1))],
                    reference=DocumentRef("bench", n),
                    user=None,
                )
                counts[n] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    rate = sum(counts) / elapsed
    print(f"{label:<28} {writers} writers  {sum(counts):>7} postings  {elapsed:5.1f} s  {rate:8.1f} postings/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--writers", type=int, default=8)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    tag = uuid.uuid4().hex[:8]
    items, loc = setup(tag, args.writers)
    connection.close()
    print(f"database: {connection.settings_dict['NAME']}  cpus: {os.cpu_count()}")
    run("hot item (one balance row)", args.writers, args.seconds, lambda n: (items[0], loc))
    run("spread items (one per writer)", args.writers, args.seconds, lambda n: (items[n], loc))
    started = time.monotonic()
    differences = stock_ledger_check()
    print(f"ledger check: {len(differences)} difference(s) in {time.monotonic() - started:.2f} s")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
