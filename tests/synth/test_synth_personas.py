"""The planted personas: their specs, and the traits each shows in the generated data."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import audience.synth
from audience.synth import PERSONAS, Persona
from tests.synth.audiences import AS_OF, Audience


def test_public_api_is_exactly_the_documented_names() -> None:
    # Sorted the way ruff (RUF022) sorts: constants, classes, functions.
    assert audience.synth.__all__ == ["PERSONAS", "GenerateResult", "Persona", "generate"]
    assert audience.synth.__doc__ is not None
    assert "Invariants" in audience.synth.__doc__


def test_personas_are_at_least_six_frozen_specs_with_shares_summing_to_one() -> None:
    assert len(PERSONAS) >= 6
    assert len({persona.name for persona in PERSONAS}) == len(PERSONAS)
    assert sum(persona.share for persona in PERSONAS) == pytest.approx(1.0)
    assert all(0.10 <= persona.share <= 0.25 for persona in PERSONAS)
    assert len({persona.share for persona in PERSONAS}) > 1  # unequal shares
    with pytest.raises(dataclasses.FrozenInstanceError):
        PERSONAS[0].share = 0.5  # type: ignore[misc]
    assert all(isinstance(persona, Persona) and persona.description for persona in PERSONAS)


@pytest.fixture(scope="module")
def per_contact(clean: Audience) -> pd.DataFrame:
    """A few behaviour figures per clean contact, with its planted persona."""
    events = clean.events.assign(
        at=pd.to_datetime(clean.events["timestamp"], format="ISO8601", utc=True)
    )
    as_of = pd.Timestamp(AS_OF)
    by_user = events.groupby("user_id")
    orders = events[events["event"] == "Order Completed"].groupby("user_id")
    opens = events[(events["event"] == "Email Opened") & (events["is_machine_open"] == False)]  # noqa: E712
    delivered = events[events["event"] == "Email Delivered"].groupby("user_id").size()
    signup = pd.to_datetime(
        clean.contacts.set_index("Customer ID")["Signup Date"], format="ISO8601", utc=True
    )
    figures = pd.DataFrame(
        {
            "orders": orders.size(),
            "order_value": orders["revenue"].mean(),
            "days_since_order": (as_of - orders["at"].max()).dt.days,
            "human_open_rate": opens.groupby("user_id")["campaign_id"].nunique() / delivered,
            "cart_adds": by_user["event"].apply(lambda e: (e == "Product Added").sum()),
            "tenure_days": (as_of - signup).dt.days,
        },
        index=clean.truth["Customer ID"],
    )
    figures = figures.fillna({"orders": 0, "cart_adds": 0, "human_open_rate": 0})
    figures["abandoned"] = (figures["cart_adds"] - figures["orders"]).clip(lower=0)
    return figures.join(clean.truth.set_index("Customer ID"))


def _median(per_contact: pd.DataFrame, column: str) -> pd.Series:
    return per_contact.groupby("persona")[column].median()


def test_loyal_high_value_orders_most_and_most_recently(per_contact: pd.DataFrame) -> None:
    orders = _median(per_contact, "orders")
    assert orders.idxmax() == "loyal_high_value"
    assert orders["loyal_high_value"] >= 2 * orders.drop("loyal_high_value").max()
    assert _median(per_contact, "order_value").idxmax() == "loyal_high_value"
    assert _median(per_contact, "days_since_order")["loyal_high_value"] < 60


def test_discount_occasional_buys_a_few_cheap_orders(per_contact: pd.DataFrame) -> None:
    discount = per_contact[per_contact["persona"] == "discount_occasional"]
    assert 2 <= discount["orders"].median() <= 8
    assert _median(per_contact, "order_value").idxmin() == "discount_occasional"


def test_engaged_reader_opens_most_and_rarely_buys(per_contact: pd.DataFrame) -> None:
    assert _median(per_contact, "human_open_rate").idxmax() == "engaged_reader"
    readers = per_contact[per_contact["persona"] == "engaged_reader"]
    assert (readers["orders"] == 0).mean() > 0.8


def test_new_subscribers_signed_up_within_sixty_days(per_contact: pd.DataFrame) -> None:
    tenure = per_contact.groupby("persona")["tenure_days"]
    assert tenure.max()["new_subscriber"] <= 60
    assert tenure.min().drop("new_subscriber").min() > 60


def test_lapsed_buyers_last_ordered_six_to_eighteen_months_ago(per_contact: pd.DataFrame) -> None:
    lapsed = per_contact[per_contact["persona"] == "lapsed_buyer"]
    assert (lapsed["orders"] >= 1).all()
    assert lapsed["days_since_order"].between(180, 550).all()
    assert lapsed["orders"].median() >= 3


def test_dormant_contacts_never_buy_and_hardly_open(per_contact: pd.DataFrame) -> None:
    dormant = per_contact[per_contact["persona"] == "dormant"]
    assert (dormant["orders"] == 0).all()
    assert dormant["human_open_rate"].mean() < 0.05


def test_window_shoppers_abandon_the_most_carts(per_contact: pd.DataFrame) -> None:
    assert _median(per_contact, "abandoned").idxmax() == "window_shopper"
    shoppers = per_contact[per_contact["persona"] == "window_shopper"]
    assert shoppers["orders"].median() <= 2
