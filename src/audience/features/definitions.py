"""What identifies the feature definitions a feature set was computed with.

Stored features can only be carried forward by a refresh if today's code and config would
have computed them the same way. Two things identify that: the config fields that change
values (all of :class:`~audience.config.FeaturesConfig` but ``memory_limit``), and a
fingerprint of the modules that define the features (their source, and the Ibis version
that compiles them). Any edit to those modules changes the fingerprint, a comment too:
the next refresh then computes everything once, which is safe.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from types import ModuleType
from typing import Any

import ibis

from audience.config import FeaturesConfig
from audience.features import behaviour, btyd, calendar, engagement, rfm, scope, scores, table

_NOT_DEFINITIONS = {"memory_limit"}
_DEFINING = (calendar, scope, rfm, btyd, engagement, behaviour, scores, table)


def definition_config(config: FeaturesConfig) -> dict[str, Any]:
    """The fields of ``config`` that change feature values."""
    return config.model_dump(exclude=_NOT_DEFINITIONS)


def definitions_fingerprint(config: FeaturesConfig) -> str:
    """A SHA-256 of the defining modules' source, the Ibis version and ``config``."""
    return _fingerprint(config.model_dump_json(exclude=_NOT_DEFINITIONS))


@functools.cache
def _fingerprint(config_json: str) -> str:
    digest = hashlib.sha256(f"ibis {ibis.__version__}\n{config_json}\n".encode())
    for module in _DEFINING:
        digest.update(_source(module))
    return digest.hexdigest()


def _source(module: ModuleType) -> bytes:
    assert module.__file__ is not None
    return Path(module.__file__).read_bytes()
