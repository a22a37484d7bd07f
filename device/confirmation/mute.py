"""Mute from boot: a latched switch is read at start-up, a toggled mute is remembered on disk.

Which mute the device starts with (`initial_mute`): a mute switch's level when there is one (the
switch is the truth); otherwise the mute last set by the toggle button or the broker, as
remembered. A device that cannot tell starts muted: a memory file that cannot be read or says
something else means muted, never a microphone opened by mistake. No file at all means the
device was never muted.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

MUTED, UNMUTED = "muted", "unmuted"


class MuteMemory(Protocol):
    """Where the last mute state is kept across restarts. Implementation: MuteFile."""

    def recall(self) -> bool:
        """The mute state last remembered; True when unsure."""

    def remember(self, muted: bool) -> None:
        """Keep this mute state for the next start."""


class MuteFile:
    """The mute state as one word in a small file (beside the outbox), replaced atomically."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"<MuteFile {self.path}>"

    def recall(self) -> bool:
        """Muted or not as last remembered; no file = never muted; an unreadable or odd file = muted."""
        try:
            word = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return False
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("mute memory %s cannot be read (%s): starting muted", self.path, exc)
            return True
        if word in (MUTED, UNMUTED):
            return word == MUTED
        log.warning("mute memory %s says %r, not %r or %r: starting muted", self.path, word[:40], MUTED, UNMUTED)
        return True

    def remember(self, muted: bool) -> None:
        """Write the state so that a power cut leaves the old or the new one, never half a file."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as f:
                f.write((MUTED if muted else UNMUTED) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            log.error("mute memory %s not written (%s): after a restart the device may not be %s", self.path, exc,
                      MUTED if muted else UNMUTED)


def initial_mute(switch_level: bool | None, memory: MuteMemory | None) -> bool:
    """The mute to start with: the switch's level if there is a switch, else what `memory` recalls."""
    if switch_level is not None:
        return switch_level
    return memory.recall() if memory is not None else False
