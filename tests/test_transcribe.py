"""`reorder transcribe`: free and grammar-constrained decoding of recordings, one JSON line per file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from device.adapters.speech.moonshine import MODEL_FILES, default_model_dir

DATA = Path(__file__).parent / "data" / "realspeech"
GRAMMAR = """
context:
  expressions:
    orderDrink:
      - "[can I get, may I have, give me] [a, an] (small, medium, large) $coffeeDrink:coffeeDrink"
  slots:
    coffeeDrink: ["latte", "mocha", "house coffee", "americano"]
"""
needs_moonshine = pytest.mark.skipif(not all((default_model_dir() / f).exists() for f in MODEL_FILES),
                                     reason="the Moonshine model is not prepared (scripts/dev setup prepares it)")


def transcribe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "device", "transcribe", *args], capture_output=True, text=True,
                          timeout=300)


@needs_moonshine
def test_constrained_to_a_rhino_grammar_prints_intent_and_slots(tmp_path):
    grammar = tmp_path / "cafe.yaml"
    grammar.write_text(GRAMMAR)
    done = transcribe(str(DATA / "barista_latte.wav"), str(DATA / "barista_medium_mocha.wav"), "--grammar",
                      str(grammar), "--engine", "moonshine")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(DATA / "barista_latte.wav"), str(DATA / "barista_medium_mocha.wav")]
    assert lines[0]["text"] == "may i have a latte" and lines[0]["accepted"] is True
    assert lines[0]["slots"] == {"coffeeDrink": "latte"} and lines[0]["intent"] == "orderDrink"
    assert lines[1]["slots"] == {"coffeeDrink": "mocha"} and lines[1]["text"] == "give me a medium mocha"
    assert 0.85 <= lines[1]["confidence"] <= 1.0


@needs_moonshine
def test_free_decoding_without_a_grammar_and_refusal_with_a_catalogue():
    done = transcribe(str(DATA / "barista_latte.wav"), "--engine", "moonshine")
    assert done.returncode == 0, done.stderr
    free = json.loads(done.stdout)
    assert "latte" in free["text"].lower() and free["confidence"] is None
    done = transcribe(str(DATA / "barista_medium_mocha.wav"), "--catalog", "device/samples/catalog.json",
                      "--engine", "moonshine")
    line = json.loads(done.stdout)
    assert line["accepted"] is False and "mocha" in line["free"].lower()


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("context:\n  expressions:\n    x: ['$nope:n']\n")
    for args in (["--grammar", "/nonexistent.yaml"], ["--grammar", str(bad)]):
        done = transcribe(str(DATA / "barista_latte.wav"), *args, "--engine", "moonshine")
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    done = transcribe(str(DATA / "barista_latte.wav"), "--engine", "pocketsphinx")
    assert done.returncode == 2 and "--catalog or --grammar" in done.stderr
    done = transcribe(str(tmp_path / "missing.wav"), "--engine", "pocketsphinx", "--catalog",
                      "device/samples/catalog.json")
    assert done.returncode != 0 and "missing.wav" in done.stderr and "Traceback" not in done.stderr


def _whisper_ready() -> bool:
    from device.prepare.whisper import default_model_dir as whisper_dir
    from device.prepare.whisper import is_prepared

    return is_prepared(whisper_dir())


needs_whisper = pytest.mark.skipif(not _whisper_ready(), reason="the Whisper model is not prepared (scripts/dev setup)")
FRENCH = Path(__file__).resolve().parents[1] / "device" / "samples" / "demo-fr.wav"


@needs_whisper
def test_french_search_that_cannot_finish_is_refused_with_its_words_and_a_reason(tmp_path):
    # One sentence far longer than the recording: no hypothesis can end within the token budget.
    long = " ".join(["commande un café et deux bouteilles de lait"] * 8)
    grammar = tmp_path / "long.yaml"
    grammar.write_text(f'context:\n  expressions:\n    order:\n      - "{long}"\n')
    done = transcribe(str(FRENCH), "--grammar", str(grammar), "--locale", "fr-FR", "--engine", "whisper", "--details")
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stdout)
    assert line["accepted"] is False and line["confidence"] == 0.0
    assert line["text"] and long.startswith(line["text"].rstrip("…").rsplit(" ", 1)[0])
    assert line["reason"].startswith("no sentence of the grammar ended within")
    assert line["sentence"] is False and line["nbest"] == [] and line["tokens"] > 0
