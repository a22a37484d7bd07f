#!/usr/bin/env python3
"""A documented benchmark command, kept working: the benchmark itself lives in bench/ (same file name)."""

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "bench" / Path(__file__).name
    sys.argv[0] = str(target)
    sys.path[0] = str(target.parent)
    runpy.run_path(str(target), run_name="__main__")
