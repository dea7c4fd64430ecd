"""The dashboard: server-rendered pages over the same :class:`Service` as the JSON API.

Pages: ``/login`` and ``/logout``, the overview ``/``, a segment ``/segments/{id}`` (with
its rename form), the contact lookup ``/contacts``, ``/runs`` and ``/alerts``. Every page but
the login form needs a session (:data:`auth.Viewer`); renaming needs an admin one
(:data:`auth.Editor`).

Nothing comes from the network: Plotly's JavaScript is the installed package's copy, served
from ``/static/plotly.min.js``. Every value from the data is escaped, by Jinja2's autoescape
in the templates and by :func:`charts.label` inside charts (segment names are free text).
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import cache
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import pandas as pd
import plotly.graph_objects as go  # type: ignore[import-untyped]
from fastapi import APIRouter, Form, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from audience.errors import ConfigError, NotFoundError, WorkspaceError
from audience.report.charts import FONT, LIFT_LIMIT, PALETTE, label, tree_figure
from audience.report.html import (
    DASH,
    figure_html,
    format_metric,
    format_share,
    format_when,
    persona_view,
    plotly_js,
    template_environment,
    tree_rows,
)
from audience.serve.auth import Editor, Viewer, service_of
from audience.serve.changes_panel import changes_panel
from audience.serve.service import Service
from audience.store.keys import ApiKey

router = APIRouter(include_in_schema=False)

MEMBERS_SHOWN = 20
ALERTS_SHOWN = 100
LIFTS_SHOWN = 12
PLOTLY_JS_PATH = "/static/plotly.min.js"

KPIS: tuple[tuple[str, str, str], ...] = (
    ("revenue_share", "Share of revenue", "pct"),
    ("revenue_per_contact", "Revenue per contact", "metric"),
    ("buyer_share", "Buyers", "pct"),
    ("recent_order_share", "Ordered in the last 30 days", "pct"),
    ("open_rate", "Open rate (human)", "pct"),
    ("ctr", "Click rate", "pct"),
    ("ctor", "Click-to-open rate", "pct"),
    ("silent_share", "Silent for 180 days", "pct"),
)
"""The segment page's KPIs from ``definition["profile"]``: key, label, format."""

NO_RUN = (
    "Nothing has been segmented in this workspace yet. Ingest contacts and events "
    "(`audience ingest`), then run `audience segment`, or start a run with POST /api/runs."
)


# -- rendering ----------------------------------------------------------------------------


def segment_url(segment_id: object) -> str:
    """The page of a segment; its id keeps its slashes (``customers/lapsed-buyers``)."""
    return "/segments/" + quote(str(segment_id), safe="/")


def contact_url(contact_id: object) -> str:
    return "/contacts?" + urlencode({"contact_id": str(contact_id)})


def format_when_or_dash(value: object) -> str:
    return format_when(value) if isinstance(value, datetime) else DASH


def format_probability(value: object) -> str:
    return DASH if value is None else format_share(value)


@cache
def _templates() -> Jinja2Templates:
    env = template_environment("audience.serve")
    env.filters.update(
        when=format_when_or_dash,
        probability=format_probability,
        segment_url=segment_url,
        contact_url=contact_url,
    )
    env.globals["plotly_js"] = PLOTLY_JS_PATH
    return Jinja2Templates(env=env)


def _page(
    request: Request,
    template: str,
    user: ApiKey | None,
    status_code: int = status.HTTP_200_OK,
    **context: Any,
) -> Response:
    return _templates().TemplateResponse(
        request, template, {"user": user, **context}, status_code=status_code
    )


def _message(request: Request, user: ApiKey, title: str, text: str, status_code: int) -> Response:
    return _page(request, "message.html.j2", user, status_code, title=title, text=text)


def error_page(request: Request, status_code: int, detail: str) -> Response:
    """An HTTP error on a page (a read session posting a rename, say) as a page, not JSON."""
    title = {403: "Not allowed", 404: "Not found"}.get(status_code, "Something went wrong")
    return _page(request, "message.html.j2", None, status_code, title=title, text=detail)


def _no_run(request: Request, user: ApiKey) -> Response:
    return _message(request, user, "No segmentation yet", NO_RUN, status.HTTP_404_NOT_FOUND)


# -- login --------------------------------------------------------------------------------


def local_path(target: str) -> str:
    """``target`` if it is a path on this site, else ``/``: login must not send people away.

    Browsers read ``//host`` and ``/\\host`` as another site, so a leading ``//``, any backslash
    and any whitespace or control character are refused."""
    unsafe = any(c.isspace() or ord(c) < 32 or c == "\\" for c in target)
    if unsafe or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get(PLOTLY_JS_PATH)
def plotly_script() -> Response:
    """Plotly's JavaScript from the installed package (not a page: no session needed)."""
    return Response(
        _plotly_bytes(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@cache
def _plotly_bytes() -> bytes:
    return plotly_js().encode("utf-8")


@router.get("/login")
def login_form(request: Request, next_path: Annotated[str, Query(alias="next")] = "/") -> Response:
    return _page(request, "login.html.j2", None, next_path=local_path(next_path), error=None)


@router.post("/login")
def login(
    request: Request,
    key: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    found = service_of(request).authenticate(key) if key.strip() else None
    if found is None:
        error = "That API key is not valid: it is mistyped, unknown or revoked."
        return _page(
            request,
            "login.html.j2",
            None,
            status.HTTP_401_UNAUTHORIZED,
            next_path=local_path(next_path),
            error=error,
        )
    request.session.clear()
    request.session["key_id"] = found.key_id
    return RedirectResponse(local_path(next_path), status.HTTP_303_SEE_OTHER)


@router.post("/logout")
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)


# -- overview -----------------------------------------------------------------------------


@router.get("/")
def overview(request: Request, user: Viewer) -> Response:
    service = service_of(request)
    try:
        run_id, tree = service.tree()
    except WorkspaceError:
        return _page(request, "overview.html.j2", user, run=None, no_run=NO_RUN)
    return _page(
        request,
        "overview.html.j2",
        user,
        run=_run_facts(service, run_id, tree),
        tree=tree_rows(tree[["segment_id", "parent_id", "name", "size", "share", "kind"]]),
        treemap=figure_html(tree_figure(tree), "fig-tree"),
        changes=changes_panel(service, run_id, tree),
    )


def _run_facts(service: Service, run_id: str, tree: pd.DataFrame) -> dict[str, Any]:
    summary = service.run(run_id)
    parents = set(tree["parent_id"].dropna())
    return {
        "run_id": run_id,
        "as_of": summary["as_of"],
        "created_at": summary["created_at"],
        "contacts": int(tree.loc[tree["parent_id"].isna(), "size"].sum()),
        "segments": len(tree),
        "leaves": int((~tree["segment_id"].isin(parents)).sum()),
    }


# -- a segment ----------------------------------------------------------------------------


@router.get("/segments/{segment_id:path}")
def segment_page(request: Request, user: Viewer, segment_id: str) -> Response:
    return _segment_response(request, user, segment_id)


@router.post("/segments/{segment_id:path}/rename")
def rename(
    request: Request, user: Editor, segment_id: str, name: Annotated[str, Form()] = ""
) -> Response:
    try:
        service_of(request).rename(segment_id, name)
    except NotFoundError as exc:
        return _message(request, user, "Segment not found", str(exc), status.HTTP_404_NOT_FOUND)
    except WorkspaceError:
        return _no_run(request, user)
    except ConfigError as exc:  # an empty name: the form again, with the reason
        return _segment_response(
            request,
            user,
            segment_id,
            error=str(exc),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            attempted=name,
        )
    return RedirectResponse(segment_url(segment_id), status.HTTP_303_SEE_OTHER)


def _segment_response(
    request: Request,
    user: ApiKey,
    segment_id: str,
    *,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
    attempted: str | None = None,
) -> Response:
    try:
        view = segment_view(service_of(request), segment_id)
    except NotFoundError as exc:
        return _message(request, user, "Segment not found", str(exc), status.HTTP_404_NOT_FOUND)
    except WorkspaceError:
        return _no_run(request, user)
    return _page(
        request,
        "segment.html.j2",
        user,
        status_code,
        **view,
        error=error,
        attempted=view["segment"]["name"] if attempted is None else attempted,
    )


def segment_view(service: Service, segment_id: str) -> dict[str, Any]:
    """What the segment page shows, read from one run (the newest) throughout."""
    run_id, row = service.segment(segment_id)
    _run, tree = service.tree(run_id)
    _run, total, members = service.members(segment_id, run_id, limit=MEMBERS_SHOWN, offset=0)
    definition: dict[str, Any] = row["definition"]
    lifts = definition.get("features") or {}
    return {
        "run_id": run_id,
        "segment": {k: row[k] for k in ("segment_id", "name", "size", "share", "kind")},
        "parent": _parent(tree, row["parent_id"]),
        "children": tree[tree["parent_id"] == segment_id].to_dict(orient="records"),
        "persona": _persona_of(row) if definition.get("persona") else None,
        "kpis": _kpis(definition.get("profile") or {}),
        "rule": definition.get("rule"),
        "rules": _rules(definition.get("rules")),
        "lift": figure_html(lift_bars(lifts), "fig-lift") if _strongest(lifts) else None,
        "members": members,
        "members_total": total,
        "probabilities": any(probability is not None for _id, probability in members),
    }


def _parent(tree: pd.DataFrame, parent_id: object) -> dict[str, Any] | None:
    if not isinstance(parent_id, str):
        return None
    match = tree[tree["segment_id"] == parent_id]
    name = str(match["name"].iloc[0]) if len(match) else parent_id
    return {"segment_id": parent_id, "name": name}


def _persona_of(row: pd.Series) -> dict[str, Any]:
    persona = row["definition"]["persona"]
    fields = {"segment_id": row["segment_id"], "name": row["name"], "size": row["size"]}
    return persona_view({**fields, "share": row["share"], **persona})


def _kpis(profile: dict[str, Any]) -> list[dict[str, Any]]:
    formats = {"pct": format_share, "metric": format_metric}
    return [
        {"label": text, "value": formats[kind](profile[key])}
        for key, text, kind in KPIS
        if profile.get(key) is not None
    ]


def _rules(rules: object) -> list[tuple[str, str]]:
    """Surrogate rules (a list) or the suppression rules by name (a dict) as (name, rule)."""
    if isinstance(rules, dict):
        return [(str(name), str(rule)) for name, rule in rules.items()]
    if isinstance(rules, list):
        return [("", str(rule)) for rule in rules]
    return []


# -- the lift chart -----------------------------------------------------------------------


def _strongest(features: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Features with a usable lift, furthest from 1 (on a log scale) first."""
    usable = [
        (name, stats)
        for name, stats in features.items()
        if isinstance(stats.get("lift"), int | float) and math.isfinite(stats["lift"])
    ]
    usable.sort(key=lambda item: -abs(math.log2(_clip(item[1]["lift"]))))
    return usable[:LIFTS_SHOWN]


def _clip(lift: float) -> float:
    return min(max(lift, 1 / LIFT_LIMIT), LIFT_LIMIT)


def lift_bars(features: dict[str, dict[str, Any]]) -> Any:
    """Horizontal bars of the strongest lifts, drawn as log2 so ×2 and ×½ look alike."""
    rows = _strongest(features)[::-1]  # Plotly draws the first bar at the bottom
    lifts = [float(stats["lift"]) for _name, stats in rows]
    ticks = [0.0625, 0.25, 0.5, 1, 2, 4, 16]
    fig = go.Figure(
        go.Bar(
            x=[math.log2(_clip(lift)) for lift in lifts],
            y=[label(name) for name, _stats in rows],
            orientation="h",
            marker={"color": [PALETTE[0] if lift >= 1 else PALETTE[1] for lift in lifts]},
            text=[f"{lift:.2f}×" for lift in lifts],
            textposition="auto",
            customdata=[_hover(stats) for _name, stats in rows],
            hovertemplate="%{y}: lift %{text}<br>%{customdata}<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": "Strongest lifts (1 = the audience average)", "x": 0.0},
        height=max(260, 28 * len(rows) + 110),
        template="plotly_white",
        font={"family": FONT, "size": 12},
        margin={"l": 190, "r": 20, "t": 50, "b": 40},
    )
    fig.update_xaxes(tickvals=[math.log2(t) for t in ticks], ticktext=[str(t) for t in ticks])
    return fig


def _hover(stats: dict[str, Any]) -> str:
    mean, audience = stats.get("mean"), stats.get("population_mean")
    return f"segment mean {format_metric(mean)}, audience {format_metric(audience)}"


# -- contacts and runs --------------------------------------------------------------------


@router.get("/contacts")
def contact_page(
    request: Request, user: Viewer, contact_id: Annotated[str, Query()] = ""
) -> Response:
    wanted = contact_id.strip()
    if not wanted:
        return _page(request, "contact.html.j2", user, contact_id="", contact=None, error=None)
    try:
        contact = service_of(request).contact(wanted)
    except NotFoundError as exc:
        return _page(
            request,
            "contact.html.j2",
            user,
            status.HTTP_404_NOT_FOUND,
            contact_id=wanted,
            contact=None,
            error=str(exc),
        )
    except WorkspaceError:
        return _no_run(request, user)
    return _page(request, "contact.html.j2", user, contact_id=wanted, contact=contact, error=None)


@router.get("/runs")
def runs_page(request: Request, user: Viewer) -> Response:
    service = service_of(request)
    return _page(request, "runs.html.j2", user, runs=service.runs(), jobs=service.jobs.all())


@router.get("/alerts")
def alerts_page(request: Request, user: Viewer) -> Response:
    """The newest alerts with their severity and whether the webhooks got them."""
    alerts = service_of(request).alerts(ALERTS_SHOWN)
    return _page(request, "alerts.html.j2", user, alerts=alerts, shown=ALERTS_SHOWN)
