"""config.db.array_literal: Postgres reads back exactly the values it was given."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from config.db import array_literal

TYPES = {
    "bigint": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "numeric": st.decimals(min_value=-(10**12), max_value=10**12, places=4, allow_nan=False),
    "text": st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
    "boolean": st.booleans(),
    "timestamptz": st.datetimes(
        min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
    ),
    "date": st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)),
}


def _round_trip(values: list, sql_type: str) -> list:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{sql_type}[]", [array_literal(values)])
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize("sql_type", sorted(TYPES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_values_come_back_as_given(sql_type, data):
    # Given a column of values of one type, with NULLs and repeats as a posting batch has
    values = data.draw(st.lists(st.one_of(st.none(), TYPES[sql_type]), max_size=30))
    values += values[: len(values) // 2]
    # Then Postgres reads the literal back as the same values
    assert _round_trip(values, sql_type) == values


@pytest.mark.django_db
def test_booleans_and_numbers_are_not_confused():
    assert array_literal([True, 1, False, 0, None]) == "{t,1,f,0,NULL}"
    assert array_literal([1, Decimal("1.5"), 2]) == "{1,1.5,2}"
    assert array_literal(['a"b', "c\\d", 'a"b']) == '{"a\\"b","c\\\\d","a\\"b"}'
