from __future__ import annotations

from pathlib import Path

import pytest

from audience.config import DEFAULT_CONFIG_TOML, WorkspaceConfig, load_config, parse_config
from audience.errors import ConfigError


def test_the_written_default_config_equals_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "audience.toml"
    path.write_text(DEFAULT_CONFIG_TOML, encoding="utf-8")
    assert load_config(path) == WorkspaceConfig()


def test_an_unknown_key_is_named_with_its_section() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'ingest\.chunk_size'"):
        parse_config({"ingest": {"chunk_size": 10}})


def test_a_wrong_type_names_the_key_the_value_and_the_expected_type() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"ingest": {"chunk_rows": "lots"}})
    message = str(caught.value)
    assert "'ingest.chunk_rows'" in message
    assert "valid integer" in message
    assert "'lots'" in message


def test_an_out_of_range_value_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"'ingest\.future_tolerance_hours'.*greater than or equal"
    ):
        parse_config({"ingest": {"future_tolerance_hours": -1}})


def test_an_unknown_engine_lists_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match=r"'store\.engine'.*'duckdb'"):
        parse_config({"store": {"engine": "oracle"}})


def test_broken_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "audience.toml"
    path.write_text("[store\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(path)


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ({"k_min": 8, "k_max": 4}, "k_min (8) must not exceed k_max (4)"),
        ({"methods": ["kmeans", "kprototypes"]}, "cannot mix kprototypes"),
        ({"methods": ["kmeans", "spectral"]}, "models.methods.1"),
        ({"min_segment_share": 1.5}, "models.min_segment_share"),
        ({"gmm": {"covariance_type": "banded"}}, "models.gmm.covariance_type"),
        ({"kmeans": {"n_inits": 3}}, "unknown key 'models.kmeans.n_inits'"),
    ],
)
def test_models_section_errors_name_the_key(models: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config({"models": models})
