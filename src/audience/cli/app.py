"""The ``audience`` Typer application: every command group registered in one place, and
the executable's entry point, which hands a command to the host of its workspace when one
runs (:mod:`audience.cli.host`)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from typer.core import TyperGroup

from audience.cli import (
    alerts,
    changes,
    data,
    demo,
    outputs,
    privacy,
    refresh,
    segmenting,
    service,
    stream,
)
from audience.cli.host import delegate
from audience.cli.invocation import terminal_size
from audience.cli.routing import hosted_route

app = typer.Typer(
    name="audience",
    help="Segment an email audience with clustering models.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

for command in (data.init, data.ingest, data.profile, data.quarantine, data.features):
    app.command()(command)
app.command()(segmenting.segment)
app.command()(refresh.refresh)
app.add_typer(segmenting.segments_app, name="segments")
app.command()(changes.changes)
app.command()(outputs.export)
app.command()(outputs.report)
app.command()(alerts.alerts)
app.command()(privacy.erase)
app.add_typer(service.keys_app, name="keys")
app.command()(service.serve)
app.command()(stream.stream)
app.command()(demo.generate)
app.command()(demo.demo)


def as_group() -> TyperGroup:
    """The application as one command group (what a host runs command lines with)."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    return group


def main() -> None:
    """``audience``: run in the host of the workspace if one holds it, else here."""
    args = sys.argv[1:]
    route = hosted_route(as_group(), args, Path.cwd())
    if route is not None:
        width, tty = terminal_size()
        code = delegate(route.folder, route.argv, width=width, tty=tty)
        if code is not None:
            raise SystemExit(code)
    app(args=args, prog_name="audience")


if __name__ == "__main__":  # pragma: no cover
    main()
