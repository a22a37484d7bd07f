"""openWakeWord through the library itself: the reference the benchmarks compare the lean scorer (oww_lite) with."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

from ..errors import ModelError

log = logging.getLogger(__name__)

BUNDLED = ("hey_jarvis", "alexa", "hey_mycroft", "hey_marvin", "timer", "weather")


def model_path(keyword: str) -> Path:
    """The .onnx file for a bundled model name or a path."""
    if keyword.endswith(".onnx"):
        path = Path(keyword).expanduser()
    else:
        import openwakeword

        path = Path(openwakeword.__file__).parent / "resources" / "models" / f"{keyword}_v0.1.onnx"
        if keyword not in BUNDLED:
            raise ModelError(f"[wake] keyword {keyword!r} is not an openWakeWord model; use one of "
                             f"{', '.join(BUNDLED[:3])} or a path to an .onnx file")
    if not path.is_file():
        raise ModelError(f"openWakeWord model {path} is missing; reinstall openwakeword==0.4.0 (its wheel ships it)")
    return path


class OpenWakeWord:
    """One openWakeWord model, scored frame by frame."""

    name = "openwakeword"

    def __init__(self, keyword: str = "hey_jarvis") -> None:
        path = model_path(keyword)
        try:
            from openwakeword.model import Model

            with warnings.catch_warnings():  # it asks onnxruntime for CUDA first, then warns it has none
                warnings.filterwarnings("ignore", message=".*CUDAExecutionProvider.*")
                self._model = Model(wakeword_model_paths=[str(path)])
        except Exception as exc:  # onnxruntime raises its own error types for a broken model
            raise ModelError(f"openWakeWord model {path} cannot be loaded ({exc})") from None
        self._key = next(iter(self._model.models))
        self.keyword = keyword if not keyword.endswith(".onnx") else self._key

    def score(self, frame: bytes) -> float:
        prediction = self._model.predict(np.frombuffer(frame, dtype="<i2"))
        return float(prediction[self._key])

    def reset(self) -> None:
        self._model.reset()
