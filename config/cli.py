"""``prodorders``: the single entry command.

``prodorders run`` migrates, loads the demo data once, and runs the web server (gunicorn)
and a Celery worker with beat together until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time

from config.embedded import BASE_DIR, ServiceStartError, data_dir, fail


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django

    try:
        django.setup()
    except ServiceStartError as exc:
        fail(str(exc))


def _check_services() -> None:
    from config.health import check_broker, check_database

    for problem in (check_database(), check_broker()):
        if problem:
            fail(problem)


def run(args: argparse.Namespace) -> int:
    _setup_django()
    _check_services()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("roles_sync", verbosity=0)
    if not args.no_demo:
        call_command("demo_data", verbosity=1)
    call_command("collectstatic", interactive=False, verbosity=0)

    env = dict(os.environ)  # carries DATABASE_URL / REDIS_URL of embedded services
    python = sys.executable
    web = [
        python,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"{args.host}:{args.port}",
        "--workers",
        str(args.web_workers),
        "--threads",
        "4",
        "--access-logfile",
        "-",
        "--graceful-timeout",
        "5",
    ]
    worker = [
        python,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--beat",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(args.task_workers),
        "--schedule",
        str(data_dir() / "celerybeat-schedule"),
    ]
    # Each child in a session of its own: Ctrl-C reaches only this process, which stops each
    # child once with SIGTERM (a warm shutdown), instead of the terminal's SIGINT hitting the
    # worker's pool processes and the servers directly, and then SIGTERM on top.
    children = [
        subprocess.Popen(cmd, cwd=BASE_DIR, env=env, start_new_session=True)  # noqa: S603
        for cmd in (web, worker)
    ]

    shown_host = "localhost" if args.host in ("0.0.0.0", "127.0.0.1") else args.host  # noqa: S104
    print(f"\n  Production orders is running at http://{shown_host}:{args.port}/", flush=True)
    if not args.no_demo:
        from config.demo import DEMO_USERS

        print("  Demo logins (username / password):")
        for username, password, role in DEMO_USERS:
            print(f"    {username:<12} {password:<18} {role}")
    print("  API docs: /api/docs/   Health: /healthz   Stop: Ctrl-C\n", flush=True)

    stopping = False

    def _stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.3)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                # Each child leads a session of its own: kill all of it, so that no process
                # it started (the worker under its launcher) outlives us holding the terminal.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()
    failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    print("Stopped.", flush=True)
    return 1 if (failed and not stopping) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="prodorders")
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="migrate, load demo data, run web server and Celery worker")
    p_run.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    p_run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    p_run.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    p_run.add_argument("--web-workers", type=int, default=2)
    p_run.add_argument("--task-workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
