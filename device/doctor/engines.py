"""Doctor checks of the models: the wake-word engine and the speech recogniser load as `reorder run` loads them."""

from __future__ import annotations

import logging
import time
import warnings

from device.audio.source import SILENT_FRAME
from device.config import Settings
from device.doctor.result import Result, failed, from_error, in_config, passed
from device.errors import ReorderError

log = logging.getLogger(__name__)


def check_wake_word(settings: Settings) -> Result:
    """Every configured wake word's engine loads (Porcupine: the AccessKey is accepted) and scores a frame;
    the line names the active words with their thresholds."""
    name = "wake word"
    from device.app import make_wake_detector, sensitivity_level, wake_words

    start = time.monotonic()
    try:
        with warnings.catch_warnings():  # onnxruntime warns that there is no GPU
            warnings.simplefilter("ignore")
            detector = make_wake_detector(settings)
            detector.process(SILENT_FRAME, 0.0)
    except ReorderError as exc:
        return from_error(name, exc, f"check [wake] {in_config(settings)}, or use engine = \"openwakeword\"")
    except Exception as exc:  # an engine's own error types (onnxruntime, pvporcupine) on a broken install
        log.debug("wake-word engine failed", exc_info=True)
        return failed(name, f"{settings.wake.engine} cannot run ({type(exc).__name__}: {exc})",
                      "reinstall the device's Python packages (scripts/install.sh)")
    w = settings.wake
    words = ", ".join(
        f"\"{engine.keyword}\" at {threshold:g} ("
        + ("[wake] threshold" if w.threshold_of(word) else f"sensitivity {sensitivity_level(w.sensitivity_of(word))}")
        + ")" for word, (engine, threshold) in zip(wake_words(settings), detector.words, strict=True))
    return passed(name, f"{detector.engine.name} listening for {words}; loaded in {time.monotonic() - start:.1f} s")


def check_recognizer(settings: Settings) -> Result:
    """The recogniser `reorder run` would choose (and why) loads its model."""
    name = "recogniser"
    from device import engines

    start = time.monotonic()
    try:
        choice = engines.choose(settings)
        loaded = engines.load(settings, choice)
    except ReorderError as exc:
        return from_error(name, exc, f"check [recognizer] {in_config(settings)}")
    except Exception as exc:  # the engines' own error types on a broken install
        log.debug("recogniser failed", exc_info=True)
        return failed(name, f"{settings.recognizer.engine} cannot start ({type(exc).__name__}: {exc})",
                      "reinstall the device's Python packages (scripts/install.sh)")
    where = f"model {choice.model}" if choice.model else "model from its wheel"
    beside = ", started beside it" if getattr(loaded, "parallel", False) else ""
    second = f", {choice.second} as its second opinion ({choice.second_why}{beside})" if choice.second else ""
    return passed(name, f"{choice.engine} for {settings.device.locale} ({choice.why}), {where}{second}, loaded in "
                        f"{time.monotonic() - start:.1f} s")
