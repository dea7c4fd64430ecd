from __future__ import annotations

import hashlib
import hmac

import pandas as pd

from audience.ingest.identity import contact_key, keyed_hashes, normalize_emails

SECRET = bytes(range(32))


def test_emails_are_trimmed_and_lower_cased_and_empty_is_missing() -> None:
    emails = normalize_emails(pd.Series(["  Ann@Example.COM ", "", None, "bob@x.io"]))
    assert emails.iloc[0] == "ann@example.com"
    assert pd.isna(emails.iloc[1])
    assert pd.isna(emails.iloc[2])
    assert emails.iloc[3] == "bob@x.io"


def test_keyed_hash_is_hmac_sha256_with_the_secret() -> None:
    hashes = keyed_hashes(pd.Series(["ann@example.com", None]), SECRET)
    expected = hmac.new(SECRET, b"ann@example.com", hashlib.sha256).hexdigest()
    assert hashes.iloc[0] == expected
    assert pd.isna(hashes.iloc[1])
    assert expected != hashlib.sha256(b"ann@example.com").hexdigest()


def test_another_secret_gives_another_key() -> None:
    email = pd.Series(["ann@example.com"])
    assert keyed_hashes(email, SECRET).iloc[0] != keyed_hashes(email, b"x" * 32).iloc[0]


def test_contact_key_is_a_prefixed_slice_of_the_hash() -> None:
    digest = "ab" * 32
    assert contact_key(pd.Series([digest])).iloc[0] == "e_" + digest[:32]
