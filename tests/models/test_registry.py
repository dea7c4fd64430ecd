"""One owner for the method names: the config's Literal, which the registry maps (issue 17)."""

from __future__ import annotations

from typing import get_args

import pytest

from audience.config import ClusterMethod, MethodChoice, ModelsConfig
from audience.models.registry import _CLASSES, METHODS, make_segmenter


def test_the_registry_has_an_estimator_for_every_configured_method_and_no_other() -> None:
    assert set(_CLASSES) == set(get_args(ClusterMethod)) == set(METHODS)
    assert set(get_args(MethodChoice)) == {"auto", *METHODS}


@pytest.mark.parametrize("method", METHODS)
def test_every_method_name_makes_its_estimator(method: str) -> None:
    params = getattr(ModelsConfig(), method).model_dump()
    if method == "kprototypes":
        params["categorical"] = [0]
    estimator = make_segmenter(
        method, 3 if method != "dbscan" and method != "hdbscan" else None, params, 0
    )
    assert type(estimator).__module__.startswith("audience.models.")
