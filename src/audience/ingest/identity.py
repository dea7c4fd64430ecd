"""Email normalisation and keyed pseudonymisation.

An email address is trimmed and lower-cased before anything else looks at it. Its keyed
hash (HMAC-SHA256 with the workspace secret) identifies a person without revealing the
address, and, unlike a plain hash, cannot be reversed by hashing a list of known emails.
"""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd

EMAIL_KEY_PREFIX = "e_"
_KEY_HEX_CHARS = 32


def normalize_emails(values: pd.Series) -> pd.Series:
    """Trim and lower-case; an empty value becomes missing."""
    text = values.astype("str").str.strip().str.lower()
    return text.mask(text == "")


def keyed_hashes(emails: pd.Series, secret: bytes) -> pd.Series:
    """HMAC-SHA256 hex digest of each (normalised) email; missing stays missing."""
    unique = emails.dropna().unique()
    digests = {
        email: hmac.new(secret, email.encode("utf-8"), hashlib.sha256).hexdigest()
        for email in unique
    }
    return emails.map(digests).astype("str")


def contact_key(email_hash: pd.Series) -> pd.Series:
    """The internal contact id of a person known only by email: a prefix of its keyed hash."""
    return (EMAIL_KEY_PREFIX + email_hash.str.slice(0, _KEY_HEX_CHARS)).astype("str")
