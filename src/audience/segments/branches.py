"""The rule layers of the segment tree, evaluated in the engine.

Every contact with features at ``as_of`` gets one branch:

1. ``suppressed/<reason>`` for the first ``[segments.suppress]`` rule it matches;
2. else the id of the first ``[[segments.broad]]`` rule it matches;
3. else ``[segments] fallback`` (or no branch at all when it is unset).

A rule that is NULL for a contact (``country = 'US'`` with no country) does not match.
All rules are parsed and checked before anything runs, so a bad rule changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from audience.config import BroadSegment, SegmentsConfig
from audience.features.table import FEATURE_COLUMNS
from audience.segment_ids import SUPPRESSED, suppressed_id
from audience.segments.rules import Rule, parse_rule
from audience.store.database import Database

CONTACT_COLUMNS = ("consent", "signup_at", "email_domain")
"""Contact attributes rules may use besides the features (no raw email: see DOMAIN.md)."""
RULE_COLUMNS = (*FEATURE_COLUMNS, *CONTACT_COLUMNS)


def rule_rows_sql(features: str = "features") -> str:
    """Feature rows (a table or a parenthesised query) with the contact columns rules read;
    the raw email never leaves this query, only its domain."""
    return (
        "SELECT f.*, c.consent, c.signup_at, "
        "nullif(lower(split_part(c.email, '@', 2)), '') AS email_domain "
        f"FROM {features} AS f JOIN contacts AS c USING (contact_id)"
    )


_INPUT_SQL = rule_rows_sql() + " WHERE f.as_of = $as_of"


@dataclass(frozen=True)
class RulePlan:
    """Every rule of ``[segments]``, parsed and checked."""

    suppress: list[tuple[str, Rule]]
    broad: list[tuple[BroadSegment, Rule]]
    fallback: str | None

    def definitions(self) -> dict[str, dict[str, object]]:
        """What each rule node of the tree stores as its definition."""
        out: dict[str, dict[str, object]] = {
            suppressed_id(reason): {"kind": SUPPRESSED, "rule": rule.text}
            for reason, rule in self.suppress
        }
        out[SUPPRESSED] = {"kind": SUPPRESSED, "rules": {r: x.text for r, x in self.suppress}}
        for broad, rule in self.broad:
            out[broad.id] = {"kind": "rule", "rule": rule.text, "cluster": broad.cluster}
        if self.fallback:
            out[self.fallback] = {"kind": "fallback", "rule": "matches no broad rule"}
        return out


def plan_rules(config: SegmentsConfig) -> RulePlan:
    """Parse every rule of ``config``: the first bad one raises ``RuleError``."""
    suppress = [
        (reason, parse_rule(text, RULE_COLUMNS, where=f"segments.suppress.{reason}"))
        for reason, text in config.suppress.items()
    ]
    broad = [
        (segment, parse_rule(segment.rule, RULE_COLUMNS, where=f"segments.broad[{i}].rule"))
        for i, segment in enumerate(config.broad)
    ]
    return RulePlan(suppress, broad, config.fallback or None)


def assign_branches(db: Database, plan: RulePlan, as_of: datetime) -> pd.DataFrame:
    """``contact_id`` and ``branch`` (None: no segment) per contact with features at ``as_of``."""
    case = branch_case(plan)
    sql = f"SELECT contact_id, {case} AS branch FROM ({_INPUT_SQL}) ORDER BY contact_id"
    frame: pd.DataFrame = db.con.sql(sql, params={"as_of": as_of}).to_arrow_table().to_pandas()
    return frame


def branch_case(plan: RulePlan) -> str:
    """The SQL ``CASE`` giving each row its branch (the rules are checked, ids are slugs)."""
    cases = [(suppressed_id(reason), rule) for reason, rule in plan.suppress]
    cases += [(broad.id, rule) for broad, rule in plan.broad]
    whens = " ".join(f"WHEN ({rule.sql}) THEN '{branch}'" for branch, rule in cases)
    otherwise = f"'{plan.fallback}'" if plan.fallback else "NULL"
    return f"CASE {whens} ELSE {otherwise} END" if whens else otherwise


def suppression_sql(plan: RulePlan) -> str:
    """A SQL condition, true where any suppression rule of ``plan`` matches a rule row
    (:func:`rule_rows_sql`); a rule that is NULL for a row does not match, as in the tree."""
    matches = [f"coalesce(({rule.sql}), false)" for _reason, rule in plan.suppress]
    return " OR ".join(matches) if matches else "false"


def is_suppressed(branch: pd.Series) -> pd.Series:
    """Whether each branch is under ``suppressed/``."""
    return branch.fillna("").str.startswith(suppressed_id(""))
