"""Progress callbacks: how long work tells its caller how far it has come.

The library never draws anything; a step that takes long accepts one of these and calls it
as it goes. The CLI turns them into Rich progress bars, the server into job statuses.
"""

from __future__ import annotations

from collections.abc import Callable

RowProgress = Callable[[int], None]
"""``progress(rows_done)``: rows read or written so far (ingest, generation)."""

StepProgress = Callable[[str, int, int], None]
"""``progress(step, done, total)``: the current step of multi-step work and, where the step
has a size, how much of it is done (``total`` 0 when it has none)."""


def no_progress(_step: str, _done: int, _total: int) -> None:
    """A :data:`StepProgress` that tells nobody."""


__all__ = ["RowProgress", "StepProgress", "no_progress"]
