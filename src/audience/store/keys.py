"""API keys of ``audience serve``: made once, shown once, stored as a hash.

A key reads ``aud_<key_id>_<secret>``. The ``key_id`` (8 hex digits) is public: it names
the key in listings and finds its row; the secret (32 random bytes) is never stored, only
its SHA-256. A salted slow hash would add nothing here: the secret is random, not a
password a person chose, so it cannot be guessed from a list.

Roles: ``read`` sees everything and changes nothing; ``admin`` may also rename segments,
ingest events, start runs and manage keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from audience.errors import ConfigError, NotFoundError
from audience.store.database import Database
from audience.store.results import first_row

Role = Literal["read", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
PREFIX = "aud_"
_ID_BYTES = 4
_SECRET_BYTES = 32


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def create_key(db: Database, role: str, name: str, now: datetime) -> tuple[ApiKey, str]:
    """Store a new key; return it and the full key text, which is never shown again."""
    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)}, got {role!r}.")
    key_id = secrets.token_hex(_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    label = name.strip() or f"{role} key"
    db.con.execute(
        "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, NULL)",
        [key_id, label, role, _digest(secret), now],
    )
    key = ApiKey(key_id, label, role, now, None)  # type: ignore[arg-type]
    return key, f"{PREFIX}{key_id}_{secret}"


def verify_key(db: Database, text: str) -> ApiKey | None:
    """The active key ``text`` is, or None (malformed, unknown, revoked or wrong secret)."""
    parts = text.strip().removeprefix(PREFIX).split("_", 1)
    if not text.strip().startswith(PREFIX) or len(parts) != 2:
        return None
    key_id, secret = parts
    row = first_row(
        db.con.execute(
            "SELECT key_id, name, role, created_at, revoked_at, secret_hash FROM api_keys "
            "WHERE key_id = ?",
            [key_id],
        )
    )
    if row is None or row[4] is not None:
        return None
    # Constant time: the comparison must not tell how much of a guessed secret was right.
    if not hmac.compare_digest(row[5], _digest(secret)):
        return None
    return ApiKey(*row[:5])


def find_key(db: Database, key_id: str) -> ApiKey | None:
    """A stored key (active or not) by its public id, or None."""
    row = first_row(
        db.con.execute(
            "SELECT key_id, name, role, created_at, revoked_at FROM api_keys WHERE key_id = ?",
            [key_id],
        )
    )
    return None if row is None else ApiKey(*row)


def list_keys(db: Database) -> list[ApiKey]:
    rows = db.con.execute(
        "SELECT key_id, name, role, created_at, revoked_at FROM api_keys ORDER BY created_at"
    ).fetchall()
    return [ApiKey(*row) for row in rows]


def revoke_key(db: Database, key_id: str, now: datetime) -> ApiKey:
    """Revoke a key by its id; an error naming the known ids when there is no such key."""
    key = find_key(db, key_id)
    if key is None:
        known = ", ".join(k.key_id for k in list_keys(db)) or "none"
        raise NotFoundError(
            f"there is no API key {key_id!r}; the keys are: {known}. `audience keys list` "
            "shows them."
        )
    if key.active:
        db.con.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", [now, key_id])
    return find_key(db, key_id) or key


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
