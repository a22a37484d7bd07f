"""The documented benchmark commands (scripts/bench, scripts/fault-cycle, scripts/bench_*.py): each runs
`python -m bench SECTION` with its own arguments, from any directory."""

import os
import sys
from pathlib import Path


def run(section: str) -> None:
    """Replace this process with `python -m bench SECTION ARGS...`, the repository on its import path."""
    root = str(Path(__file__).resolve().parents[1])
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    os.execv(sys.executable, [sys.executable, "-m", "bench", section, *sys.argv[1:]])
