"""The map in ARCHITECTURE.md holds: imports run one way along the flow.

Every ``import audience.X`` in every module (at the top or inside a function) is checked
against the order of the steps; a module may import its own package, the core modules and
packages earlier in the flow, never a later one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import audience

ORDER = [
    {"errors", "segment_ids", "cells", "sql_text"},
    {"config", "progress"},
    {"synth", "ingest"},
    {"validate"},
    {"store"},
    {"features"},
    {"models"},
    {"personas"},
    {"segments"},
    {"report"},
    {"activate"},
    {"measure"},
    {"refresh"},
    {"workspace"},
    {"serve"},
    {"cli"},
]
RANK = {name: rank for rank, names in enumerate(ORDER) for name in names}
PACKAGE = Path(audience.__file__).parent
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def _part(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "audience" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


def test_every_part_of_the_package_has_a_place_in_the_order() -> None:
    assert {_part(path) for path in MODULES} <= set(RANK)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_one_way(path: Path) -> None:
    own = _part(path)
    backwards = [
        f"line {line}: audience.{target}"
        for line, target in _imported(ast.parse(path.read_text(encoding="utf-8")))
        if target != own and RANK[target] >= RANK[own]
    ]
    assert not backwards, f"{path.name} ({own}) imports later steps: {backwards}"


OWNED_WORDS = {"suppressed", "outliers", "cluster"}
"""Segment-id words with one owner, :mod:`audience.segment_ids` (issue 17)."""


def _word_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants that are these words, dictionary keys aside (a definition's
    ``"cluster": True`` names a property, not a segment)."""
    keys = {id(key) for node in ast.walk(tree) if isinstance(node, ast.Dict) for key in node.keys}
    found = []
    for node in ast.walk(tree):
        if id(node) in keys:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if text in OWNED_WORDS or text.startswith(("suppressed/", "cluster-")):
                found.append((node.lineno, text))
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_segment_id_words_are_spelled_by_their_owner_only(path: Path) -> None:
    if path.name == "segment_ids.py":
        return
    literals = _word_literals(ast.parse(path.read_text(encoding="utf-8")))
    assert not literals, f"{path.name} spells segment-id words itself: {literals}"
