"""Licences: LICENSE and NOTICE.md are there and true to the installed models; the doctor names each model's licence."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from device import config
from device.adapters.speech import microwakeword, openwakeword
from device.doctor.licences import check_licences
from device.doctor.model_licences import RECOGNISERS, WAKE

ROOT = Path(__file__).resolve().parents[1]
NOTICE = (ROOT / "NOTICE.md").read_text(encoding="utf-8")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def settings(**wake) -> config.Settings:
    return config.from_mapping({"wake": wake, "recognizer": {"engine": "pocketsphinx"}}, "test.toml")


def test_the_project_licence_is_the_full_apache_2_text():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize("name", microwakeword.BUNDLED)
def test_notice_has_the_checksum_of_each_installed_microwakeword_model(name):
    assert sha256(microwakeword.models_dir() / f"{name}.tflite") in NOTICE


@pytest.mark.parametrize("name", ["hey_jarvis_v0.1", "alexa_v0.1", "hey_mycroft_v0.1", "melspectrogram",
                                  "embedding_model"])
def test_notice_has_the_checksum_of_each_openwakeword_model_it_runs(name):
    assert sha256(openwakeword.models_dir() / f"{name}.onnx") in NOTICE


def test_notice_names_every_licence_the_doctor_can_print():
    for entry in [*WAKE.values(), *RECOGNISERS.values()]:
        assert entry.licence.split(" (")[0] in NOTICE, entry
    assert "CC BY-NC-SA 4.0" in NOTICE and "non-commercial" in NOTICE


def test_doctor_passes_with_microwakeword_and_names_every_licence():
    result = check_licences(settings(engine="microwakeword"))
    assert result.status == "pass", result.line()
    assert result.detail == ("wake word: microWakeWord okay_nabu model (Apache-2.0); recogniser: "
                             "pocketsphinx en-US model (BSD-2-Clause); voice: espeak-ng voices (GPL-3.0-or-later)")


def test_doctor_warns_that_openwakeword_models_are_non_commercial():
    result = check_licences(settings(engine="openwakeword", keyword="alexa"))
    assert result.status == "warn"
    assert "openWakeWord alexa pretrained model (CC BY-NC-SA 4.0)" in result.detail
    assert "may not be used commercially" in result.detail and 'engine = "microwakeword"' in result.fix


def test_doctor_asks_to_check_porcupine_terms_and_an_own_model():
    porcupine = check_licences(settings(engine="porcupine", keyword="jarvis"))
    assert porcupine.status == "warn" and "Picovoice terms" in porcupine.detail and "check the terms" in porcupine.fix
    own = check_licences(settings(engine="microwakeword", keyword="/models/mine.json"))
    assert own.status == "warn" and "/models/mine.json" in own.detail
