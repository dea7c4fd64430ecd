"""Rich rendering of results for the CLI. The library itself never prints."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from audience.segment_ids import SUPPRESSED, is_suppressed_id
from audience.store.known_files import AlreadyIngested
from audience.store.profile import DataProfile
from audience.store.segment_runs import segment_names
from audience.validate import REASONS, IngestReport

if TYPE_CHECKING:
    from audience.features.summary import FeatureReport
    from audience.models.summary import SegmentationReport


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


def already_ingested(report: AlreadyIngested) -> Text:
    """One plain line: the file was not read, and how to read it anyway."""
    day = report.ingested_at.date().isoformat()
    return Text(
        f"{report.source}: already ingested on {day} as {report.skipped_as} (same bytes): "
        "nothing to do; --again reads it anyway"
    )


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


def feature_summary(report: FeatureReport) -> Group:
    """Each numeric feature: missing share, mean, median and 99th percentile; below it,
    each categorical one's missing share, number of values and most frequent value (a cell
    of their own would widen the table past 80 columns)."""
    title = (
        f"features of {report.contacts:,} contacts as of {report.as_of:%Y-%m-%d %H:%M} UTC "
        f"({report.seconds:.1f} s)"
    )
    table = Table(title=title, title_justify="left", min_width=len(title))
    for name in ("feature", "missing", "mean", "p50", "p99"):
        table.add_column(name, justify="left" if name == "feature" else "right")
    categorical: list[Text] = []
    for stat in report.stats:
        if stat.distinct is not None:
            categorical.append(
                Text(
                    f"{stat.feature}: {stat.distinct} values, most often {stat.top} "
                    f"({stat.missing:.1%} missing)"
                )
            )
            continue
        table.add_row(
            stat.feature,
            f"{stat.missing:.1%}",
            _figure(stat.mean),
            _figure(stat.p50),
            _figure(stat.p99),
        )
    parts: list[Table | Text] = [table, *categorical]
    if report.out is not None:
        parts.append(Text(f"written to {report.out}", style="dim"))
    return Group(*parts)


_Cell = Callable[[dict[Hashable, Any]], str]


def candidates(selection: pd.DataFrame, *, verbose: bool = False) -> Table:
    """Every (method, k) tried and its verdict, the chosen row highlighted: method, k,
    silhouette and verdict, which fit 80 columns; ``verbose`` adds the other scores and the
    reason for each verdict.

    Calinski–Harabasz and the centroid silhouette stay in the stored table, not on screen."""
    table = Table(title="candidates", title_justify="left", caption_justify="left")
    columns = _candidate_columns(selection, verbose)
    for header in columns:
        table.add_column(
            header, justify="left" if header in ("method", "verdict", "why") else "right"
        )
    rows = selection.to_dict(orient="records")
    for row in rows:
        style = {"chosen": "bold green", "rejected": "red"}.get(row["status"], "dim")
        table.add_row(*(cell(row) for cell in columns.values()), style=style)
    if any(_asked_k(row) not in (None, int(row["n_segments"])) for row in rows):
        table.caption = "k (n): n of the k segments got contacts"
    return table


def _candidate_columns(selection: pd.DataFrame, verbose: bool) -> dict[str, _Cell]:
    """The candidates table's columns: header -> how a row's cell reads."""
    if not verbose:
        return {
            "method": lambda r: str(r["method"]),
            "k": _k_cell,
            "silhouette": lambda r: _score(r["silhouette"]),
            "verdict": lambda r: str(r["status"]),
        }
    noisy = bool((selection["noise_share"] > 0).any())
    return {
        "method": lambda r: str(r["method"]),
        "k": _k_cell,
        "smallest": lambda r: f"{r['smallest_share']:.1%}",
        **({"noise": lambda r: f"{r['noise_share']:.0%}"} if noisy else {}),
        "silhouette": lambda r: _score(r["silhouette"]),
        "DB": lambda r: _score(r["davies_bouldin"]),
        "BIC": lambda r: _figure(_finite(r["bic"])),
        "stability": lambda r: _score(r["stability"]),
        "elbow": lambda r: (
            "-" if r["elbow"] is None or pd.isna(r["elbow"]) else str(int(r["elbow"]))
        ),
        "verdict": lambda r: str(r["status"]),
        "why": lambda r: str(r["reason"]),
    }


def _asked_k(row: dict[Hashable, Any]) -> int | None:
    """The k a candidate was fitted with (None for methods that find their own number)."""
    k = row.get("k")
    return None if k is None or pd.isna(k) else int(k)


def _k_cell(row: dict[Hashable, Any]) -> str:
    """The k asked for, and the segments that got contacts when fewer: a mixture may leave
    components empty, so k=10 and k=9 can both end with 9 segments and must not read alike."""
    asked, used = _asked_k(row), int(row["n_segments"])
    if asked is None or asked == used:
        return str(used)
    return f"{asked} ({used})"


def segment_sizes(report: SegmentationReport) -> Table:
    """The chosen segmentation: one row per segment with its size and share."""
    title = (
        f"run {report.run_id}: {report.method}, {report.n_segments} segments "
        f"({report.seconds:.1f} s)"
    )
    table = Table(title=title, title_justify="left")
    for name in ("segment", "contacts", "share"):
        table.add_column(name, justify="left" if name == "segment" else "right")
    names = segment_names(report.n_segments)
    for row in report.sizes.to_dict(orient="records"):
        table.add_row(names[int(row["label"]) + 1], f"{int(row['size']):,}", f"{row['share']:.1%}")
    return table


def segment_tree(
    segments: pd.DataFrame, title: str, *, verbose: bool = False, show_empty: bool = False
) -> Table:
    """The tree, one row per segment, its path indented under its parent, with its size and
    share. The name and the id share a cell, one above the other, so the table fits 80
    columns; ``verbose`` gives them a column each and adds the journey stage and the
    strongest trait. Segments without contacts are left out (a caption counts them) unless
    ``show_empty``. ``segments`` is a run's node table."""
    table = Table(title=title, title_justify="left", caption_justify="left", min_width=len(title))
    ordered = _tree_order(segments)
    shown = [(row, depth) for row, depth in ordered if show_empty or int(row["size"]) > 0]
    # An id is what `segments show` takes: folded onto a second line, never cut short.
    table.add_column("segment", overflow="fold")
    headers = ("name", "contacts", "share", "stage", "key trait")
    for header in headers if verbose else ("contacts", "share"):
        table.add_column(header, justify="right" if header in ("contacts", "share") else "left")
    for row, depth in shown:
        indent = "  " * depth
        name, segment_id = str(row["name"] or ""), str(row["segment_id"])
        size = (f"{int(row['size']):,}", f"{float(row['share']):.1%}")
        style = "dim" if is_suppressed_id(segment_id) else ("bold" if depth == 0 else None)
        if verbose:
            cells: list[RenderableType] = [
                Text(indent + segment_id),
                Text(name),
                *size,
                *_stage_and_trait(row),
            ]
            table.add_row(*cells, style=style)
        else:
            both = Text(f"{indent}{name}\n{indent}{segment_id}")
            both.stylize("dim", len(indent) + len(name) + 1)
            table.add_row(both, *size, style=style)
    hidden = len(ordered) - len(shown)
    if hidden:
        table.caption = f"{hidden} empty segment{'s' * (hidden > 1)} not shown (--show-empty)"
    return table


def _stage_and_trait(row: dict[Hashable, Any]) -> tuple[str, Text]:
    traits = row.get("traits")
    trait = traits[0] if isinstance(traits, list | tuple) and len(traits) else ""
    stage = row["stage"] if isinstance(row.get("stage"), str) else ""
    return stage, Text(trait)


def _tree_order(segments: pd.DataFrame) -> list[tuple[dict[Hashable, Any], int]]:
    """Rows depth-first, roots and siblings by decreasing size (suppressed first)."""
    rows = segments.to_dict(orient="records")
    children: dict[Any, list[dict[Hashable, Any]]] = {}
    for row in rows:
        parent = row["parent_id"] if isinstance(row["parent_id"], str) else None
        children.setdefault(parent, []).append(row)

    def walk(parent: str | None, depth: int) -> list[tuple[dict[Hashable, Any], int]]:
        ordered = sorted(
            children.get(parent, []),
            key=lambda r: (r["segment_id"] != SUPPRESSED, -int(r["size"]), r["segment_id"]),
        )
        out: list[tuple[dict[Hashable, Any], int]] = []
        for row in ordered:
            out.append((row, depth))
            out += walk(str(row["segment_id"]), depth + 1)
        return out

    return walk(None, 0)


def segment_detail(row: dict[Hashable, Any], definition: dict[str, Any]) -> Group:
    """One segment: name, size, persona (stage, traits, messaging, actions), rules, KPIs."""
    lines: list[Any] = [
        Text(f"{row['name']}  ({row['segment_id']})", style="bold"),
        Text(f"{int(row['size']):,} contacts, {float(row['share']):.1%} of the audience"),
    ]
    persona = definition.get("persona") or {}
    if persona:
        lines.append(Text(f"stage: {persona.get('stage', '')}"))
        lines += [Text(f"  • {trait}") for trait in persona.get("traits", [])]
        lines.append(Text(f"messaging: {persona.get('messaging', '')}"))
        lines += [Text(f"  → {action}") for action in persona.get("actions", [])]
    if definition.get("rule"):
        lines.append(Text(f"rule: {definition['rule']}"))
    for rule in definition.get("rules", []):
        lines.append(Text(f"explained by: {rule}"))
    profile = definition.get("profile") or {}
    shown = {k: v for k, v in profile.items() if isinstance(v, int | float) and k != "size"}
    if shown:
        kpis = Table.grid(padding=(0, 2))
        for key, value in shown.items():
            kpis.add_row(key, f"{value:.3g}")
        lines.append(kpis)
    features = definition.get("features") or {}
    if features:
        lines.append(_feature_lifts(features))
    return Group(*lines)


def _feature_lifts(features: dict[str, dict[str, Any]]) -> Table:
    """Every feature's mean and median in the segment against the audience, by |z|."""
    table = Table(title="features (strongest first)", title_justify="left")
    for header in ("feature", "mean", "median", "audience mean", "lift"):
        table.add_column(header, justify="left" if header == "feature" else "right")
    ranked = sorted(features.items(), key=lambda item: -abs(item[1].get("z") or 0.0))
    for name, stats in ranked:
        table.add_row(
            name,
            _figure(stats.get("mean")),
            _figure(stats.get("median")),
            _figure(stats.get("population_mean")),
            "-" if stats.get("lift") is None else f"{stats['lift']:.2f}x",
        )
    return table


def _score(value: float | None) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:.3f}"


def _finite(value: float | None) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


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
