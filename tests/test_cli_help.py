"""Every command's `--help` renders every word (issue 13.6): Typer reads help as Rich markup,
where a config key such as `[segments]` is a style tag and vanishes, leaving a double space.
Each command and subcommand is found by walking the application, so a new one is covered."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from audience.cli import app
from tests.conftest import flat

runner = CliRunner()

CONFIG_KEY = re.compile(r"\[\[?[a-z_][a-z0-9_.]*\]\]?")
"""A config section or key in brackets: ``[segments]``, ``[[alerts.webhooks]]``."""


def commands(group: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The command line of ``group`` and of every command below it, depth first."""
    yield path
    if isinstance(group, TyperGroup):
        for name, command in sorted(group.commands.items()):
            yield from commands(command, (*path, name))


def help_sources(path: tuple[str, ...]) -> list[str]:
    """What the command's help is written from, its docstring and each option's help, with
    the escapes that keep Rich from reading a key as markup (``\\[segments]``) taken out."""
    command = typer.main.get_command(app)
    for name in path:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
    return [text.replace("\\[", "[") for text in texts if text]  # as written, not escaped


COMMANDS = list(commands(typer.main.get_command(app)))


def render_help(path: tuple[str, ...]) -> str:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_walk_finds_the_subcommands() -> None:
    assert ("segments", "show") in COMMANDS
    assert ("keys", "create") in COMMANDS
    assert ("segment",) in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "audience")
def test_help_shows_every_config_key_it_names(path: tuple[str, ...]) -> None:
    rendered = flat(render_help(path))
    for source in help_sources(path):
        for key in CONFIG_KEY.findall(source):
            assert key in rendered, f"{key} vanished from {path} --help"


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "audience")
def test_help_has_no_gap_where_markup_was_swallowed(path: tuple[str, ...]) -> None:
    output = render_help(path)
    rendered = flat(output)
    for source in help_sources(path):
        words = " ".join(source.split())
        for match in re.finditer(rf"(\S+) {CONFIG_KEY.pattern} (\S+)", words):
            joined = f"{match.group(1)} {match.group(2)}"
            assert joined not in rendered or joined in words.replace(match.group(0), ""), (
                f"{path} --help reads {joined!r}: the key between them was taken for markup"
            )
    prose = [line.strip() for line in output.splitlines() if not re.search(r"[│╭╰]", line)]
    assert [line for line in prose if re.search(r"\S  +\S", line)] == []
