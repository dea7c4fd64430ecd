"""Column mapping: from the headers people's exports have to Audience's field names.

A header is matched after normalisation (lower case, runs of anything but letters and
digits folded to one ``_``), so ``Email Address``, ``EMAIL_ADDRESS`` and ``email-address``
are the same. An explicit ``--map SOURCE=TARGET`` wins over every synonym.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from audience.errors import ConfigError, MissingColumnsError

Kind = Literal["contacts", "events", "orders"]
KINDS: tuple[Kind, ...] = ("contacts", "events", "orders")

_CONTACT_ID = (
    "customer_id",
    "customerid",
    "contact_id",
    "user_id",
    "userid",
    "external_id",
    "record_id",
    "subscriber_id",
    "customer_number",
    "id",
)
_EMAIL = (
    "email",
    "email_address",
    "emailaddress",
    "e_mail",
    "e_mail_address",
    "mail",
    "contact_email",
    "customer_email",
    "subscriber_email",
)
_TIMESTAMP = (
    "timestamp",
    "event_time",
    "occurred_at",
    "time",
    "event_timestamp",
    "original_timestamp",
    "originaltimestamp",
    "received_at",
    "created_at",
    "date",
)
_REVENUE = (
    "revenue",
    "order_total",
    "total",
    "total_price",
    "grand_total",
    "amount",
    "order_value",
    "value",
)
_QUANTITY = ("quantity", "qty", "items", "item_count", "lineitem_quantity", "units")
_CATEGORY = ("category", "product_category", "product_type", "department")

# Each kind's fields in order, each with its synonyms in order of preference.
SYNONYMS: dict[Kind, dict[str, tuple[str, ...]]] = {
    "contacts": {
        "contact_id": _CONTACT_ID,
        "email": _EMAIL,
        "country": (
            "country",
            "country_code",
            "cc",
            "country_region",
            "countrycode",
            "billing_country",
            "location_country",
        ),
        "signup_at": (
            "signup_at",
            "signup_date",
            "signed_up_at",
            "subscribed_at",
            "optin_time",
            "opt_in_time",
            "created_at",
            "created",
            "create_date",
            "date_added",
            "profile_created_on",
            "joined_at",
            "first_seen",
        ),
        "consent": (
            "consent",
            "email_consent",
            "email_marketing_consent",
            "subscription_status",
            "email_subscription_status",
            "accepts_email_marketing",
            "accepts_marketing",
            "status",
            "subscribed",
        ),
        "open_rate": ("open_rate", "avg_open_rate", "average_open_rate"),
        "click_rate": ("click_rate", "avg_click_rate", "average_click_rate"),
    },
    "events": {
        "message_id": ("message_id", "messageid", "event_id", "id"),
        "contact_id": (
            "user_id",
            "userid",
            "contact_id",
            "customer_id",
            "customerid",
            "external_id",
        ),
        "anonymous_id": ("anonymous_id", "anonymousid"),
        "email": _EMAIL,
        "event": ("event", "event_name", "event_type", "name"),
        "timestamp": _TIMESTAMP,
        "revenue": _REVENUE,
        "price": ("price", "unit_price"),
        "quantity": _QUANTITY,
        "order_id": ("order_id", "orderid", "order_number"),
        "product_id": ("product_id", "productid", "sku"),
        "category": _CATEGORY,
        "campaign_id": ("campaign_id", "campaignid", "campaign"),
        "is_machine_open": ("is_machine_open", "machine_open", "sg_machine_open", "apple_mpp_open"),
        "bounce_type": ("bounce_type", "bouncetype", "bounce_classification"),
    },
    "orders": {
        "order_id": ("order_id", "orderid", "order_number", "order_no", "order", "id"),
        "contact_id": _CONTACT_ID[:-1],
        "email": _EMAIL,
        "timestamp": (
            "order_date",
            "ordered_at",
            "order_created_at",
            "processed_at",
            "created_at",
            "timestamp",
            "date",
            "time",
        ),
        "revenue": _REVENUE,
        "quantity": _QUANTITY,
        "category": _CATEGORY,
        "product_id": ("product_id", "sku"),
    },
}

# Required fields: each entry is satisfied by any one of its alternatives.
REQUIRED: dict[Kind, tuple[tuple[str, ...], ...]] = {
    "contacts": (("email",),),
    "events": (("event",), ("timestamp",), ("contact_id", "anonymous_id", "email")),
    "orders": (("timestamp",), ("revenue",), ("contact_id", "email")),
}


def normalize_header(header: str) -> str:
    """``"Email Address"`` → ``"email_address"``; ``"messageId"`` → ``"message_id"``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", header.strip())
    folded = re.sub(r"[^0-9a-z]+", "_", snake.lower())
    return folded.strip("_")


@dataclass(frozen=True)
class ColumnMapping:
    """How a file's columns become fields: ``renames[source] = field``."""

    kind: Kind
    found: tuple[str, ...]
    renames: dict[str, str]
    ignored: tuple[str, ...] = field(default=())

    def source_of(self, target: str) -> str:
        """The header the user knows for a field, for messages."""
        for source, name in self.renames.items():
            if name == target:
                return source
        return target


def parse_explicit(pairs: Iterable[str]) -> dict[str, str]:
    """Parse ``["Order Amount=revenue", ...]`` from ``--map``."""
    explicit: dict[str, str] = {}
    for pair in pairs:
        source, sep, target = pair.rpartition("=")
        if not sep or not source.strip() or not target.strip():
            raise ConfigError(
                f"--map expects SOURCE=TARGET (for example 'Order Amount=revenue'), got {pair!r}."
            )
        explicit[source.strip()] = target.strip()
    return explicit


def resolve_columns(
    found: Sequence[str],
    kind: Kind,
    explicit: Mapping[str, str] | None = None,
    *,
    source: str = "the file",
    require: bool = True,
) -> ColumnMapping:
    """Map ``found`` headers to ``kind``'s fields; raise if a required field is missing."""
    fields = SYNONYMS[kind]
    renames = _explicit_renames(found, kind, explicit or {}, source)
    taken = set(renames.values())
    by_normal: dict[str, str] = {}
    for header in found:
        if header not in renames:
            by_normal.setdefault(normalize_header(header), header)
    for name, synonyms in fields.items():
        if name in taken:
            continue
        for synonym in synonyms:
            match = by_normal.get(synonym)
            if match is not None and match not in renames:
                renames[match] = name
                taken.add(name)
                break
    ignored = tuple(header for header in found if header not in renames)
    mapping = ColumnMapping(kind=kind, found=tuple(found), renames=renames, ignored=ignored)
    if require:
        _check_required(mapping, source)
    return mapping


def _explicit_renames(
    found: Sequence[str], kind: Kind, explicit: Mapping[str, str], source: str
) -> dict[str, str]:
    renames: dict[str, str] = {}
    for header, target in explicit.items():
        if target not in SYNONYMS[kind]:
            raise ConfigError(
                f"--map {header}={target}: '{target}' is not a field of {kind}; "
                f"valid targets are {', '.join(SYNONYMS[kind])}."
            )
        if header not in found:
            raise ConfigError(
                f"--map {header}={target}: {source} has no column '{header}'; "
                f"its columns are {', '.join(repr(c) for c in found) or '(none)'}."
            )
        renames[header] = target
    return renames


def _check_required(mapping: ColumnMapping, source: str) -> None:
    present = set(mapping.renames.values())
    missing = [
        " or ".join(alternatives)
        for alternatives in REQUIRED[mapping.kind]
        if not present.intersection(alternatives)
    ]
    if missing:
        expected = [_describe_field(mapping.kind, name) for name in SYNONYMS[mapping.kind]]
        raise MissingColumnsError(source, mapping.kind, mapping.found, missing, expected)


def _describe_field(kind: Kind, name: str) -> str:
    examples = SYNONYMS[kind][name][:2]
    return f"{name} (e.g. {' / '.join(examples)})"
