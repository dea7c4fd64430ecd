"""The rows a segment assigner reads, computed on the fly for some contacts.

:func:`rule_rows` computes the feature table (the same expressions as the features step)
for the contacts named, or all, joined with the contact columns rules read. Nothing is
stored: live assignment and the stream re-assign contacts with it between runs.

RFM scores are quintiles *within an audience*: over a handful of contacts they would say
nothing. :class:`RfmReference` scores them against the buyers of a run's stored features
instead (the same ``1 + floor(5 × percent_rank)``, each row ranked among those buyers as if
it were one more of them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from audience.config import FeaturesConfig
from audience.features.scores import PROSPECTS, RFM_GROUPS
from audience.segments.branches import RULE_COLUMNS, rule_rows_sql
from audience.store import Database
from audience.store.database import registered
from audience.store.features_table import decimals_as_floats

_CHOSEN = "_rule_rows_contacts"


def rule_rows(
    db: Database,
    config: FeaturesConfig,
    as_of: datetime,
    contact_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """``contact_id`` and every rule column (:data:`RULE_COLUMNS`) at ``as_of`` for the
    contacts named (None: every contact) that exist at ``as_of``; RFM scores as the feature
    table ranks them among these contacts (see :class:`RfmReference` to rank otherwise)."""
    if contact_ids is None:
        return _run(db, _compiled(db, config, as_of, chosen=False))
    return RuleRows(db, config)(as_of, contact_ids)


class RuleRows:
    """:func:`rule_rows` for chosen contacts, again and again on one database.

    Ibis takes about half a second to compile the feature table, and the SQL differs from
    one ``as_of`` to another only by its timestamp literal: it is compiled once, for a
    sentinel instant, and each call puts its own ``as_of`` in that literal's place.
    """

    def __init__(self, db: Database, config: FeaturesConfig) -> None:
        self.db = db
        self.config = config
        self._template: str | None = None

    def __call__(self, as_of: datetime, contact_ids: Sequence[str]) -> pd.DataFrame:
        chosen = pd.DataFrame({"contact_id": pd.Series(list(contact_ids), dtype=object)})
        with registered(self.db.con, "_chosen_frame", chosen):
            self.db.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {_CHOSEN} AS "
                "SELECT DISTINCT CAST(contact_id AS VARCHAR) AS contact_id FROM _chosen_frame"
            )
        try:
            return _run(self.db, self.sql(as_of))
        finally:
            self.db.con.execute(f"DROP TABLE IF EXISTS {_CHOSEN}")

    def sql(self, as_of: datetime) -> str:
        """The query of the chosen contacts' rule rows at ``as_of`` (they are read from
        the temporary table ``_rule_rows_contacts``)."""
        if self._template is None:
            self.db.con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_CHOSEN} (contact_id VARCHAR)")
            template = _compiled(self.db, self.config, _SENTINEL, chosen=True)
            if _literal(_SENTINEL) not in template or "1901" in template.replace(
                _literal(_SENTINEL), ""
            ):
                raise RuntimeError("internal error: the feature table's as_of is not one literal")
            self._template = template
        return self._template.replace(_literal(_SENTINEL), _literal(as_of))


_SENTINEL = datetime(1901, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)


def _literal(moment: datetime) -> str:
    """``as_of_literal(moment)`` as the DuckDB SQL Ibis writes for it."""
    import ibis

    from audience.features.calendar import as_of_literal

    sql = str(ibis.to_sql(as_of_literal(moment).name("v").as_table(), dialect="duckdb"))
    return sql.split("SELECT", 1)[1].rsplit(" AS ", 1)[0].strip()


def _compiled(db: Database, config: FeaturesConfig, as_of: datetime, *, chosen: bool) -> str:
    import ibis

    from audience.features.table import feature_table
    from audience.store.engines import duckdb_backend

    backend = duckdb_backend(db.con)
    contacts, events = backend.table("contacts"), backend.table("events")
    if chosen:
        picked = backend.table(_CHOSEN)
        contacts = contacts.semi_join(picked, "contact_id")
        events = events.semi_join(picked, "contact_id")
    expression = feature_table(contacts, events, as_of, config)
    return rule_rows_sql(f"({ibis.to_sql(expression, dialect='duckdb')})")


def _run(db: Database, sql: str) -> pd.DataFrame:
    rows: pd.DataFrame = decimals_as_floats(db.con.sql(sql).to_arrow_table()).to_pandas()
    return rows[["contact_id", *RULE_COLUMNS]]


@dataclass(frozen=True)
class RfmReference:
    """The buyers of a run's features (``order_count >= 1`` at its ``as_of``): what R, F and
    M of other rows are ranked among."""

    buyers: int
    recency: np.ndarray
    """The buyers' non-missing ``recency_days``, sorted; likewise ``orders`` and ``revenue``."""
    orders: np.ndarray
    revenue: np.ndarray

    @classmethod
    def load(cls, db: Database, as_of: datetime) -> RfmReference:
        """The buyers among the features stored at ``as_of``."""
        frame = db.con.execute(
            "SELECT recency_days, order_count, revenue_total FROM features "
            "WHERE as_of = ? AND order_count >= 1",
            [as_of],
        ).df()
        columns = [
            np.sort(frame[name].dropna().to_numpy(dtype=float))
            for name in ("recency_days", "order_count", "revenue_total")
        ]
        return cls(len(frame), *columns)

    def score(self, rows: pd.DataFrame) -> pd.DataFrame:
        """``rows`` with ``r_score``, ``f_score``, ``m_score`` and ``rfm_group`` ranked
        among the buyers; a row without an order gets no scores and ``Prospects``."""
        scored = rows.copy()
        orders = pd.to_numeric(scored["order_count"], errors="coerce").to_numpy(dtype=float)
        recency = pd.to_numeric(scored["recency_days"], errors="coerce").to_numpy(dtype=float)
        revenue = pd.to_numeric(scored["revenue_total"], errors="coerce").to_numpy(dtype=float)
        # Buyers ranked before each row: a longer recency (R is descending), fewer orders,
        # less revenue; as SQL's FILTER would count them, missing values never count.
        above_r = len(self.recency) - np.searchsorted(self.recency, recency, side="right")
        below_f = np.searchsorted(self.orders, orders, side="left")
        below_m = np.searchsorted(self.revenue, revenue, side="left")
        r, f, m = (self._quintile(ranked) for ranked in (above_r, below_f, below_m))
        buyer = orders >= 1
        # Missing scores as NaN in float columns, as the stored features are read.
        for name, values in (("r_score", r), ("f_score", f), ("m_score", m)):
            scored[name] = np.where(buyer, values, np.nan)
        scored["rfm_group"] = [
            rfm_group(*scores) if bought else PROSPECTS
            for *scores, bought in zip(r.tolist(), f.tolist(), m.tolist(), buyer, strict=True)
        ]
        return scored

    def _quintile(self, ranked_before: np.ndarray) -> np.ndarray:
        # percent_rank among buyers + 1 rows = rows ranked before / buyers.
        share = ranked_before / self.buyers if self.buyers else np.zeros(len(ranked_before))
        return np.minimum(1 + np.floor(share * 5).astype(np.int64), 5)


def rescore_rfm(rows: pd.DataFrame, reference: Database, as_of: datetime) -> pd.DataFrame:
    """R, F, M and the RFM group of ``rows``, ranked among the buyers of the features
    stored in ``reference`` at ``as_of`` (see :class:`RfmReference`)."""
    return RfmReference.load(reference, as_of).score(rows)


def rfm_group(r: int, f: int, m: int) -> str:
    """The first named group whose R and FM ranges hold (as in ``features.scores``)."""
    fm = math.floor((f + m + 1) / 2)
    for name, r_lo, r_hi, fm_lo, fm_hi in RFM_GROUPS:
        if r_lo <= r <= r_hi and fm_lo <= fm <= fm_hi:
            return name
    return "Lost"
