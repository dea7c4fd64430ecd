"""Typed workspace configuration, read from ``audience.toml``.

Every key is documented where it is declared. Unknown keys and wrong types are refused
with an error that names the key (``ingest.chunk_rows``), what was given and what type
is expected, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from audience.errors import ConfigError

CONFIG_FILE = "audience.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Section):
    """Where the workspace keeps its tables."""

    engine: Literal["duckdb"] = "duckdb"
    """The storage engine. DuckDB, embedded in the workspace folder, is the default."""

    database: str = "audience.duckdb"
    """The database file, relative to the workspace folder."""

    memory_limit: str = "1GB"
    """DuckDB's memory limit; larger work spills to disk, keeping ingest within bounded RAM."""

    threads: Annotated[int, Field(ge=1, le=256)] | None = None
    """Worker threads for DuckDB; ``None`` uses every core."""


class IngestConfig(_Section):
    """How files are read and checked."""

    chunk_rows: Annotated[int, Field(ge=1_000, le=5_000_000)] = 200_000
    """Rows read, validated and staged at a time; bounds memory whatever the file size."""

    future_tolerance_hours: Annotated[float, Field(ge=0, le=24 * 30)] = 24.0
    """How far past the ingest time a timestamp may lie before it is refused as "in the
    future". A day covers clocks and time zones that disagree; anything later is a bug."""


class FeaturesConfig(_Section):
    """How per-contact features are defined (see :mod:`audience.features`)."""

    btyd_period: Literal["day", "week"] = "day"
    """The period of the BTYD summary (frequency, recency, T): repeat purchases within one
    period count once, as in lifetimes' ``summary_data_from_transaction_data(freq=...)``."""

    abandon_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 24.0
    """A cart (the cart adds and checkouts of one UTC day) is abandoned when no order
    follows within this many hours of its last event."""

    new_days: Annotated[int, Field(ge=0)] = 30
    """Engagement tier ``new``: signed up fewer than this many days before ``as_of``."""

    high_days: Annotated[int, Field(ge=1)] = 30
    """Tier ``high``: clicked within this many days, or opened within them with a human
    open rate of at least ``high_open_rate``."""

    high_open_rate: Annotated[float, Field(ge=0, le=1)] = 0.3
    """The human open rate that, with a recent open, makes a contact highly engaged."""

    medium_days: Annotated[int, Field(ge=1)] = 90
    """Tier ``medium``: a human open or click within this many days."""

    dormant_days: Annotated[int, Field(ge=1)] = 180
    """Tier ``dormant``: no human open or click within this many days (or ever); between
    ``medium_days`` and this, the tier is ``low``."""


class WorkspaceConfig(_Section):
    """The whole ``audience.toml``."""

    store: StoreConfig = StoreConfig()
    ingest: IngestConfig = IngestConfig()
    features: FeaturesConfig = FeaturesConfig()


DEFAULT_CONFIG_TOML = """\
# Audience workspace configuration. Every key is optional; the values shown are the defaults.

[store]
# The storage engine. DuckDB, embedded in this folder, is the default.
engine = "duckdb"
# The database file, relative to this folder.
database = "audience.duckdb"
# DuckDB's memory limit. Larger work spills to disk.
memory_limit = "1GB"

[ingest]
# Rows read, validated and staged at a time: bounds memory whatever the file size.
chunk_rows = 200000
# How many hours past the ingest time a timestamp may lie before it counts as "in the future".
future_tolerance_hours = 24.0

[features]
# Period of the BTYD summary (frequency, recency, T): "day" or "week".
btyd_period = "day"
# A cart with no order within this many hours of its last event is abandoned.
abandon_hours = 24.0
# Engagement tiers: new (signed up < new_days ago), high (clicked within high_days, or opened
# within them with a human open rate >= high_open_rate), medium (opened or clicked within
# medium_days), low (within dormant_days), dormant (not within dormant_days, or never).
new_days = 30
high_days = 30
high_open_rate = 0.3
medium_days = 90
dormant_days = 180
"""


def parse_config(data: dict[str, Any], source: str = CONFIG_FILE) -> WorkspaceConfig:
    """Validate a config mapping; raise :class:`ConfigError` naming every bad key."""
    try:
        return WorkspaceConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise ConfigError(f"{source} is not valid: {problems}.") from None


def load_config(path: Path) -> WorkspaceConfig:
    """Read and validate ``audience.toml``; a missing file means all defaults."""
    if not path.exists():
        return WorkspaceConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}. Fix the syntax and retry.") from None
    return parse_config(data, source=str(path))


def _describe(error: Any) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    given = error.get("input")
    if error["type"] == "extra_forbidden":
        return f"unknown key '{key}' (check the spelling; see the keys documented in audience.toml)"
    return f"key '{key}' {error['msg'].lower()}, got {given!r}"
