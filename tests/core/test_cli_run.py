"""`prodorders run`, the README's first command: it starts the web server and the worker on
the configured services, answers /healthz, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.django_db(transaction=True)
def test_run_serves_the_app_and_stops_cleanly_on_ctrl_c(tmp_path):
    port = _free_port()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "PRODORDERS_DATA_DIR": str(tmp_path),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "test-only-secret-key-for-the-cli-run-test",
    }
    # A session of its own, as a shell gives a foreground job: Ctrl-C goes to its group.
    cli = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "config.cli", "run", "--no-demo", "--port", str(port), "--host", "127.0.0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not _healthy(port):
            assert cli.poll() is None, cli.stdout.read()
            assert time.monotonic() < deadline, "prodorders run did not answer /healthz in 90 s"
            time.sleep(0.5)

        os.killpg(cli.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        try:
            output, _ = cli.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(cli.pid, signal.SIGKILL)
            pytest.fail(
                "prodorders run did not stop within 60 s of Ctrl-C; its output:\n" + cli.communicate(timeout=10)[0]
            )
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
            cli.wait()

    assert cli.returncode == 0, output
    assert "Stopped." in output
    assert "SIGKILL" not in output and "cold shutdown" not in output.lower(), output
    assert output.count("Warm shutdown") == 1, output
    assert not _healthy(port)
