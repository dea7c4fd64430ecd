"""The FastAPI application: the JSON API under ``/api``, the dashboard at ``/``, ``/health``.

Errors are one paragraph in ``{"detail": …}``: a user mistake is a 4xx and changes nothing
(a missing run, segment or contact 404, a run already going 409, anything else the caller
can fix 422, a body too large 413, a body or headers too slow 408, JSON that does not
parse 400). A 500 is a bug, and says so in the same shape.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from audience import __version__
from audience.errors import AudienceError
from audience.serve.api import router as api_router
from audience.serve.auth import SESSION_COOKIE, LoginRequired, session_secret
from audience.serve.batching import AssignBatcher
from audience.serve.dashboard import error_page
from audience.serve.dashboard import router as dashboard_router
from audience.serve.fastpath import FastAssign
from audience.serve.limits import BodyLimit
from audience.serve.problems import (
    INTERNAL,
    audience_error_detail,
    audience_error_status,
    bounded,
    invalid_request,
)
from audience.serve.service import Service
from audience.workspace import Workspace


def create_app(workspace: Workspace) -> FastAPI:
    """The server for one workspace (which it keeps open until shutdown). Its ``[serve]``
    limits on the body apply here; the headers' are the protocol's (``serve/protocol.py``)."""
    service = Service(workspace)
    app = FastAPI(
        title="Audience",
        version=__version__,
        description=(
            "Segments of an email audience: runs, the segment tree with personas, members, "
            "a contact's segment and why, real-time assignment, event ingestion and "
            "background segmentation runs. Every endpoint but `/health` needs an API key "
            "(`audience keys create`), sent as `X-API-Key` or a bearer token; read keys "
            "cannot change anything."
        ),
    )
    app.state.service = service
    batcher = AssignBatcher(service.assign_records)
    app.state.assign_batcher = batcher
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(workspace.secret),
        session_cookie=SESSION_COOKIE,
        same_site="strict",  # the rename form is not reachable from another site
        https_only=False,  # loopback by default; behind TLS the proxy sets the scheme
        max_age=12 * 3600,
    )
    # The hot endpoint skips the stack below (see serve/fastpath.py) but not the body's
    # limits, outermost.
    app.add_middleware(FastAssign, service=service, batcher=batcher)
    app.add_middleware(BodyLimit, limits=workspace.config.serve)
    _handle_errors(app)

    @app.get("/health", tags=["health"], summary="Liveness, without a key")
    def health() -> dict[str, Any]:
        # "warm": the newest run's model and profiles are loaded (false for a few seconds
        # after start on a large workspace; requests are answered meanwhile, slower).
        return {"status": "ok", "version": __version__, "warm": service.warm}

    app.include_router(api_router)
    app.include_router(dashboard_router)
    app.router.add_event_handler("shutdown", service.close)
    return app


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login(request: Request, exc: LoginRequired) -> RedirectResponse:
        target = "/login?" + urlencode({"next": exc.next_path})
        return RedirectResponse(target, status.HTTP_303_SEE_OTHER)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(("/api/", "/health", "/docs", "/openapi", "/static/")):
            exc.detail = bounded(str(exc.detail))
            return await http_exception_handler(request, exc)
        return error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(AudienceError)
    async def audience_error(request: Request, exc: AudienceError) -> JSONResponse:
        return JSONResponse(audience_error_detail(exc), status_code=audience_error_status(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, body = invalid_request(exc.errors())
        return JSONResponse(body, status_code=code)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the traceback after this answer; the caller learns only that it
        # was not their fault.
        return JSONResponse({"detail": INTERNAL}, status_code=500)
