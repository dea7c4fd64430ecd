"""Rich rendering of results for the CLI. The library itself never prints."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from audience.store.profile import DataProfile
from audience.validate import REASONS, IngestReport

if TYPE_CHECKING:
    from audience.features.summary import FeatureReport


def ingest_report(report: IngestReport) -> Panel:
    """Where every row went; the three outcomes add up to the rows read."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="dim")
    new = ", ".join(f"{count:,} {name}" for name, count in report.inserted.items() if count)
    stored = f"new: {new or 'none'}" + (
        f"; updated contacts: {report.updated:,}" if report.updated else ""
    )
    table.add_row("rows read", f"{report.rows_read:,}", "")
    table.add_row("accepted", f"[green]{report.accepted:,}[/]", stored)
    table.add_row(
        "quarantined", _warn(report.quarantined), "kept with their reason: audience quarantine"
    )
    for reason, count in report.quarantine_reasons.items():
        table.add_row(f"  {reason}", f"{count:,}", REASONS.get(reason, ""))
    table.add_row("duplicates", f"{report.duplicates:,}", "already stored or repeated in the file")
    parts: list[Table | Text] = [table]
    if report.mapping:
        mapped = ", ".join(f"{source} → {field}" for source, field in report.mapping.items())
        parts.append(Text(f"columns: {mapped}", style="dim"))
    if report.ignored_columns:
        parts.append(
            Text(f"not used (data minimisation): {', '.join(report.ignored_columns)}", style="dim")
        )
    title = f"ingest {report.source} ({report.format}, {report.kind}) in {report.seconds:.1f} s"
    return Panel(Group(*parts), title=title, title_align="left", expand=False)


def data_profile(profile: DataProfile) -> Panel:
    """What the workspace holds: contacts, events by type, the date range, the quarantine."""
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    summary.add_row("contacts", f"{profile.contacts:,}")
    for consent, count in profile.contacts_by_consent.items():
        summary.add_row(f"  {consent}", f"{count:,}")
    summary.add_row("contacts with events", f"{profile.contacts_with_events:,}")
    summary.add_row("events", f"{profile.events:,}")
    if profile.first_event and profile.last_event:
        summary.add_row(
            "date range", f"{profile.first_event:%Y-%m-%d} → {profile.last_event:%Y-%m-%d}"
        )
    summary.add_row("events without a known contact", f"{profile.events_without_contact:,}")
    summary.add_row("quarantined rows", f"{profile.quarantined:,}")
    events = Table(title="events by type", title_justify="left", show_edge=False)
    events.add_column("event")
    events.add_column("count", justify="right")
    events.add_column("share", justify="right")
    for name, count in profile.events_by_type.items():
        events.add_row(name, f"{count:,}", f"{count / max(profile.events, 1):.1%}")
    return Panel(
        Group(summary, Text(""), events), title="data profile", title_align="left", expand=False
    )


def feature_summary(report: FeatureReport) -> Table:
    """Each feature: missing share, mean, median and 99th percentile (or its top value)."""
    title = (
        f"features of {report.contacts:,} contacts as of {report.as_of:%Y-%m-%d %H:%M} UTC "
        f"({report.seconds:.1f} s)"
    )
    table = Table(title=title, title_justify="left")
    for name in ("feature", "missing", "mean", "p50", "p99"):
        table.add_column(name, justify="left" if name == "feature" else "right")
    for stat in report.stats:
        if stat.distinct is not None:
            summary = f"{stat.distinct} values, most often {stat.top}"
            table.add_row(stat.feature, f"{stat.missing:.1%}", summary, "", "")
        else:
            table.add_row(
                stat.feature,
                f"{stat.missing:.1%}",
                _figure(stat.mean),
                _figure(stat.p50),
                _figure(stat.p99),
            )
    if report.out is not None:
        table.caption = f"written to {report.out}"
    return table


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.3g}"


def error(console: Console, message: str) -> None:
    """One paragraph, no traceback."""
    console.print(
        Panel(Text(message), title="error", title_align="left", border_style="red", expand=False)
    )


def _warn(count: int) -> str:
    return f"[yellow]{count:,}[/]" if count else "0"
