"""The segment tree end to end on a generated audience: precedence, storage, exports."""

from __future__ import annotations

import csv
import json
import shutil
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from audience import Workspace
from audience.config import CONFIG_FILE, parse_config
from audience.errors import ConfigError, RuleError
from audience.segments.summary import TreeReport
from audience.store.features_table import read_features
from audience.synth import generate

AS_OF = datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)

CONFIG = """
[models]
methods = ["kmeans"]
k_max = 6

[segments]
min_share = 0.01
min_cluster_contacts = 300
fallback = "other"

[segments.suppress]
unsubscribed = "is_unsubscribed = 1"
bounced = "is_bounced = 1"
complained = "is_complained = 1"
no_consent = "consent IS NULL OR consent <> 'subscribed'"

[[segments.broad]]
id = "big-spenders"
rule = "revenue_total >= 400"
cluster = false

[[segments.broad]]
id = "customers"
rule = "order_count >= 1"
name = "Customers"

[[segments.broad]]
id = "readers"
rule = "open_rate_human >= 0.25"
cluster = false
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, TreeReport]]:
    folder = tmp_path_factory.mktemp("tree")
    data = generate(folder / "data", contacts=4_000, seed=3, as_of=AS_OF)
    ws = Workspace.init(folder / "ws")
    (ws.path / CONFIG_FILE).write_text(CONFIG, encoding="utf-8")
    ws = Workspace(folder / "ws")
    ws.ingest(data.contacts_path, now=AS_OF)
    ws.ingest(data.events_path, now=AS_OF)
    report = ws.segment(AS_OF)
    yield ws, report
    ws.close()


def members(ws: Workspace, run_id: str) -> pd.DataFrame:
    return ws.database.con.execute(
        "SELECT m.contact_id, m.segment_id, c.consent, c.email FROM memberships m "
        "JOIN contacts c USING (contact_id) WHERE run_id = ?",
        [run_id],
    ).df()


def expected_branch(row: pd.Series) -> str:
    """The hierarchy written out by hand: suppression first, then broad rules in order."""
    if row.is_unsubscribed == 1:
        return "suppressed/unsubscribed"
    if row.is_bounced == 1:
        return "suppressed/bounced"
    if row.is_complained == 1:
        return "suppressed/complained"
    if row.consent != "subscribed" or pd.isna(row.consent):
        return "suppressed/no_consent"
    if row.revenue_total >= 400:
        return "big-spenders"
    if row.order_count >= 1:
        return "customers"
    if not pd.isna(row.open_rate_human) and row.open_rate_human >= 0.25:
        return "readers"
    return "other"


def test_every_contact_lands_where_the_rules_say_first_match_wins(run) -> None:
    ws, report = run
    stored = members(ws, report.run_id)
    features = read_features(ws.database, AS_OF).merge(
        stored[["contact_id", "segment_id", "consent"]], on="contact_id", validate="one_to_one"
    )
    expected = features.apply(expected_branch, axis=1)
    top = features["segment_id"].where(
        features["segment_id"].str.startswith("suppressed/"),
        features["segment_id"].str.split("/").str[0],
    )
    assert (top == expected).all(), features[top != expected].head()
    # Each layer is exercised, and precedence matters: some big spenders are also readers.
    assert set(expected) >= {"suppressed/unsubscribed", "big-spenders", "customers", "other"}
    assert (
        len(stored)
        == len(features)
        == report.segments.loc[report.segments["parent_id"].isna(), "size"].sum()
    )


def test_customers_are_clustered_and_named_unclustered_branches_are_leaves(run) -> None:
    _ws, report = run
    leaves = set(report.leaves["segment_id"])
    customer_leaves = [s for s in leaves if s.startswith("customers/")]
    assert len(customer_leaves) >= 2
    assert not any("cluster-" in s for s in customer_leaves)  # renamed after their personas
    assert {"big-spenders", "readers", "other"} <= leaves
    names = report.segments.set_index("segment_id")["name"]
    assert names["customers"] == "Customers"
    assert names[customer_leaves].is_unique
    sizes = report.segments.set_index("segment_id")["size"]
    assert sizes["customers"] == sizes[customer_leaves].sum()
    assert 0.0 <= report.fidelity <= 1.0


def test_segments_read_back_with_personas(run) -> None:
    ws, report = run
    tree = ws.segments(report.run_id)
    leaf = tree[tree["segment_id"].str.startswith("customers/")].iloc[0]
    persona = leaf["definition"]["persona"]
    assert persona["stage"]
    assert persona["traits"]
    assert persona["messaging"]
    assert leaf["definition"]["profile"]["size"] == leaf["size"]
    stored = members(ws, report.run_id)
    features = read_features(ws.database, AS_OF).merge(stored, on="contact_id")
    mine = features[features["segment_id"] == leaf["segment_id"]]
    orders = leaf["definition"]["features"]["order_count"]
    assert orders["mean"] == pytest.approx(mine["order_count"].mean(), rel=1e-6)
    assert orders["median"] == pytest.approx(mine["order_count"].median())
    active = features[~features["segment_id"].str.startswith("suppressed")]
    assert orders["lift"] == pytest.approx(
        mine["order_count"].mean() / active["order_count"].mean(), rel=1e-5
    )


def test_rename_persists_into_later_runs(run, tmp_path: Path) -> None:
    """Issue 17: on its own copy of the workspace, and unconditionally: a run on the same
    data keeps every cluster's id (stable ids), so the rename must carry over."""
    shared, report = run
    shared.database.con.execute("CHECKPOINT")  # everything in the file before copying it
    shutil.copytree(shared.path, tmp_path / "ws")
    with Workspace(tmp_path / "ws") as ws:
        clusters = report.leaves[report.leaves["kind"] == "cluster"]
        target = str(clusters["segment_id"].iloc[0])
        ws.rename_segment(target, "Our best friends", report.run_id)
        assert ws.find_segment(target, report.run_id)["name"] == "Our best friends"
        again = ws.segment(AS_OF)
        assert target in set(again.segments["segment_id"])
        assert ws.find_segment(target, again.run_id)["name"] == "Our best friends"


def test_export_never_includes_suppressed_contacts(run, tmp_path: Path) -> None:
    ws, report = run
    stored = members(ws, report.run_id)
    suppressed = set(stored.loc[stored["segment_id"].str.startswith("suppressed"), "email"])
    for segment in ("customers", "big-spenders", "other"):
        for platform in (None, "mailchimp", "brevo", "braze"):
            path = tmp_path / f"{segment}-{platform}.csv"
            result = ws.export(segment, path, platform=platform, run_id=report.run_id)
            delimiter = ";" if platform == "brevo" else ","
            with path.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.DictReader(handle, delimiter=delimiter))
            assert len(rows) == result.rows
            key = {None: "email", "mailchimp": "Email Address", "brevo": "EMAIL",
                   "braze": "email"}[platform]  # fmt: skip
            exported = {row[key] for row in rows}
            assert not exported & suppressed
            ids = stored["segment_id"]
            in_segment = stored[(ids == segment) | ids.str.startswith(segment + "/")]
            assert exported <= set(in_segment["email"].dropna()) | {""}


def test_suppressed_segment_cannot_be_exported(run, tmp_path: Path) -> None:
    ws, report = run
    with pytest.raises(ConfigError, match="suppressed"):
        ws.export("suppressed/unsubscribed", tmp_path / "x.csv", run_id=report.run_id)
    assert not (tmp_path / "x.csv").exists()


def test_bad_rule_changes_nothing(run) -> None:
    ws, _report = run
    before = ws.database.con.execute("SELECT count(*) FROM runs").fetchall()
    features_before = ws.database.con.execute("SELECT count(*) FROM features").fetchall()
    bad = CONFIG.replace('rule = "order_count >= 1"', 'rule = "order_cont >= 1; DROP TABLE x"')
    original, ws.config = ws.config, parse_config(tomllib.loads(bad))
    try:
        with pytest.raises(RuleError, match=r"segments\.broad\[1\]\.rule"):
            ws.segment(AS_OF)
    finally:
        ws.config = original
    assert ws.database.con.execute("SELECT count(*) FROM runs").fetchall() == before
    assert ws.database.con.execute("SELECT count(*) FROM features").fetchall() == features_before
    assert ws.database.con.execute("SELECT count(*) FROM contacts").fetchall()[0][0] > 0


def test_small_clusters_are_merged_and_the_merge_recorded(run) -> None:
    ws, _report = run
    many = CONFIG.replace('name = "Customers"', 'name = "Customers"\nmethod = "kmeans"\nk = 12')
    many = many.replace("min_share = 0.01", "min_share = 0.06")
    original, ws.config = ws.config, parse_config(tomllib.loads(many))
    try:
        report = ws.segment(AS_OF)
    finally:
        ws.config = original
    nodes = report.segments.set_index("segment_id")
    branch = nodes.loc["customers", "size"]
    clusters = nodes[nodes["parent_id"] == "customers"]
    assert 2 <= len(clusters) < 12
    assert (clusters["size"] >= 0.06 * branch).all()
    assert clusters["size"].sum() == branch
    metrics = ws.database.con.execute(
        "SELECT metrics FROM runs WHERE run_id = ?", [report.run_id]
    ).fetchall()[0][0]
    merges = json.loads(metrics)["branches"]["customers"]["merges"]
    assert len(merges) == 12 - len(clusters)
    assert all(m["share"] < 0.06 for m in merges)
    note = report.branches.set_index("branch").loc["customers", "note"]
    assert f"{len(merges)} under 6.0% merged" in note


def test_without_a_fallback_unmatched_contacts_get_no_segment(run) -> None:
    ws, _report = run
    narrow = CONFIG.replace('fallback = "other"', 'fallback = ""')
    original, ws.config = ws.config, parse_config(tomllib.loads(narrow))
    try:
        report = ws.segment(AS_OF)
    finally:
        ws.config = original
    stored = members(ws, report.run_id)
    features = read_features(ws.database, AS_OF)
    assert "other" not in set(report.segments["segment_id"])
    assert report.unassigned > 0
    assert len(stored) + report.unassigned == len(features)


def test_the_stored_model_assigns_every_contact_as_the_run_did(run) -> None:
    ws, report = run
    assigner = ws.assigner(report.run_id)
    stored = members(ws, report.run_id).set_index("contact_id")
    rows = ws.database.con.execute(
        "SELECT f.*, c.consent, c.signup_at, "
        "nullif(lower(split_part(c.email, '@', 2)), '') AS email_domain "
        "FROM features f JOIN contacts c USING (contact_id) WHERE f.as_of = ? "
        "ORDER BY contact_id",
        [AS_OF],
    ).df()
    rows[["revenue_total", "revenue_mean"]] = rows[["revenue_total", "revenue_mean"]].astype(float)
    assigned = assigner.assign(rows)
    expected = stored.loc[rows["contact_id"], "segment_id"].to_numpy()
    assert (assigned["segment_id"].to_numpy() == expected).all()
    one = assigner.assign(rows.iloc[[5]])
    assert one["segment_id"].iloc[0] == expected[5]


def test_assigning_rows_without_the_rule_columns_is_a_clear_error(run) -> None:
    ws, report = run
    with pytest.raises(ConfigError, match=r"lack .*order_count"):
        ws.assigner(report.run_id).assign(pd.DataFrame({"recency_days": [3.0]}))
