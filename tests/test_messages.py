"""device/messages/*.toml: every language says everything, and a new language is one file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from device.dialogue.phrasebook import MESSAGES, phrasebook, phrasebooks
from device.dialogue.readback import message
from device.errors import ConfigError
from device.telemetry.stats import REASONS as DEVICE_REASONS

ROOT = Path(__file__).resolve().parents[1]
STORE_REASONS = ("not-in-catalog", "price-mismatch", "over-max-quantity", "total-mismatch", "currency-mismatch",
                 "invalid-order", "too-late", "unknown-order")
"""What the reference store answers (device/store/validation.py, device/store/backend.py)."""


def test_the_store_reasons_listed_here_are_the_stores():
    source = "\n".join(p.read_text() for p in (ROOT / "device" / "store").glob("*.py"))
    validation = (ROOT / "device" / "store" / "validation.py").read_text()
    returned = set(re.findall(r'return "([a-z]+(?:-[a-z]+)+)"', validation))
    assert returned <= set(STORE_REASONS)
    assert all(f'"{r}"' in source for r in STORE_REASONS)


@pytest.mark.parametrize("language", sorted(phrasebooks()))
def test_every_reason_is_said_in_words_in_every_language(language):
    book = phrasebooks()[language]
    for code in (*DEVICE_REASONS, *STORE_REASONS, "no-usual"):
        assert code in book.reasons, f"{language}.toml has no [reasons] {code}"
        assert code not in book.reasons[code]


def test_a_store_refusal_is_said_in_the_requests_language():
    fr = message("store-rejected", "fr-FR", reason="price-mismatch")
    assert fr == "Le magasin a refusé la commande : un prix a changé."
    assert message("store-rejected", "en-US", reason="too-late").endswith("it is too late to cancel.")
    assert message("store-rejected", "fr-FR", reason="something-new") == (
        "Le magasin a refusé la commande : pour une raison que je ne connais pas.")
    assert message("queued", "fr-FR") == "Commandé."
    assert message("accepted", "en-US") == "The store accepted your order."


def test_a_language_without_a_file_speaks_english():
    assert phrasebook("de-DE").language == "en"


def test_adding_a_language_is_adding_one_file(tmp_path):
    (tmp_path / "en.toml").write_text((MESSAGES / "en.toml").read_text())
    german = (MESSAGES / "en.toml").read_text().replace('language = "en"', 'language = "de"').replace(
        'voice = "en-us"', 'voice = "de"').replace('queued = "Ordered."', 'queued = "Bestellt."')
    (tmp_path / "de.toml").write_text(german)
    books = phrasebooks(tmp_path)
    assert books["de"].voice == "de" and books["de"].say("queued") == "Bestellt."


@pytest.mark.parametrize("edit, error", [
    (lambda s: s.replace('queued = "Ordered."\n', ""), r"has no \[phrases\] queued"),
    (lambda s: s.replace("{names}", "{nom}"), r"\[phrases\] again must use \{names\}"),
    (lambda s: s.replace('language = "en"', 'language = "it"'), "name it it.toml"),
    (lambda s: s.replace("[reasons]", "[raisons]"), "needs language, voice"),
])
def test_a_broken_messages_file_is_one_clear_line(tmp_path, edit, error):
    (tmp_path / "en.toml").write_text((MESSAGES / "en.toml").read_text())
    (tmp_path / "xx.toml").write_text(edit((MESSAGES / "en.toml").read_text().replace(
        'language = "en"', 'language = "xx"')))
    if "it.toml" in error:
        (tmp_path / "xx.toml").write_text(edit((MESSAGES / "en.toml").read_text()))
    with pytest.raises(ConfigError, match=error):
        phrasebooks(tmp_path)


def test_each_voice_is_an_espeak_ng_voice():
    """espeak-ng falls back to its default voice without a word, so the name is checked in its list."""
    rows = [line.split() for line in subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True,
                                                     check=True).stdout.splitlines()[1:]]
    names = {row[1] for row in rows} | {row[1].split("-")[0] for row in rows} | {row[4].split("/")[-1] for row in rows}
    for language, book in phrasebooks().items():
        assert book.voice in names, f"{language}.toml: voice {book.voice} is not an espeak-ng voice"
    assert "no-such-voice" not in names
