"""Config: defaults that work on a laptop, the example file, and one clear line for every mistake."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from device import config
from device.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "firmware_config" / "device.example.toml"


def test_defaults_are_the_contracts_laptop_defaults(monkeypatch):
    monkeypatch.delenv(config.CONFIG_ENV, raising=False)
    monkeypatch.setattr(config, "DEFAULT_CONFIG_PATHS", ())
    s = config.load()
    assert s.wake.engine == "microwakeword" and s.wake.words() == config.DEFAULT_KEYWORDS and s.wake.vad_gate
    assert s.recognizer.engine == "auto" and s.device.locale == "en-US"
    assert s.mqtt.broker == "mqtt://127.0.0.1:1883" and s.mqtt.topic_prefix == "reorder/v1"
    assert s.device.id and all(c.isalnum() or c in "-_" for c in s.device.id)
    assert s.confirmation.timeout_seconds == 15 and s.recognizer.end_silence_seconds <= 0.6


def test_model_threads_default_to_two_on_four_cores_and_one_below():
    auto = config.RecognizerSettings()
    assert auto.threads == 0
    assert [auto.model_threads(cores) for cores in (1, 2, 3, 4, 8)] == [1, 1, 1, 2, 2]
    assert auto.model_threads() in (1, 2)  # this machine's cores
    assert config.RecognizerSettings(threads=3).model_threads(8) == 3  # a number is taken as it is


def test_example_file_loads_and_documents_every_key():
    s = config.load(EXAMPLE)
    assert s.device.id == "kitchen-01"
    data = tomllib.loads(EXAMPLE.read_text())
    text = EXAMPLE.read_text()
    for name, cls in config.SECTIONS.items():
        keys = {f.name for f in dataclasses.fields(cls)}
        assert set(data[name]) == keys, f"[{name}] in the example differs from the settings"
        rows = text.splitlines()
        section = rows.index(f"[{name}]")
        for key in keys:  # every key has a comment line right above it (or above its group)
            line = next(i for i, row in enumerate(rows) if i > section and row.startswith(f"{key} ="))
            above = text.splitlines()[line - 1]
            assert above.startswith("#") or above.split("=")[0].strip() in keys, f"{key} has no comment"


@pytest.mark.parametrize("toml, message", [
    ("[wake]\nthreshold = 'high'\n", "[wake] threshold in config file"),
    ("[wake]\nthreshold = 1.5\n", "[wake] threshold in config file"),
    ("[wake]\nengine = 'snowboy'\n", "must be one of microwakeword, openwakeword, porcupine"),
    ("[wake]\nthreshhold = 0.5\n", "unknown key [wake] threshhold"),
    ("[wakeword]\nthreshold = 0.5\n", "unknown section [wakeword]"),
    ("[mqtt]\nbroker = 'http://x'\n", "[mqtt] broker"),
    ("[mqtt]\nbroker = 'mqtt://host:99999'\n", "bad port"),
    ("[device]\nid = 'kitchen 01'\n", "[device] id"),
    ("[device]\nlocale = 'de-DE'\n", "must be one of en-US, fr-FR"),
    ("[gpio]\nconfirm_button = 0\n", "every order needs a press"),
    ("[gpio]\nred = 17\n", "must all differ"),
    ("[confirmation]\nspeak = 'yes'\n", "must be true or false"),
    ("[storage]\noutbox_capacity = 0\n", "at least 1"),
    ("[recognizer]\nthreads = -1\n", "[recognizer] threads in config file"),
    ("wake = 3\n", "must be a table"),
    ("[wake\n", "not valid TOML"),
])
def test_each_mistake_is_one_line_naming_key_and_file(tmp_path, toml, message):
    path = tmp_path / "device.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    if "TOML" not in message:
        assert str(path) in str(err.value)


def test_a_retired_key_of_an_older_file_is_ignored_with_a_warning_not_refused(tmp_path, caplog):
    path = tmp_path / "device.toml"
    path.write_text("[audio]\nblock_seconds = 0.08\ninput_device = 'USB'\n")
    settings = config.load(path)
    assert settings.audio.input_device == "USB" and not hasattr(settings.audio, "block_seconds")
    assert any("block_seconds" in r.getMessage() and str(path) in r.getMessage() and r.levelname == "WARNING"
               for r in caplog.records)
    with pytest.raises(ConfigError, match="unknown key"):  # a typo is still refused
        config.from_mapping({"audio": {"block_second": 0.08}}, "test")


def test_missing_file_says_where_the_template_is(tmp_path):
    with pytest.raises(ConfigError, match="device.example.toml"):
        config.load(tmp_path / "none.toml")


def test_flags_override_the_file_and_are_validated(tmp_path):
    path = tmp_path / "device.toml"
    path.write_text("[device]\nid = 'hall'\nlocale = 'fr-FR'\n")
    s = config.override(config.load(path), {("device", "locale"): "en-US", ("mqtt", "broker"): "mqtt://10.0.0.2:1883"})
    assert s.device.id == "hall" and s.device.locale == "en-US" and s.mqtt.broker.endswith(":1883")
    with pytest.raises(ConfigError, match="command-line flags must"):
        config.override(s, {("device", "id"): "bad id!"})


def test_the_command_line_prints_one_line_and_exits_2(tmp_path):
    path = tmp_path / "device.toml"
    path.write_text("[recognizer]\nmin_confidence = 2\n")
    done = subprocess.run([sys.executable, "-m", "device", "replay", "x.wav", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "[recognizer] min_confidence" in done.stderr
    assert "Traceback" not in done.stderr
    bad_flag = subprocess.run([sys.executable, "-m", "device", "replay", "x.wav", "--locale", "de"],
                              capture_output=True, text=True, timeout=60)
    assert bad_flag.returncode == 2 and bad_flag.stderr.count("\n") == 1 and "Traceback" not in bad_flag.stderr


@pytest.mark.parametrize("argv, hint", [
    (["--bogus"], "see `reorder --help`"),
    ([], "see `reorder --help`"),
    (["replay", "x.wav", "--bogus"], "see `reorder replay --help`"),
    (["replay", "x.wav", "--locale", "de"], "see `reorder replay --help`"),
    (["parse", "milk"], "see `reorder parse --help`"),
])
def test_a_bad_flag_names_the_help_of_its_own_command(capsys, argv, hint):
    from device.__main__ import main

    with pytest.raises(SystemExit) as done:
        main(argv)
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.count("\n") == 1 and hint in err and "reorder reorder" not in err
