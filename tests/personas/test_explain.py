"""Surrogate rules and per-contact reasons: on hand-built data with a known answer, and on
the planted-persona audience."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from audience.config import CLUSTER_FEATURES
from audience.errors import ConfigError
from audience.personas import (
    Condition,
    Profiles,
    Rule,
    profile_segments,
    surrogate_rules,
    why,
)
from tests.models.audiences import Segmented
from tests.personas.conftest import segment_of

_NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
_PART = re.compile(
    rf"^(?:(?P<lo>{_NUMBER}) (?P<lo_op><=|<) )?(?P<feature>[a-z_0-9]+)"
    rf"(?: (?P<op><=|<|>=|>|==) (?P<hi>{_NUMBER}))?(?P<missing> \(or missing\))?$"
)
_OPS = {
    "<=": np.less_equal, "<": np.less, ">=": np.greater_equal, ">": np.greater,
    "==": np.equal,
}  # fmt: skip


def evaluate(text: str, frame: pd.DataFrame) -> np.ndarray:
    """Select the rows of ``frame`` a rule's text describes, from the text alone."""
    keep = np.ones(len(frame), dtype=bool)
    if text == "every contact":
        return keep
    for part in text.split(" and "):
        match = _PART.match(part)
        assert match is not None, f"unreadable condition {part!r} in {text!r}"
        values = frame[match["feature"]].to_numpy(dtype="float64")
        holds = np.ones(len(frame), dtype=bool)
        with np.errstate(invalid="ignore"):
            if match["lo"] is not None:  # "lo <= feature" reads as feature >= lo
                flipped = {"<=": np.greater_equal, "<": np.greater}[match["lo_op"]]
                holds &= flipped(values, float(match["lo"]))
            if match["op"] is not None:
                holds &= _OPS[match["op"]](values, float(match["hi"]))
        missing = np.isnan(values)
        keep &= (holds & ~missing) | (missing & (match["missing"] is not None))
    return keep


def two_groups() -> tuple[pd.DataFrame, np.ndarray]:
    """200 contacts: "buyers" have 5 to 9 orders and an order within 50 days; "others" have
    0 to 4 orders, and their last order is 200 to 299 days ago or never (missing)."""
    rng = np.random.default_rng(0)
    n = 100
    frame = pd.DataFrame(
        {
            "order_count": np.r_[rng.integers(5, 10, n), rng.integers(0, 5, n)],
            "recency_days": np.r_[rng.integers(1, 51, n), rng.integers(200, 300, n)].astype(float),
        }
    )
    frame.loc[frame.index[n:][::3], "recency_days"] = np.nan
    return frame, np.array(["buyers"] * n + ["others"] * n, dtype=object)


def test_a_separable_segmentation_gets_exact_integer_rules() -> None:
    frame, ids = two_groups()
    surrogate = surrogate_rules(frame, ids, columns=["order_count", "recency_days"], max_depth=1)
    assert surrogate.fidelity == 1.0
    assert surrogate.recall == {"buyers": 1.0, "others": 1.0}
    (buyers,) = surrogate.rules["buyers"]
    (others,) = surrogate.rules["others"]
    assert buyers.coverage == buyers.precision == 1.0
    assert "." not in buyers.text  # whole numbers for whole-number columns
    assert buyers.mask(frame).sum() == 100
    assert (ids[others.mask(frame)] == "others").all()
    for rule in (buyers, others):
        assert np.array_equal(evaluate(rule.text, frame), rule.mask(frame))


def test_missing_values_are_written_where_the_tree_sends_them() -> None:
    frame, ids = two_groups()
    surrogate = surrogate_rules(frame, ids, columns=["recency_days"], max_depth=2)
    assert surrogate.fidelity == 1.0
    (buyers,) = surrogate.rules["buyers"]
    (others,) = surrogate.rules["others"]
    assert "(or missing)" in others.text
    assert "(or missing)" not in buyers.text
    assert np.array_equal(evaluate(others.text, frame), ids == "others")


def test_bounds_on_one_feature_merge_into_the_tightest() -> None:
    values = np.arange(300, dtype=float)
    ids = np.where((values >= 100) & (values < 200), "middle", np.where(values < 100, "lo", "hi"))
    frame = pd.DataFrame({"tenure_days": values})
    surrogate = surrogate_rules(frame, ids, columns=["tenure_days"], max_depth=3)
    (middle,) = surrogate.rules["middle"][:1]
    assert middle.text == "100 <= tenure_days <= 199"
    assert len(middle.conditions) == 1


def test_one_segment_and_bad_input() -> None:
    frame, _ = two_groups()
    surrogate = surrogate_rules(frame, ["all"] * len(frame), columns=["order_count"])
    assert surrogate.fidelity == 1.0
    assert [r.text for r in surrogate.rules["all"]] == ["every contact"]
    with pytest.raises(ConfigError, match="one segment id per feature row"):
        surrogate_rules(frame, ["all"] * 3, columns=["order_count"])


@pytest.mark.slow
def test_surrogate_rules_on_the_planted_personas(planted: Segmented) -> None:
    features, segments = planted.features, planted.segments.to_numpy()
    surrogate = surrogate_rules(features, segments)
    assert surrogate.fidelity >= 0.85, surrogate.tree_text
    assert surrogate.tree.get_depth() <= 4
    assert surrogate.tree.min_samples_leaf == round(0.01 * len(features))
    leaves = surrogate.tree.apply(features[list(CLUSTER_FEATURES)].astype("float64"))
    sizes = pd.Series(segments).value_counts()
    for segment in sizes[sizes >= 0.05 * len(segments)].index:
        rules: tuple[Rule, ...] = surrogate.rules[segment]
        assert 1 <= len(rules) <= 3
        assert [r.coverage for r in rules] == sorted((r.coverage for r in rules), reverse=True)
        for rule in rules:
            assert isinstance(rule.text, str)
            assert rule.text
            selected = rule.mask(features)
            assert np.array_equal(selected, leaves == rule.leaf)
            in_rule = pd.Series(segments[selected]).value_counts()
            assert in_rule.index[0] == segment
            assert rule.precision == pytest.approx(in_rule[segment] / selected.sum())
            # The text alone selects (nearly) the same rows: thresholds are rounded for reading.
            assert np.mean(evaluate(rule.text, features) == selected) >= 0.995


@pytest.mark.slow
def test_loyal_contacts_are_explained_by_orders_or_revenue(
    planted: Segmented, planted_profiles: Profiles
) -> None:
    loyal = segment_of(planted, "loyal_high_value")
    members = planted.features[planted.segments.to_numpy() == loyal]
    typical = members.iloc[
        (members["order_count"] - members["order_count"].median()).abs().argmin()
    ]
    top = {r.feature for r in why(typical, loyal, planted_profiles)}
    assert top & {"order_count", "revenue_total"}
    explained = [
        bool(
            {r.feature for r in why(row, loyal, planted_profiles)}
            & {"order_count", "revenue_total"}
        )
        for _, row in members.head(200).iterrows()
    ]
    assert np.mean(explained) >= 0.9


@pytest.mark.slow
def test_never_opened_is_a_reason_for_dormant_contacts(
    planted: Segmented, planted_profiles: Profiles
) -> None:
    dormant = segment_of(planted, "dormant")
    members = planted.features[planted.segments.to_numpy() == dormant]
    never = members[members["days_since_last_open"].isna()].iloc[0]
    reasons = why(never, dormant, planted_profiles, top=len(CLUSTER_FEATURES))
    texts = [r.text for r in reasons]
    assert any(t.startswith("never opened") for t in texts), texts


def test_why_ranks_by_agreement_with_the_segment() -> None:
    frame = pd.DataFrame(
        {
            "order_count": [10, 8, 1, 0, 1, 0],
            "product_views": [5, 5, 5, 5, 5, 6],
            "tenure_days": [900, 100, 600, 600, 600, 600],
            "revenue_total": [500.0, 400, 10, 0, 10, 0],
            "recency_days": [1.0, 2, 300, np.nan, np.nan, np.nan],
            "emails_delivered": 10,
            "opens_human_unique": 1,
            "opens_machine_unique": 0,
            "clicks_unique": 0,
            "days_since_last_open": np.nan,
            "days_since_last_click": np.nan,
        }
    )
    ids = ["vip", "vip", "rest", "rest", "rest", "rest"]
    columns = ["order_count", "product_views", "tenure_days", "revenue_total", "recency_days"]
    profiles = profile_segments(frame, ids, columns)
    reasons = why(frame.iloc[0], "vip", profiles, top=5)
    features = [r.feature for r in reasons]
    # Orders and revenue deviate most, with the segment. Tenure: the segment's mean (500)
    # is below the audience's (567) but this contact's (900) is above: not a reason.
    assert set(features[:2]) == {"order_count", "revenue_total"}
    assert "tenure_days" not in features
    assert all(r.score > 0 for r in reasons)
    assert reasons == sorted(reasons, key=lambda r: -r.score)
    orders = next(r for r in reasons if r.feature == "order_count")
    assert orders.text == "order_count 10 (segment average 9, audience 3.3)"
    never = why(frame.iloc[3], "rest", profiles, top=5)
    assert "never ordered (like 75% of the segment)" in [r.text for r in never]
    with pytest.raises(ConfigError, match="not in the profiles"):
        why(frame.iloc[0], "nope", profiles)


def test_a_split_between_known_and_missing_reads_as_such() -> None:
    # scikit-learn splits "missing or not" at an infinite threshold.
    inf = float("inf")
    known = Condition("days_since_last_open", None, inf, or_missing=False, integer=True)
    missing = Condition("days_since_last_open", inf, None, or_missing=True, integer=True)
    frame = pd.DataFrame({"days_since_last_open": [3.0, float("nan"), 400.0]})
    assert known.text == "days_since_last_open is known"
    assert missing.text == "days_since_last_open is missing"
    assert known.mask(frame).tolist() == [True, False, True]
    assert missing.mask(frame).tolist() == [False, True, False]
