"""Exceptions raised by Audience.

Every error a user can act on derives from :class:`AudienceError`; its message is one
paragraph saying what was received, what was expected and how to fix it. The CLI prints
that paragraph and exits non-zero, without a traceback.

    AudienceError
    ├── ConfigError            audience.toml or an argument has a wrong key, type or value
    ├── NotFoundError          a run, segment, contact, job or key asked for does not exist
    ├── ConflictError          what was asked clashes with the workspace's state
    │   ├── JobConflictError   (serve.jobs) a background run is already going
    │   ├── ModelMissingError  a run's fitted models are not stored
    │   └── ModelSignatureError a model file is unsigned or its signature does not match
    ├── WorkspaceError         the workspace folder or database is missing or unusable
    │   ├── SchemaVersionError the database was written by a newer Audience
    │   ├── WorkspaceBusyError another command held the workspace longer than we could wait
    │   └── StorageFullError   the disk or the memory limit ran out while writing; nothing kept
    ├── IngestError            a whole file cannot be ingested (bad rows go to quarantine)
    │   ├── SourceFileError    missing, unreadable, or not in a format we read
    │   └── MissingColumnsError a required column is absent after mapping
    ├── GenerateError          the synthetic generator was asked for something impossible
    ├── SegmentationError      no clustering candidate passed the guards, or no features to cluster
    ├── RuleError              a segment rule is not a safe expression over known columns
    └── StreamError            the event stream (Redis, Kafka) cannot be reached or read
"""

from __future__ import annotations

from collections.abc import Sequence


class AudienceError(Exception):
    """Base class of every error Audience raises on purpose."""


class ConfigError(AudienceError):
    """A configuration key or argument is unknown, of the wrong type, or out of range."""


class NotFoundError(AudienceError):
    """A run, segment, contact, job or key named by the caller does not exist (HTTP 404)."""


class ConflictError(AudienceError):
    """What was asked clashes with the workspace's state, not with the request's form
    (HTTP 409): a run already going, a run whose models are not kept."""


class ModelMissingError(ConflictError):
    """A run's fitted models (``models/<run>.joblib``) are not stored: it was made before
    runs kept them, or the file was removed. Segmenting again makes a run that has them."""


class ModelSignatureError(ConflictError):
    """A model file (``models/<run>.joblib``) is not signed with this workspace's secret, or
    was changed since: it is refused before anything in it is unpickled. Segmenting again
    writes a signed one."""


class WorkspaceError(AudienceError):
    """The workspace folder, its config, secret or database cannot be used."""


class SchemaVersionError(WorkspaceError):
    """The workspace database has a schema version this Audience cannot read."""


class WorkspaceBusyError(WorkspaceError):
    """Another process (or, in a server, another command) kept the workspace longer than
    ``store.lock_timeout_seconds``; nothing was changed."""


class StorageFullError(WorkspaceError):
    """DuckDB ran out of disk space (or of memory it could not spill) while writing; the
    write was rolled back, so the workspace is as it was (HTTP 507)."""


class IngestError(AudienceError):
    """A whole file cannot be ingested; nothing from it was stored."""


class SourceFileError(IngestError):
    """The file is missing, unreadable, or not in a format Audience reads."""


class MissingColumnsError(IngestError):
    """A required column is absent from a file, even after column mapping."""

    def __init__(
        self,
        path: str,
        kind: str,
        found: Sequence[str],
        missing: Sequence[str],
        expected: Sequence[str],
    ) -> None:
        self.path = path
        self.kind = kind
        self.found = list(found)
        self.missing = list(missing)
        self.expected = list(expected)
        super().__init__(
            f"cannot ingest {path} as {kind}: required column(s) {_quoted(missing)} not found. "
            f"Columns found: {_quoted(found) or '(none)'}. "
            f"Expected columns (or a header Audience recognises for them): {_quoted(expected)}. "
            f"If the column exists under another name, map it with --map SOURCE=TARGET, "
            f"for example --map '{(found or ['Column'])[0]}={missing[0]}'. "
            f"Nothing was stored."
        )


class GenerateError(AudienceError):
    """The synthetic audience generator got arguments it cannot honour."""


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


QUOTE_LIMIT = 200
"""Characters of a received value a message quotes; the rest is cut (a 5 MB field must not
make a 5 MB error)."""


def quoted(value: object, limit: int = QUOTE_LIMIT) -> str:
    """A received value for a message: its ``repr`` as text, cut to ``limit`` characters
    with "…" and the length said, so a message stays one readable paragraph."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"


class SegmentationError(AudienceError):
    """Segmentation cannot give a trustworthy answer (every candidate failed a guard, or the
    workspace has nothing to cluster); nothing was stored."""


class RuleError(AudienceError):
    """A segment rule is not a safe boolean expression over known columns; nothing changed."""


class StreamError(AudienceError):
    """The event stream cannot be reached, read or acknowledged; what was committed stays."""
