"""The planted-persona audience shared by the persona tests: generated, ingested and
segmented once per session (about a minute for 20,000 contacts)."""

from __future__ import annotations

import pandas as pd
import pytest

from audience.personas import Profiles, profile_segments
from tests.models.audiences import Segmented, segmented_audience

PLANTED_CONTACTS = 20_000


@pytest.fixture(scope="session")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Segmented:
    return segmented_audience(
        tmp_path_factory.mktemp("personas-planted"), contacts=PLANTED_CONTACTS, seed=0
    )


@pytest.fixture(scope="session")
def planted_profiles(planted: Segmented) -> Profiles:
    return profile_segments(planted.features, planted.segments)


def segment_of(planted: Segmented, persona: str) -> str:
    """The segment holding most of ``persona``'s contacts."""
    counts = pd.crosstab(planted.features["persona"], planted.segments.to_numpy())
    return str(counts.loc[persona].idxmax())


def majority_persona(planted: Segmented, segment_id: str) -> str:
    """The persona most of ``segment_id``'s contacts were generated from."""
    mine = planted.features.loc[planted.segments.to_numpy() == segment_id, "persona"]
    return str(mine.value_counts().idxmax())
