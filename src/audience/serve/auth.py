"""Who is asking: an API key in a header for the API, a signed session cookie for the pages.

The API takes ``X-API-Key: aud_…`` or ``Authorization: Bearer aud_…``. The dashboard's
login form takes a key once and keeps only its public id in a session cookie signed with
a key derived from the workspace secret (so sessions outlive a restart, and a revoked key
ends its sessions at their next request).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from audience.serve.problems import INVALID_KEY, MISSING_KEY
from audience.serve.service import Service
from audience.store.keys import ApiKey

SESSION_COOKIE = "audience_session"

_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key from `audience keys create`."
)
_bearer = HTTPBearer(auto_error=False, description="The same key as a bearer token.")


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def session_secret(workspace_secret: bytes) -> str:
    """The cookie-signing key: derived, so the workspace secret itself never signs anything."""
    return hmac.new(workspace_secret, b"audience session cookie", hashlib.sha256).hexdigest()


async def api_key(
    request: Request,
    header: Annotated[str | None, Depends(_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    """The caller's key, or 401 (async: a thread hop would cost more than the check)."""
    text = header or (bearer.credentials if bearer is not None else None)
    if not text:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, MISSING_KEY, headers={"WWW-Authenticate": "Bearer"}
        )
    key = service_of(request).authenticate(text)
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, INVALID_KEY, headers={"WWW-Authenticate": "Bearer"}
        )
    return key


async def admin_key(key: Annotated[ApiKey, Depends(api_key)]) -> ApiKey:
    """The caller's key if it may change things, or 403."""
    if key.role != "admin":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"API key {key.key_id} has the read role, which cannot change anything; use an "
            "admin key (`audience keys create --role admin`).",
        )
    return key


Reader = Annotated[ApiKey, Depends(api_key)]
Admin = Annotated[ApiKey, Depends(admin_key)]


class LoginRequired(Exception):
    """A dashboard page was asked for without a valid session: the handler redirects."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def session_key(request: Request) -> ApiKey:
    """The dashboard user's key, from the session cookie; redirect to login without one."""
    key_id = request.session.get("key_id")
    key = service_of(request).key_by_id(key_id) if isinstance(key_id, str) else None
    if key is None:
        request.session.clear()
        query = f"?{request.url.query}" if request.url.query else ""
        raise LoginRequired(request.url.path + query)
    return key


def session_admin(key: Annotated[ApiKey, Depends(session_key)]) -> ApiKey:
    if key.role != "admin":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "You are signed in with a read key, which cannot change anything; sign in with "
            "an admin key to rename segments.",
        )
    return key


Viewer = Annotated[ApiKey, Depends(session_key)]
Editor = Annotated[ApiKey, Depends(session_admin)]
