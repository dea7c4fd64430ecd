"""A run's changes (:class:`audience.segments.changes.RunChanges`) as people read them: the
contacts that moved, how many stayed, and the drift worth a look. The CLI, the report and
the dashboard all show these."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from audience.segments.changes import POPULATION

_SEVERITY = {"alert": 0, "watch": 1, "ok": 2}


@dataclass(frozen=True)
class Turnover:
    """Contacts that stayed in their segment, came, left or moved between the two runs."""

    stayed: int
    moved: int
    new: int
    gone: int

    @property
    def total(self) -> int:
        """Contacts in either run."""
        return self.stayed + self.moved + self.new + self.gone


def moves(transitions: pd.DataFrame) -> pd.DataFrame:
    """The transitions between different segments (from_segment, to_segment, contacts) with
    ``share``: the fraction of the from segment's previous contacts (of the new contacts,
    for a from_segment of None), most contacts first."""
    source = transitions["from_segment"].fillna("")
    share = transitions["contacts"] / transitions.groupby(source)["contacts"].transform("sum")
    moved = transitions.assign(share=share)[
        transitions["from_segment"].ne(transitions["to_segment"])
    ]
    return moved.sort_values("contacts", ascending=False, kind="stable").reset_index(drop=True)


def turnover(transitions: pd.DataFrame) -> Turnover:
    """How the contacts of the two runs split between staying, moving, coming and going."""
    frm, to, contacts = (transitions[c] for c in ("from_segment", "to_segment", "contacts"))
    new, gone = frm.isna(), to.isna()
    same = ~new & ~gone & frm.eq(to)
    return Turnover(
        stayed=int(contacts[same].sum()),
        moved=int(contacts[~new & ~gone & ~same].sum()),
        new=int(contacts[new].sum()),
        gone=int(contacts[gone].sum()),
    )


def flagged_drift(drift: pd.DataFrame) -> pd.DataFrame:
    """The drift rows at ``watch`` or ``alert``: the population first, then segments by id;
    alerts before watches, the highest PSI first."""
    flagged = drift[drift["status"] != "ok"]
    order = pd.DataFrame(
        {
            "population": flagged["scope"] != POPULATION,
            "scope": flagged["scope"],
            "severity": flagged["status"].map(_SEVERITY),
            "psi": -flagged["psi"].fillna(0.0),
        }
    ).sort_values(["population", "scope", "severity", "psi"], kind="stable")
    return flagged.loc[order.index].reset_index(drop=True)
