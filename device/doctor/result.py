"""The checks of `reorder doctor`: small functions, each returning one Result (one line of output).

Every check takes the validated Settings (the config check takes the path), never raises for a
problem it is meant to find, and imports third-party libraries only inside itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from device.config import Settings

Status = Literal["pass", "warn", "fail"]
SYMBOLS: dict[Status, str] = {"pass": "✓", "warn": "!", "fail": "✗"}
ASCII_SYMBOLS: dict[Status, str] = {"pass": "OK", "warn": "WARN", "fail": "FAIL"}


@dataclass(frozen=True)
class Result:
    """The outcome of one check: `ok` is False only for failures; warnings pass with a note."""

    name: str
    ok: bool
    detail: str
    """What was found (pass) or what is wrong (warning, failure)."""
    fix: str = ""
    """How to fix it (warnings and failures)."""
    warning: bool = False

    @property
    def status(self) -> Status:
        """"pass", "warn" or "fail"."""
        if not self.ok:
            return "fail"
        return "warn" if self.warning else "pass"

    def line(self, symbols: dict[Status, str] = SYMBOLS, dash: str = "—") -> str:
        """`✓ name: detail`, `! name: detail — fix` or `✗ name: what is wrong — how to fix`."""
        text = f"{symbols[self.status]} {self.name}: {self.detail}"
        if self.fix and self.status != "pass":
            text += f" {dash} {self.fix}"
        return text


def passed(name: str, detail: str) -> Result:
    """A passing check."""
    return Result(name, True, detail)


def warned(name: str, detail: str, fix: str) -> Result:
    """A check that passes with a note on what is missing."""
    return Result(name, True, detail, fix, warning=True)


def failed(name: str, what: str, fix: str) -> Result:
    """A failing check: what is wrong and how to fix it."""
    return Result(name, False, what, fix)


def in_config(settings: "Settings") -> str:
    """Where to change a setting: "in config file X", or a hint to write one when none is in use."""
    if settings.source == "built-in defaults":
        return "in a config file (--config; none is in use)"
    return f"in {settings.source}"


def split_message(message: str, default_fix: str) -> tuple[str, str]:
    """Split a device error ("what; how to fix") at its first top-level "; " into (what, fix)."""
    depth = 0
    for i, ch in enumerate(message):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == ";" and depth == 0 and message[i + 1:i + 2] == " ":
            return message[:i], message[i + 2:]
    return message, default_fix


def from_error(name: str, exc: BaseException, default_fix: str) -> Result:
    """A failure from one of the device's one-line errors (ReorderError and family)."""
    what, fix = split_message(str(exc), default_fix)
    return failed(name, what, fix)
