"""Per-contact features: one definition (Ibis expressions) for DuckDB, PostgreSQL and Spark.

Input: the workspace tables ``contacts`` and ``events`` as Ibis tables on any backend, and
an explicit ``as_of``. Output: one row per contact that existed at ``as_of``.

Invariants: events after ``as_of`` change nothing; row order changes nothing; day
differences are whole days between UTC calendar dates on every engine
(:mod:`audience.features.calendar`); contacts without events get defined values; a
refresh (:mod:`audience.features.incremental`) stores exactly what a full compute would.
"""
