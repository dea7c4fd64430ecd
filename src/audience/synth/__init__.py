"""Synthetic audience: an online store's newsletter contacts and events, with planted personas.

Contract of :func:`generate`:

Input
    ``out_dir`` (created if missing; must not be a file), ``contacts`` >= 1, ``seed`` >= 0,
    ``as_of`` (timezone-aware; converted to UTC), ``events_format`` ("parquet" or "jsonl"),
    ``dirty`` in [0, 0.5): extra bad rows as a share of the clean rows of each file, and an
    optional ``progress`` callback, called with the number of contacts finished after each chunk.
    Impossible arguments raise :class:`audience.errors.GenerateError`.

Output, in ``out_dir`` (existing files of these names are replaced)
    ``contacts.csv``
        ``Customer ID,Email Address,First Name,Country,Signup Date,Email Consent``; UTF-8,
        comma-separated, unquoted. Ids ``C0000001``..; consent ``subscribed``, ``unsubscribed``
        or ``cleaned`` (hard-bounced).
    ``events.parquet`` or ``events.jsonl``
        Segment-spec track events: ``Email Delivered/Opened/Link Clicked/Bounced``,
        ``Unsubscribed``, ``Email Marked as Spam``, ``Product Viewed/Added``,
        ``Checkout Started``, ``Order Completed``. Parquet is flat (``message_id, user_id,
        event, timestamp`` and property columns, null where a property does not apply), one
        row group per chunk; JSONL has one ``{"type":"track",...,"properties":{...}}`` per line.
    ``truth.csv``
        ``Customer ID,persona``: the planted persona of every clean contact.
    The function returns a :class:`GenerateResult` with the paths and row counts.

Invariants of the clean rows
    * The same arguments give byte-identical files; another seed gives other data.
    * Customer IDs, e-mail addresses (after trimming and lower-casing), message ids and
      order ids are unique; truth has exactly one row per clean contact.
    * Every timestamp is ISO 8601 UTC, not after ``as_of`` and not before its contact's signup.
    * Opens and clicks follow a delivery of the same campaign to the same contact; nothing is
      delivered after a contact unsubscribed or hard-bounced; consent agrees with the events.
    * About 40 % of contacts produce machine opens (Apple Mail Privacy Protection).
    * Bad rows (``dirty`` > 0) come on top: ``round(dirty * clean rows)`` per file, kinds taking
      turns (see :mod:`audience.synth.dirty`), never in the truth file.

The personas (:data:`PERSONAS`) differ in orders, order value, recency, e-mail engagement, site
visits, cart abandonment, categories, country and signup date, with overlapping distributions.
"""

from audience.synth.generator import GenerateResult, generate
from audience.synth.personas import PERSONAS, Persona

__all__ = ["PERSONAS", "GenerateResult", "Persona", "generate"]
