"""Database helpers shared by all apps."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from functools import cache, wraps
from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models import signals
from django.db.models.base import ModelState


@contextmanager
def all_or_nothing() -> Iterator[None]:
    """Declare the current transaction all or nothing: the caller rolls all of it back on
    any error (the request transaction of an idempotent write does). Services marked
    ``@service_atomic`` then open no savepoint inside it."""
    previous = getattr(connection, "all_or_nothing", False)
    connection.all_or_nothing = True
    try:
        yield
    finally:
        connection.all_or_nothing = previous


def service_atomic(func: Callable) -> Callable:
    """``transaction.atomic`` for a service on a hot path, without the savepoint (two round
    trips) when it runs inside an ``all_or_nothing`` transaction, whose caller never goes
    on after an error. Anywhere else it is exactly ``transaction.atomic``."""

    @wraps(func)
    def inner(*args, **kwargs):
        savepoint = not (connection.in_atomic_block and getattr(connection, "all_or_nothing", False))
        with transaction.atomic(savepoint=savepoint):
            return func(*args, **kwargs)

    return inner


def bulk_update_fields(objs: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Write ``fields`` of many rows in one ``UPDATE ... FROM (VALUES ...)``.

    Django's ``bulk_update`` builds a CASE expression per row and field, which costs
    milliseconds of CPU per call on the posting hot path; this sends plain parameters. The
    caller holds the rows' locks, so the values it computed are the truth."""
    if not objs:
        return 0
    model = type(objs[0])
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    pk = meta.pk
    casts = [f"::{pk.db_type(connection)}"] + [f"::{c.db_type(connection)}" for c in columns]
    row = "(" + ", ".join(f"%s{cast}" for cast in casts) + ")"
    values_sql = ", ".join([row] * len(objs))
    # Decimals go as they are: the ::numeric(p, s) cast of each value rounds them to the
    # column's scale, as the column would (Django's own preparation costs several µs each).
    plain = [isinstance(c, models.DecimalField) for c in columns]
    params: list = []
    for obj in objs:
        params.append(obj.pk)
        for column, as_is in zip(columns, plain, strict=True):
            value = getattr(obj, column.attname)
            params.append(value if as_is else column.get_db_prep_save(value, connection))
    names = ", ".join(connection.ops.quote_name(c.column) for c in columns)
    assignments = ", ".join(
        f"{connection.ops.quote_name(c.column)} = v.{connection.ops.quote_name(c.column)}" for c in columns
    )
    table = connection.ops.quote_name(meta.db_table)
    sql = (
        f"UPDATE {table} SET {assignments} FROM (VALUES {values_sql}) AS v(_pk, {names}) "  # noqa: S608
        f"WHERE {table}.{connection.ops.quote_name(pk.column)} = v._pk"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# Hand-written SQL for the few hottest statements (a confirmation POST runs hundreds of times
# a second): Django compiles a queryset in 0.3–0.6 ms of CPU, several times what Postgres
# needs to run it. Column lists come from the models, so the SQL follows migrations.


@cache
def _attnames(model: type[models.Model]) -> tuple[str, ...]:
    converted = [f.name for f in model._meta.concrete_fields if hasattr(f, "from_db_value")]
    if converted:  # e.g. a JSONField: its value needs the ORM's converter
        raise TypeError(f"{model.__name__} has fields a raw row cannot fill: {', '.join(converted)}")
    return tuple(f.attname for f in model._meta.concrete_fields)


@cache
def select_columns(model: type[models.Model], alias: str) -> str:
    """``alias."column", ...`` for every concrete field of ``model``, in field order."""
    return ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields)


def column_count(model: type[models.Model]) -> int:
    return len(_attnames(model))


def instance_from_row(model: type[models.Model], row: Sequence) -> models.Model:
    """A model instance from a row selected with ``select_columns(model, ...)``, as
    ``Model.from_db`` makes it but without running ``Model.__init__`` (four times the cost, for
    rows a posting batch reads by the hundred) when no ``pre_init``/``post_init`` receiver
    would have seen it."""
    if _init_has_receivers(model):
        return model.from_db(DEFAULT_DB_ALIAS, _attnames(model), row)
    obj = model.__new__(model)
    obj.__dict__.update(zip(_attnames(model), row, strict=True))
    state = ModelState()
    state.adding = False
    state.db = DEFAULT_DB_ALIAS
    obj._state = state
    return obj


def prepared_instances(model: type[models.Model], sql: str, params: Sequence) -> list[models.Model]:
    """Run ``sql`` (which selects ``select_columns(model, ...)`` first) as a prepared
    statement and make instances of ``model`` of its rows; columns after the model's are
    left for the caller in ``instance._extra``."""
    width = column_count(model)
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params)
        rows = cursor.fetchall()
    instances = []
    for row in rows:
        obj = instance_from_row(model, row[:width])
        if len(row) > width:
            obj._extra = row[width:]
        instances.append(obj)
    return instances


def _init_has_receivers(model: type[models.Model]) -> bool:
    if not signals.pre_init.receivers and not signals.post_init.receivers:
        return False
    return signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model)


# Values that ``get_db_prep_save`` of these (unchanged) Django fields would send to
# PostgreSQL as they are: the hot inserts skip the preparation (a few µs per field) for them.
_AS_IS: tuple[tuple[type[models.Field], tuple[type, ...]], ...] = (
    (models.BooleanField, (bool,)),
    (models.IntegerField, (int,)),
    (models.CharField, (str,)),
    (models.TextField, (str,)),
    (models.DecimalField, (Decimal,)),
    (models.DateTimeField, (dt.datetime,)),  # aware ones only, checked per value
)
_PREPARATION = ("get_db_prep_save", "get_db_prep_value", "get_prep_value", "to_python")


def _as_is_types(field: models.Field) -> tuple[type, ...]:
    """The value types ``field`` sends unchanged (none where a subclass prepares its own way)."""
    if isinstance(field, models.ForeignKey):
        target = field.target_field
        return _as_is_types(target) if not isinstance(target, models.ForeignKey) else ()
    for base, types in _AS_IS:
        if isinstance(field, base):
            unchanged = all(getattr(type(field), m) is getattr(base, m) for m in _PREPARATION)
            return types if unchanged else ()
    return ()


@cache
def _write_plan(model: type[models.Model]) -> tuple[tuple[models.Field, str, str, bool, tuple[type, ...]], ...]:
    """Per concrete field: the field, its attname, quoted column, whether its ``pre_save``
    is more than reading the attribute (``auto_now_add``, ...), and the types it sends as
    they are."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    return tuple(
        (f, f.attname, quote(f.column), type(f).pre_save is not models.Field.pre_save, _as_is_types(f))
        for f in model._meta.concrete_fields
    )


@cache
def _write_plan_by_name(model: type[models.Model]) -> dict[str, tuple]:
    return {entry[0].name: entry for entry in _write_plan(model)}


def _db_value(f: models.Field, value, as_is: tuple[type, ...], db) -> object:
    kind = type(value)
    if value is None or (kind in as_is and (kind is not dt.datetime or value.tzinfo is not None)):
        return value
    return f.get_db_prep_save(value, db)


def insert_parts(obj: models.Model, *, exclude: Sequence[str] = ()) -> tuple[list[str], list]:
    """Quoted columns and values of an INSERT of ``obj``: every concrete field but an
    automatic primary key and ``exclude`` (attnames), valued as ``save()`` would write them
    (``auto_now_add`` applied to ``obj``)."""
    # The connection itself, not the ``connection`` proxy: a field's preparation reads
    # ``connection.ops``, and each read through the proxy is a context-local lookup.
    db = connections[DEFAULT_DB_ALIAS]
    auto = obj._meta.auto_field
    columns, params = [], []
    for f, attname, column, pre_save, as_is in _write_plan(type(obj)):
        if f is auto or attname in exclude:
            continue
        columns.append(column)
        value = f.pre_save(obj, True) if pre_save else getattr(obj, attname)
        params.append(_db_value(f, value, as_is, db))
    return columns, params


def update_parts(obj: models.Model, fields: Sequence[str]) -> tuple[str, list]:
    """``"col" = %s, ...`` and values of an UPDATE of ``fields`` of ``obj``, as
    ``save(update_fields=...)`` would write them."""
    db = connections[DEFAULT_DB_ALIAS]
    plan = _write_plan_by_name(type(obj))
    assignments, params = [], []
    for name in fields:
        f, attname, column, pre_save, as_is = plan[name]
        assignments.append(f"{column} = %s")
        value = f.pre_save(obj, False) if pre_save else getattr(obj, attname)
        params.append(_db_value(f, value, as_is, db))
    return ", ".join(assignments), params


_NUMBERS = frozenset({int, Decimal})


def _array_element(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | Decimal):
        return str(value)
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def array_literal(values: Sequence) -> str:
    """A Postgres array literal (``{1,"a b",NULL}``) of ``values``, to pass as one text
    parameter cast to an array type: Postgres reads it with one call, where psycopg2's
    ``ARRAY[...]`` makes it parse an expression per value. The posting worker sends a few
    dozen columns of hundreds of values per batch: numbers are joined as they are, and any
    other column formats each distinct value once (a batch's movements share their type,
    timestamp and most keys)."""
    kinds = set(map(type, values))
    if kinds <= _NUMBERS:
        return "{" + ",".join(map(str, values)) + "}"
    if bool in kinds and len(kinds) > 1 + (type(None) in kinds):
        # True == 1: booleans mixed with numbers must not share formatted values
        return "{" + ",".join(map(_array_element, values)) + "}"
    texts = {value: _array_element(value) for value in set(values)}
    return "{" + ",".join([texts[value] for value in values]) + "}"


def copy_cell(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return str(value)


def copy_text(model: type[models.Model], columns: Sequence[str], lines: Sequence[str]) -> int:
    """``COPY model (columns) FROM STDIN`` of ready lines of COPY text (tab-separated, one
    per row, each ending in a newline): for thousands of rows several times cheaper for
    Postgres than a multi-row INSERT, which it must parse value by value."""
    if not lines:
        return 0
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN", io.StringIO("".join(lines)), size=1 << 20)
    return len(lines)


def copy_rows(model: type[models.Model], attnames: Sequence[str], rows: Sequence[Sequence]) -> int:
    """COPY rows of values for the fields named by ``attnames``."""
    column_of = {f.attname: f.column for f in model._meta.concrete_fields}
    return copy_text(model, [column_of[a] for a in attnames], ["\t".join(map(copy_cell, row)) + "\n" for row in rows])


_prepared: WeakKeyDictionary = WeakKeyDictionary()


def execute_prepared(cursor, sql: str, params: Sequence) -> None:
    """Run ``sql`` (``%s`` placeholders) as a prepared statement of this connection:
    Postgres parses and plans it once per connection, not on every call — for the reads of
    a confirmation POST, planning cost Postgres more than running them. The statement's name
    is a digest of its text, so other code (or a newer deployment) never meets a stale one.
    Needs a session-level connection (no transaction-pooling proxy in between)."""
    raw = connection.connection
    known = _prepared.setdefault(raw, set())
    name = "p_" + hashlib.sha1(sql.encode(), usedforsecurity=False).hexdigest()[:16]
    if name not in known:
        parts = sql.split("%s")
        numbered = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))
        cursor.execute(f"PREPARE {name} AS {numbered}")
        known.add(name)
    cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}", params)
