"""Confirmation throughput, end to end: N concurrent HTTP clients POST confirmations (each
backflushing 20 components and receiving output) to a real gunicorn, a real Celery worker
posts them from the outbox, and the run reports confirmations/s, p50/p95 time from POST to
posted, and postings lost or duplicated — next to pgbench on the same database as the
machine's ceiling.

    python bench/confirmations.py [--clients 8] [--seconds 20] [--components 20]
                                  [--web-workers 2] [--web-threads 4] [--task-workers 2]
                                  [--server gunicorn|granian]

``--server granian`` (after ``pip install granian``) runs the same app under Granian instead
of gunicorn, for an A/B of the web server.

Servers are sized as ``prodorders run`` sizes them unless told otherwise, and run with
production settings (``DEBUG`` off) unless ``DEBUG`` is set. Besides the
figures it prints the CPU time each part spent per confirmation (web server, worker, the
Postgres backends of this database, the clients), read from the kernel, so a run on a
shared machine still shows what one confirmation costs.

Uses DATABASE_URL / REDIS_URL (or the embedded services). Writes its own bench items and
orders (SKU prefix BENCH-<run>), which stay in the database.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from knox.models import AuthToken  # noqa: E402

PORT = 8799


def build(run: str, clients: int, components: int):
    from inventory.models import Bom, BomLine, Item, Location, UnitOfMeasure, Warehouse
    from inventory.services import DocumentRef, PostingLine, stock_post
    from planning.models import Calendar, CalendarShift, Routing, RoutingOperation, WorkCenter
    from production import services

    user, _ = get_user_model().objects.get_or_create(username=f"bench-{run}")
    user.groups.add(Group.objects.get_or_create(name="integration")[0], Group.objects.get_or_create(name="planner")[0])
    pcs, _ = UnitOfMeasure.objects.get_or_create(code="pcs", defaults={"name": "Pieces", "decimals": 0})
    wh, _ = Warehouse.objects.get_or_create(code="BENCH", defaults={"name": "Bench"})
    rm = Location.objects.create(warehouse=wh, code=f"B{run}-RM")
    fg = Location.objects.create(warehouse=wh, code=f"B{run}-FG")
    calendar = Calendar.objects.create(code=f"B{run}", name="24x7")
    CalendarShift.objects.bulk_create(
        CalendarShift(calendar=calendar, weekday=d, start_time="00:00", end_time="23:59") for d in range(7)
    )
    wc = WorkCenter.objects.create(code=f"B{run}-WC", name="Bench", calendar=calendar, parallel_units=50)
    parts = Item.objects.bulk_create(
        Item(
            sku=f"BENCH-{run}-P{i:02d}",
            name=f"Part {i}",
            item_type="purchased",
            uom=pcs,
            procurement="buy",
            standard_cost=Decimal("1.5"),
        )
        for i in range(components)
    )
    product = Item.objects.create(
        sku=f"BENCH-{run}-FG",
        name="Bench product",
        item_type="finished",
        uom=pcs,
        procurement="make",
        standard_cost=Decimal(40),
    )
    bom = Bom.objects.create(item=product, version=1, status="active", base_quantity=1)
    BomLine.objects.bulk_create(
        BomLine(
            bom=bom,
            position=(i + 1) * 10,
            component=p,
            quantity=Decimal(1 + i % 3),
            flushing="backward",
            operation_sequence=10,
        )
        for i, p in enumerate(parts)
    )
    routing = Routing.objects.create(item=product, version=1, status="active", valid_from="2020-01-01")
    RoutingOperation.objects.create(
        routing=routing, sequence=10, work_center=wc, run_minutes_per_unit=Decimal("0.01"), reporting_point=True
    )
    stock_post(
        movement_type="receipt",
        lines=[PostingLine(item_id=p.pk, location_id=rm.pk, quantity=Decimal(10_000_000)) for p in parts],
        reference=DocumentRef(document_type="bench", document_id=1),
        user=user,
    )
    operations = []
    for _ in range(clients):
        order = services.production_order_create(
            item_id=product.pk,
            quantity=Decimal(100_000),
            due_date=django.utils.timezone.localdate() + django.utils.timezone.timedelta(days=3650),
            user=user,
            issue_location_id=rm.pk,
            receipt_location_id=fg.pk,
        )
        services.production_order_release(order_id=order.pk, user=user)
        operations.append(order.operations.get().pk)
    _, token = AuthToken.objects.create(user=user)
    return token, operations


def start_servers(env: dict, args) -> list[subprocess.Popen]:
    python = sys.executable
    if args.server == "granian":
        command = [
            *(python, "-m", "granian", "--interface", "wsgi", "config.wsgi:application"),
            *("--host", "127.0.0.1", "--port", str(PORT), "--workers", str(args.web_workers)),
            *("--blocking-threads", str(args.web_threads), "--log-level", "warning", "--no-ws"),
        ]
    else:
        command = [
            *(python, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{PORT}"),
            *("--workers", str(args.web_workers), "--threads", str(args.web_threads), "--log-level", "warning"),
        ]
    web = subprocess.Popen(command, cwd=ROOT, env=env)
    worker = subprocess.Popen(
        [
            python,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--concurrency",
            str(args.task_workers),
            "--loglevel",
            os.environ.get("BENCH_WORKER_LOGLEVEL", "WARNING"),
            "--without-gossip",
            "--without-mingle",
            "-Q",
            env["BENCH_QUEUE"],
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return [web, worker]
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not come up")


def cpu_seconds(servers: list[subprocess.Popen]) -> dict[str, float]:
    """CPU time (user + system) so far of the web server, the worker, Postgres (the backends
    of this database; not the WAL writer or checkpointer) and this process (the clients),
    from the kernel's counters."""
    import psutil

    def tree(pid: int) -> float:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0.0
        for proc in procs:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    # The backends serving this database (a shared server also serves others).
    db_name = settings.DATABASES["default"]["NAME"]
    postgres = 0.0
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] in ("postgres", "postmaster") and f" {db_name} " in " ".join(proc.info["cmdline"] or ()):
            try:
                times = proc.cpu_times()
                postgres += times.user + times.system
            except psutil.NoSuchProcess:
                pass
    me = psutil.Process().cpu_times()
    return {
        "web": tree(servers[0].pid),
        "worker": tree(servers[1].pid),
        "postgres": postgres,
        "clients": me.user + me.system,
    }


def client(token: str, operation_id: int, stop_at: float, results: list, errors: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    while time.monotonic() < stop_at:
        body = json.dumps({"operation": operation_id, "good_quantity": "1", "labor_minutes": "1"})
        key = uuid.uuid4().hex
        started = time.time()
        try:
            conn.request("POST", "/api/v1/confirmations/", body, {**headers, "Idempotency-Key": key})
            response = conn.getresponse()
            payload = response.read()
        except OSError as exc:
            errors.append(str(exc))
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            continue
        if response.status != 201:
            errors.append(f"{response.status} {payload[:200]!r}")
            continue
        results.append((json.loads(payload)["id"], started, time.time()))


def pgbench(seconds: int, clients: int) -> str:
    if not shutil.which("pgbench"):
        return "pgbench not installed"
    db = settings.DATABASES["default"]
    host = db.get("HOST") or db.get("OPTIONS", {}).get("host", "")
    args = ["-h", host, "-U", db["USER"] or "postgres"]
    if db.get("PORT"):
        args += ["-p", str(db["PORT"])]
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    scratch = f"{db['NAME']}_pgbench"
    subprocess.run(["dropdb", "--if-exists", *args, scratch], env=env, capture_output=True)
    subprocess.run(["createdb", *args, scratch], env=env, check=True, capture_output=True)
    subprocess.run(["pgbench", "-i", "-s", "10", "-q", *args, scratch], env=env, check=True, capture_output=True)
    out = subprocess.run(
        ["pgbench", "-c", str(clients), "-j", "2", "-T", str(seconds), *args, scratch],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    subprocess.run(["dropdb", *args, scratch], env=env, capture_output=True)
    tps = [line for line in out.splitlines() if line.startswith("tps")]
    return tps[0] if tps else out[-300:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--components", type=int, default=20)
    parser.add_argument("--no-pgbench", action="store_true")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load, then ANALYZE")
    # Defaults: what `prodorders run` starts (2 gunicorn processes × 4 threads, 2 task processes).
    parser.add_argument("--server", choices=["gunicorn", "granian"], default="gunicorn", help="the WSGI server")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--web-threads", type=int, default=4, help="gunicorn threads per process")
    parser.add_argument("--task-workers", type=int, default=2, help="Celery worker processes")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    run = uuid.uuid4().hex[:6].upper()
    token, operations = build(run, args.clients, args.components)
    # Statistics as autovacuum would have them (it is off on some machines, e.g. this one's
    # PostgreSQL): without them the planner guesses from empty tables.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    # Its own queue, so that no other worker on this broker takes the bench's tasks.
    queue = f"bench-{run}"
    env = {**os.environ, "BENCH_QUEUE": queue, "CELERY_TASK_DEFAULT_QUEUE": queue}
    # The servers run as in production (DEBUG off: no SQL kept per query) on plain HTTP over
    # loopback, unless DEBUG is set explicitly.
    if "DEBUG" not in os.environ:
        env.update(
            DEBUG="0",
            SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            SECURE_SSL_REDIRECT="0",
            SECURE_COOKIES="0",
        )
    connection.close()
    servers = start_servers(env, args)
    try:
        from production.models import Confirmation

        if args.warmup:
            # Warm up, then ANALYZE, as autovacuum would have done on a plant's database long
            # before (it is off on some machines, e.g. this one): the ledger and outbox grow
            # from nothing here, and plans made from empty-table statistics — among them
            # Postgres's cached foreign-key check plans — would scan whole tables.
            warm: list = []
            warm_stop = time.monotonic() + args.warmup
            warmers = [
                threading.Thread(target=client, args=(token, operations[i % len(operations)], warm_stop, warm, []))
                for i in range(args.clients)
            ]
            for t in warmers:
                t.start()
            for t in warmers:
                t.join()
            warm_ids = [r[0] for r in warm]
            while Confirmation.objects.filter(pk__in=warm_ids, posting_status="pending").exists():
                time.sleep(0.2)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        results: list = []
        errors: list = []
        stop_at = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=client, args=(token, operations[i % len(operations)], stop_at, results, errors))
            for i in range(args.clients)
        ]
        cpu_before = cpu_seconds(servers)
        began = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent_seconds = time.time() - began
        ids = [r[0] for r in results]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pending = Confirmation.objects.filter(pk__in=ids, posting_status="pending").count()
            if pending == 0:
                break
            time.sleep(0.5)
        drained_seconds = time.time() - began
        cpu_after = cpu_seconds(servers)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(20)

    from inventory.models import StockMovement, StockPosting
    from inventory.selectors import stock_ledger_check
    from production.models import Confirmation

    posted = dict(Confirmation.objects.filter(pk__in=ids).values_list("pk", "posted_at"))
    statuses = dict(Confirmation.objects.filter(pk__in=ids).values_list("pk", "posting_status"))
    latencies = sorted((posted[i].timestamp() - started) * 1000 for i, started, _ in results if posted.get(i))
    request_ms = sorted((done - started) * 1000 for _, started, done in results)
    if os.environ.get("BENCH_DUMP"):  # per confirmation: id, POST start, POST end, posted (epoch s)
        rows = [(i, s, d, posted[i].timestamp() if posted.get(i) else None) for i, s, d in results]
        Path(os.environ["BENCH_DUMP"]).write_text(json.dumps(rows))
    postings = StockPosting.objects.filter(
        posting_key__startswith="production_order:confirmation:", document_line_id__in=ids
    )
    per_confirmation = {}
    for line_id in postings.values_list("document_line_id", flat=True):
        per_confirmation[line_id] = per_confirmation.get(line_id, 0) + 1
    expected_movements = len(ids) * (args.components + 1)
    movements = StockMovement.objects.filter(posting__in=postings).count()
    lost = sum(1 for i in ids if per_confirmation.get(i, 0) == 0)
    duplicated = sum(1 for i in ids if per_confirmation.get(i, 0) > 2)

    def pct(values: list[float], p: float) -> float:
        return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")

    print(
        f"\nconfirmations bench: {args.clients} clients, {args.seconds} s, "
        f"{args.components} backflushed components each"
    )
    print(f"  confirmations accepted      {len(ids)}  ({len(ids) / sent_seconds:.1f}/s while sending)")
    print(
        f"  posted / failed / pending   {sum(1 for s in statuses.values() if s == 'posted')} / "
        f"{sum(1 for s in statuses.values() if s == 'failed')} / {sum(1 for s in statuses.values() if s == 'pending')}"
    )
    print(f"  end-to-end throughput       {len(ids) / drained_seconds:.1f} confirmations/s posted")
    print(f"  POST latency p50 / p95      {statistics.median(request_ms):.0f} / {pct(request_ms, 0.95):.0f} ms")
    print(f"  POST -> posted p50 / p95    {statistics.median(latencies):.0f} / {pct(latencies, 0.95):.0f} ms")
    print(f"  stock movements             {movements} (expected {expected_movements})")
    print(f"  postings lost / duplicated  {lost} / {duplicated}")
    print(f"  client errors               {len(errors)}{(': ' + errors[0]) if errors else ''}")
    per = {k: (cpu_after[k] - cpu_before[k]) * 1000 / max(len(ids), 1) for k in cpu_before}
    print(
        "  CPU per confirmation        "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in per.items())
        + f", total {sum(per.values()):.2f} ms (2 cores = {2000 / max(sum(per.values()), 0.01):.0f}/s at most)"
    )
    print(f"  ledger check                {len(stock_ledger_check())} differences")
    if not args.no_pgbench:
        print(f"  pgbench ceiling (TPC-B, {args.clients} clients, 10 s): {pgbench(10, args.clients)}")


if __name__ == "__main__":
    main()
