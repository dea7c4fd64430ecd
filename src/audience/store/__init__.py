"""The workspace database: schema, migrations, connections and bulk loading.

Input: validated, typed rows from :mod:`audience.validate`. Output: the workspace tables
(``contacts``, ``events``, ``quarantine``, ``ingests``, ``runs``, ``segments``,
``memberships``) in ``audience.duckdb``.

Invariants: every write of an ingest happens in one transaction (all of a file's rows or
none); the schema carries a version and is migrated forward on open, never backwards; the
keyed-hash secret lives outside the database file, readable only by its owner. No business
logic lives here.
"""

from audience.store.database import Database
from audience.store.schema import SCHEMA_VERSION
from audience.store.secret import create_secret, read_secret

__all__ = ["SCHEMA_VERSION", "Database", "create_secret", "read_secret"]
