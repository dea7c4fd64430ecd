from __future__ import annotations

import pytest

from audience.errors import ConfigError, MissingColumnsError
from audience.ingest.mapping import normalize_header, parse_explicit, resolve_columns


@pytest.mark.parametrize(
    ("header", "kind", "field"),
    [
        ("Email Address", "contacts", "email"),
        ("Email", "contacts", "email"),
        ("EMAIL", "contacts", "email"),
        ("email_address", "contacts", "email"),
        ("Customer ID", "contacts", "contact_id"),
        ("Country/Region", "contacts", "country"),
        ("OPTIN_TIME", "contacts", "signup_at"),
        ("Accepts Email Marketing", "contacts", "consent"),
        ("Order Date", "orders", "timestamp"),
        ("Order Total", "orders", "revenue"),
        ("Order ID", "orders", "order_id"),
        ("messageId", "events", "message_id"),
        ("userId", "events", "contact_id"),
        ("sg_machine_open", "events", "is_machine_open"),
    ],
)
def test_common_export_headers_map_to_fields(header: str, kind: str, field: str) -> None:
    mapping = resolve_columns([header, "Unrelated"], kind, require=False)  # type: ignore[arg-type]
    assert mapping.renames[header] == field


def test_normalize_header_folds_case_punctuation_and_camel_case() -> None:
    assert normalize_header(" Email Address ") == "email_address"
    assert normalize_header("Country/Region") == "country_region"
    assert normalize_header("anonymousId") == "anonymous_id"
    assert normalize_header("EMAIL") == "email"


def test_first_synonym_wins_and_the_other_column_is_ignored() -> None:
    mapping = resolve_columns(["Email", "Email Address", "Nickname"], "contacts")
    assert mapping.renames == {"Email": "email"}
    assert mapping.ignored == ("Email Address", "Nickname")


def test_explicit_map_wins_over_synonyms() -> None:
    mapping = resolve_columns(["Email", "Work Email"], "contacts", {"Work Email": "email"})
    assert mapping.renames == {"Work Email": "email"}
    assert mapping.source_of("email") == "Work Email"


def test_explicit_map_to_unknown_field_names_the_valid_targets() -> None:
    with pytest.raises(ConfigError, match="'mail' is not a field of contacts; valid targets"):
        resolve_columns(["E"], "contacts", {"E": "mail"})


def test_explicit_map_of_absent_column_lists_the_columns() -> None:
    with pytest.raises(ConfigError, match="has no column 'Mail'; its columns are 'E'"):
        resolve_columns(["E"], "contacts", {"Mail": "email"})


def test_missing_required_column_names_file_found_and_expected() -> None:
    with pytest.raises(MissingColumnsError) as caught:
        resolve_columns(["Name", "Phone"], "contacts", source="people.csv")
    message = str(caught.value)
    assert "people.csv" in message
    assert "'email' not found" in message
    assert "'Name', 'Phone'" in message
    assert "email (e.g. email / email_address)" in message
    assert caught.value.missing == ["email"]


def test_events_need_one_of_the_contact_identifiers() -> None:
    resolve_columns(["event", "timestamp", "anonymousId"], "events")
    with pytest.raises(MissingColumnsError, match="contact_id or anonymous_id or email"):
        resolve_columns(["event", "timestamp"], "events")


@pytest.mark.parametrize("pair", ["revenue", "=revenue", "Amount="])
def test_parse_explicit_refuses_pairs_without_both_sides(pair: str) -> None:
    with pytest.raises(ConfigError, match="SOURCE=TARGET"):
        parse_explicit([pair])


def test_parse_explicit_keeps_equals_signs_in_the_source_name() -> None:
    assert parse_explicit(["a=b=revenue"]) == {"a=b": "revenue"}
