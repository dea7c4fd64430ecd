"""The exception tree says what happened, and the server maps it to a status in one place."""

from __future__ import annotations

import inspect

import pytest

import audience.errors as errors
from audience.errors import (
    AudienceError,
    ConfigError,
    ConflictError,
    ModelMissingError,
    NotFoundError,
    WorkspaceBusyError,
    WorkspaceError,
)
from audience.serve.jobs import JobConflictError
from audience.serve.problems import audience_error_status


def test_the_docstring_draws_every_error_of_the_module() -> None:
    defined = [
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, AudienceError)
    ]
    tree = errors.__doc__ or ""
    for name in [*defined, "JobConflictError"]:
        assert f"── {name}" in tree or f"{name}\n" in tree, name


def test_what_does_not_exist_and_what_clashes_are_not_configuration_mistakes() -> None:
    # Issue 17: both used to be ConfigErrors.
    assert not issubclass(NotFoundError, ConfigError)
    assert not issubclass(JobConflictError, ConfigError)
    assert issubclass(JobConflictError, ConflictError)
    assert issubclass(ModelMissingError, ConflictError)
    assert issubclass(WorkspaceBusyError, WorkspaceError)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFoundError("x"), 404),
        (JobConflictError("x"), 409),
        (ModelMissingError("x"), 409),
        (WorkspaceError("x"), 409),
        (ConfigError("x"), 422),
    ],
)
def test_each_error_class_has_one_status(error: AudienceError, status: int) -> None:
    assert audience_error_status(error) == status
