"""ReportData refuses what the report cannot draw, naming every problem at once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import audience.report
from audience.errors import AudienceError
from audience.report import ReportData, ReportDataError
from tests.report.fixtures import report_data


def test_public_api_is_exactly_the_sorted_all() -> None:
    assert audience.report.__all__ == sorted(audience.report.__all__)
    for name in audience.report.__all__:
        assert hasattr(audience.report, name)


def test_fixture_is_valid() -> None:
    data = report_data(hierarchical=True)
    assert data.n_segments == 3
    assert data.dendrogram is not None
    assert data.dendrogram.shape == (39, 4)


def test_every_missing_column_is_reported_at_once() -> None:
    data = report_data()
    with pytest.raises(ReportDataError) as caught:
        dataclasses.replace(
            data,
            selection=data.selection.drop(columns=["bic", "status"]),
            projection=data.projection.rename(columns={"x": "pc1"}),
        )
    message = str(caught.value)
    assert "selection lacks column(s) 'bic', 'status'" in message
    assert "projection lacks column(s) 'x'" in message
    assert "'pc1'" in message
    assert isinstance(caught.value, AudienceError)


def test_empty_tables_without_columns_are_accepted() -> None:
    data = dataclasses.replace(report_data(), ingest=pd.DataFrame(), merges=pd.DataFrame())
    assert data.ingest.empty


def test_a_parent_outside_the_tree_is_refused() -> None:
    data = report_data()
    tree = data.tree.assign(parent_id=data.tree["parent_id"].replace("prospects", "leads"))
    with pytest.raises(ReportDataError, match="tree parent_id\\(s\\) leads are not segment_ids"):
        dataclasses.replace(data, tree=tree)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"dendrogram": np.zeros((5, 3))}, "dendrogram must be a linkage matrix"),
        ({"surrogate_fidelity": 93.4}, "surrogate_fidelity must be a fraction"),
        ({"n_segments": -1}, "n_segments must be ≥ 0"),
        ({"personas": [{"segment_id": "a", "name": "A"}]}, "persona 0 lacks key(s) size, share"),
        ({"features": pd.DataFrame({"city": ["Oslo"]})}, "not numeric: city"),
    ],
)
def test_impossible_values_are_refused(change: dict[str, object], expected: str) -> None:
    with pytest.raises(ReportDataError) as caught:
        dataclasses.replace(report_data(), **change)  # type: ignore[arg-type]
    assert expected in str(caught.value)


def test_a_table_that_is_not_a_dataframe_is_refused() -> None:
    with pytest.raises(ReportDataError, match="ingest must be a pandas DataFrame, got list"):
        dataclasses.replace(report_data(), ingest=[])  # type: ignore[arg-type]


def test_report_data_is_frozen() -> None:
    data: ReportData = report_data()
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.title = "other"  # type: ignore[misc]
