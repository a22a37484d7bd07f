"""The barista benchmark's recordings kept as fixtures (tests/data/realspeech, LICENSE-barista): their samples, the
benchmark's grammar and labels, and a recogniser over that grammar with the settings device.engines ships."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from device.adapters.audio.wav_source import load_wav
from device.engines import NEURAL_SEARCH
from device.language.rhino import Context, compile_context
from device.recognition.decoding import TokenDecoder
from device.recognition.neural import ConstrainedRecognizer, SearchSettings

DATA = Path(__file__).parent / "data" / "realspeech"


def audio(name: str) -> np.ndarray:
    """A fixture's 16-bit samples as the recogniser takes them (float32, in [-1, 1))."""
    return load_wav(DATA / name).astype(np.float32) / 32768


@cache
def context() -> Context:
    """The benchmark's grammar (coffee_maker.yaml), compiled."""
    return compile_context(yaml.safe_load((DATA / "coffee_maker.yaml").read_text()))


def expected(name: str) -> tuple[str, dict[str, str]]:
    """A fixture's label: (intent, slots), as Context.understand returns them."""
    label = json.loads((DATA / "barista_labels.json").read_text())[name]
    return label["intent"], label["slots"]


def recognizer(decoder: TokenDecoder, **changes: Any) -> ConstrainedRecognizer:
    """Moonshine's shipped search settings (NEURAL_SEARCH), with `changes`, over the benchmark's grammar."""
    rec = ConstrainedRecognizer(decoder, "en-US", SearchSettings(**{**NEURAL_SEARCH["moonshine"], **changes}))
    rec.set_automaton(context().automaton, roles=context().roles())
    return rec
