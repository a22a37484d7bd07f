"""Vosk (Kaldi): the recogniser for boards without the memory for Moonshine or Whisper; scripts/install.sh
fetches the locale's model (and the vosk package) for a device configured with `[recognizer] engine = "vosk"`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from device.errors import ModelError
from device.language.grammar import Grammar, report_unknown_words
from device.recognition.protocol import Recognition

log = logging.getLogger(__name__)

MODELS_DIR = Path("/opt/reorder/models")
DEFAULT_MODELS = {"en-US": "vosk-model-small-en-us-0.15", "fr-FR": "vosk-model-small-fr-0.22"}


def default_model_dir(locale: str) -> Path:
    """Where scripts/install.sh puts the model for a locale."""
    return MODELS_DIR / DEFAULT_MODELS.get(locale, "")


def find_model(configured: str, locale: str) -> Path | None:
    """The configured model directory, else the installer's one for the locale, else None."""
    if configured:
        return Path(configured).expanduser()
    default = default_model_dir(locale)
    return default if (default / "conf").is_dir() or (default / "am").is_dir() else None


class Vosk:
    """A Vosk model with a recogniser restricted to the grammar's phrases."""

    name = "vosk"

    def __init__(self, model_dir: str | Path, phrases: list[str] | None = None) -> None:
        model_dir = Path(model_dir)
        if not model_dir.is_dir():
            raise ModelError(f"Vosk model directory {model_dir} does not exist; run scripts/install.sh --only model "
                             f"(with engine = \"vosk\" it fetches the locale's Vosk model) "
                             f"or fix [recognizer] vosk_model")
        from device.errors import require

        vosk = require("vosk", "vosk", "[recognizer] engine = \"vosk\"")
        vosk.SetLogLevel(-1)
        try:
            self._model = vosk.Model(str(model_dir))
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
            raise ModelError(f"Vosk cannot load the model in {model_dir} ({exc}); re-run scripts/install.sh "
                             f"to fetch and verify it again") from None
        self._vosk = vosk
        self._recognizer: Any = None  # a vosk.KaldiRecognizer once the phrases are known
        if phrases is not None:
            self.set_phrases(phrases)

    def knows(self, word: str) -> bool:
        """Whether the model's vocabulary has this word."""
        return self._model.vosk_model_find_word(word) >= 0

    def set_phrases(self, phrases: list[str]) -> None:
        """Restrict recognition to these phrases (Vosk's grammar)."""
        usable = [p for p in phrases if p == "[unk]" or all(self.knows(w) for w in p.split())]
        self._recognizer = self._vosk.KaldiRecognizer(self._model, 16000, json.dumps(usable, ensure_ascii=False))
        self._recognizer.SetWords(True)

    def set_grammar(self, grammar: Grammar) -> list[str]:
        self.set_phrases(grammar.vosk_phrases())
        return report_unknown_words(grammar, grammar.catalogue, self.knows, "Vosk")

    def recognize(self, audio: bytes) -> Recognition:
        if self._recognizer is None:
            self.set_phrases(["[unk]"])
        rec = self._recognizer
        rec.AcceptWaveform(audio)
        result = json.loads(rec.FinalResult())
        rec.Reset()
        words = [w for w in result.get("result", []) if w.get("word") != "[unk]"]
        text = " ".join(w["word"] for w in words)
        if not words:
            return Recognition("", 0.0)
        unknown = len(result.get("result", [])) - len(words)
        confidence = sum(w.get("conf", 0.0) for w in words) / (len(words) + unknown)
        return Recognition(text, round(confidence, 3))
