"""Why a row was quarantined: one code per cause, each with a sentence for people."""

from __future__ import annotations

REASONS: dict[str, str] = {
    "malformed_row": "the row has a different number of fields than the header",
    "malformed_json": "the line is not a JSON object",
    "unterminated_quote": "a quoted field never closes, so the line cannot be split",
    "line_too_long": "the line is longer than any row may be",
    "nul_byte": "the line holds NUL bytes, which text never contains",
    "number_out_of_range": "a number is too large to be real (or to be stored)",
    "nonstandard_literal": "NaN or Infinity, which are not JSON values",
    "nesting_too_deep": "objects and lists nest deeper than a JSON reader allows",
    "nested_value": "an object or list where one value belongs",
    "unsupported_call": "the Segment call type is not identify, track or page",
    "missing_email": "the contact has no email address",
    "invalid_email": "the email address is not valid",
    "formula_email": (
        "the email address starts with =, +, -, @, a tab or a line break, which a spreadsheet "
        "runs as a formula"
    ),
    "email_too_long": "the email address has more than 64 characters before the @ (RFC 5321)",
    "missing_contact": "the row names no contact (no user id, anonymous id or email)",
    "missing_event": "the event has no name",
    "missing_timestamp": "the row has no timestamp",
    "unparseable_timestamp": "a date or time is not ISO 8601",
    "future_timestamp": "a date or time lies in the future",
    "timestamp_out_of_range": "a date or time lies before the earliest one allowed",
    "missing_revenue": "the order has no total",
    "invalid_number": "a number does not parse",
    "negative_amount": "an amount or quantity is negative",
    "rate_out_of_range": "a rate lies outside [0, 1]",
    "invalid_boolean": "a true/false field holds something else",
    "invalid_consent": "the consent status is not one Audience knows",
    "duplicate_id_conflict": "the id was seen before with different content",
}
