"""The accuracy benchmark (`python -m bench accuracy`) runs end to end in --short mode and writes only its
own section of BENCHMARKS.md. No accuracy thresholds here: those are the benchmark's to report."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import bench_accuracy, common

REPO = Path(__file__).resolve().parents[1]
OTHER = "<!-- bench:latency:start -->\nsomeone else's numbers\n<!-- bench:latency:end -->\n"

pytestmark = pytest.mark.slow


def test_short_run_writes_its_section_with_numbers(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n" + OTHER)
    done = subprocess.run([sys.executable, "-m", "bench", "accuracy", "--short", "--output", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    assert OTHER in text  # the other section is untouched
    assert text.count("<!-- bench:accuracy:start -->") == 1 and text.count("<!-- bench:accuracy:end -->") == 1
    section = text.split("<!-- bench:accuracy:start -->")[1].split("<!-- bench:accuracy:end -->")[0]
    assert "python -m bench accuracy --short" in section and "Machine:" in section
    number = r"(\d+) \| (\d+) \| ([\d.]+) \| (\d+) \|"
    for locale in ("en-US", "fr-FR"):
        row = re.search(rf"\| text \| {locale} \| - \| - \| {number}", section)
        assert row, f"no text row for {locale}"
        n, exact, percent, refusals = row.groups()
        assert int(n) == 40 and 0 <= int(exact) <= 40
        assert float(percent) == pytest.approx(100 * int(exact) / 40, abs=0.1)
    audio = re.search(rf"\| audio \(\w+\) \| en-US \| - \| clean \| {number}", section)
    assert audio and int(audio.group(1)) == 3
    assert re.search(r"\| audio \(\w+\) \| en-US \| babble \| 6 \|", section)
    assert re.search(r"\| audio \(\w+\) \| en-US \| white \| 6 \|", section)
    # French audio either ran (a French Vosk model is installed) or says why not.
    assert re.search(r"\| audio[^|]*\| fr-FR \|", section)
    assert "wrong orders" in section and "Same code path:" in section


def test_section_replaced_in_place(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    common.write_section("accuracy", "first", out)
    out.write_text(out.read_text() + "\n" + OTHER)
    common.write_section("accuracy", "second", out)
    text = out.read_text()
    assert "second" in text and "first" not in text and OTHER in text
    assert text.startswith("# Benchmarks")
    assert "<!-- bench:accuracy:start -->\nsecond\n<!-- bench:accuracy:end -->" in text


def test_expected_intents_come_from_the_templates_not_the_parser() -> None:
    bench = bench_accuracy
    templates = bench.templates
    assert templates.check_tables() == []
    requests = templates.generate("fr-FR", 200, seed=1)
    assert requests == templates.generate("fr-FR", 200, seed=1)  # seeded
    assert {r.kind for r in requests} == set(templates.KINDS)
    for r in requests:
        assert (r.action == "reorder") == bool(r.items)
        assert all(1 <= q <= 20 for _, q in r.items)
    # Nothing the tests say is reused.
    avoid = bench.test_phrasings(REPO / "tests")
    assert not [r.text for r in templates.generate("en-US", 300, 2, avoid) if templates.squash(r.text) in avoid]


def test_grammar_gaps_split_words_as_the_grammar_does() -> None:
    unproducible = bench_accuracy.unproducible
    usable = {"peux", "tu", "commander", "d'", "eau", "de", "l'huile", "okay"}
    assert unproducible("peux-tu commander d'eau, de l'huile", usable) == set()
    assert unproducible("peux-tu commander du vin", usable) == {"du", "vin"}
    assert unproducible("commander d'orange", usable) == {"d'orange"}
