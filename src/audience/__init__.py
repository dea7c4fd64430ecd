"""Audience: segment an email audience with clustering models.

The few names a user needs; everything else is importable from its step's package.
"""

from audience.errors import AudienceError
from audience.store.profile import DataProfile
from audience.validate import IngestReport
from audience.workspace import Workspace

__version__ = "0.1.0"

__all__ = ["AudienceError", "DataProfile", "IngestReport", "Workspace", "__version__"]
