"""Segment members as the CSV an email platform imports (DOMAIN.md, "What email platforms
accept").

A segment's members are the contacts of it and of every segment under it. Whatever the
run says, a contact is never exported when it is suppressed now: in a ``suppressed/``
segment; matching any of the run's own ``[segments.suppress]`` rules (a do-not-mail list,
a country) on the features the run was made from and the contact as stored now; or,
whatever those rules say, unsubscribed, hard-bounced, complained, or without
``subscribed`` consent. Contacts without an email address are left out too (every
platform but Braze keys on it) and counted.

Nothing in a file runs when it is opened in a spreadsheet (:mod:`audience.cells`): a text
cell that starts like a formula gets the text mark, except in the key columns a platform
matches on (the email address, Braze's external id), which stay exact; a contact whose key
starts like a formula is left out instead, and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from audience.cells import starts_like_formula_sql
from audience.config import SegmentsConfig
from audience.errors import ConfigError
from audience.segment_ids import SUPPRESSED_LIKE, is_suppressed_id
from audience.segments.branches import RulePlan, plan_rules, rule_rows_sql, suppression_sql
from audience.store.csv_files import write_csv
from audience.store.database import Database
from audience.store.results import first_row
from audience.store.segment_runs import read_run

Platform = Literal["mailchimp", "klaviyo", "hubspot", "braze", "sendgrid", "brevo"]
PLATFORMS: tuple[Platform, ...] = ("mailchimp", "klaviyo", "hubspot", "braze", "sendgrid", "brevo")


@dataclass(frozen=True)
class Layout:
    """Output columns (header → SQL over ``email``, ``contact_id``, ``segment_name``)."""

    columns: tuple[tuple[str, str], ...]
    delimiter: str = ","
    needs_email: bool = True
    keys: tuple[str, ...] = ("email",)
    """The columns (by their SQL) a platform matches contacts on: written exactly."""

    @property
    def key_headers(self) -> tuple[str, ...]:
        return tuple(header for header, sql in self.columns if sql in self.keys)


LAYOUTS: dict[str | None, Layout] = {
    None: Layout(
        (("contact_id", "contact_id"), ("email", "email"), ("segment_id", "segment_id"),
         ("segment_name", "segment_name"))
    ),
    # The key column first, then the segment as each platform's membership mechanism.
    "mailchimp": Layout((("Email Address", "email"), ("Tags", "segment_name"))),
    "klaviyo": Layout((("Email", "email"), ("audience_segment", "segment_name"))),
    "hubspot": Layout((("Email", "email"), ("audience_segment", "segment_name"))),
    "braze": Layout(
        (("external_id", "contact_id"), ("email", "email"), ("audience_segment", "segment_name")),
        needs_email=False,
        keys=("contact_id", "email"),
    ),
    "sendgrid": Layout((("email", "email"), ("audience_segment", "segment_name"))),
    # Brevo: semicolon-separated, attributes in upper case.
    "brevo": Layout((("EMAIL", "email"), ("AUDIENCE_SEGMENT", "segment_name")), delimiter=";"),
}  # fmt: skip


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: int
    without_email: int
    suppressed_now: int
    """Members of the segment in the run who are suppressed now, and so not exported."""
    formula_keys: int = 0
    """Contactable members left out because their email address (or Braze external id)
    starts like a spreadsheet formula: a key cannot carry the text mark, nor be written raw."""


_CONSENT = """(coalesce(r.is_unsubscribed, 0) = 1 OR coalesce(r.is_bounced, 0) = 1
        OR coalesce(r.is_complained, 0) = 1
        OR c.consent IS NULL OR c.consent <> 'subscribed')"""
"""Never contacted, whatever the run's rules say (DOMAIN.md: exclude them before any push)."""

_RULE_ROWS = rule_rows_sql(
    "(SELECT * FROM features WHERE as_of = (SELECT as_of FROM runs WHERE run_id = $run))"
)


def _members(suppress: str) -> str:
    """Members of the segment (and of those under it), each flagged ``suppressed``."""
    return f"""
SELECT m.contact_id, c.email, m.segment_id, s.name AS segment_name,
       (m.segment_id LIKE '{SUPPRESSED_LIKE}' OR coalesce(r._by_rule, false) OR {_CONSENT})
           AS suppressed
FROM memberships m
JOIN segments s ON s.run_id = m.run_id AND s.segment_id = m.segment_id
JOIN contacts c ON c.contact_id = m.contact_id
LEFT JOIN (SELECT rows.*, ({suppress}) AS _by_rule FROM ({_RULE_ROWS}) AS rows) r
    ON r.contact_id = m.contact_id
WHERE m.run_id = $run AND (m.segment_id = $segment OR m.segment_id LIKE $prefix)
"""


def export_segment(
    db: Database,
    run_id: str,
    segment_id: str,
    path: Path,
    platform: Platform | None = None,
    *,
    suppress: RulePlan,
) -> ExportResult:
    """Write the segment's contactable members to ``path`` in ``platform``'s layout;
    ``suppress`` holds the run's suppression rules (:func:`run_rules`)."""
    if is_suppressed_id(segment_id):
        raise ConfigError(
            f"--segment {segment_id} is suppressed: its contacts must not be contacted, so it "
            "cannot be exported. Pick a segment from `audience segments`."
        )
    layout = LAYOUTS[platform]
    params = {"run": run_id, "segment": segment_id, "prefix": f"{segment_id}/%"}
    every = _members(suppression_sql(suppress))
    write_csv(
        db,
        f"SELECT * FROM ({every}) WHERE {_written(layout)}",
        path,
        params,
        columns=layout.columns,
        order_by="contact_id",
        delimiter=layout.delimiter,
        exact=layout.key_headers,
    )
    return _result(db, every, layout, params, path)


def _written(layout: Layout) -> str:
    """The members written in ``layout``: contactable, with the key the platform needs, and
    that key not starting like a formula."""
    return f"NOT suppressed AND {_reachable(layout)} AND NOT ({_formula_key_sql(layout)})"


def _reachable(layout: Layout) -> str:
    """Members the platform can take at all: those with an email, unless it keys on ids."""
    return "email IS NOT NULL" if layout.needs_email else "true"


def _result(
    db: Database, every: str, layout: Layout, params: dict[str, str], path: Path
) -> ExportResult:
    """How many members were written, and why each other one was not (one pass)."""
    counts = first_row(
        db.con.execute(
            f"""SELECT count(*) FILTER (WHERE {_written(layout)}),
                count(*) FILTER (WHERE NOT suppressed AND email IS NULL),
                count(*) FILTER (WHERE suppressed),
                count(*) FILTER (WHERE NOT suppressed AND {_reachable(layout)}
                                 AND {_formula_key_sql(layout)})
            FROM ({every})""",
            params,
        )
    )
    rows, no_email, suppressed, formula_keys = (int(n) for n in counts or (0, 0, 0, 0))
    return ExportResult(path, rows, no_email if layout.needs_email else 0, suppressed, formula_keys)


def _formula_key_sql(layout: Layout) -> str:
    """True for a member whose key for ``layout`` starts like a formula (NULL keys do not)."""
    return " OR ".join(f"coalesce({starts_like_formula_sql(key)}, false)" for key in layout.keys)


def run_rules(db: Database, run_id: str, current: SegmentsConfig) -> RulePlan:
    """The rules ``run_id`` was made with (its stored ``[segments]``), or ``current`` for a
    run that did not store them; checked again, so a stored rule is never run unchecked."""
    _created, _as_of, config, _metrics = read_run(db, run_id)
    stored = config.get("segments")
    segments = SegmentsConfig.model_validate(stored) if isinstance(stored, dict) else current
    return plan_rules(segments)
