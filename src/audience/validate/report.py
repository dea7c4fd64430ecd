"""The ingest report: where every row read went. It always adds up."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from audience.errors import IngestError


@dataclass(frozen=True)
class IngestReport:
    """The outcome of ingesting one file.

    ``rows_read == accepted + quarantined + duplicates`` always holds; ``accepted`` counts
    rows stored (new contacts and events, plus contacts whose attributes changed);
    ``quarantine_reasons`` breaks ``quarantined`` down by reason code
    (:data:`audience.validate.reasons.REASONS`).
    """

    ingest_id: str
    source: str
    kind: str
    format: str
    rows_read: int
    accepted: int
    quarantined: int
    duplicates: int
    inserted: dict[str, int] = field(default_factory=dict)
    updated: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)
    ignored_columns: tuple[str, ...] = ()
    seconds: float = 0.0
    checked_in_engine: int = 0
    """Rows DuckDB found plainly valid and staged itself; the other rows read were checked
    in Python (:mod:`audience.store.engine_lane`). Either way the result is the same."""

    def __post_init__(self) -> None:
        if self.rows_read != self.accepted + self.quarantined + self.duplicates:
            raise IngestError(
                f"internal error: ingest of {self.source} read {self.rows_read} rows but "
                f"accounted for {self.accepted} accepted + {self.quarantined} quarantined + "
                f"{self.duplicates} duplicates; nothing was stored. Please report this."
            )
        if sum(self.quarantine_reasons.values()) != self.quarantined:
            raise IngestError(
                f"internal error: quarantine reasons of {self.source} do not add up to "
                f"{self.quarantined}; nothing was stored. Please report this."
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
