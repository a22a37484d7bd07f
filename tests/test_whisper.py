"""Whisper base as a TokenDecoder for French: the prepared model, real French speech, batching, vocabulary."""

from __future__ import annotations

import json
import wave
import zipfile
from pathlib import Path

import numpy as np
import pytest

from device.adapters.speech.ct2_weights import names
from device.adapters.speech.whisper import FIRST_SPECIAL, WhisperDecoder, greedy_transcript
from device.errors import ModelError
from device.prepare import whisper as whisper_prepare

REALSPEECH = Path(__file__).parent / "data" / "realspeech"


def read_wav(path: Path) -> np.ndarray:
    """16 kHz mono 16-bit WAV as float32 in [-1, 1]."""
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768


@pytest.fixture(scope="module")
def model_dir() -> Path:
    """The model folder, assembled from the `test` extra's packages if it is not there yet."""
    return whisper_prepare.prepare(whisper_prepare.default_model_dir())


@pytest.fixture(scope="module")
def decoder(model_dir: Path) -> WhisperDecoder:
    return WhisperDecoder(model_dir)


def test_prepare_is_idempotent_and_verified(model_dir: Path) -> None:
    before = (model_dir / "model.bin").stat().st_mtime_ns
    assert whisper_prepare.is_prepared(model_dir)
    assert whisper_prepare.main(["--out", str(model_dir), "--quiet"]) == 0
    assert (model_dir / "model.bin").stat().st_mtime_ns == before
    marker = json.loads((model_dir / "PROVENANCE.json").read_text())
    assert marker["model.bin sha256"] == whisper_prepare.MODEL_SHA256
    assert "MIT" in marker["license"]
    encoder_only = set(names(model_dir / "encoder" / "model.bin"))
    assert "encoder/conv1/weight" in encoder_only and "decoder/layer_1/ffn/linear_0/weight" not in encoder_only


def test_prepare_refuses_parts_with_the_wrong_checksum(tmp_path: Path) -> None:
    wheels = []
    for i, package in enumerate(whisper_prepare.PACKAGES, 1):
        wheel = tmp_path / f"{package}-1.0.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as z:
            z.writestr(f"{package}/data/model.bin.part{i}", b"not the model")
            if i == 1:
                for name in whisper_prepare.SIDE_FILES:
                    z.writestr(f"{package}/data/{name}", b"{}")
        wheels.append(wheel)
    with pytest.raises(whisper_prepare.PrepareError, match="sha256"):
        whisper_prepare.prepare(tmp_path / "out", wheels)
    assert not (tmp_path / "out" / "model.bin").exists()


def test_prepared_model_loads(decoder: WhisperDecoder) -> None:
    assert decoder.name == "whisper"
    assert decoder.eos == 50257
    assert decoder.prompt == [50258, 50265, 50359, 50363]  # <|startoftranscript|><|fr|><|transcribe|><|notimestamps|>
    assert len(decoder.vocabulary) == 51865
    logprobs, _ = decoder.start(np.zeros(16000, dtype=np.float32))
    assert logprobs.shape == (51865,) and logprobs.dtype == np.float32
    assert np.isclose(np.logaddexp.reduce(logprobs), 0.0, atol=1e-3)


@pytest.mark.parametrize("wav, words", [("fr_01.wav", ["allume", "lumière"]),
                                         ("fr_05.wav", ["allume", "lumière", "chambre"])])
def test_greedy_transcript_of_real_french_speech(decoder: WhisperDecoder, wav: str, words: list[str]) -> None:
    text = greedy_transcript(decoder, read_wav(REALSPEECH / wav)).lower()
    for word in words:
        assert word in text, text


def test_batched_advance_equals_one_at_a_time(decoder: WhisperDecoder) -> None:
    _, root = decoder.start(read_wav(REALSPEECH / "fr_01.wav"))
    la_token = decoder.vocabulary.index(b" la")
    _, (longer,) = decoder.advance([root], [la_token])  # a hypothesis one token longer than root
    tokens = [la_token, 13, 400]
    batched, new = decoder.advance([root, longer, root], tokens)
    assert batched.shape == (3, 51865)
    for row, (state, token) in enumerate(zip([root, longer, root], tokens)):
        single, (one,) = decoder.advance([state], [token])
        np.testing.assert_allclose(batched[row], single[0], atol=2e-4)
        assert new[row].length == state.length + 1 == one.length
        np.testing.assert_allclose(new[row].cache, one.cache, atol=2e-4)
    assert root.length == len(decoder.prompt)  # states are not mutated


def test_vocabulary_bytes_spell_the_tokenizers_text(decoder: WhisperDecoder, model_dir: Path) -> None:
    tokenizers = pytest.importorskip("tokenizers")  # in the test extra; only the test compares against it
    tok = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    for text in [" allume la lumière", " éteins le rez-de-chaussée à 80%", " d'entrée", " œufs"]:
        ids = tok.encode(text, add_special_tokens=False).ids
        assert b"".join(decoder.vocabulary[i] for i in ids).decode("utf-8") == text
        assert decoder.text(ids) == tok.decode(ids).strip()
    assert all(decoder.vocabulary[i] == b"" for i in range(FIRST_SPECIAL, len(decoder.vocabulary)))
    assert decoder.vocabulary[tok.token_to_id("Ġla")] == b" la"


def test_missing_model_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        WhisperDecoder(tmp_path / "nowhere")
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "nowhere") in message
    assert "python -m device.prepare.whisper" in message


def test_corrupt_model_is_one_clear_line(tmp_path: Path, model_dir: Path) -> None:
    (tmp_path / "encoder").mkdir()
    with open(model_dir / "model.bin", "rb") as f:
        (tmp_path / "model.bin").write_bytes(f.read(4096))  # cut short inside the first big variable
    (tmp_path / "encoder" / "model.bin").write_bytes(b"")
    (tmp_path / "tokenizer.json").write_text((model_dir / "tokenizer.json").read_text())
    with pytest.raises(ModelError) as info:
        WhisperDecoder(tmp_path)
    message = str(info.value)
    assert "\n" not in message and str(tmp_path) in message and "unreadable" in message


def test_int8_token_table_is_within_a_quantisation_step_of_float32() -> None:
    from device.adapters.speech.token_table import TokenTable

    rng = np.random.default_rng(3)
    table = rng.normal(0, 0.05, (3000, 512)).astype(np.float32)  # [tokens, width], a row per token
    exact, small = TokenTable(table.copy(), quantise=False), TokenTable(table.copy(), quantise=True)
    assert small.weights.dtype == np.int8 and small.weights.nbytes * 4 == exact.weights.nbytes
    assert small.block < 3000  # several blocks of rows, so the blocks' seams are checked too
    x = rng.normal(0, 1, (3, 512)).astype(np.float32)
    assert np.allclose(exact.project(x), x @ table.T, atol=1e-4)
    step = np.abs(table).max(axis=1) / 127  # one quantisation step per token
    bound = (np.abs(x).sum(axis=1, keepdims=True) * step / 2) + 1e-4
    assert (np.abs(small.project(x) - exact.project(x)) <= bound).all()
    tokens = np.array([[0, 2999, 17]])
    assert np.abs(small.rows(tokens) - exact.rows(tokens)).max() <= step.max() / 2 + 1e-6
    assert small.project(x).shape == (3, 3000) and small.rows(tokens).shape == (1, 3, 512)
    stacked = x.reshape(3, 1, 512)  # [batch, tokens, width], as the decoder's layers call it
    assert np.array_equal(small.project(stacked)[:, 0], small.project(x))


def test_int8_token_table_hears_the_same_french(model_dir: Path, decoder: WhisperDecoder) -> None:
    small = WhisperDecoder(model_dir, embeddings="int8")
    for wav in ("fr_01.wav", "fr_05.wav"):
        audio = read_wav(REALSPEECH / wav)
        assert greedy_transcript(small, audio) == greedy_transcript(decoder, audio)


def test_without_ctranslate2_the_error_names_the_french_extra(model_dir: Path, monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_ct2(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "ctranslate2":
            raise ImportError("No module named 'ctranslate2'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ct2)
    with pytest.raises(ModelError, match=r"\[french\]") as err:
        WhisperDecoder(model_dir)
    assert "\n" not in str(err.value)
