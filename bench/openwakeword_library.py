"""openWakeWord through the library itself: the reference the benchmarks compare the lean scorer (oww_lite) with."""

from __future__ import annotations

import logging
import warnings

import numpy as np

from device.adapters.speech.openwakeword import model_path
from device.errors import ModelError

log = logging.getLogger(__name__)



class OpenWakeWord:
    """One openWakeWord model, scored frame by frame."""

    name = "openwakeword"
    default_threshold = 0.5

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
