"""Schemathesis: generated requests, valid and not, against the API's own OpenAPI schema.

Every response must be documented (status, content type, body schema), and no request may
cause a server error, with an admin key (so every write is reached) on a real workspace.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from audience import Workspace
from audience.serve import create_app
from audience.store.keys import create_key
from tests.serve.conftest import copy_workspace


@pytest.fixture(scope="module")
def api(
    built_workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FastAPI, str]]:
    ws = Workspace(copy_workspace(built_workspace, tmp_path_factory.mktemp("openapi")))
    _key, admin = create_key(ws.database, "admin", "schemathesis", datetime.now(UTC))
    app = create_app(ws)
    yield app, admin
    app.state.service.close()  # waits for the runs the generated requests started


def operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.slow
def test_the_api_keeps_to_its_schema(api: tuple[FastAPI, str]) -> None:
    # Driven here rather than by schemathesis' pytest plugin, whose fixture loading does
    # not run under pytest 9; the strategies and checks are the same.
    app, admin = api
    found = operations(app)
    assert len(found) >= 15
    for operation in found:
        check_operation(operation, admin)


def check_operation(operation: Any, admin: str) -> None:
    # Live assignment ingests the calls: the ingest refuses more than a JSON schema can
    # say (an address that is not one, a time that is not one), with a 422 that says why.
    excluded = [positive_data_acceptance] if operation.path == "/api/assign/live" else []

    @given(case=operation.as_strategy())
    # Derandomized: CI runs the same examples each time (a failure reproduces); run
    # locally without it to explore further.
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def conforms(case: Any) -> None:
        case.call_and_validate(headers={"X-API-Key": admin}, excluded_checks=excluded)

    conforms()
