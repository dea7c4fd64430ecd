"""Vectorised parsers: each returns the parsed values and a mask of values that did not parse.

A missing value is never "unparseable"; whether it may be missing is a rule's decision.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from audience.ingest.normalize import as_text

# The WHATWG HTML rule for an email address, with a dot required in the domain and none
# at either end of the local part or doubled: what email platforms accept in practice.
EMAIL_PATTERN = re.compile(
    r"(?!\.)(?!.*\.\.)[a-z0-9.!#$%&'*+/=?^_`{|}~-]+(?<!\.)"
    r"@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
)
_MAX_EMAIL = 254

CONSENT_VALUES: dict[str, str] = {
    **dict.fromkeys(
        ("subscribed", "yes", "y", "true", "1", "opted_in", "opt_in", "opted in", "confirmed"),
        "subscribed",
    ),
    **dict.fromkeys(
        ("unsubscribed", "no", "n", "false", "0", "opted_out", "opt_out", "opted out"),
        "unsubscribed",
    ),
    **dict.fromkeys(("cleaned", "bounced", "hard_bounced", "hard bounced"), "cleaned"),
    **dict.fromkeys(("pending", "unconfirmed", "double_opt_in_pending"), "pending"),
    **dict.fromkeys(
        ("non_subscribed", "never_subscribed", "not_subscribed", "transactional"),
        "non_subscribed",
    ),
}
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def email_is_valid(emails: pd.Series) -> np.ndarray:
    """Whether each (normalised) email is well formed; missing counts as not valid."""
    matches = emails.str.fullmatch(EMAIL_PATTERN.pattern).fillna(False).to_numpy(dtype=bool)
    short = (emails.str.len() <= _MAX_EMAIL).fillna(False).to_numpy(dtype=bool)
    return matches & short


def parse_timestamps(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """ISO 8601 text or native timestamps → UTC; text without an offset is taken as UTC."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        parsed = values.dt.tz_localize("UTC")
    else:
        parsed = pd.to_datetime(as_text(values), utc=True, format="ISO8601", errors="coerce")
    parsed = parsed.astype("datetime64[us, UTC]")
    return parsed, (values.notna() & parsed.isna()).to_numpy(dtype=bool)


def parse_numbers(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Plain decimal numbers; text such as ``"12,50"``, ``"$12"`` or ``"NaN"`` does not parse.

    A number too large for a float (``1e400``) parses as infinite, for the range checks
    to reject as out of range rather than as not a number."""
    if pd.api.types.is_bool_dtype(values.dtype):
        values = values.astype("object")
    numbers = pd.to_numeric(
        values if pd.api.types.is_numeric_dtype(values.dtype) else as_text(values),
        errors="coerce",
    ).astype("float64")
    return numbers, (values.notna() & numbers.isna()).to_numpy(dtype=bool)


def parse_booleans(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """true/false, yes/no, 1/0 (any case) → a nullable boolean."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean"), np.zeros(len(values), dtype=bool)
    text = as_text(values).str.lower()
    parsed = pd.Series(pd.NA, index=values.index, dtype="boolean")
    parsed[text.isin(_TRUE).to_numpy(dtype=bool)] = True
    parsed[text.isin(_FALSE).to_numpy(dtype=bool)] = False
    return parsed, (text.notna() & parsed.isna()).to_numpy(dtype=bool)


def parse_consent(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Platform words for consent (Mailchimp's ``cleaned``, Shopify's ``yes``) → ours."""
    text = as_text(values).str.lower()
    parsed = text.map(CONSENT_VALUES).astype("str")
    return parsed, (text.notna() & parsed.isna()).to_numpy(dtype=bool)
