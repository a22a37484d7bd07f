"""Moonshine base-en as a TokenDecoder: the prepared model loads, hears real people, batches exactly.

Needs the model folder that `scripts/dev setup` prepares (adapters.moonshine_prepare from the
moonshine-cpp wheel of the test extra); the recordings are committed in tests/data/realspeech.
"""

from __future__ import annotations

import json
import re
import wave
from pathlib import Path

import numpy as np
import pytest

from device.adapters.speech.moonshine import (
    Moonshine,
    default_model_dir,
    greedy_tokens,
    greedy_transcript,
    read_vocabulary,
    trim_silence,
)
from device.errors import ModelError
from device.prepare import moonshine as moonshine_prepare

DATA = Path(__file__).parent / "data" / "realspeech"
LABELS = json.loads((DATA / "barista_labels.json").read_text(encoding="utf-8"))


def read_wav(path: Path) -> np.ndarray:
    """16-bit mono 16 kHz WAV as float32 in [-1, 1]."""
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower().replace("iced", "ice"))


@pytest.fixture(scope="module")
def decoder() -> Moonshine:
    return Moonshine()  # default_model_dir(); a ModelError here names the command that prepares it


@pytest.mark.parametrize("name", ["barista_light_roast_coffee.wav", "barista_medium_roast_iced_coffee.wav"])
def test_greedy_transcript_of_a_real_recording_has_the_words_said(decoder: Moonshine, name: str) -> None:
    text = greedy_transcript(decoder, read_wav(DATA / name))
    heard = words(text)
    for value in LABELS[name]["slots"].values():
        said = words(value)
        assert any(heard[i:i + len(said)] == said for i in range(len(heard))), (value, text)


def test_batched_advance_equals_one_hypothesis_at_a_time(decoder: Moonshine) -> None:
    """Exact for fp32 weights. int8 MatMuls quantise each activation tensor with one scale for the
    whole batch, so a hypothesis's scores move a little with its batch-mates: within 0.3 nats on the
    likely tokens (log-prob > -3), the same best token (measured: up to 0.22, see BENCHMARKS.md)."""
    audio = read_wav(DATA / "barista_light_roast_coffee.wav")
    exact = decoder.variant == "fp32"
    first, state = decoder.start(audio)
    assert first.shape == (len(decoder.vocabulary),) and first.dtype == np.float32
    assert np.isclose(np.exp(first).sum(), 1.0, atol=1e-4)
    top = [int(t) for t in np.argsort(first)[::-1][:4]]
    step1, states = decoder.advance([state] * 4, top)  # one state used by four hypotheses
    step2, _ = decoder.advance(states, [int(np.argmax(r)) for r in step1])
    for i, token in enumerate(top):
        alone1, (s,) = decoder.advance([state], [token])
        alone2, _ = decoder.advance([s], [int(np.argmax(step1[i]))])
        for batched, alone in ((step1[i], alone1[0]), (step2[i], alone2[0])):
            if exact:
                np.testing.assert_allclose(batched, alone, atol=2e-3)
            else:
                likely = alone > -3
                assert likely.any() and np.argmax(batched) == np.argmax(alone)
                np.testing.assert_allclose(batched[likely], alone[likely], atol=0.3)
    assert state.length == 1 and states[0].length == 2  # states are not mutated
    # the cross-attention cache stays at batch 1 (broadcast, not copied per hypothesis)
    assert len(states[0].request.cross) == 16 and all(c.shape[0] == 1 for c in states[0].request.cross)


def test_unused_ids_are_never_allowed_and_spell_nothing(decoder: Moonshine) -> None:
    first, _ = decoder.start(read_wav(DATA / "barista_medium_roast_iced_coffee.wav"))
    assert len(decoder.vocabulary) == 32768 and np.all(np.isneginf(first[32000:]))
    assert decoder.vocabulary[32000:] == [b""] * 768
    assert decoder.vocabulary[0] == decoder.vocabulary[1] == decoder.vocabulary[decoder.eos] == b""


def test_vocabulary_round_trips_the_huggingface_tokenizer(decoder: Moonshine) -> None:
    tokenizers = pytest.importorskip("tokenizers", reason="tokenizers is in the test extra")
    path = decoder.model_dir / "tokenizer.json"
    assert path.is_file(), f"{path} missing: scripts/dev setup installs moonshine-lite (its source)"
    tok = tokenizers.Tokenizer.from_file(str(path))
    for text in ["Can I have a light roast twelve ounce coffee?", "Make me an iced mocha, please.", "café crème"]:
        ids = tok.encode(text, add_special_tokens=False).ids
        spelled = b"".join(decoder.vocabulary[i] for i in ids).decode("utf-8")
        assert spelled == " " + text == " " + tok.decode(ids)
    assert decoder.vocabulary[tok.token_to_id("▁coffee")] == b" coffee"
    assert decoder.vocabulary[tok.token_to_id("<0xC3>")] == b"\xc3"


def test_greedy_stops_at_the_token_limit(decoder: Moonshine) -> None:
    assert len(greedy_tokens(decoder, read_wav(DATA / "barista_light_roast_coffee.wav"), limit=3)) == 3


def test_missing_model_folder_is_one_line_naming_it_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        Moonshine(tmp_path / "nowhere")
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "nowhere") in message and "device.prepare.moonshine" in message


def test_corrupt_model_file_is_one_line(tmp_path: Path) -> None:
    source = default_model_dir()
    for name in ("encoder.onnx", "tokenizer.bin"):
        (tmp_path / name).symlink_to(source / name)
    (tmp_path / "decoder.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError) as err:
        Moonshine(tmp_path)
    assert "\n" not in str(err.value) and str(tmp_path) in str(err.value) and "--force" in str(err.value)


def test_truncated_tokenizer_is_refused(tmp_path: Path) -> None:
    whole = (default_model_dir() / "tokenizer.bin").read_bytes()
    (tmp_path / "tokenizer.bin").write_bytes(whole[:997])  # ends on a piece boundary
    with pytest.raises(ModelError, match="tokens, expected 32000"):
        read_vocabulary(tmp_path / "tokenizer.bin")
    (tmp_path / "tokenizer.bin").write_bytes(whole[:1000])  # cut inside a piece
    with pytest.raises(ModelError, match="bad length"):
        read_vocabulary(tmp_path / "tokenizer.bin")


def test_prepared_folder_records_its_sources_and_is_current() -> None:
    folder = default_model_dir()
    meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    assert meta["license"] == "MIT" and meta["variant"] in moonshine_prepare.VARIANTS
    assert set(meta["source"]["files"]) == set(moonshine_prepare.SOURCE_FILES)
    assert moonshine_prepare.is_current(folder, meta["source"]["files"], meta["variant"])
    assert not moonshine_prepare.is_current(folder, {**meta["source"]["files"], "tokenizer.bin": "0" * 64},
                                            meta["variant"])


def test_a_folder_of_the_first_format_is_not_current_so_installs_prepare_it_again(tmp_path: Path) -> None:
    """The same sources prepared before the one-token step (schema /1): scripts/install.sh and scripts/dev setup ask
    is_current, so an upgrade rebuilds the folder instead of keeping a decoder the adapter refuses."""
    folder = default_model_dir()
    meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    assert meta["schema"] == moonshine_prepare.SCHEMA == "reorder.moonshine-model/2"
    for path in folder.iterdir():
        (tmp_path / path.name).symlink_to(path)
    (tmp_path / "model.json").unlink()
    (tmp_path / "model.json").write_text(json.dumps({**meta, "schema": "reorder.moonshine-model/1"}), encoding="utf-8")
    assert not moonshine_prepare.is_current(tmp_path, meta["source"]["files"], meta["variant"])


def test_prepare_refuses_a_folder_without_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert moonshine_prepare.main(["--from", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(tmp_path) in err and not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def first_format(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel's encoder and merged decoder converted as the first format prepared them (int8), converted once."""
    wheel = moonshine_prepare.installed_wheel_dir()
    if wheel is None:
        pytest.skip("moonshine-cpp is not installed (the test extra installs it): the exported decoder is its file")
    folder = tmp_path_factory.mktemp("first-format")
    moonshine_prepare.convert(wheel / "encoder_model.ort", folder / "encoder.onnx", "int8", folder)
    moonshine_prepare.convert(wheel / "decoder_model_merged.ort", folder / "decoder.onnx", "int8", folder)
    (folder / "tokenizer.bin").write_bytes((wheel / "tokenizer.bin").read_bytes())
    return folder


def merged_greedy(session, encoder, audio: np.ndarray, steps: int) -> list[tuple[int, float]]:
    """The exported merged decoder's greedy tokens and their log-probabilities (its own If branches, prompt then
    cache), as the adapter ran it before the one-token step."""
    hidden = encoder.run(None, {"input_values": audio[None, :]})[0]
    outputs = [o.name for o in session.get_outputs()]
    empty = np.zeros((1, 8, 0, 52), np.float32)
    cache = {f"past_key_values.{k}.{part}.{kv}": empty for k in range(8) for part in ("decoder", "encoder")
             for kv in ("key", "value")}
    token, use_cache, chosen = 1, False, []
    for _ in range(steps):
        out = dict(zip(outputs, session.run(outputs, {"input_ids": np.array([[token]], np.int64),
                                                       "encoder_hidden_states": hidden,
                                                       "use_cache_branch": np.array([use_cache]), **cache})))
        logits = out["logits"][0, -1, :32000].astype(np.float64)
        logp = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
        token = int(np.argmax(logp))
        chosen.append((token, float(logp[token])))
        if token == 2:
            break
        for name in list(cache):
            if use_cache is False or ".decoder." in name:
                cache[name] = out[name.replace("past_key_values", "present")]
        use_cache = True
    return chosen


def test_the_one_token_step_decodes_as_the_exported_decoder(decoder: Moonshine, first_format: Path) -> None:
    """prepare.moonshine_step rebuilds the exported decoder's with-cache branch; the wheel's own merged decoder,
    converted as preparation does, picks the same tokens on real recordings with the same log-probabilities to
    float rounding (log-softmax here in onnxruntime, there in numpy): the step keeps the export's order of
    operations where int8 activations depend on it (adapters.moonshine.UNFUSED). Without that, about one call
    in ten moved a score by up to ~0.5 nats."""
    ort = pytest.importorskip("onnxruntime")
    if decoder.variant != "int8":
        pytest.skip("compares with the int8 preparation")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    merged = ort.InferenceSession(str(first_format / "decoder.onnx"), options, providers=["CPUExecutionProvider"])
    encoder = ort.InferenceSession(str(first_format / "encoder.onnx"), options, providers=["CPUExecutionProvider"])
    for name in ("barista_light_roast_coffee.wav", "barista_medium_roast_iced_coffee.wav"):
        audio = read_wav(DATA / name)
        expected = merged_greedy(merged, encoder, trim_silence(audio), 40)
        logp, state = decoder.start(audio)
        got = []
        for _ in range(len(expected)):
            token = int(np.argmax(logp))
            got.append((token, float(logp[token])))
            rows, (state,) = decoder.advance([state], [token])
            logp = rows[0]
        assert [t for t, _ in got] == [t for t, _ in expected], name
        assert max(abs(a - b) for (_, a), (_, b) in zip(got, expected)) < 1e-3, (name, got, expected)


def test_a_folder_prepared_by_an_older_version_is_one_line_naming_the_fix(tmp_path: Path, first_format: Path) -> None:
    """A folder of the first preparation format (the merged decoder) is refused at load, not decoded wrongly."""
    source = default_model_dir()
    for name in ("encoder.onnx", "tokenizer.bin", "model.json"):
        (tmp_path / name).symlink_to(source / name)
    (tmp_path / "decoder.onnx").symlink_to(first_format / "decoder.onnx")
    with pytest.raises(ModelError) as err:
        Moonshine(tmp_path)
    message = str(err.value)
    assert "\n" not in message and str(tmp_path) in message and "older version" in message and "--force" in message


def test_a_decoder_laid_out_otherwise_is_one_line_at_preparation(tmp_path: Path) -> None:
    """Another export (a future moonshine-cpp) is refused with the version to prepare from, not a traceback."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from device.prepare import moonshine_step

    def branch(name: str):
        return helper.make_graph([helper.make_node("Identity", ["x"], [f"{name}_y"])], name, [],
                                 [helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, [1])])

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    past = helper.make_tensor_value_info("past_key_values.0.decoder.key", TensorProto.FLOAT, [1])
    flag = helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1])
    decoder = helper.make_model(helper.make_graph(
        [helper.make_node("If", ["use_cache_branch"], ["y"], then_branch=branch("then"), else_branch=branch("else"))],
        "decoder", [x, past, flag], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])]))
    encoder = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["last_hidden_state"])],
                                                  "encoder", [x], [helper.make_tensor_value_info(
                                                      "last_hidden_state", TensorProto.FLOAT, [1])]))
    models = {"encoder.onnx": encoder, "decoder.onnx": decoder}
    with pytest.raises(ModelError) as err:
        moonshine_step.rebuild(tmp_path / "encoder.onnx", tmp_path / "decoder.onnx", lambda p: models[p.name],
                               lambda model, p: onnx.save(model, str(p)))
    message = str(err.value)
    assert "\n" not in message and "decoder.onnx" in message and "moonshine-cpp==0.1.4" in message
    assert not (tmp_path / "encoder.onnx").exists()  # nothing half written


def test_a_folder_of_the_first_format_is_upgraded_in_place_without_preparing_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first_format: Path) -> None:
    """A device upgrading from the first format rebuilds only the step from its folder (a 1 GB board has no
    1.7 GB for converting the wheel again): the same files a fresh preparation writes."""
    wheel = moonshine_prepare.installed_wheel_dir()
    if wheel is None:
        pytest.skip("moonshine-cpp is not installed (the test extra installs it): the first format is built from it")
    fresh = default_model_dir()
    meta = json.loads((fresh / "model.json").read_text(encoding="utf-8"))
    if meta["variant"] != "int8":
        pytest.skip("compares with the int8 preparation")
    old = tmp_path / "moonshine-base-en"
    old.mkdir()
    for name in ("encoder.onnx", "decoder.onnx", "tokenizer.bin"):
        (old / name).write_bytes((first_format / name).read_bytes())
    files = {p.name: moonshine_prepare.sha256_of(p) for p in old.iterdir()}
    (old / "model.json").write_text(json.dumps({"schema": moonshine_prepare.FIRST_SCHEMA, "variant": "int8",
                                                "source": {"files": meta["source"]["files"]}, "files": files}))

    def no_conversion(*args: object) -> None:
        raise AssertionError("the wheel was converted again")

    monkeypatch.setattr(moonshine_prepare, "convert", no_conversion)
    assert moonshine_prepare.prepare(wheel, old) is True
    assert moonshine_prepare.is_current(old, meta["source"]["files"], "int8")
    for name in ("encoder.onnx", "decoder.onnx"):
        assert (old / name).read_bytes() == (fresh / name).read_bytes(), name
    Moonshine(old)  # loads: the one-token step
