"""From a file's columns to Audience's fields: rename, clean text, pseudonymise identities.

No row is judged here; a value that cannot be cleaned is passed on as it is, for
:mod:`audience.validate` to reject with a reason.
"""

from __future__ import annotations

import pandas as pd

from audience.ingest.identity import contact_key, keyed_hashes, normalize_emails
from audience.ingest.mapping import SYNONYMS, ColumnMapping

# Fields that hold identifiers or labels: compared as trimmed text.
TEXT_FIELDS = frozenset(
    {
        "contact_id",
        "message_id",
        "anonymous_id",
        "event",
        "order_id",
        "product_id",
        "category",
        "campaign_id",
        "bounce_type",
        "country",
        "consent",
        "email",
    }
)


def to_fields(frame: pd.DataFrame, mapping: ColumnMapping, secret: bytes) -> pd.DataFrame:
    """Rename mapped columns to fields, add absent fields as missing, derive identities."""
    present = {source: name for source, name in mapping.renames.items() if source in frame}
    fields = frame[list(present)].rename(columns=present)
    fields = fields.reset_index(drop=True)
    for name in SYNONYMS[mapping.kind]:
        if name not in fields:
            fields[name] = pd.Series(pd.NA, index=fields.index, dtype="object")
        elif name in TEXT_FIELDS or _is_textual(fields[name]):
            # Blank text is a missing value in every field, not a value that fails to parse.
            fields[name] = as_text(fields[name])
    if "country" in fields:
        # ISO 3166 alpha-2 codes are upper case; names ("Germany") are left as written.
        country = fields["country"]
        fields["country"] = country.where(country.str.len() != 2, country.str.upper())
    return _identities(fields, mapping.kind, secret)


def as_text(values: pd.Series) -> pd.Series:
    """Trimmed text; empty becomes missing; whole numbers lose a float's ``.0``."""
    if pd.api.types.is_float_dtype(values.dtype):
        whole = values.dropna()
        if (whole == whole.round()).all():
            values = values.astype("Int64")
    if not pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
        values = values.map(lambda v: v if v is None or v is pd.NA else str(v), na_action="ignore")
    text = values.astype("str").str.strip()
    return text.mask(text == "")


def _is_textual(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values.dtype)


def _identities(fields: pd.DataFrame, kind: str, secret: bytes) -> pd.DataFrame:
    # A user id that is an email address is an email, and must not be stored in clear.
    looks_like_email = fields["contact_id"].str.contains("@", regex=False, na=False)
    if looks_like_email.any():
        fields["email"] = fields["email"].where(
            fields["email"].notna() | ~looks_like_email, fields["contact_id"]
        )
    fields["email"] = normalize_emails(fields["email"])
    has_email = fields["email"].notna()
    email_hash = pd.Series(pd.NA, index=fields.index, dtype="str")
    if has_email.any():
        email_hash[has_email] = keyed_hashes(fields["email"][has_email], secret)
        use_derived = has_email & (fields["contact_id"].isna() | looks_like_email)
        fields.loc[use_derived, "contact_id"] = contact_key(email_hash[use_derived])
    if kind == "contacts":
        fields["email_hash"] = email_hash
    return fields
