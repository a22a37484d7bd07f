"""`python -m bench store` in a short run: real PostgreSQL, broker, store and devices; its section of BENCHMARKS.md."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import binaries

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- bench:store:start -->", "<!-- bench:store:end -->"


def test_short_store_benchmark_answers_every_order_and_writes_only_its_section(tmp_path):
    if binaries() is None:
        pytest.fail("PostgreSQL is not installed: apt-get install postgresql (see .ci/run)")
    bench = tmp_path / "BENCHMARKS.md"
    others = "# Benchmarks\n\n<!-- bench:faults:start -->\nsomeone else's numbers\n<!-- bench:faults:end -->\n"
    bench.write_text(others + f"\n{START}\nan old run\n{END}\n")

    done = subprocess.run([sys.executable, "-m", "bench", "store", "--instances", "1",
                           "--runs", "saturated", "--seconds", "3", "--devices", "2", "--device-processes", "1",
                           "--output", str(bench)], capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    text = bench.read_text()
    assert text.startswith(others) and "an old run" not in text
    assert text.count(START) == 1 and text.count(END) == 1
    [row] = [line for line in text.splitlines() if line.startswith("| 1 | saturated |")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    answered, orders, lost, twice, unanswered = (int(re.sub(r"\D", "", cells[i])) for i in (3, 5, 6, 7, 8))
    assert answered > 0 and orders > 0
    assert (lost, twice, unanswered) == (0, 0, 0)
    assert "python -m bench store --instances 1" in text
