"""Every check on incoming rows, the quarantine's reasons, and the ingest report.

Input: rows renamed to Audience's fields by :mod:`audience.ingest`. Output: accepted rows
with typed columns, and for each rejected row its reason code and a message naming the
column, the value and what was expected (:class:`Checked`); the :class:`IngestReport`.

Invariants: no row disappears — each is accepted, quarantined with its reason, or counted
as a duplicate, and ``rows_read == accepted + quarantined + duplicates``; every failure of
a row is reported, not only the first; values are never "fixed" silently.
"""

from audience.validate.reasons import REASONS
from audience.validate.report import IngestReport
from audience.validate.rules import (
    CONTACT_FIELDS,
    EVENT_FIELDS,
    Checked,
    Rules,
    check_contacts,
    check_events,
    check_orders,
)

__all__ = [
    "CONTACT_FIELDS",
    "EVENT_FIELDS",
    "REASONS",
    "Checked",
    "IngestReport",
    "Rules",
    "check_contacts",
    "check_events",
    "check_orders",
]
