"""The ``audience`` Typer application: every command group registered in one place."""

from __future__ import annotations

import typer

from audience.cli import changes, data, demo, outputs, segmenting, service

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
app.add_typer(segmenting.segments_app, name="segments")
app.command()(changes.changes)
app.command()(outputs.export)
app.command()(outputs.report)
app.add_typer(service.keys_app, name="keys")
app.command()(service.serve)
app.command()(demo.generate)
app.command()(demo.demo)

if __name__ == "__main__":  # pragma: no cover
    app()
