"""Every `python -m rlhf_core ...` command prints its help: a newcomer's first command is often `--help`."""

from __future__ import annotations

import argparse

import pytest

from rlhf_core.cli import build_parser


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the parser tree, e.g. ('policy', 'train')."""
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, path + (name,))
    return found


COMMANDS = _commands(build_parser())


def test_the_tree_has_the_commands_readme_prints():
    for command in [("evaluate",), ("policy", "train"), ("reward", "train"), ("lesson", "run"), ("export", "trl")]:
        assert command in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_help_prints_and_exits_zero(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*command, "--help"])
    assert exit_.value.code == 0
    assert "usage: python -m rlhf_core" in capsys.readouterr().out
