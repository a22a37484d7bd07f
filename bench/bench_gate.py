"""Voice-activity gating of the wake word, as measured by scripts/bench.

The gate itself now lives in the device (device/audio/wake_word.py GatedEngine, re-exported
here for the benchmarks); SileroVad is the alternative VAD measured against the WebRTC VAD of
device/adapters/audio/vad.py.
"""

from __future__ import annotations

from typing import Protocol

from device.audio.wake_word import GatedEngine

__all__ = ["CascadeVad", "GatedEngine", "SileroVad"]


class VoiceActivity(Protocol):
    """As device.audio.endpointer.VoiceActivity."""

    def is_speech(self, frame: bytes) -> bool: ...


class SileroVad:
    """Silero VAD from the silero_vad.onnx shipped in the openwakeword 0.4.0 wheel (plain onnxruntime)."""

    def __init__(self, threshold: float = 0.5) -> None:
        import numpy as np
        import onnxruntime as ort

        from device.adapters.speech.openwakeword import models_dir

        options = ort.SessionOptions()
        options.enable_cpu_mem_arena = False
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._np = np
        self._session = ort.InferenceSession(str(models_dir() / "silero_vad.onnx"), sess_options=options,
                                             providers=["CPUExecutionProvider"])
        self.threshold = threshold
        self._rate = np.array(16000, dtype=np.int64)
        self._h = np.zeros((2, 1, 64), dtype=np.float32)
        self._c = np.zeros((2, 1, 64), dtype=np.float32)

    def is_speech(self, frame: bytes) -> bool:
        np = self._np
        x = np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32767
        scores = []
        for i in range(0, len(x), 640):  # 40 ms pieces, as openwakeword uses it
            out, self._h, self._c = self._session.run(None, {"input": x[None, i:i + 640], "h": self._h,
                                                             "c": self._c, "sr": self._rate})
            scores.append(float(out[0][0]))
        return sum(scores) / len(scores) >= self.threshold


class CascadeVad:
    """The cheap VAD first; the costly one only confirms frames the cheap one calls speech."""

    def __init__(self, first: VoiceActivity, then: VoiceActivity) -> None:
        self.first, self.then = first, then

    def is_speech(self, frame: bytes) -> bool:
        return self.first.is_speech(frame) and self.then.is_speech(frame)
