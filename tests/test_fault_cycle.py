"""`python -m bench faults` in its CI mode: a few dozen fault cycles, nothing lost, nothing applied twice."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- bench:faults:start -->", "<!-- bench:faults:end -->"


def test_short_fault_cycle_run_loses_and_doubles_nothing(tmp_path):
    if not shutil.which("mosquitto"):
        pytest.fail("mosquitto is not installed: apt-get install mosquitto (see .ci/run)")
    bench = tmp_path / "BENCHMARKS.md"
    others = "# Benchmarks\n\n<!-- bench:loop:start -->\nsomeone else's numbers\n<!-- bench:loop:end -->\n"
    bench.write_text(others + f"\n{START}\nan old run\n{END}\n\n<!-- bench:x:start -->\nmore\n<!-- bench:x:end -->\n")

    done = subprocess.run([sys.executable, "-m", "bench", "faults", "--short", "--output", str(bench)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-8000:]

    text = bench.read_text()
    assert text.startswith(others) and text.rstrip().endswith("<!-- bench:x:start -->\nmore\n<!-- bench:x:end -->")
    assert text.count(START) == 1 and text.count(END) == 1 and "an old run" not in text
    ours = text[text.index(START):text.index(END)]
    total = re.search(r"^\| \*\*all\*\* \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|", ours, re.MULTILINE)
    assert total, ours
    cycles, orders, lost, duplicated = map(int, total.groups())
    assert cycles >= 24 and orders >= cycles and lost == 0 and duplicated == 0
    for kind in ("SIGTERM", "SIGKILLed in the middle of a stream, then started", "TCP proxy", "device process"):
        assert re.search(rf"^\| [^|]*{re.escape(kind)}[^|]* \| [1-9]\d* \|", ours, re.MULTILINE), kind
    assert re.search(r"^\| 1 \| .* \| 0 \| 0 \| \d+ \|$", ours, re.MULTILINE), "backlog: lost, applied twice"
    assert "No crash, nothing lost." in ours
