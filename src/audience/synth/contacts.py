"""The contacts file rows: ids, names, e-mail addresses, country, signup and consent.

E-mail addresses are built from the contact's name and a number that is a bijection of the
contact's number, so they are unique without any lookup; about 2 % carry harmless formatting noise
(capitals, surrounding spaces) that ingest is expected to normalise.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audience.synth.columns import Column, concat
from audience.synth.events import HARD_BOUNCE, EventBatch, EventKind
from audience.synth.fixedwidth import format_numbers, format_timestamps
from audience.synth.names import (
    COMMON_DOMAINS,
    COUNTRY_CODES,
    COUNTRY_DOMAINS,
    COUNTRY_LANGUAGE,
    FIRST_NAMES,
    LAST_NAMES,
    email_slug,
)
from audience.synth.population import Population

CONTACT_COLUMNS: tuple[str, ...] = (
    "Customer ID",
    "Email Address",
    "First Name",
    "Country",
    "Signup Date",
    "Email Consent",
)
CONSENT_VALUES: tuple[str, ...] = ("subscribed", "unsubscribed", "cleaned")
EMAIL_NOISE_SHARE = 0.02

# Local-part shapes: first.last, firstlast, first_last, flast, first.last+ ; a number follows.
_SEPARATORS = (".", "", "_", "", ".")
_PLUS = ("", "", "", "", "+")
_INITIAL_ONLY = 3


class Consent(IntEnum):
    SUBSCRIBED = 0
    UNSUBSCRIBED = 1
    CLEANED = 2  # Mailchimp's word for an address that hard-bounced


def customer_id_digits(contacts: int) -> int:
    """Digits of the Customer ID number: seven, or more for very large audiences."""
    return max(7, len(str(contacts)))


def consent_from_events(events: EventBatch, size: int) -> np.ndarray:
    """Consent per contact, as the events say: hard bounce → cleaned, unsubscribe → unsubscribed."""
    consent = np.full(size, Consent.SUBSCRIBED, dtype=np.int8)
    consent[events.contact[events.kind == EventKind.UNSUBSCRIBED]] = Consent.UNSUBSCRIBED
    hard = (events.kind == EventKind.BOUNCED) & (events.bounce == HARD_BOUNCE)
    consent[events.contact[hard]] = Consent.CLEANED
    return consent


@dataclass(frozen=True)
class ContactNumbers:
    """Numbering of a chunk's contacts within the whole audience."""

    first: int
    """Number of the chunk's first contact (numbers start at 1)."""
    total: int
    """Contacts in the whole audience."""

    def of(self, size: int) -> np.ndarray:
        return np.arange(self.first, self.first + size, dtype=np.int64)


def contact_ids(numbers: ContactNumbers, size: int) -> pa.StringArray:
    return format_numbers(numbers.of(size), prefix="C", digits=customer_id_digits(numbers.total))


def contacts_table(
    rng: np.random.Generator,
    population: Population,
    numbers: ContactNumbers,
    consent: np.ndarray,
) -> pa.Table:
    """One row per contact with ``CONTACT_COLUMNS``."""
    first_names, first_slugs, last_slugs = _names(rng, population.country)
    email = _email_addresses(rng, population.country, numbers, first_slugs, last_slugs)
    columns = [
        contact_ids(numbers, population.size),
        _with_noise(rng, email),
        first_names,
        pa.array(COUNTRY_CODES).take(population.country),
        format_timestamps(population.signup_ms, milliseconds=False),
        pa.array(CONSENT_VALUES).take(consent),
    ]
    return pa.table(columns, names=list(CONTACT_COLUMNS))


@dataclass(frozen=True)
class _NameTables:
    first: pa.StringArray
    first_slug: pa.StringArray
    last_slug: pa.StringArray
    first_range: np.ndarray
    """Per country: (offset, count) of its language's first names."""
    last_range: np.ndarray


@cache
def _name_tables() -> _NameTables:
    languages = sorted(set(COUNTRY_LANGUAGE.values()))
    first = [name for lang in languages for name in FIRST_NAMES[lang]]
    last = [name for lang in languages for name in LAST_NAMES[lang]]
    first_range, last_range = [], []
    for code in COUNTRY_CODES:
        lang = COUNTRY_LANGUAGE[code]
        position = languages.index(lang)
        first_range.append(
            (sum(len(FIRST_NAMES[x]) for x in languages[:position]), len(FIRST_NAMES[lang]))
        )
        last_range.append(
            (sum(len(LAST_NAMES[x]) for x in languages[:position]), len(LAST_NAMES[lang]))
        )
    return _NameTables(
        first=pa.array(first),
        first_slug=pa.array([email_slug(name) for name in first]),
        last_slug=pa.array([email_slug(name) for name in last]),
        first_range=np.array(first_range),
        last_range=np.array(last_range),
    )


def _names(rng: np.random.Generator, country: np.ndarray) -> tuple[Column, Column, Column]:
    """First name, and the e-mail slugs of first and last name, from the country's language."""
    tables = _name_tables()
    first = _pick(rng, tables.first_range[country])
    last = _pick(rng, tables.last_range[country])
    return tables.first.take(first), tables.first_slug.take(first), tables.last_slug.take(last)


def _pick(rng: np.random.Generator, ranges: np.ndarray) -> np.ndarray:
    offset, count = ranges[:, 0], ranges[:, 1]
    picked: np.ndarray = offset + (rng.random(len(ranges)) * count).astype(np.int64)
    return picked


def _email_addresses(
    rng: np.random.Generator,
    country: np.ndarray,
    numbers: ContactNumbers,
    first: Column,
    last: Column,
) -> Column:
    """``first.last123@domain`` and similar shapes; the number makes every address unique."""
    shape = rng.integers(0, len(_SEPARATORS), len(country))
    initial = pc.utf8_slice_codeunits(first, 0, 1)
    lead = pc.if_else(pa.array(shape == _INITIAL_ONLY), initial, first)
    suffix = pc.cast(pa.array(_unique_suffix(numbers, len(country))), pa.string())
    return concat(
        lead,
        pa.array(_SEPARATORS).take(shape),
        last,
        pa.array(_PLUS).take(shape),
        suffix,
        "@",
        _domains(rng, country),
    )


def _unique_suffix(numbers: ContactNumbers, size: int) -> np.ndarray:
    """A bijection of the contact number onto [0, 10**d), so suffixes are unique yet unordered."""
    modulus = 10 ** max(4, len(str(numbers.total)))
    # 7_919 is prime and not a factor of 10**d, so multiplication is a bijection modulo 10**d.
    suffix: np.ndarray = (numbers.of(size) * 7_919 + 1_234) % modulus
    return suffix


@cache
def _domain_tables() -> tuple[Column, np.ndarray]:
    """All domains, and per country the cumulative weights over them (zero where unused)."""
    domains = [name for name, _ in COMMON_DOMAINS]
    domains += [name for code in COUNTRY_CODES for name, _ in COUNTRY_DOMAINS[code]]
    weights = np.zeros((len(COUNTRY_CODES), len(domains)))
    for row, code in enumerate(COUNTRY_CODES):
        for name, weight in (*COMMON_DOMAINS, *COUNTRY_DOMAINS[code]):
            weights[row, domains.index(name)] = weight
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    return pa.array(domains), cumulative


def _domains(rng: np.random.Generator, country: np.ndarray) -> Column:
    domains, cumulative = _domain_tables()
    draws = rng.random(len(country))
    chosen = (draws[:, None] > cumulative[country][:, :-1]).sum(axis=1)
    return domains.take(chosen)


def _with_noise(rng: np.random.Generator, email: Column) -> Column:
    """About EMAIL_NOISE_SHARE of addresses get capitals or surrounding spaces."""
    share = EMAIL_NOISE_SHARE / 3
    kind = rng.choice(4, len(email), p=[1 - 3 * share, share, share, share])
    variants = (
        pc.utf8_title(email),  # Emma.Smith4821@Gmail.Com
        concat(" ", email),
        concat(email, "  "),
    )
    noisy = email
    for code, variant in enumerate(variants, start=1):
        noisy = pc.if_else(pa.array(kind == code), variant, noisy)
    return noisy
