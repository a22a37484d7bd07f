"""docs/household.md, docs/household.fr.md, docs/installer.md: what they say is what the device does.

The example sentences are parsed, the light table is checked against stages.indicator, the sound
table against the cues the loop plays, the wiring table against the default pins, and the doctor
lines quoted for troubleshooting are the doctor's own.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from device.adapters.audio.earcons import CUES
from device.config import ConfirmationSettings, GpioSettings
from device.confirmation.led import PATTERNS, Light
from device.confirmation.session import PRESS_GAP_SECONDS
from device.contract.catalogue import Catalogue
from device.dialogue.readback import line_text
from device.language.parser import IntentParser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CATALOG = ROOT / "device" / "samples" / "catalog.json"
GUIDES = {"en-US": DOCS / "household.md", "fr-FR": DOCS / "household.fr.md"}
COLOURS = {"en": {(0, 0, 0): "off", (1, 1, 1): "white", (0, 0, 1): "blue", (0, 1, 1): "cyan",
                  (1, 0.5, 0): "amber", (0, 1, 0): "green", (1, 0, 0): "red", (0.6, 0, 1): "purple"},
           "fr": {(0, 0, 0): "éteinte", (1, 1, 1): "blanc", (0, 0, 1): "bleu", (0, 1, 1): "cyan",
                  (1, 0.5, 0): "orange", (0, 1, 0): "vert", (1, 0, 0): "rouge", (0.6, 0, 1): "violet"}}


def describe(light: Light, language: str) -> str:
    """A pattern in words, as the guide's light table gives it."""
    colour = COLOURS[language][light.color]
    if language == "fr":
        return _describe_fr(light, colour)
    if light.color == (0, 0, 0):
        return colour
    if light.mode == "blink":
        return f"{colour}, blinking ({light.on_seconds:g} s on, {light.off_seconds:g} s off)"
    if light.mode == "pulse":
        return f"{colour}, pulsing ({light.on_seconds:g} s)"
    return f"solid {colour}"


def _describe_fr(light: Light, colour: str) -> str:
    def s(x: float) -> str:
        return f"{x:g}".replace(".", ",")

    if light.color == (0, 0, 0):
        return colour
    if light.mode == "blink":
        return f"{colour}, clignote ({s(light.on_seconds)} s allumée, {s(light.off_seconds)} s éteinte)"
    if light.mode == "pulse":
        return f"{colour}, pulse ({s(light.on_seconds)} s)"
    return f"{colour}, fixe"


def section(text: str, marker: str) -> str:
    """The text between <!-- marker --> and <!-- /marker -->."""
    found = re.search(rf"<!-- {marker} -->\n(.*?)<!-- /{marker} -->", text, re.S)
    assert found, f"no <!-- {marker} --> section"
    return found.group(1)


def rows(table: str) -> list[list[str]]:
    """The cells of a markdown table's body rows."""
    lines = [line for line in table.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


@pytest.mark.parametrize("locale", GUIDES)
def test_every_example_sentence_means_what_the_guide_says(locale):
    catalogue = Catalogue.load(CATALOG)
    parser = IntentParser(catalogue, locale)
    language = locale.split("-")[0]
    examples = rows(section(GUIDES[locale].read_text(), "examples"))
    assert len(examples) >= 8
    actions = set()
    for said, meaning, *_ in examples:
        text = said.strip("«»\"“” ")
        intent = parser.parse(text)
        actions.add(intent.action)
        expected = meaning.strip("*")
        if intent.action == "reorder":
            heard = ", ".join(line_text(i, catalogue, language) for i in intent.items)
            assert heard == expected, (text, intent)
        else:
            assert expected.startswith({"usual": "↻", "cancel": "✗", "none": "—"}[intent.action]), (text, intent)
    assert actions == {"reorder", "usual", "cancel", "none"}


@pytest.mark.parametrize("locale", GUIDES)
def test_the_light_table_is_the_indicators(locale):
    language = locale.split("-")[0]
    table = {row[0].strip("`"): row[1] for row in rows(section(GUIDES[locale].read_text(), "lights"))}
    assert set(table) == set(PATTERNS)
    for state, light in PATTERNS.items():
        assert table[state] == describe(light, language), state


@pytest.mark.parametrize("locale", GUIDES)
def test_the_sound_table_names_every_sound_the_loop_plays(locale):
    played = set(re.findall(r'_cue\("(\w+)"\)', (ROOT / "device" / "loop.py").read_text()))
    listed = {row[0].strip("`") for row in rows(section(GUIDES[locale].read_text(), "sounds"))}
    assert played <= listed <= set(CUES) | {"speech"}


@pytest.mark.parametrize("locale", GUIDES)
def test_the_gestures_give_the_default_times(locale):
    text = section(GUIDES[locale].read_text(), "gestures").replace(",", ".")
    c = ConfirmationSettings()
    for seconds in (c.long_press_seconds, c.undo_seconds, c.timeout_seconds, PRESS_GAP_SECONDS):
        assert f"{seconds:g} s" in text, seconds


def test_the_wiring_table_gives_the_default_pins():
    wiring = {row[0]: row for row in rows(section((DOCS / "installer.md").read_text(), "wiring"))}
    g = GpioSettings()
    for key in ("confirm_button", "red", "green", "blue"):
        assert f"BCM {getattr(g, key)}" in wiring[f"`{key}`"][1], key
    assert "`mute_button`" in wiring
    assert {f.name for f in dataclasses.fields(GpioSettings)} >= {k.strip("`") for k in wiring}


def test_the_troubleshooting_lines_are_the_doctors_own(tmp_path):
    from device.config import from_mapping
    from device.doctor.network import check_broker, check_catalogue

    quoted = [line for line in section((DOCS / "installer.md").read_text(), "doctor").splitlines()
              if re.match(r"^[✓✗!] \w", line)]
    names = {"config", "microphone", "speaker", "wake word", "recogniser", "licences", "GPIO", "clock", "broker",
             "outbox", "catalogue", "counters"}
    assert quoted and all(line[2:].split(":")[0] in names for line in quoted)
    source = f"config file {tmp_path}/device.toml"
    settings = from_mapping({"device": {"id": "kitchen-01"}, "mqtt": {"broker": "mqtt://127.0.0.1:1"},
                             "storage": {"outbox": str(tmp_path / "outbox.sqlite3")}}, source)
    real = [check_broker(settings, timeout=2).line(), check_catalogue(settings, ask_broker=False).line()]
    for line in real:
        line = line.replace(f"{tmp_path}/device.toml", "/etc/reorder/device.toml").replace(str(tmp_path),
                                                                                           "/var/lib/reorder")
        assert line in quoted, line


def test_the_readme_links_the_guides():
    readme = (ROOT / "README.md").read_text()
    for name in ("docs/household.md", "docs/household.fr.md", "docs/installer.md"):
        assert f"]({name})" in readme
