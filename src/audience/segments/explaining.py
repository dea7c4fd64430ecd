"""Why contacts are where they are in a stored run: profiles and per-contact reasons.

What is not stored is recomputed from what is, at the run's ``as_of``: each segment's
profile against the run's contactable audience (:func:`run_profiles`; seconds at a million
contacts, so the server keeps it per run) and a contact's reasons (:func:`contact_reasons`).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from audience.config import WorkspaceConfig
from audience.errors import NotFoundError
from audience.personas import Profiles, profile_segments, why
from audience.segment_ids import is_suppressed_id
from audience.segments.branches import is_suppressed
from audience.store.database import Database
from audience.store.features_table import read_features
from audience.store.listing import contact_membership
from audience.store.segment_runs import read_run, read_tree


def _members(db: Database, run_id: str) -> pd.DataFrame:
    frame: pd.DataFrame = (
        db.con.sql(
            "SELECT contact_id, segment_id FROM memberships WHERE run_id = $run",
            params={"run": run_id},
        )
        .to_arrow_table()
        .to_pandas()
    )
    return frame


def contactable_features(
    db: Database, run_id: str, as_of: datetime, members: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The run's features at ``as_of`` with ``segment_id``, for its non-suppressed contacts."""
    people = read_features(db, as_of).merge(
        _members(db, run_id) if members is None else members, on="contact_id", how="inner"
    )
    return people[~is_suppressed(people["segment_id"])].reset_index(drop=True)


def run_profiles(db: Database, config: WorkspaceConfig, run_id: str) -> Profiles:
    """Every segment's profile against the run's contactable audience (the basis of "why";
    seconds at a million contacts, so a server keeps it per run)."""
    _created, as_of, _config, _metrics = read_run(db, run_id)
    active = contactable_features(db, run_id, as_of)
    return profile_segments(active, active["segment_id"].to_numpy(), list(config.models.features))


def contact_reasons(
    db: Database,
    config: WorkspaceConfig,
    run_id: str,
    contact_id: str,
    profiles: Profiles | None = None,
) -> tuple[str, list[str]]:
    """A contact's segment in ``run_id`` and why it is there, in plain words.

    A suppressed contact's reason is the suppression rule it matched; anyone else's are the
    features that pull it into its segment (:func:`audience.personas.why`) against the
    contactable audience of the run (``profiles``: :func:`run_profiles`, computed when not
    given)."""
    found = contact_membership(db, run_id, contact_id)
    if found is None:
        raise no_segment(contact_id, run_id)
    segment_id = found[0]
    if is_suppressed_id(segment_id):
        node = read_tree(db, run_id).set_index("segment_id").loc[segment_id]
        return segment_id, [f"matched the suppression rule {node['definition'].get('rule')}"]
    _created, as_of, _config, _metrics = read_run(db, run_id)
    row = read_features(db, as_of, contact_id).iloc[0]
    profiles = profiles if profiles is not None else run_profiles(db, config, run_id)
    return segment_id, [reason.text for reason in why(row, segment_id, profiles)]


def no_segment(contact_id: str, run_id: str) -> NotFoundError:
    return NotFoundError(
        f"Contact {contact_id!r} has no segment in run {run_id}: it is not in the "
        "workspace, signed up after the run's as_of, or matched no rule."
    )
