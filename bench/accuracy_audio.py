"""Speech and noise for the accuracy benchmark: espeak-ng requests after "hey jarvis", babble and white
noise mixed at a chosen SNR against the speech's active level."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np

from bench import accuracy_templates as templates
from bench.corpus import RATE, speak

SPEECH_LEVEL = 10 ** (-26.0 / 20)
"""Speech level of every clip (active level, -26 dBFS): a plausible microphone level."""
VOICES = {"en-US": ("en-us", "en-us+m1", "en-us+m3", "en-us+f2", "en-us+f3"),
          "fr-FR": ("fr", "fr-be", "fr-ch", "fr+m3", "fr+f2")}
OTHER_ACCENTS = ("en-gb", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-gb+f3")
"""English as British, Scottish and Caribbean households say it, heard by the en-US recogniser: measured
apart (clean), since the targets are for en-US speech."""
ACCENTS_LABEL = "en (other accents)"
WAKE_VOICE = {"fr-FR": "en-gb"}
"""The wake phrase is English; French requests have it said by an English voice."""
BABBLE = (
    "The meeting has been moved to Thursday afternoon because of the train strike.",
    "Scientists say the new telescope will see further into the early universe than ever before.",
    "She walked along the river until the lights of the town disappeared behind the hills.",
    "Traffic on the northern ring road is slow this morning after an earlier accident.",
    "The museum opens a new exhibition about the history of printing next week.",
    "He could not remember where he had left the umbrella, so he bought another one.",
    "Local elections will be held in May, and turnout is expected to be higher than usual.",
    "The recipe calls for a slow oven and plenty of patience.",
    "Our team scored twice in the second half and held on for a narrow win.",
    "Engineers are still inspecting the bridge after last night's storm.",
    "Le conseil municipal a voté le nouveau budget après un long débat.",
    "Il a plu toute la journée sur la côte atlantique.",
    "Les spectateurs ont applaudi pendant dix minutes à la fin du concert.",
    "La bibliothèque sera fermée pendant les travaux de rénovation.",
    "Nous avons marché jusqu'au sommet avant le coucher du soleil.",
    "The children painted the fence while their grandparents watched from the porch.",
)
BABBLE_VOICES = ("en-us", "en-gb", "en-us+f2", "en-gb-x-rp", "en-029", "fr", "fr+f2")


def synth(cache: Path, text: str, voice: str, speed: int) -> np.ndarray:
    """espeak-ng speech as float samples at 16 kHz, untrimmed (bench/corpus.py makes and caches it)."""
    return speak(cache, text, voice, speed, trimmed=False).astype(np.float64) / 32768


def active_level(x: np.ndarray) -> float:
    """RMS over the 20 ms frames within 30 dB of the loud ones (speech, not the pauses)."""
    n = len(x) // 320
    frames = np.sqrt(np.mean(x[: n * 320].reshape(n, 320) ** 2, axis=1))
    loud = np.percentile(frames, 95)
    return float(np.sqrt(np.mean(frames[frames >= loud * 10 ** (-30 / 20)] ** 2)))


@dataclasses.dataclass
class Clip:
    """A request's speech: silences, "hey jarvis", a pause, the request, and a tail, at -26 dBFS."""

    samples: np.ndarray
    voice: str
    speed: int


def make_clip(cache: Path, request: templates.Request, rng: random.Random, voices: tuple[str, ...] = ()) -> Clip:
    """The request said by one of `voices` (else the locale's) at a random speed, after "hey jarvis"."""
    voice, speed = rng.choice(voices or VOICES[request.locale]), rng.randint(140, 190)
    wake = synth(cache, "hey jarvis", WAKE_VOICE.get(request.locale, voice), speed)
    said = synth(cache, request.text, voice, speed)
    gain = SPEECH_LEVEL / active_level(np.concatenate([wake, said]))
    pause = rng.uniform(0.3, 0.7)
    # The tail lets the endpointer run to its 8 s limit in noise, as a live microphone would.
    tail = max(2.0, 8.6 - pause - len(said) / RATE)
    z = lambda s: np.zeros(int(s * RATE))  # noqa: E731
    return Clip(np.concatenate([z(0.6), wake, z(pause), said, z(tail)]) * gain, voice, speed)


def make_babble(cache: Path, seconds: float, talkers: int, seed: int) -> np.ndarray:
    """Several espeak-ng talkers reading unrelated sentences, summed (normalised to RMS 1)."""
    rng = random.Random(f"{seed}:babble")
    pool = [synth(cache, s, rng.choice(BABBLE_VOICES), rng.randint(150, 185)) for s in BABBLE]
    mix = np.zeros(int(seconds * RATE))
    for _ in range(talkers):
        stream: list[np.ndarray] = [np.zeros(int(rng.uniform(0, 2) * RATE))]
        while sum(map(len, stream)) < len(mix):
            stream += [rng.choice(pool), np.zeros(int(rng.uniform(0.1, 0.5) * RATE))]
        talker = np.concatenate(stream)[: len(mix)]
        mix += talker / np.sqrt(np.mean(talker ** 2))
    return mix / np.sqrt(np.mean(mix ** 2))


def noisy(clip: Clip, noise: str, snr: float | None, babble: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The clip with noise at `snr` dB below its speech level (None: clean), as int16 (clipped)."""
    samples = clip.samples
    if snr is not None:
        n = len(samples)
        if noise == "white":
            part = rng.standard_normal(n)
        else:
            start = int(rng.integers(0, len(babble) - n))
            part = babble[start:start + n]
        samples = samples + part / np.sqrt(np.mean(part ** 2)) * SPEECH_LEVEL / 10 ** (snr / 20)
    return (np.clip(samples, -1, 32767 / 32768) * 32768).astype(np.int16)
