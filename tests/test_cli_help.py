"""`--help` teaches: every subcommand says what it does, every option has help with its default, every
command ends with examples and the docs; `--version` and the retained state carry the same version."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from device import __version__, firmware, git_commit
from device.__main__ import make_parser
from device.store.cli import build_parser as store_parser
from device.telemetry.discovery import device_block
from device.telemetry.state_report import state_payload

ROOT = Path(__file__).resolve().parents[1]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = make_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands = {name: p for name, p in sub.choices.items() if name != "store-backend"}
    return {**commands, "store-backend": store_parser()}


COMMANDS = _subcommands()


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_of_every_subcommand_has_help_with_its_default(name):
    parser = COMMANDS[name]
    assert parser.description and len(parser.description) > 40, f"{name} has no description"
    assert "examples:" in (parser.epilog or "") and "docs: docs/" in parser.epilog, name
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        label = "/".join(action.option_strings) or action.dest
        assert action.help and action.help != argparse.SUPPRESS and len(action.help) > 10, f"{name} {label}: no help"
        takes_value = action.option_strings and action.nargs != 0
        if takes_value:
            assert "default" in action.help or action.required, f"{name} {label}: its default is not said"


def test_the_top_level_help_gives_examples_exit_codes_and_the_docs():
    parser = make_parser()
    text = parser.format_help()
    assert "examples:" in text and "exit codes:" in text and "docs: docs/cli.md" in text
    for code in ("0", "1", "2", "130"):
        assert f"\n  {code} " in text, code
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert all(choice.help for choice in sub._choices_actions)
    assert "auto =" in COMMANDS["run"].format_help()  # what "auto" means, where it is chosen


def test_version_is_the_release_plus_the_checkout_commit():
    done = subprocess.run([sys.executable, "-m", "device", "--version"], capture_output=True, text=True, check=True,
                          cwd=ROOT)
    commit = git_commit(ROOT)
    assert done.stdout.strip() == f"reorder {__version__}" + (f"+g{commit}" if commit else "")
    assert firmware() == done.stdout.split()[1]


def test_the_retained_state_and_home_assistant_carry_the_same_version():
    assert state_payload(True, 0, False, "2026-12-06T00:00:00Z")["firmware"] == firmware()
    assert device_block("kitchen-01")["sw_version"] == firmware()
    assert firmware().startswith(__version__)


def _git(tmp_path: Path, head: str) -> Path:
    (tmp_path / ".git").mkdir(parents=True)
    (tmp_path / ".git" / "HEAD").write_text(head)
    return tmp_path


SHA = "0123456789abcdef0123456789abcdef01234567"


def test_the_commit_is_read_from_a_branch_a_packed_ref_or_a_detached_head(tmp_path):
    branch = _git(tmp_path / "a", "ref: refs/heads/main\n")
    (branch / ".git" / "refs" / "heads").mkdir(parents=True)
    (branch / ".git" / "refs" / "heads" / "main").write_text(SHA + "\n")
    assert git_commit(branch) == "0123456"
    packed = _git(tmp_path / "b", "ref: refs/heads/release\n")
    (packed / ".git" / "packed-refs").write_text(f"# pack-refs with: peeled\n{'f' * 40} refs/heads/main\n"
                                                 f"{SHA} refs/heads/release\n")
    assert git_commit(packed) == "0123456"
    assert git_commit(_git(tmp_path / "c", SHA + "\n")) == "0123456"


def test_outside_a_checkout_or_with_a_broken_one_there_is_no_commit(tmp_path):
    assert git_commit(tmp_path) is None
    assert git_commit(_git(tmp_path / "a", "ref: refs/heads/gone\n")) is None
    assert git_commit(_git(tmp_path / "b", "not a commit\n")) is None
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / ".git").write_text("gitdir: /nonexistent/worktree\n")
    assert git_commit(tmp_path / "c") is None
