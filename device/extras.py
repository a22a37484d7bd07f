"""The package's optional parts (pyproject extras): import one, or say in one line how to install it."""

from __future__ import annotations

import importlib
from types import ModuleType

from device.errors import ReorderError


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
