"""OpenAI Whisper base (multilingual, MIT) as a `TokenDecoder` for French.

The encoder runs in CTranslate2 (int8, one thread) on a 10 s window instead of Whisper's 30 s
(requests are short; the encoder costs in proportion to the window). The decoder runs here in
numpy on the same model.bin's weights, one token at a time for a batch of hypotheses, with a
key/value cache per hypothesis, because CTranslate2's `generate()` has no per-step hook for the
grammar-constrained search. Longer audio widens the window up to Whisper's 30 s; beyond 30 s only
the last 30 s are heard (a warning is logged).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.adapters.speech.ct2_weights import FormatError, load_variables
from device.adapters.speech.token_table import TokenTable
from device.adapters.speech.whisper_mel import HOP, SAMPLE_RATE, log_mel
from device.errors import ModelError

log = logging.getLogger(__name__)

PREPARE_COMMAND = "python -m device.prepare.whisper"
MAX_WINDOW_S = 30.0
N_HEADS = 8
MODEL_NAME = "whisper-base"
DEVICE_MODELS_DIR = Path("/opt/reorder/models")  # scripts/install.sh's models folder on a device


def default_model_dir() -> Path:
    """$REORDER_MODELS_DIR/whisper-base, else the installer's /opt/reorder/models/whisper-base when it is
    there, else ~/.local/share/reorder/models/whisper-base (where device.prepare.whisper puts it)."""
    env = os.environ.get("REORDER_MODELS_DIR")
    if env:
        return Path(env).expanduser() / MODEL_NAME
    device = DEVICE_MODELS_DIR / MODEL_NAME
    if (device / "model.bin").is_file():
        return device
    return Path.home() / ".local" / "share" / "reorder" / "models" / MODEL_NAME
FIRST_SPECIAL = 50257  # <|endoftext|>; every id from here on is a special or timestamp token


def _bytes_decoder() -> dict[str, int]:
    """GPT-2's printable-character stand-in for each byte ("Ġ" for a space), reversed."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars)}


def load_vocabulary(tokenizer_json: Path, size: int) -> tuple[list[bytes], dict[str, int]]:
    """Surface bytes of each of `size` token ids (b"" for specials) and the special tokens' ids."""
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    decode = _bytes_decoder()
    vocab = [b""] * size
    for piece, idx in data["model"]["vocab"].items():
        if idx < FIRST_SPECIAL:
            vocab[idx] = bytes(decode[c] for c in piece)
    specials = {t["content"]: t["id"] for t in data.get("added_tokens", [])}
    return vocab, specials


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * gamma + beta


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, erf by Abramowitz & Stegun 7.1.26 (error below 1.5e-7)."""
    z = np.abs(x) * np.float32(1 / np.sqrt(2))
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return (0.5 * x * (1.0 + erf)).astype(np.float32)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    return (shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))).astype(np.float32)


@dataclass(frozen=True)
class _Encoding:
    """One request's cross-attention keys and values, [layers][2][heads, frames, 64]."""

    cross: tuple[tuple[np.ndarray, np.ndarray], ...]


@dataclass(frozen=True)
class WhisperState:
    """One hypothesis: its request's encoding and its self-attention cache [layers, 2, heads, tokens, 64]."""

    encoding: _Encoding
    cache: np.ndarray

    @property
    def length(self) -> int:
        """Tokens decoded so far, prompt included."""
        return int(self.cache.shape[3])


class WhisperDecoder:
    """Whisper base decoding French (`<|startoftranscript|><|fr|><|transcribe|><|notimestamps|>`)."""

    name = "whisper"

    def __init__(self, model_dir: str | Path | None = None, *, language: str = "fr", window_s: float = 10.0,
                 threads: int = 1, compute_type: str = "int8", encoder_only: bool = True,
                 embeddings: str = "int8", matrices: str = "int8") -> None:
        """`window_s`: encoder window (s) for requests shorter than it; `compute_type`: CTranslate2's for the
        encoder; `encoder_only`: load CTranslate2 from DIR/encoder (no second copy of the decoder). The
        decoder runs in numpy. `embeddings`: "float32", or "int8" — the token table (also the output projection,
        106 MB as float32) held as int8 with one scale per token (27 MB), turned back into float32 a block of
        tokens at a time when used; the cross-attention key/value matrices (used once per request) likewise.
        `matrices`: the decoder layers' other matrices (89 MB as float32), "float32" or "int8" with one scale
        per output (22 MB), turned back into float32 512 KB of rows at a time when used (BENCHMARKS.md, "Whisper's
        decoder matrices in int8": what it costs per token and which decisions moved)."""
        for key, value in (("embeddings", embeddings), ("matrices", matrices)):
            if value not in ("float32", "int8"):
                raise ValueError(f"{key} must be 'float32' or 'int8' (got {value!r})")
        self.model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        if not 1.0 <= window_s <= MAX_WINDOW_S:
            raise ValueError(f"window_s must be between 1 and {MAX_WINDOW_S:g} seconds (got {window_s})")
        self.window_s = window_s
        model_bin = self.model_dir / "model.bin"
        how = f"run `{PREPARE_COMMAND} --out {self.model_dir}` (or scripts/install.sh on a device)"
        needed = [model_bin, self.model_dir / "tokenizer.json", self.model_dir / "encoder" / "model.bin"]
        if not all(path.is_file() for path in needed):
            raise ModelError(f"Whisper model not found in {self.model_dir} (needs model.bin, tokenizer.json and "
                             f"encoder/model.bin); {how}")
        try:
            # The embedding table doubles as the output projection ([V, 512]: a lookup reads a row). It is
            # read first and alone, as float16 when it is to be int8, so loading never holds it twice in float32.
            table_name, alias = "decoder/embeddings/weight", "decoder/projection/weight"
            _, tables = load_variables(model_bin, lambda n: n == table_name,
                                       dtype=np.float16 if embeddings == "int8" else np.float32)
            self._table = TokenTable(tables.pop(table_name), quantise=embeddings == "int8")
            del tables
            def layer(n: str) -> bool:
                return n.startswith("decoder/") and n not in (table_name, alias)

            def matrix(n: str) -> bool:
                return layer(n) and n.endswith("/weight") and "layer_norm" not in n

            # Read as float16 when they are to be int8, so loading never holds them all in float32.
            quantise = matrices == "int8"
            _, weights = load_variables(model_bin, matrix, dtype=np.float16 if quantise else np.float32)
            self._m: dict[str, TokenTable] = {}
            for key in list(weights):
                cross_kv = key.endswith("/attention/linear_1/weight")  # once per request: `embeddings` decides
                self._m[key[len("decoder/"):]] = TokenTable(weights.pop(key),
                                                            quantise=embeddings == "int8" if cross_kv else quantise)
            spec, rest = load_variables(model_bin, lambda n: layer(n) and not matrix(n))
            self._w = {key[len("decoder/"):]: value for key, value in rest.items()}
            vocab_size = self._table.weights.shape[0]
            self.vocabulary, specials = load_vocabulary(self.model_dir / "tokenizer.json", vocab_size)
            self.eos = specials["<|endoftext|>"]
            self.prompt = [specials["<|startoftranscript|>"], specials[f"<|{language}|>"],
                           specials["<|transcribe|>"], specials["<|notimestamps|>"]]
        except (OSError, FormatError, KeyError, ValueError) as exc:
            raise ModelError(f"Whisper model in {self.model_dir} is unreadable or incomplete ({exc}); "
                             f"delete the folder and {how}") from None
        if spec != "WhisperSpec":
            raise ModelError(f"{model_bin} is a {spec} model, not Whisper; delete the folder and {how}")
        self.n_layers = sum(1 for k in self._m if k.endswith("/self_attention/linear_0/weight"))
        try:
            import ctranslate2
        except ImportError:
            raise ModelError("Whisper's encoder needs CTranslate2, the [french] extra: pip install "
                             "'reorder-speaker[french]' (scripts/install.sh adds it for a fr-FR device)") from None
        try:
            encoder_dir = self.model_dir / "encoder" if encoder_only else self.model_dir
            self._encoder = ctranslate2.models.Whisper(str(encoder_dir), device="cpu", compute_type=compute_type,
                                                       intra_threads=threads, inter_threads=1)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"CTranslate2 cannot load {model_bin} ({exc}); delete the folder and {how}") from None
        self._ct2 = ctranslate2
        log.info("whisper: %s, %d decoder layers, %.0f s window", self.model_dir, self.n_layers, window_s)

    # ------------------------------------------------------------------ encoder

    def encode(self, audio: np.ndarray) -> np.ndarray:
        """Encoder output [frames, 512] for one request (16 kHz float32 mono)."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        seconds = len(audio) / SAMPLE_RATE
        if seconds > MAX_WINDOW_S:
            log.warning("whisper: %.1f s of audio; only the last %.0f s are decoded", seconds, MAX_WINDOW_S)
            audio = audio[-int(MAX_WINDOW_S * SAMPLE_RATE):]
            seconds = MAX_WINDOW_S
        window = max(self.window_s, np.ceil(seconds))
        n_samples = int(window * SAMPLE_RATE) // (2 * HOP) * (2 * HOP)
        features = log_mel(audio, n_samples)[None]
        out = self._encoder.encode(self._ct2.StorageView.from_array(np.ascontiguousarray(features)), to_cpu=True)
        return np.asarray(out, dtype=np.float32)[0]

    def _cross(self, hidden: np.ndarray) -> _Encoding:
        """Each layer's cross-attention keys and values from the encoder output."""
        layers = []
        for i in range(self.n_layers):
            p = f"layer_{i}/attention/linear_1/"
            kv = self._linear(hidden, p)
            k, v = np.split(kv, 2, axis=-1)
            layers.append((self._heads(k), self._heads(v)))
        return _Encoding(tuple(layers))

    @staticmethod
    def _heads(x: np.ndarray) -> np.ndarray:
        """[..., T, 512] -> [..., heads, T, 64]."""
        *lead, t, d = x.shape
        return np.ascontiguousarray(np.moveaxis(x.reshape(*lead, t, N_HEADS, d // N_HEADS), -2, -3))

    # ------------------------------------------------------------------ decoder

    def _step(self, encoding: _Encoding, tokens: np.ndarray, positions: np.ndarray, cache: np.ndarray,
              valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run new tokens [B, n] at `positions` [B, n] over `cache` [B, L, 2, H, T, 64] whose valid
        entries are `valid` [B, T]; returns logits of the last new token [B, V] and the new keys and values
        [B, L, 2, H, n, 64]."""
        w = self._w
        x = self._table.rows(tokens)
        x = x + w["position_encodings/encodings"][positions]
        b, n = tokens.shape
        t_past = cache.shape[4]
        causal = np.tril(np.ones((n, n), dtype=bool))
        allowed = np.concatenate([np.broadcast_to(valid[:, None, :], (b, n, t_past)),
                                  np.broadcast_to(causal, (b, n, n))], axis=2)
        mask = np.where(allowed, 0.0, -np.inf).astype(np.float32)[:, None]  # [B, 1, n, T+n]
        scale = np.float32(1 / np.sqrt(64))
        new_kv = np.empty((b, self.n_layers, 2, N_HEADS, n, 64), dtype=np.float32)
        for i in range(self.n_layers):
            p = f"layer_{i}/"
            h = _layer_norm(x, w[p + "self_attention/layer_norm/gamma"], w[p + "self_attention/layer_norm/beta"])
            qkv = self._linear(h, p + "self_attention/linear_0/")
            q, k, v = (self._heads(part) for part in np.split(qkv, 3, axis=-1))
            new_kv[:, i, 0], new_kv[:, i, 1] = k, v
            keys = np.concatenate([cache[:, i, 0], k], axis=2)
            values = np.concatenate([cache[:, i, 1], v], axis=2)
            scores = (q @ np.swapaxes(keys, -1, -2)) * scale + mask
            x = x + self._linear(self._merge(_softmax(scores) @ values), p + "self_attention/linear_1/")
            h = _layer_norm(x, w[p + "attention/layer_norm/gamma"], w[p + "attention/layer_norm/beta"])
            q = self._heads(self._linear(h, p + "attention/linear_0/"))
            ck, cv = encoding.cross[i]
            scores = (q @ np.swapaxes(ck, -1, -2)[None]) * scale
            x = x + self._linear(self._merge(_softmax(scores) @ cv[None]), p + "attention/linear_2/")
            h = _layer_norm(x, w[p + "ffn/layer_norm/gamma"], w[p + "ffn/layer_norm/beta"])
            h = _gelu(self._linear(h, p + "ffn/linear_0/"))
            x = x + self._linear(h, p + "ffn/linear_1/")
        last = _layer_norm(x[:, -1], w["layer_norm/gamma"], w["layer_norm/beta"])
        return self._table.project(last), new_kv

    def _linear(self, x: np.ndarray, prefix: str) -> np.ndarray:
        """x @ the matrix PREFIX+weight + PREFIX+bias."""
        return self._m[prefix + "weight"].project(x) + self._w[prefix + "bias"]

    @staticmethod
    def _merge(x: np.ndarray) -> np.ndarray:
        """[B, heads, n, 64] -> [B, n, 512]."""
        b, h, n, d = x.shape
        return np.moveaxis(x, 1, 2).reshape(b, n, h * d)

    def start(self, audio: np.ndarray) -> tuple[np.ndarray, WhisperState]:
        """Encode the request and run the prompt; log-probabilities of the first text token and the state."""
        encoding = self._cross(self.encode(audio))
        tokens = np.asarray([self.prompt])
        empty = np.zeros((1, self.n_layers, 2, N_HEADS, 0, 64), dtype=np.float32)
        logits, kv = self._step(encoding, tokens, np.arange(len(self.prompt))[None], empty,
                                np.zeros((1, 0), dtype=bool))
        return _log_softmax(logits)[0], WhisperState(encoding, kv[0])

    def advance(self, states: Sequence[WhisperState], tokens: Sequence[int]) -> tuple[np.ndarray, list[WhisperState]]:
        """Append one token to each hypothesis, batched per request; next-token log-probabilities [B, V]."""
        if len(states) != len(tokens):
            raise ValueError(f"advance: {len(states)} states but {len(tokens)} tokens")
        out = np.empty((len(states), len(self.vocabulary)), dtype=np.float32)
        new: list[WhisperState | None] = [None] * len(states)
        groups: dict[int, list[int]] = {}
        for i, state in enumerate(states):
            groups.setdefault(id(state.encoding), []).append(i)
        for members in groups.values():
            encoding = states[members[0]].encoding
            lengths = [states[i].length for i in members]
            t_max = max(lengths)
            cache = np.zeros((len(members), self.n_layers, 2, N_HEADS, t_max, 64), dtype=np.float32)
            valid = np.zeros((len(members), t_max), dtype=bool)
            for row, (i, length) in enumerate(zip(members, lengths)):
                cache[row, :, :, :, :length] = states[i].cache
                valid[row, :length] = True
            step_tokens = np.asarray([[tokens[i]] for i in members])
            logits, kv = self._step(encoding, step_tokens, np.asarray(lengths)[:, None], cache, valid)
            out[members] = _log_softmax(logits)
            for row, i in enumerate(members):
                grown = np.concatenate([states[i].cache, kv[row]], axis=3)
                new[i] = WhisperState(encoding, grown)
        return out, new  # type: ignore[return-value]

    def text(self, tokens: Sequence[int]) -> str:
        """The text spelled by token ids (specials spell nothing)."""
        return b"".join(self.vocabulary[t] for t in tokens).decode("utf-8", "replace").strip()


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def greedy_transcript(decoder: WhisperDecoder, audio: np.ndarray, max_tokens: int = 100) -> str:
    """Free greedy decoding of one request (specials other than end-of-text never chosen), as text."""
    logprobs, state = decoder.start(audio)
    tokens: list[int] = []
    for _ in range(max_tokens):
        allowed = logprobs.copy()
        allowed[FIRST_SPECIAL:] = -np.inf
        allowed[decoder.eos] = logprobs[decoder.eos]
        token = int(np.argmax(allowed))
        if token == decoder.eos:
            break
        tokens.append(token)
        batch, (state,) = decoder.advance([state], [token])
        logprobs = batch[0]
    return decoder.text(tokens)
