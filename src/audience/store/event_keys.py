"""The stored id of an event that arrives without one: ``h:`` and an md5 of its content.

The content is encoded as a JSON array of the event's typed fields, which is unambiguous:
a missing value is ``null`` and every string is quoted and escaped, so no two different
events share an encoding. (Fields joined with a separator and missing values written as
``\\N`` made a literal ``\\N`` the same as a missing field, and quarantined a valid event
as a conflicting duplicate.) The key is stored, so it must not change between versions:
md5 of text, unlike DuckDB's ``hash``, is fixed.
"""

from __future__ import annotations

from collections.abc import Sequence

PREFIX = "h:"


def content_key_sql(alias: str, columns: Sequence[str]) -> str:
    """SQL for the key of the row ``alias`` over ``columns`` (in the events table's order)."""
    values = ", ".join(f'{alias}."{c}"' for c in columns)
    return f"'{PREFIX}' || md5(CAST(json_array({values}) AS VARCHAR))"
