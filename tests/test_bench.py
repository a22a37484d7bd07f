"""`python -m bench loop` keeps working: a short run writes its table with numbers, and only its own section."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import write_section

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- bench:loop:start -->", "<!-- bench:loop:end -->"
OTHER = "<!-- bench:accuracy:start -->\n| accuracy | 96% |\n<!-- bench:accuracy:end -->"


def test_section_is_replaced_in_place_and_other_sections_are_kept(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    write_section("loop", "first", out)
    assert out.read_text().startswith("# Benchmarks\n") and f"{START}\nfirst\n{END}" in out.read_text()
    out.write_text(f"# Benchmarks\n\nintro\n\n{START}\nold\n{END}\n\n{OTHER}\n")
    write_section("loop", "new", out)
    write_section("loop", "newer", out)
    text = out.read_text()
    assert text == f"# Benchmarks\n\nintro\n\n{START}\nnewer\n{END}\n\n{OTHER}\n"


@pytest.mark.slow
def test_short_run_writes_a_table_with_numbers(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text(f"# Benchmarks\n\n{OTHER}\n")
    done = subprocess.run([sys.executable, "-m", "bench", "loop", "--short", "--output", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    assert OTHER in text
    section = text[text.index(START):text.index(END)]
    assert "python -m bench loop --short --output" in section
    assert re.search(r"Machine: .+, \d+ cores .*Python 3\.\d+", section)
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and line.startswith("| "):
            rows[cells[0]] = cells[1]
    expected = ["Idle listening", "gated by the WebRTC VAD", "False wakes", "\"okay nabu\" detected",
                "End of speech → prompt", "Button release → broker PUBACK", "Peak RSS, loop with pocketsphinx",
                "Start-up"]
    for label in expected:
        result = next((v for k, v in rows.items() if label in k), None)
        assert result is not None, f"no summary row for {label!r}:\n{section}"
        assert re.search(r"\d", result) and "failed" not in result, f"{label}: {result}"
    assert "could not be rendered" not in section and "Failed:" not in section


ALIASES = {"bench": "loop", "fault-cycle": "faults", "bench_accuracy.py": "accuracy", "bench_store.py": "store",
           "bench_realspeech.py": "realspeech", "bench_wakeword.py": "wakeword", "bench_french.py": "french"}


@pytest.mark.parametrize("alias", ALIASES)
def test_documented_commands_run_their_section_from_any_directory(alias, tmp_path):
    from bench.__main__ import SECTIONS

    script = ROOT / "scripts" / alias
    assert f'run("{ALIASES[alias]}")' in script.read_text() and ALIASES[alias] in SECTIONS
    done = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("usage: "), done.stderr[-2000:]


def test_python_m_bench_lists_the_sections_and_refuses_an_unknown_one():
    done = subprocess.run([sys.executable, "-m", "bench", "nonsense"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and all(f"  {name} " in done.stderr for name in ("loop", "store", "wakeword"))
