"""The dashboard's pages on a real segmented workspace, through FastAPI's TestClient."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from audience import Workspace
from audience.serve import create_app
from audience.serve.dashboard import contact_url, local_path, segment_url
from audience.store.keys import create_key
from tests.serve.conftest import Served
from tests.serve.dashboard_fixtures import (
    SCRIPT_ESCAPED,
    SCRIPT_NAME,
    persona_segment,
    sign_in,
    signed_in,
)

pytestmark = pytest.mark.slow  # the shared workspace is generated and segmented once


@pytest.fixture
def admin(served: Served) -> TestClient:
    """The served client, signed in through the form with the admin key."""
    assert sign_in(served.client, served.admin).status_code == 303
    return served.client


@pytest.fixture
def reader(served: Served) -> TestClient:
    return signed_in(served.client.app, served.read)  # type: ignore[arg-type]


@pytest.fixture
def segment_id(served: Served) -> str:
    return str(persona_segment(served.workspace)["segment_id"])


def name_of(ws: Workspace, segment_id: str) -> str:
    return str(ws.find_segment(segment_id)["name"])


# -- signing in -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/runs", "/contacts", "/segments/customers"])
def test_every_page_redirects_to_login_without_a_session(served: Served, path: str) -> None:
    response = served.client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?" + urlencode({"next": path})


def test_the_redirect_keeps_the_query(served: Served) -> None:
    response = served.client.get("/contacts?contact_id=C0000001", follow_redirects=False)
    assert response.headers["location"] == "/login?next=%2Fcontacts%3Fcontact_id%3DC0000001"


def test_login_form_keeps_where_to_go_next(served: Served) -> None:
    page = served.client.get("/login?next=/runs")
    assert page.status_code == 200
    assert 'name="key"' in page.text
    assert '<input type="hidden" name="next" value="/runs">' in page.text


def test_a_bad_key_shows_the_form_again_with_401(served: Served) -> None:
    response = sign_in(served.client, "aud_00000000_not-a-secret", "/runs")
    assert response.status_code == 401
    assert "not valid" in response.text
    assert 'name="key"' in response.text
    assert served.client.get("/", follow_redirects=False).status_code == 303  # no session


def test_login_goes_to_next_and_shows_who_is_signed_in(served: Served) -> None:
    response = sign_in(served.client, served.read, "/runs")
    assert response.status_code == 303
    assert response.headers["location"] == "/runs"
    page = served.client.get("/runs")
    assert "tests reader" in page.text
    assert '<span class="badge">read</span>' in page.text


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "runs", ""]
)
def test_login_never_sends_people_to_another_site(served: Served, target: str) -> None:
    response = sign_in(served.client, served.admin, target)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_local_path_keeps_paths_on_this_site() -> None:
    assert local_path("/segments/customers/lapsed-buyers") == "/segments/customers/lapsed-buyers"
    assert local_path("/contacts?contact_id=C1") == "/contacts?contact_id=C1"
    assert local_path("/\tevil") == "/"


def test_sign_out_ends_the_session(admin: TestClient) -> None:
    response = admin.post("/logout", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert admin.get("/", follow_redirects=False).status_code == 303


# -- overview -------------------------------------------------------------------------------


def test_overview_lists_every_segment_with_a_link_and_draws_the_treemap(
    served: Served, admin: TestClient
) -> None:
    page = admin.get("/")
    assert page.status_code == 200
    tree = served.workspace.segments()
    for segment_id, name in zip(tree["segment_id"], tree["name"], strict=True):
        assert f'<a href="{segment_url(segment_id)}">{html.escape(name)}</a>' in page.text
    run_id = served.workspace.run_id()
    assert run_id in page.text
    assert f"{int(tree.loc[tree['parent_id'].isna(), 'size'].sum()):,}" in page.text
    assert 'id="fig-tree"' in page.text
    assert '<script src="/static/plotly.min.js"></script>' in page.text


def test_pages_load_nothing_from_another_site(admin: TestClient) -> None:
    for path in ("/", segment_url("customers"), "/runs", "/contacts"):
        text = admin.get(path).text
        assert re.findall(r'(?:src|href)="(?:https?:)?//', text) == [], path
    script = admin.get("/static/plotly.min.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "Plotly" in script.text[:5000]


def test_overview_without_a_run_says_how_to_make_one(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "empty") as ws:
        _key, text = create_key(ws.database, "read", "empty reader", datetime.now(UTC))
        client = signed_in(create_app(ws), text)
        page = client.get("/")
        assert page.status_code == 200
        assert "No segmentation yet" in page.text
        assert "audience segment" in page.text
        assert client.get(segment_url("customers")).status_code == 404


# -- a segment ------------------------------------------------------------------------------


def test_segment_page_shows_persona_kpis_lift_rules_and_members(
    served: Served, admin: TestClient, segment_id: str
) -> None:
    segment = served.workspace.find_segment(segment_id).to_dict()
    page = admin.get(segment_url(segment_id))
    assert page.status_code == 200
    persona = segment["definition"]["persona"]
    for text in [segment["name"], persona["stage"], persona["messaging"], *persona["traits"]]:
        assert html.escape(str(text)) in page.text
    for action in persona["actions"]:
        assert html.escape(action) in page.text
    assert "Share of revenue" in page.text
    assert 'id="fig-lift"' in page.text
    for rule in segment["definition"]["rules"]:
        assert html.escape(rule) in page.text
    _run, total, members = served.client.app.state.service.members(  # type: ignore[attr-defined]
        segment_id, None, limit=20, offset=0
    )
    assert len(members) == min(total, 20) > 0
    for contact_id, _probability in members:
        assert f'<a href="{html.escape(contact_url(contact_id))}">{contact_id}</a>' in page.text
    assert f"of {total:,} contacts" in page.text


def test_every_segment_of_the_tree_has_a_page(served: Served, admin: TestClient) -> None:
    tree = served.workspace.segments()
    for segment_id, name in zip(tree["segment_id"], tree["name"], strict=True):
        page = admin.get(segment_url(segment_id))
        assert page.status_code == 200, segment_id
        assert f"<h1>{html.escape(name)}</h1>" in page.text


def test_a_parent_segment_shows_its_rule_and_sub_segments(
    served: Served, admin: TestClient
) -> None:
    page = admin.get(segment_url("customers"))
    assert page.status_code == 200
    assert "<code>order_count &gt;= 1</code>" in page.text
    tree = served.workspace.segments()
    for child in tree.loc[tree["parent_id"] == "customers", "segment_id"]:
        assert f'href="{segment_url(child)}"' in page.text


def test_suppression_rules_are_shown_by_name(admin: TestClient) -> None:
    page = admin.get(segment_url("suppressed"))
    assert page.status_code == 200
    assert "unsubscribed: <code>is_unsubscribed = 1</code>" in page.text


def test_an_unknown_segment_is_a_404_page(admin: TestClient) -> None:
    page = admin.get(segment_url("customers/no-such-segment"))
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Segment not found" in page.text
    assert "customers/no-such-segment" in page.text


# -- renaming -------------------------------------------------------------------------------


def test_admin_renames_a_segment_and_the_overview_shows_it(
    served: Served, admin: TestClient, segment_id: str
) -> None:
    form = admin.get(segment_url(segment_id)).text
    assert f'action="{segment_url(segment_id)}/rename"' in form
    response = admin.post(
        f"{segment_url(segment_id)}/rename", data={"name": "Win-back list"}, follow_redirects=False
    )
    assert (response.status_code, response.headers["location"]) == (303, segment_url(segment_id))
    assert "Win-back list" in admin.get("/").text
    assert name_of(served.workspace, segment_id) == "Win-back list"


def test_a_read_session_has_no_rename_form_and_gets_403(
    served: Served, reader: TestClient, segment_id: str
) -> None:
    before = name_of(served.workspace, segment_id)
    assert "/rename" not in reader.get(segment_url(segment_id)).text
    response = reader.post(f"{segment_url(segment_id)}/rename", data={"name": "Hijacked"})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "read key" in response.text
    assert name_of(served.workspace, segment_id) == before


def test_an_empty_name_shows_the_form_again_with_422(
    served: Served, admin: TestClient, segment_id: str
) -> None:
    before = name_of(served.workspace, segment_id)
    response = admin.post(f"{segment_url(segment_id)}/rename", data={"name": "   "})
    assert response.status_code == 422
    assert "cannot be empty" in response.text
    assert 'name="name"' in response.text
    assert name_of(served.workspace, segment_id) == before


def test_renaming_an_unknown_segment_is_a_404_page(admin: TestClient) -> None:
    response = admin.post(f"{segment_url('nope/none')}/rename", data={"name": "X"})
    assert response.status_code == 404
    assert "Segment not found" in response.text


def test_a_script_in_a_segment_name_is_shown_never_run(
    served: Served, admin: TestClient, segment_id: str
) -> None:
    admin.post(f"{segment_url(segment_id)}/rename", data={"name": SCRIPT_NAME})
    contact_id = served.client.app.state.service.members(  # type: ignore[attr-defined]
        segment_id, None, limit=1, offset=0
    )[2][0][0]
    pages = {
        "overview": admin.get("/"),
        "segment": admin.get(segment_url(segment_id)),
        "parent": admin.get(segment_url(segment_id.rsplit("/", 1)[0])),
        "contact": admin.get(contact_url(contact_id)),
    }
    for where, page in pages.items():
        assert page.status_code == 200, where
        assert SCRIPT_NAME not in page.text, where
        assert SCRIPT_ESCAPED in page.text, where


# -- contacts and runs ----------------------------------------------------------------------


def test_contact_lookup_shows_the_segment_probability_and_why(
    served: Served, admin: TestClient, segment_id: str
) -> None:
    contact_id = served.client.app.state.service.members(  # type: ignore[attr-defined]
        segment_id, None, limit=1, offset=0
    )[2][0][0]
    page = admin.get(contact_url(contact_id))
    assert page.status_code == 200
    name = html.escape(name_of(served.workspace, segment_id))
    assert f'<a href="{segment_url(segment_id)}">{name}</a>' in page.text
    assert "Probability" in page.text
    _segment, reasons = served.workspace.why(contact_id)
    assert reasons
    for reason in reasons:
        assert html.escape(reason) in page.text


def test_contact_lookup_without_an_id_shows_the_form(admin: TestClient) -> None:
    page = admin.get("/contacts")
    assert page.status_code == 200
    assert 'name="contact_id"' in page.text
    assert "Why this segment" not in page.text


def test_an_unknown_contact_is_said_clearly_with_404(admin: TestClient) -> None:
    page = admin.get(contact_url("C-nobody"))
    assert page.status_code == 404
    assert "has no segment" in page.text
    assert 'value="C-nobody"' in page.text  # the form keeps what was typed


def test_runs_page_lists_every_run_and_the_jobs(served: Served, admin: TestClient) -> None:
    page = admin.get("/runs")
    assert page.status_code == 200
    runs = served.workspace.database.con.execute("SELECT run_id, status FROM runs").fetchall()
    assert runs
    for run_id, _status in runs:
        assert f"<code>{run_id}</code>" in page.text
    assert "Background jobs" in page.text
    assert "No background job" in page.text
