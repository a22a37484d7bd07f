"""An offline voice re-order speaker: wake word, recognition and understanding on the device."""

from __future__ import annotations

from functools import cache
from pathlib import Path

__version__ = "0.2.0"
"""The release: pyproject.toml reads it from here; CHANGELOG.md has a section for it."""


def git_commit(root: Path | None = None) -> str | None:
    """The checkout's commit (7 hex digits) read from its .git files, or None outside a checkout; never raises."""
    try:
        git = (root or Path(__file__).resolve().parent.parent) / ".git"
        if git.is_file():  # a worktree or submodule: "gitdir: PATH"
            git = (git.parent / git.read_text(encoding="utf-8").split(":", 1)[1].strip()).resolve()
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref: "):
            return _short(head)  # a detached HEAD holds the commit itself
        ref = head[5:]
        common = git / "commondir"  # a worktree keeps its branches in the main .git
        base = (git / common.read_text(encoding="utf-8").strip()).resolve() if common.is_file() else git
        for folder in (git, base):
            if (folder / ref).is_file():
                return _short((folder / ref).read_text(encoding="utf-8").strip())
        for line in (base / "packed-refs").read_text(encoding="utf-8").splitlines():
            if line.endswith(" " + ref):
                return _short(line.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _short(sha: str) -> str | None:
    return sha[:7] if len(sha) >= 7 and all(c in "0123456789abcdef" for c in sha) else None


@cache
def firmware() -> str:
    """What the device reports (`reorder --version`, the state's `firmware`): 0.2.0, or 0.2.0+g1234abc in a checkout."""
    commit = git_commit()
    return f"{__version__}+g{commit}" if commit else __version__
