"""One exception root; every user-facing error is one line that names the culprit and the fix."""

from __future__ import annotations

import importlib
from types import ModuleType


class ReorderError(Exception):
    """Root of every error the device reports to a person (one line, no traceback)."""

    exit_code = 1


class ConfigError(ReorderError, ValueError):
    """A config file, flag or catalogue is wrong: names the key or file and what to do."""

    exit_code = 2


class CatalogueError(ConfigError):
    """A catalogue file or message does not follow `reorder.catalog/1`."""


class AudioError(ReorderError, OSError):
    """A microphone, speaker or audio file cannot be used."""


class RecordingError(AudioError):
    """A recording given to `replay` or `transcribe` is missing or not usable audio: bad input."""

    exit_code = 2


class ModelError(ReorderError, FileNotFoundError):
    """A wake-word or speech model is missing, unreadable or refused (e.g. a bad AccessKey)."""


class BrokerError(ReorderError, ConnectionError):
    """The MQTT broker is unreachable or refuses the device's credentials."""


class OutboxError(ReorderError, OSError):
    """The outbox file cannot be opened, is corrupt, or is full."""


class MissingExtra(ReorderError):
    """A feature needs an extra that is not installed (exit code 2: the installation, not the input, is short)."""

    exit_code = 2


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """`import module`, or MissingExtra naming the extra and the command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{purpose} needs the [{extra}] extra, which is not installed: on a device "
                           f"`sudo scripts/install.sh --extras {extra}`, on a laptop "
                           f"`pip install 'reorder-speaker[{extra}]'` (scripts/dev installs every extra)") from None
