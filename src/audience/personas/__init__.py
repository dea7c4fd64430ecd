"""Personas: what each segment is, in words a marketer uses, and why contacts are in it.

Input: the feature table (one row per contact, :func:`audience.store.features_table.read_features`)
and each row's segment id, aligned by position. Output, all deterministic:

- :func:`profile_segments` → :class:`Profiles`: per segment, size, share, KPIs (rates of
  sums, per DOMAIN.md), and per feature mean, median, lift and z against the audience.
- :func:`name_segments` → one :class:`Persona` per segment (unique name, traits, lifecycle
  stage, messaging, actions) from the ordered rule table :data:`NAMING_RULES`.
- :func:`surrogate_rules` → :class:`Surrogate`: a depth-4 decision tree imitating the
  segments, its fidelity, and up to 3 readable :class:`Rule` per segment.
- :func:`why` → the :class:`Reason` a contact belongs to its segment.

::

    profiles = profile_segments(features, segment_ids)
    personas = name_segments(profiles)
    surrogate = surrogate_rules(features, segment_ids)
"""

from audience.personas.explain import Condition, Reason, Rule, Surrogate, surrogate_rules, why
from audience.personas.naming import NAMING_RULES, NamingRule, Persona, Stage, name_segments
from audience.personas.profiles import KPI_DEFINITIONS, Profiles, profile_segments

__all__ = [
    "KPI_DEFINITIONS",
    "NAMING_RULES",
    "Condition",
    "NamingRule",
    "Persona",
    "Profiles",
    "Reason",
    "Rule",
    "Stage",
    "Surrogate",
    "name_segments",
    "profile_segments",
    "surrogate_rules",
    "why",
]
