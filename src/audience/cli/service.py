"""``audience keys`` and ``audience serve``: API keys and the HTTP server."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table

from audience.cli.common import WorkspaceOption, err, friendly, open_workspace, out_console
from audience.errors import ConfigError

if TYPE_CHECKING:
    from audience.serve.service import Service

keys_app = typer.Typer(
    help="API keys for `audience serve`: create (shown once), list, revoke.",
    no_args_is_help=True,
)


@keys_app.command("create")
@friendly
def keys_create(
    role: Annotated[
        Literal["read", "admin"],
        typer.Option(help="read: see everything, change nothing; admin: also change things."),
    ] = "read",
    name: Annotated[str, typer.Option(help="A label to tell keys apart.")] = "",
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Create an API key and print it once; only its hash is stored."""
    from audience.store.keys import create_key

    with open_workspace(workspace, "write") as ws:
        key, text = create_key(ws.database, role, name, datetime.now(UTC))
    err.print(
        f"created {key.role} key {key.key_id} ({key.name}). Copy it now: it is not stored "
        "and cannot be shown again."
    )
    out_console.print(text, soft_wrap=True, highlight=False)


@keys_app.command("list")
@friendly
def keys_list(workspace: WorkspaceOption = Path(".")) -> None:
    """The keys with their role and state (never the secrets)."""
    from audience.store.keys import list_keys

    with open_workspace(workspace, "read") as ws:
        keys = list_keys(ws.database)
    table = Table("id", "name", "role", "created", "state", title="API keys")
    for key in keys:
        state = "active" if key.active else f"revoked {key.revoked_at:%Y-%m-%d %H:%M}"
        table.add_row(key.key_id, key.name, key.role, f"{key.created_at:%Y-%m-%d %H:%M}", state)
    out_console.print(table if keys else "no API keys yet: `audience keys create --role admin`")


@keys_app.command("revoke")
@friendly
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (the part after aud_).")],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Revoke a key: requests with it are refused from now on."""
    from audience.store.keys import revoke_key

    with open_workspace(workspace, "write") as ws:
        key = revoke_key(ws.database, key_id, datetime.now(UTC))
    out_console.print(f"revoked key {key.key_id} ({key.name})")


@friendly
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Allow an address other machines can reach (put TLS in front of it).",
        ),
    ] = False,
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Serve the JSON API (docs at /docs) and the dashboard (at /) for a workspace.

    While it runs, other audience commands on the workspace run inside the server (their
    output comes back to their terminal), so ingests and segmentations from cron go on beside
    it; the server assigns with a new run's model as soon as that run is stored."""
    check_bind(host, allow_remote)
    import uvicorn

    from audience.cli.app import as_group
    from audience.cli.host import Host, run_in_process
    from audience.serve import create_app
    from audience.serve.protocol import http_protocol

    ws = open_workspace(workspace, "read")
    services: list[Service] = []
    hosting = Host(
        ws.path,
        run=run_in_process(as_group()),
        lock_timeout=ws.config.store.lock_timeout_seconds,
        what="audience serve",
        on_change=lambda: services[0].workspace_changed() if services else None,
    )
    with hosting:
        app = create_app(ws)
        limits = ws.config.serve
        services.append(app.state.service)
        app.state.service.warm_up()
        err.print(
            f"serving {ws.path} on http://{host}:{port} (dashboard /, API docs /docs); Ctrl+C stops"
        )
        uvicorn.run(
            app,
            host=host,
            port=port,
            http=http_protocol(limits),
            timeout_keep_alive=limits.keep_alive_seconds,
            log_level="warning",
            access_log=False,
        )


def check_bind(host: str, allow_remote: bool) -> None:
    """Refuse an address other machines can reach unless ``--allow-remote`` says so."""
    if allow_remote or _loopback(host):
        return
    raise ConfigError(
        f"--host {host} can be reached from other machines, and the API serves contacts' "
        "segments. Use 127.0.0.1 (the default), or pass --allow-remote to bind it on purpose "
        "(with TLS in front)."
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name could resolve to anything
