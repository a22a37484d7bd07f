"""adapters.tts: the voice of each language, speech rate and volume from [audio]."""

from __future__ import annotations

import numpy as np
import pytest

from device import config
from device.adapters.audio.earcons import tone
from device.adapters.audio.tts import EspeakSpeaker
from device.errors import ConfigError


def test_speech_rate_changes_how_long_the_words_take():
    slow, fast = EspeakSpeaker(play=False, rate=120), EspeakSpeaker(play=False, rate=300)
    text = "The store accepted your order."
    assert fast.say(text, "en-US") < 0.7 * slow.say(text, "en-US")


def test_volume_scales_every_sound():
    quiet, loud = EspeakSpeaker(play=False, volume=50), EspeakSpeaker(play=True, volume=100)
    played: list[np.ndarray] = []
    for speaker in (quiet, loud):
        speaker._queue.put = lambda item, out=played: out.append(item[0])  # what would be played
        speaker.play = True
        speaker._player = object()  # no playback thread in a test
        speaker.cue("confirmed")
    peak = np.abs(tone("confirmed").astype(np.int32)).max()
    assert np.abs(played[1].astype(np.int32)).max() == peak
    assert abs(np.abs(played[0].astype(np.int32)).max() - peak / 2) <= 1


def test_french_is_said_in_the_french_voice():
    speaker = EspeakSpeaker(play=False)
    fr, _ = speaker.render("Commandé.", "fr-FR")
    en, _ = speaker.render("Commandé.", "en-US")
    assert len(fr) != len(en)


@pytest.mark.parametrize("key, value", [("speech_rate", 40), ("speech_rate", 900), ("volume", 0), ("volume", 300)])
def test_rate_and_volume_are_checked(key, value):
    with pytest.raises(ConfigError, match=f"\\[audio\\] {key}"):
        config.from_mapping({"audio": {key: value}}, "test")
