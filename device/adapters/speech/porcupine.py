"""Picovoice Porcupine, used when an AccessKey is configured."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from device.errors import ModelError

SENSITIVITY = {"low": 0.3, "normal": 0.5, "high": 0.7}
"""[wake] sensitivity levels on Porcupine's own scale (0.5 is Picovoice's default)."""


def read_access_key(key_file: str) -> str:
    """The AccessKey from the configured file or PICOVOICE_ACCESS_KEY; one clear error otherwise."""
    if key_file:
        path = Path(key_file).expanduser()
        try:
            key = path.read_text().strip()
        except OSError as exc:
            raise ModelError(f"Picovoice AccessKey file {path} cannot be read ({exc.strerror}); "
                             f"check [wake] access_key_file") from None
        if not key:
            raise ModelError(f"Picovoice AccessKey file {path} is empty; paste the key from console.picovoice.ai")
        return key
    key = os.environ.get("PICOVOICE_ACCESS_KEY", "").strip()
    if not key:
        raise ModelError("porcupine needs a Picovoice AccessKey: set [wake] access_key_file or PICOVOICE_ACCESS_KEY "
                         "(or use engine = \"openwakeword\", which needs none)")
    return key


def _reason(exc: Exception) -> str:
    """The telling line of Picovoice's message stack ("Failed to parse AccessKey ..."), key hidden."""
    lines = [line.split(": ", 1)[-1] for line in getattr(exc, "message_stack", None) or []]
    told = next((line for line in lines if "AccessKey" in line or "keyword" in line.lower()), None)
    told = told or (lines[1] if len(lines) > 1 else str(exc).splitlines()[0])
    return told.split("`")[0].strip() if "AccessKey `" in told else told


def builtin_keyword(keyword: str, builtins: set[str]) -> str:
    """openWakeWord-style names map to Porcupine's: "hey_jarvis" → "jarvis", "hey_google" → "hey google"."""
    spoken = keyword.replace("_", " ")
    if spoken in builtins:
        return spoken
    if spoken.startswith("hey ") and spoken[4:] in builtins:
        return spoken[4:]
    return keyword


class Porcupine:
    """Porcupine with one keyword; frames are re-cut to its 512-sample frames."""

    name = "porcupine"
    default_threshold = 0.5
    """Scores are 0 or 1 (Porcupine decides; [wake] sensitivity tunes it)."""

    def __init__(self, keyword: str, access_key: str, sensitivity: float = 0.5) -> None:
        from device.errors import require

        pvporcupine = require("pvporcupine", "porcupine", "[wake] engine = \"porcupine\"")
        kwargs: dict = {"access_key": access_key, "sensitivities": [sensitivity]}
        keyword = builtin_keyword(keyword, pvporcupine.KEYWORDS)
        if keyword.endswith(".ppn"):
            kwargs["keyword_paths"] = [str(Path(keyword).expanduser())]
        elif keyword in pvporcupine.KEYWORDS:
            kwargs["keywords"] = [keyword]
        else:
            raise ModelError(f"[wake] keyword {keyword!r} is not a Porcupine built-in keyword "
                             f"({', '.join(sorted(pvporcupine.KEYWORDS))}) nor a .ppn path")
        try:
            self._engine = pvporcupine.create(**kwargs)
        except pvporcupine.PorcupineActivationLimitError:
            raise ModelError("Picovoice refused the AccessKey: its activation limit is reached; "
                             "free a device in console.picovoice.ai or use engine = \"openwakeword\"") from None
        except (pvporcupine.PorcupineActivationError, pvporcupine.PorcupineActivationRefusedError,
                pvporcupine.PorcupineActivationThrottledError) as exc:
            raise ModelError(f"Picovoice refused the AccessKey ({type(exc).__name__}); check it in "
                             f"console.picovoice.ai, or use engine = \"openwakeword\"") from None
        except pvporcupine.PorcupineInvalidArgumentError as exc:
            raise ModelError(f"Porcupine rejected its settings ({_reason(exc)}); check the AccessKey "
                             f"([wake] access_key_file or PICOVOICE_ACCESS_KEY) and [wake] keyword") from None
        except pvporcupine.PorcupineError as exc:
            raise ModelError(f"Porcupine cannot start ({type(exc).__name__}: {exc}); "
                             f"use engine = \"openwakeword\" meanwhile") from None
        self.keyword = Path(keyword).stem if keyword.endswith(".ppn") else keyword
        self._buffer = np.zeros(0, dtype=np.int16)

    def score(self, frame: bytes) -> float:
        self._buffer = np.concatenate([self._buffer, np.frombuffer(frame, dtype="<i2")])
        n = self._engine.frame_length
        hit = 0.0
        while len(self._buffer) >= n:
            if self._engine.process(self._buffer[:n].tolist()) >= 0:
                hit = 1.0
            self._buffer = self._buffer[n:]
        return hit

    def reset(self) -> None:
        self._buffer = np.zeros(0, dtype=np.int16)
