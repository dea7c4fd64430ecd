"""Names and text quoted for SQL, for the few statements built from a file's own words
(its column names) rather than bound as parameters."""

from __future__ import annotations


def identifier(name: str) -> str:
    """A column or table name as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def string(text: str) -> str:
    """Text as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
