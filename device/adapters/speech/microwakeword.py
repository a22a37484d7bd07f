"""microWakeWord through pymicro-wakeword: small TFLite models (50-80 KB) and the TFLite C library in one wheel.

pymicro-wakeword 2.5.0 (Apache-2.0, OHF-Voice) bundles the models hey_jarvis, alexa, hey_mycroft
and okay_nabu by Kevin Ahrendt, released under Apache-2.0 by the Open Home Foundation (the same
models run on Home Assistant Voice PE). Its frontend (pymicro-features) turns every 10 ms of audio
into a feature window; the model is invoked every third window (30 ms) and its output averaged
over the model's sliding window. The score of one 80 ms frame is the highest of those averages.

Each model's JSON names the probability cutoff its authors publish for it (alexa 0.9, hey_jarvis
0.97, okay_nabu 0.85, hey_mycroft 0.95); THRESHOLDS maps [wake] sensitivity to thresholds measured
on real recordings, starting from those cutoffs.
"""

from __future__ import annotations

import json
import logging
from importlib import metadata
from pathlib import Path

from device.errors import ModelError

log = logging.getLogger(__name__)

BUNDLED = ("hey_jarvis", "alexa", "hey_mycroft", "okay_nabu")
THRESHOLDS: dict[str, dict[str, float]] = {
    "okay_nabu": {"low": 0.95, "normal": 0.93, "high": 0.9},
    "hey_jarvis": {"low": 0.98, "normal": 0.97, "high": 0.95},
    "alexa": {"low": 0.93, "normal": 0.9, "high": 0.85},
    "hey_mycroft": {"low": 0.97, "normal": 0.95, "high": 0.93},
}
"""[wake] sensitivity → threshold per bundled model, from the ROC measured on real recordings
(BENCHMARKS.md, "Wake words: the default chosen by measurement"): normal is the published cutoff,
and for the default word the lowest step of the measured grid that real speech without it, clean
and in kitchen noise, stayed 0.025 below (okay_nabu 0.85 → 0.93: other words in noise reached
0.895); low and high are one grid step above and below normal."""
LICENCE = "Apache-2.0"
"""Licence of the bundled models (the Open Home Foundation's micro-wake-word-models)."""


def models_dir() -> Path:
    """pymicro_wakeword/models inside the installed wheel, found without loading the TFLite library."""
    import importlib.util

    spec = importlib.util.find_spec("pymicro_wakeword")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("pymicro-wakeword is not installed; pip install pymicro-wakeword==2.5.0 "
                         "(its wheel ships the models), or set [wake] engine = \"openwakeword\"")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_config(keyword: str) -> Path:
    """The model's JSON file for a bundled name or a path to a microWakeWord .json."""
    if keyword.endswith(".json"):
        path = Path(keyword).expanduser()
    elif keyword not in BUNDLED:
        raise ModelError(f"[wake] keyword {keyword!r} is not a microWakeWord model; use one of "
                         f"{', '.join(BUNDLED)} or a path to a microWakeWord .json")
    else:
        path = models_dir() / f"{keyword}.json"
    if not path.is_file():
        raise ModelError(f"microWakeWord model {path} is missing; reinstall pymicro-wakeword==2.5.0 "
                         f"(its wheel ships it), or check [wake] keyword")
    return path


def version() -> str:
    """The installed pymicro-wakeword version ("?" when unknown)."""
    try:
        return metadata.version("pymicro-wakeword")
    except metadata.PackageNotFoundError:
        return "?"


class MicroWakeWordEngine:
    """One microWakeWord model scored per 80 ms frame."""

    name = "microwakeword"

    def __init__(self, keyword: str = "hey_jarvis") -> None:
        path = model_config(keyword)
        try:
            from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures
        except (ImportError, OSError) as exc:
            raise ModelError(f"pymicro-wakeword cannot be imported ({exc}); pip install pymicro-wakeword==2.5.0, "
                             f"or set [wake] engine = \"openwakeword\"") from None
        try:
            self._model = MicroWakeWord.from_config(path)
        except (OSError, ValueError, KeyError, RuntimeError, json.JSONDecodeError) as exc:
            raise ModelError(f"microWakeWord model {path} cannot be loaded ({type(exc).__name__}: {exc}); "
                             f"reinstall pymicro-wakeword==2.5.0 (it needs glibc 2.35+, e.g. Raspberry Pi OS "
                             f"Bookworm)") from None
        self._features = MicroWakeWordFeatures()
        self.keyword = keyword if keyword in BUNDLED else path.stem
        self.default_threshold = float(self._model.probability_cutoff)
        """The cutoff the model's authors publish in its JSON."""
        self.thresholds = THRESHOLDS.get(self.keyword, {"normal": self.default_threshold})
        """[wake] sensitivity → threshold (low, normal, high), measured for the bundled models."""
        self.model_file = Path(self._model.tflite_model)

    def score(self, frame: bytes) -> float:
        """Highest sliding-window probability (0-1) of the model's invocations within this frame."""
        best = 0.0
        for features in self._features.process_streaming(frame):
            p = self._model.process_streaming_prob(features)
            if p is not None and p > best:
                best = p
        return float(best)

    def reset(self) -> None:
        """Forget buffered audio: features, probabilities and the model's streaming state."""
        self._features.reset()
        self._model.reset()  # pymicro-wakeword reloads the interpreter: its streaming state lives in it
