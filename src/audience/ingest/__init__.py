"""Reading sources into rows of Audience's fields.

Input: a file (CSV with any common delimiter, optionally gzip; Parquet; JSON Lines of
Segment ``identify``/``track`` calls) and the kind of rows it holds. Output: chunks of rows
renamed to Audience's fields (:mod:`audience.ingest.mapping`), emails trimmed and
lower-cased, each person keyed by an internal ``contact_id`` (the source's id, or a
prefix of the keyed hash of the email), with every row's line number kept.

Invariants: reading is chunked (memory does not grow with the file); no row is dropped
here — rows that cannot even be split into fields come out as :class:`Unreadable`; this
package decides nothing about validity.
"""

from audience.ingest.batch import RawBatch, ReadChunk, Unreadable
from audience.ingest.mapping import KINDS, ColumnMapping, Kind, parse_explicit, resolve_columns
from audience.ingest.normalize import to_fields
from audience.ingest.sources import Format, Source, detect_format, open_source

__all__ = [
    "KINDS",
    "ColumnMapping",
    "Format",
    "Kind",
    "RawBatch",
    "ReadChunk",
    "Source",
    "Unreadable",
    "detect_format",
    "open_source",
    "parse_explicit",
    "resolve_columns",
    "to_fields",
]
