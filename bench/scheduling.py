"""Bench: finite-capacity scheduling of 10,000 operations (2,000 orders x 5 operations on
8 work centers), calendars and existing load read from Postgres.

    DATABASE_URL=postgres://... python bench/scheduling.py

Everything it creates is rolled back at the end."""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from planning import services  # noqa: E402
from planning.scheduling import FiniteOrder, OperationSpec, RequirementSpec, schedule_finite  # noqa: E402

ORDERS, OPS_PER_ORDER, WORK_CENTERS = 2_000, 5, 8


class Rollback(Exception):
    pass


def main() -> None:
    call_command("migrate", verbosity=0)
    rng = random.Random(42)
    try:
        with transaction.atomic():
            one = services.calendar_create(
                code="BENCH-5x8",
                name="bench",
                shifts=[services.ShiftData(weekday=d, start_time=clock(6), end_time=clock(14)) for d in range(5)],
                exceptions=[
                    services.ExceptionData(
                        date_from=datetime(2025, 12, 24).date(), date_to=datetime(2025, 12, 26).date()
                    )
                ],
            )
            two = services.calendar_create(
                code="BENCH-2SHIFT",
                name="bench",
                shifts=[services.ShiftData(weekday=d, start_time=clock(6), end_time=clock(22)) for d in range(5)],
            )
            wcs = [
                services.work_center_create(
                    code=f"BENCH-WC-{i}",
                    name="bench",
                    calendar_id=(one if i % 2 else two).pk,
                    parallel_units=1 + i % 3,
                    efficiency_pct=Decimal(90 + i),
                )
                for i in range(WORK_CENTERS)
            ]
            start = datetime(2025, 11, 3, 6, tzinfo=UTC)
            # some load already on the books, so existing load is read and respected
            services.capacity_requirements_replace(
                source_type="bench",
                source_id=1,
                requirements=[
                    RequirementSpec(work_center_id=wc.pk, date=(start + timedelta(days=d)).date(), hours=Decimal(4))
                    for wc in wcs
                    for d in range(20)
                ],
            )
            orders = [
                FiniteOrder(
                    key=n,
                    priority=rng.randint(1, 9),
                    due=start + timedelta(days=rng.randint(5, 400)),
                    operations=[
                        OperationSpec(
                            key=(n, seq),
                            work_center_id=rng.choice(wcs).pk,
                            setup_minutes=Decimal(rng.randint(0, 60)),
                            run_minutes_per_unit=Decimal(rng.randint(1, 30)) / 10,
                            quantity=Decimal(rng.randint(1, 50)),
                            queue_minutes=Decimal(rng.choice((0, 30, 60))),
                            move_minutes=Decimal(rng.choice((0, 15))),
                        )
                        for seq in range(OPS_PER_ORDER)
                    ],
                )
                for n in range(ORDERS)
            ]
            began = time.perf_counter()
            result = schedule_finite(orders=orders, horizon_start=start)
            elapsed = time.perf_counter() - began
            ops = sum(len(r.operations) for r in result.values())
            last = max(r.end for r in result.values())
            late = sum(1 for r in result.values() if r.late_by)
            print(
                f"schedule_finite: {ORDERS} orders x {OPS_PER_ORDER} ops = {ops} operations "
                f"on {WORK_CENTERS} work centers in {elapsed:.2f} s ({ops / elapsed:,.0f} ops/s); "
                f"horizon to {last:%Y-%m-%d}, {late} orders late"
            )
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    main()
