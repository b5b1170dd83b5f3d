"""Set-based foreign keys for the ledger's high-volume, append-only tables.

A PostgreSQL foreign key checks every inserted row on its own: one lookup and one
``FOR KEY SHARE`` row lock per row and key, queued as deferred trigger events until commit.
A posting batch of the shop floor writes hundreds of movement rows that share a handful of
items, locations and postings; those per-row checks were half of what Postgres spent on it.

These triggers keep the same guarantees with one statement-level check per key:

- ``references_check`` (on the referencing table, after each ``INSERT`` statement): every
  distinct key of the inserted rows must exist; the referenced rows are locked
  ``FOR KEY SHARE`` exactly as a foreign key check locks them, so a concurrent ``DELETE`` of
  one waits for this transaction, then sees its rows and is refused.
- ``referenced_guard`` (on each referenced table, after each ``DELETE`` statement, and
  before an update that changes a row's id): a row that is still referenced may not go,
  as with ``ON DELETE NO ACTION``. Its query runs with a fresh snapshot, so it sees rows
  committed by an inserter it waited for.

Both raise SQLSTATE 23503 (``foreign_key_violation``), which Django maps to
``IntegrityError`` as it does for a real foreign key. They check when the statement ends,
not at commit: referenced rows must exist before the referencing rows are inserted (the
ledger inserts postings, then movements). Only for tables whose referencing rows are never
updated (the append-only ledger): an ``UPDATE`` of a referencing column is not checked.
"""

from __future__ import annotations

from collections.abc import Sequence

import pgtrigger


def references_check(*, name: str, references: Sequence[tuple[str, str]]) -> pgtrigger.Trigger:
    """Statement-level check of ``references`` = [(column, referenced table), ...] (the
    referenced tables' key is ``id``). NULL keys are not checked (MATCH SIMPLE)."""
    checks = []
    for column, table in references:
        checks.append(
            f"""
            SELECT count(DISTINCT {column}) INTO wanted FROM new_rows;
            IF wanted > 0 THEN
                SELECT count(*) INTO found FROM (
                    SELECT 1 FROM {table} WHERE id IN (SELECT {column} FROM new_rows) FOR KEY SHARE
                ) locked;
                IF found <> wanted THEN
                    SELECT n.{column} INTO missing FROM new_rows n
                     WHERE n.{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {table} r WHERE r.id = n.{column})
                     LIMIT 1;
                    RAISE foreign_key_violation USING MESSAGE = format(
                        'insert into %s violates the reference %s -> {table}: key %s does not exist',
                        TG_TABLE_NAME, '{column}', missing
                    );
                END IF;
            END IF;"""  # noqa: S608 - identifiers from the models' Meta, not input
        )
    return pgtrigger.Trigger(
        name=name,
        when=pgtrigger.After,
        operation=pgtrigger.Insert,
        level=pgtrigger.Statement,
        referencing=pgtrigger.Referencing(new="new_rows"),
        declare=[("wanted", "bigint"), ("found", "bigint"), ("missing", "bigint")],
        func="".join(checks) + "\nRETURN NULL;",
    )


def referenced_guard(*, name: str, referenced_by: Sequence[tuple[str, str]]) -> list[pgtrigger.Trigger]:
    """Refuse deleting (or re-keying) a row that ``referenced_by`` = [(referencing table,
    column), ...] still points at. Returns the two triggers to put in ``Meta.triggers``."""
    # Identifiers from the models' Meta, not input.
    exists = " OR ".join(
        f"EXISTS (SELECT 1 FROM {table} x WHERE x.{column} IN (SELECT id FROM old_rows))"  # noqa: S608
        for table, column in referenced_by
    )
    row_exists = " OR ".join(
        f"EXISTS (SELECT 1 FROM {table} x WHERE x.{column} = OLD.id)"  # noqa: S608
        for table, column in referenced_by
    )
    message = "', '".join(f"{table}.{column}" for table, column in referenced_by)
    return [
        pgtrigger.Trigger(
            name=f"{name}_delete",
            when=pgtrigger.After,
            operation=pgtrigger.Delete,
            level=pgtrigger.Statement,
            referencing=pgtrigger.Referencing(old="old_rows"),
            func=f"""
            IF {exists} THEN
                RAISE foreign_key_violation USING MESSAGE = format(
                    'delete from %s violates a reference to it from %s', TG_TABLE_NAME, concat_ws(', ', '{message}')
                );
            END IF;
            RETURN NULL;""",  # noqa: S608
        ),
        pgtrigger.Trigger(
            name=f"{name}_rekey",
            when=pgtrigger.Before,
            operation=pgtrigger.UpdateOf("id"),
            condition=pgtrigger.Condition("OLD.id IS DISTINCT FROM NEW.id"),
            func=f"""
            IF {row_exists} THEN
                RAISE foreign_key_violation USING MESSAGE = format(
                    'update of %s.id violates a reference to it from %s', TG_TABLE_NAME, concat_ws(', ', '{message}')
                );
            END IF;
            RETURN NEW;""",
        ),
    ]
