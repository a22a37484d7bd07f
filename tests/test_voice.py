"""stages.voice: sounds play in turn, and the microphone is deaf until they end (audio time)."""

from __future__ import annotations

from device.audio.voice import Voice
from device.fakes import TimedSpeaker


def test_sounds_queue_one_after_another_and_the_device_is_deaf_meanwhile():
    events, speaker = [], TimedSpeaker()
    v = Voice(speaker, "en-US", speak=True, emit=events.append)
    assert v.cue("listen", t=1.0) == 1.5
    assert v.say("Two milk", t=1.0) == 3.5  # starts when the cue ends
    assert v.deaf(3.4) and not v.deaf(3.5)
    assert v.say("Press the button.", t=10.0) == 12.0  # silence in between is not counted
    assert speaker.said == ["cue:listen", "en-US:Two milk", "en-US:Press the button."]
    assert [(e.t, e.text, e.seconds) for e in events] == [(1.0, "Two milk", 2.0), (10.0, "Press the button.", 2.0)]


def test_with_speech_off_the_words_are_still_reported_and_take_no_time():
    events, speaker = [], TimedSpeaker()
    v = Voice(speaker, "en-US", speak=False, emit=events.append)
    assert v.say("Ordered.", t=4.0) == 4.0 and not v.deaf(4.0)
    assert speaker.said == [] and [e.seconds for e in events] == [0.0]
