"""openWakeWord 0.4.0's scorer without the openwakeword package: three ONNX files, plain onnxruntime.

`import openwakeword` pulls in scipy and scikit-learn (for custom verifier models the device never
uses) and its sessions keep onnxruntime's memory arenas; on a 512 MB Pi Zero 2 W that is most of
the memory budget. This module loads the same ONNX files shipped in the openwakeword wheel
(melspectrogram, embedding_model and the keyword model) in onnxruntime sessions with the arena
off and one thread, and reproduces openwakeword's streaming feature pipeline
(utils.AudioFeatures._streaming_features and model.Model.predict) step for step, so its scores
are the library's scores (tests/test_oww_lite.py checks them to 1e-3; they agree to ~1e-6).

The one deliberate difference: reset() forgets the buffered audio features too, as the
WakeWordEngine protocol asks. openwakeword's Model.reset() clears only its score history, so
after a pause in feeding (listening, read-back) the stale features of the last "hey jarvis" can
fire again as soon as the five warm-up frames are over. After reset() this scorer is exactly a
freshly built openwakeword Model.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import numpy as np

from device.errors import ModelError

log = logging.getLogger(__name__)

BUNDLED = ("hey_jarvis", "alexa", "hey_mycroft", "hey_marvin", "timer", "weather")
FRAME_SAMPLES = 1280
"""openWakeWord consumes 80 ms frames of 16 kHz int16 audio."""
MEL_CONTEXT = 160 * 3
"""Samples of the previous frame the melspectrogram of a new frame also looks at."""
MEL_WINDOW = 76
"""Melspectrogram frames per embedding (0.76 s)."""
MEL_MAX = 10 * 97
"""Melspectrogram frames kept (~10 s), as openwakeword."""
FEATURES_MAX = 120
"""Embeddings kept (~10 s), as openwakeword."""
WARM_UP = 5
"""Scores forced to 0 after start or reset while the score history fills, as openwakeword."""


MODEL_NAME = "openwakeword-0.4.0"
"""The models/manifest.json entry (the wheel's model files, sha256-checked) scripts/install.sh installs."""
FETCH = (f"on a device: sudo scripts/install.sh --only model (with [wake] engine = \"openwakeword\"); elsewhere: "
         f"python3 scripts/model_fetch.py --name {MODEL_NAME} --dest ~/.local/share/reorder/models, "
         f"or pip install openwakeword==0.4.0 (the [bench] extra)")


def models_dir() -> Path:
    """Where the feature and keyword models are: the manifest's folder ($REORDER_MODELS_DIR, /opt/reorder/models,
    ~/.local/share/reorder/models), else an installed openwakeword wheel's resources/models (found, not imported)."""
    roots = [Path(os.environ["REORDER_MODELS_DIR"]).expanduser()] if os.environ.get("REORDER_MODELS_DIR") else []
    roots += [Path("/opt/reorder/models"), Path.home() / ".local" / "share" / "reorder" / "models"]
    for root in roots:
        if (root / MODEL_NAME / "melspectrogram.onnx").is_file():
            return root / MODEL_NAME
    spec = importlib.util.find_spec("openwakeword")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"openWakeWord's model files are not installed; {FETCH}")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "models"


def model_path(keyword: str) -> Path:
    """The .onnx file for a bundled model name or a path."""
    if keyword.endswith(".onnx"):
        path = Path(keyword).expanduser()
    elif keyword not in BUNDLED:
        raise ModelError(f"[wake] keyword {keyword!r} is not an openWakeWord model; use one of "
                         f"{', '.join(BUNDLED[:3])} or a path to an .onnx file")
    else:
        path = models_dir() / f"{keyword}_v0.1.onnx"
    if not path.is_file():
        raise ModelError(f"openWakeWord model {path} is missing; {FETCH}")
    return path


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = False
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own error types for a broken model
        raise ModelError(f"openWakeWord model {path} cannot be loaded ({exc})") from None


class OpenWakeWordLite:
    """One openWakeWord model scored frame by frame, with openwakeword's own numbers and ~1/4 of its memory."""

    name = "openwakeword"
    default_threshold = 0.5
    """openwakeword's own default."""

    def __init__(self, keyword: str = "hey_jarvis") -> None:
        path = model_path(keyword)
        shared = models_dir()  # the feature models every openWakeWord keyword model is trained on
        self._mel = _session(shared / "melspectrogram.onnx")
        self._embed = _session(shared / "embedding_model.onnx")
        self._model = _session(path)
        inp = self._model.get_inputs()[0]
        self._input_name, self._n_features = inp.name, int(inp.shape[1])
        self.keyword = keyword if not keyword.endswith(".onnx") else path.stem
        # openwakeword starts its feature buffer with the embeddings of 10 s of digital silence.
        self._blank = self._embeddings_of(np.zeros(160000, dtype=np.int16))
        self.reset()

    # -- openwakeword's AudioFeatures, for 1280-sample frames --------------------------------------
    def _melspectrogram(self, samples: np.ndarray) -> np.ndarray:
        spec = self._mel.run(None, {"input": samples.astype(np.float32)[None, :]})[0]
        return np.squeeze(spec) / 10 + 2  # openwakeword's transform towards Google's TF features

    def _embeddings_of(self, samples: np.ndarray) -> np.ndarray:
        """openwakeword's AudioFeatures._get_embeddings: one embedding per 8 melspectrogram frames."""
        spec = self._melspectrogram(samples).astype(np.float32)
        starts = [i for i in range(0, spec.shape[0], 8) if spec[i:i + MEL_WINDOW].shape[0] == MEL_WINDOW]
        if np.all(spec == spec[0]):  # silence: every window is the same, so embed one and repeat it
            one = self._embed.run(None, {"input_1": spec[None, :MEL_WINDOW, :, None]})[0].reshape(1, -1)
            return np.repeat(one, len(starts), axis=0)
        # One window at a time: a batch of 116 windows costs ~200 MB of peak memory in onnxruntime.
        return np.vstack([self._embed.run(None, {"input_1": spec[None, i:i + MEL_WINDOW, :, None]})[0].reshape(1, -1)
                          for i in starts])

    def reset(self) -> None:
        """Forget all buffered audio and scores: afterwards this is a freshly loaded model."""
        self._raw = np.zeros(0, dtype=np.int16)
        self._mels = np.ones((MEL_WINDOW, 32), dtype=np.float32)
        self._features = self._blank.copy()
        self._scored = 0

    def score(self, frame: bytes) -> float:
        """Score (0-1) of the wake word ending in this 80 ms frame (16 kHz int16)."""
        x = np.frombuffer(frame, dtype="<i2")
        if len(x) != FRAME_SAMPLES:
            raise ValueError(f"openWakeWord frames are {FRAME_SAMPLES} samples, got {len(x)}")
        self._raw = np.concatenate([self._raw, x])[-(FRAME_SAMPLES + MEL_CONTEXT):]
        self._mels = np.vstack([self._mels, self._melspectrogram(self._raw)])[-MEL_MAX:]
        window = self._mels[-MEL_WINDOW:].astype(np.float32)[None, :, :, None]
        embedding = self._embed.run(None, {"input_1": window})[0].squeeze()
        self._features = np.vstack([self._features, embedding])[-FEATURES_MAX:]
        features = self._features[-self._n_features:][None].astype(np.float32)
        value = float(self._model.run(None, {self._input_name: features})[0][0][0])
        self._scored += 1
        return value if self._scored > WARM_UP else 0.0
