"""Living segments: refreshes on a schedule or on events, alerts when segments shift.

Input: a workspace with at least one segment-tree run, new files in the drop folders
(``[refresh] drop``) or events on a stream (``[stream]``). Output: new runs whose segments
keep their ids (:mod:`audience.segments.identity`), what changed between runs
(:mod:`audience.segments.changes`), alerts (stored, logged, sent to signed webhooks), and,
for a stream, each touched contact re-assigned with the current model at once.

Invariants: a refresh is idempotent (a file already ingested is skipped by its checksum; a
refresh with nothing new does nothing); a stream's messages are acknowledged only after
they are committed, so nothing is lost or doubled across a crash.
"""
