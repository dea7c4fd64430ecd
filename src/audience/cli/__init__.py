"""The ``audience`` command line: a thin layer over :class:`audience.Workspace`.

One module per group of commands (``data``: init, ingest, profile, quarantine, features;
``segmenting``: segment, segments; ``outputs``: export, report; ``service``: keys, serve;
``demo``: generate, demo), the Rich rendering of results (``render``) and progress
displays (``progress``); :mod:`audience.cli.app` puts them together. A user mistake prints
one paragraph and exits 1, never a traceback.
"""

from audience.cli.app import app, main

__all__ = ["app", "main"]
