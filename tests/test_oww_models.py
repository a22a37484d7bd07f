"""openWakeWord's model files come through models/manifest.json (the wheel's files as data), not the package."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from device.adapters.speech import openwakeword
from device.errors import ModelError

ROOT = Path(__file__).resolve().parents[1]
ENTRY = next(m for m in json.loads((ROOT / "models" / "manifest.json").read_text())["models"]
             if m["name"] == openwakeword.MODEL_NAME)
WHEEL_MODELS = None
if importlib.util.find_spec("openwakeword"):
    WHEEL_MODELS = Path(next(iter(importlib.util.find_spec("openwakeword").submodule_search_locations))) / \
        "resources" / "models"


@pytest.mark.skipif(WHEEL_MODELS is None, reason="the openwakeword wheel (the bench/test extra) is not installed")
def test_the_manifest_checks_every_file_the_scorer_loads_with_the_wheels_own_digest():
    for keyword in openwakeword.BUNDLED:
        assert f"{keyword}_v0.1.onnx" in ENTRY["file_sha256"]
    for name, digest in ENTRY["file_sha256"].items():
        assert ENTRY["files"][name] == [f"openwakeword/resources/models/{name}"]
        assert hashlib.sha256((WHEEL_MODELS / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.skipif(WHEEL_MODELS is None, reason="the openwakeword wheel (the bench/test extra) is not installed")
def test_the_installed_folder_is_used_before_any_package(tmp_path, monkeypatch):
    folder = tmp_path / openwakeword.MODEL_NAME
    folder.mkdir()
    for name in ("melspectrogram.onnx", "embedding_model.onnx", "hey_jarvis_v0.1.onnx"):
        shutil.copyfile(WHEEL_MODELS / name, folder / name)
    monkeypatch.setenv("REORDER_MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # as on a device: no openwakeword package
    assert openwakeword.models_dir() == folder
    assert openwakeword.model_path("hey_jarvis") == folder / "hey_jarvis_v0.1.onnx"
    assert openwakeword.OpenWakeWordLite("hey_jarvis").score(b"\0" * 2560) == 0.0  # loads and scores


def test_without_the_files_the_error_says_how_to_fetch_them(tmp_path, monkeypatch):
    monkeypatch.setenv("REORDER_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(openwakeword, "Path", _NoDevicePath)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError) as err:
        openwakeword.OpenWakeWordLite("hey_jarvis")
    assert "model_fetch.py --name openwakeword-0.4.0" in str(err.value) and "install.sh --only model" in str(err.value)


class _NoDevicePath(type(Path())):
    """pathlib.Path, except that this machine's /opt/reorder/models is not looked at."""

    def is_file(self) -> bool:
        return not str(self).startswith("/opt/reorder/") and super().is_file()
