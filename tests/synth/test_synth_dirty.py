"""Bad rows injected with dirty > 0: how many, of which kinds, and that each is really bad."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from audience.synth import generate
from tests.synth.audiences import AS_OF, ISO_MS, ISO_S, Audience

VALID_EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"


def _round(value: float) -> int:
    return math.floor(value + 0.5)


def _parsed(values: pd.Series, pattern: str) -> pd.Series:
    """Timestamps that match the ISO pattern and are real dates; NaT otherwise."""
    iso = values.where(values.str.fullmatch(pattern).astype(bool))
    return pd.to_datetime(iso, format="ISO8601", utc=True, errors="coerce")


def test_bad_rows_come_on_top_in_the_documented_numbers(dirty: Audience) -> None:
    result = dirty.result
    assert result.n_contacts == 600
    assert result.contact_rows - result.n_contacts == _round(0.2 * 600)
    assert result.event_rows - result.n_events == _round(0.2 * result.n_events)
    assert sum(result.dirty_contacts.values()) == result.contact_rows - result.n_contacts
    assert sum(result.dirty_events.values()) == result.event_rows - result.n_events
    assert len(dirty.contacts) == result.contact_rows
    assert len(dirty.events) == result.event_rows
    # Kinds take turns, so their counts differ by at most one.
    for counts in (result.dirty_contacts, result.dirty_events):
        assert max(counts.values()) - min(counts.values()) <= 1
        assert min(counts.values()) > 0


def test_bad_rows_leave_the_clean_rows_and_the_truth_unchanged(
    dirty: Audience, small_clean: Audience
) -> None:
    clean_ids = set(small_clean.events["message_id"])
    kept = dirty.events[dirty.events["message_id"].isin(clean_ids)]
    kept = kept.drop_duplicates("message_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, small_clean.events)
    contacts = dirty.contacts[dirty.contacts["Customer ID"].str.startswith("C")]
    pd.testing.assert_frame_equal(
        contacts.drop_duplicates().reset_index(drop=True), small_clean.contacts
    )
    pd.testing.assert_frame_equal(dirty.truth, small_clean.truth)
    assert dirty.result.persona_counts == small_clean.result.persona_counts


def test_each_bad_contact_row_is_bad_in_exactly_its_own_way(dirty: Audience) -> None:
    contacts = dirty.contacts
    own_id = contacts[contacts["Customer ID"].str.fullmatch(r"X\d{7}")]
    email = own_id["Email Address"].str.strip()
    signup = own_id["Signup Date"]
    parsed = _parsed(signup, ISO_S)
    defects = pd.DataFrame(
        {
            "missing_email": email == "",
            "invalid_email": (email != "") & ~email.str.fullmatch(VALID_EMAIL).astype(bool),
            "unparseable_signup": parsed.isna(),
            "future_signup": parsed > pd.Timestamp(AS_OF),
        }
    )
    assert (defects.sum(axis=1) == 1).all()
    expected = dirty.result.dirty_contacts
    assert defects.sum().to_dict() == {kind: expected[kind] for kind in defects.columns}
    future = parsed[defects["future_signup"]] - pd.Timestamp(AS_OF)
    assert future.between(pd.Timedelta(days=364), pd.Timedelta(days=3 * 366)).all()

    repeated = contacts[contacts["Customer ID"].str.startswith("C")]
    assert repeated.duplicated().sum() == expected["duplicate"]
    assert repeated["Customer ID"].duplicated().sum() == expected["duplicate"]


def test_each_bad_event_row_is_bad_in_exactly_its_own_way(
    dirty: Audience, small_clean: Audience
) -> None:
    events = dirty.events
    fresh = events[~events["message_id"].isin(set(small_clean.events["message_id"]))]
    parsed = _parsed(fresh["timestamp"], ISO_MS)
    defects = pd.DataFrame(
        {
            "negative_revenue": fresh["revenue"] < 0,
            "negative_quantity": fresh["quantity"] < 0,
            "unparseable_timestamp": parsed.isna(),
            "future_timestamp": parsed > pd.Timestamp(AS_OF),
            "missing_user_id": fresh["user_id"].isna(),
            "missing_event": fresh["event"] == "",
        }
    )
    assert (defects.sum(axis=1) == 1).all()
    expected = dirty.result.dirty_events
    assert defects.sum().to_dict() == {kind: expected[kind] for kind in defects.columns}
    assert (fresh.loc[defects["negative_revenue"], "event"] == "Order Completed").all()
    assert fresh["message_id"].is_unique

    copies = events[events.duplicated(keep="first")]
    assert len(copies) == expected["duplicate"]
    assert events["message_id"].duplicated().sum() == expected["duplicate"]


@pytest.mark.parametrize("share", [0.0, 0.05, 0.49])
def test_any_share_below_one_half_is_accepted(tmp_path: Path, share: float) -> None:
    result = generate(tmp_path, contacts=40, seed=2, as_of=AS_OF, dirty=share)
    assert result.contact_rows - result.n_contacts == _round(share * 40)
    assert result.event_rows - result.n_events == _round(share * result.n_events)
