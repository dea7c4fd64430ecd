"""One feature definition, three engines: DuckDB, a real PostgreSQL server, Spark local mode.

Tolerance: integers, dates, flags and labels must be equal; floating-point features may
differ by a relative 1e-9 (engines sum in different orders).
"""

from __future__ import annotations

import pandas as pd
import pytest

from audience.features.table import feature_table
from audience.store.engines import load_tables
from tests.engine_fixtures import backend_for
from tests.features.fixture import (
    AS_OF,
    EXPECTED,
    contacts_frame,
    events_frame,
    ingested_audience,
)
from tests.features.test_definitions import assert_same

SERVER_ENGINES = ["postgres", "spark"]


def features_on(
    engine: str, request: pytest.FixtureRequest, frames: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    backend = backend_for(engine, request)  # type: ignore[arg-type]
    load_tables(backend, frames)
    table = feature_table(backend.table("contacts"), backend.table("events"), AS_OF)
    return table.to_pyarrow().to_pandas().set_index("contact_id").sort_index()


@pytest.fixture(scope="module")
def audience_frames(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """A 400-contact generated audience, as ingested into a workspace."""
    return ingested_audience(tmp_path_factory.mktemp("parity"), contacts=400, seed=5)


@pytest.mark.parametrize("engine", ["duckdb", *SERVER_ENGINES])
def test_the_hand_computed_fixture_gives_the_same_features_on(
    engine: str, request: pytest.FixtureRequest
) -> None:
    frames = {"contacts": contacts_frame(), "events": events_frame()}
    features = features_on(engine, request, frames)
    assert_same(features[list(EXPECTED.columns)], EXPECTED)


@pytest.mark.slow
@pytest.mark.parametrize("engine", SERVER_ENGINES)
def test_a_generated_audience_gives_the_same_features_as_duckdb_on(
    engine: str, request: pytest.FixtureRequest, audience_frames: dict[str, pd.DataFrame]
) -> None:
    reference = features_on("duckdb", request, audience_frames)
    features = features_on(engine, request, audience_frames)
    assert len(reference) == 400
    assert_same(features[reference.columns.drop("as_of")], reference.drop(columns="as_of"))
    assert (pd.to_datetime(features.as_of, utc=True) == pd.Timestamp(AS_OF)).all()
