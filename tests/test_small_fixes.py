"""Small things found by reading (issue 21), each checked here: the root logger after model preparation, the
exit code of a missing recording, one exception root, and wall clocks given to the outbox and the runner."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from device.adapters.speech.ct2_weights import FormatError
from device.doctor.network import BrokerProblem
from device.errors import ReorderError
from device.prepare.whisper import PrepareError


def test_preparing_moonshine_leaves_the_root_loggers_level_as_it_was(tmp_path):
    onnx = pytest.importorskip("onnx")  # the [prepare] extra
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from device.prepare.moonshine import quantize_matmuls

    weight = numpy_helper.from_array(np.ones((4, 3), dtype=np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], [weight])
    src = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(src))
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.INFO)
    try:
        quantize_matmuls(src, tmp_path / "q.onnx")
        assert root.level == logging.INFO
        assert (tmp_path / "q.onnx").stat().st_size > 0
    finally:
        root.setLevel(before)


def test_replaying_a_missing_recording_is_bad_input_exit_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "device", "replay", str(tmp_path / "missing.wav")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.wav" in lines[0] and "Traceback" not in done.stderr


@pytest.mark.parametrize("error", [PrepareError("x"), BrokerProblem("what", "fix"), FormatError("x")])
def test_every_error_a_person_may_see_has_the_one_root(error):
    assert isinstance(error, ReorderError)


def test_the_outbox_takes_its_clock(tmp_path):
    from device.orders.outbox import Outbox

    stamp = datetime(2026, 12, 6, 9, 30, tzinfo=timezone.utc)
    outbox = Outbox(tmp_path / "o.sqlite3", now=lambda: stamp)
    try:
        order = {"order_id": "a" * 32, "device_id": "d", "created_at": "2026-12-06T09:00:00Z", "items": []}
        outbox.add(order)
        assert outbox.mark_sent(order["order_id"])
        sent_at = outbox._db.execute("SELECT sent_at FROM orders").fetchone()[0]
        assert sent_at == "2026-12-06T09:30:00Z"
    finally:
        outbox.close()
    Path(tmp_path / "bad.sqlite3").write_bytes(b"not a database, not at all" * 100)
    aside = Outbox(tmp_path / "bad.sqlite3", now=lambda: stamp)
    try:
        assert aside.recovered_from is not None and aside.recovered_from.name.endswith("corrupt-20261206T093000")
    finally:
        aside.close()


def test_replay_paces_itself_by_the_clock_it_is_given(tmp_path):
    """A replay with 3 s of linger runs in no wall time on a clock whose sleep only moves it on."""
    from device import config
    from device.adapters.audio.wav_source import WavSource
    from device.app import build, sample_path
    from device.runner import PressPlan, run_replay

    class Clock:
        def __init__(self) -> None:
            self.now, self.slept = 0.0, 0.0

        def monotonic(self) -> float:
            return self.now

        def sleep(self, seconds: float) -> None:
            self.now += seconds
            self.slept += seconds

    wav = tmp_path / "silence.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(wav), "trim", "0", "1"], check=True)
    settings = config.from_mapping({"device": {"id": "kitchen-01"}, "gpio": {"pin_factory": "mock"},
                                    "mqtt": {"broker": "mqtt://127.0.0.1:9"},
                                    "recognizer": {"engine": "pocketsphinx"},
                                    "storage": {"outbox": str(tmp_path / "o.sqlite3"),
                                                "catalog": str(sample_path("catalog.json"))}}, "test")
    device = build(settings, WavSource(wav), lambda e: None, play_audio=False)
    clock = Clock()
    try:
        run_replay(device, PressPlan(), linger=3.0, clock=clock)
    finally:
        device.close(flush_seconds=0)
    assert clock.slept >= 3.0 and device.loop.t >= 4.0


def test_the_cli_keeps_one_malloc_arena_unless_the_environment_says(monkeypatch):
    """The recogniser's worker thread would otherwise allocate in an arena of its own (+20-30 MB at the peak)."""
    import platform

    from device.__main__ import few_malloc_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert few_malloc_arenas() is False
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert few_malloc_arenas() is (platform.libc_ver()[0] == "glibc")
