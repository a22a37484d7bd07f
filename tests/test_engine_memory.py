"""`[recognizer] engine = "auto"` decides by the memory the loop needs (measured), not by the preparation's:
Moonshine on a Pi Zero 2 W (MemTotal ~427,000 kB: 416 MB), Whisper from 600 MB (a board faster than the Zero)."""

from __future__ import annotations

from pathlib import Path

import pytest

from device import engines
from device.config import from_mapping
from device.errors import ModelError

ZERO_2W_MB = 427_000 // 1024  # MemTotal of a Pi Zero 2 W (kB) as engines.memory_mb() reads it: 416


def settings(locale: str, vosk_model: str = ""):
    return from_mapping({"device": {"locale": locale}, "recognizer": {"engine": "auto", "vosk_model": vosk_model}},
                        "test")


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Both neural models prepared (as the installer leaves them)."""
    monkeypatch.delenv("REORDER_FORCE_NEURAL", raising=False)
    monkeypatch.setattr(engines, "_neural_model",
                        lambda locale: ("moonshine" if locale.startswith("en") else "whisper", tmp_path / locale))
    return tmp_path


def test_the_thresholds_are_the_measured_loop_peaks_plus_the_system() -> None:
    # BENCHMARKS.md "Real speech", "Real French", "Issue 23: a second opinion"
    assert engines.LOOP_PEAK_MB == {"moonshine": 269, "whisper": 253, "moonshine+whisper": 417}
    assert engines.neural_min_memory_mb("moonshine") == 369 <= ZERO_2W_MB < engines.neural_min_memory_mb("whisper")
    # Whisper's loop would fit the Zero now (253 + 100 MB); its cores are what keep it off (BOARD_FLOOR_MB).
    assert engines.LOOP_PEAK_MB["whisper"] + engines.SYSTEM_MB <= ZERO_2W_MB
    assert engines.neural_min_memory_mb("whisper") == engines.BOARD_FLOOR_MB["whisper"] == 600


def test_a_pi_zero_2w_runs_moonshine(models: Path) -> None:
    choice = engines.choose(settings("en-US"), memory=ZERO_2W_MB)
    assert choice.engine == "moonshine" and f"{ZERO_2W_MB} MB of memory" in choice.why


def test_under_the_moonshine_loops_need_english_falls_back_to_pocketsphinx(models: Path) -> None:
    choice = engines.choose(settings("en-US"), memory=350)
    assert choice.engine == "pocketsphinx"
    assert "350 MB of memory is under the 369 MB moonshine needs" in choice.why


def test_french_on_a_zero_2w_takes_vosk_or_says_why_not(models: Path, tmp_path: Path) -> None:
    vosk = tmp_path / "vosk-fr"
    assert engines.choose(settings("fr-FR", str(vosk)), memory=ZERO_2W_MB).engine == "vosk"
    with pytest.raises(ModelError, match="416 MB of memory is under the 600 MB whisper needs"):
        engines.choose(settings("fr-FR"), memory=ZERO_2W_MB)
    assert engines.choose(settings("fr-FR"), memory=1024).engine == "whisper"  # a Pi 3 / 4 / 5
