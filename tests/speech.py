"""Test speech made with espeak-ng and sox: phrases, silences and noise joined into one WAV."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Sequence, Union

Part = Union[tuple[str, str], tuple[str, float]]
DATA = Path(__file__).resolve().parent / "data" / "wakeword"


WAKE_WORDS = {phrase: DATA / f"{phrase.replace(' ', '_')}-flite-rms.wav" for phrase in ("okay nabu", "hey jarvis")}
"""The wake phrases tests say: flite's rms voice (made once with Debian's flite 2.2 as scripts/make-samples
does, committed). "okay nabu" is the default word; microWakeWord does not hear espeak-ng's "hey jarvis"
(BENCHMARKS.md, "Wake words": 13/60, measured by `git show cce96cb:bench/bench_wakeword.py`); openWakeWord hears
both."""
WAKE_WORD = WAKE_WORDS["okay nabu"]
"""The default wake word, as tests say it."""


def synth(out_dir: Path, text: str, voice: str = "en-us", speed: int = 165) -> Path:
    """espeak-ng speech for `text`, 16 kHz mono 16-bit (cached by content). A wake phrase ("okay nabu",
    "hey jarvis") is its WAKE_WORDS recording, padded with silence to the length espeak-ng's would have
    had (never cut), so what follows it stays in place."""
    said = espeak(out_dir, text, voice, speed)
    wake = WAKE_WORDS.get(" ".join(text.lower().split()))
    if wake is None:
        return said
    out = out_dir / f"wake-{said.stem}.wav"
    if not out.exists():
        def samples(path: Path) -> int:
            return int(subprocess.run(["soxi", "-s", str(path)], check=True, capture_output=True, text=True).stdout)

        length = max(samples(said), samples(wake))  # never cut the word itself
        subprocess.run(["sox", "-R", str(wake), str(out), "pad", "0", "5", "trim", "0", f"{length}s"], check=True)
    return out


def espeak(out_dir: Path, text: str, voice: str, speed: int) -> Path:
    """espeak-ng speech for `text` as it is, 16 kHz mono 16-bit (cached by content; bench/corpus.py says it too)."""
    key = hashlib.sha1(f"{voice}|{speed}|{text}".encode()).hexdigest()[:16]
    out = out_dir / f"say-{key}.wav"
    if not out.exists():
        raw = out_dir / f"raw-{key}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True)
        subprocess.run(["sox", "-R", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)], check=True)
        raw.unlink()
    return out


def silence(out_dir: Path, seconds: float) -> Path:
    """A 16 kHz mono silence of that length."""
    out = out_dir / f"silence-{seconds:.3f}.wav"
    if not out.exists():
        subprocess.run(["sox", "-R", "-n", "-r", "16000", "-c", "1", "-b", "16", str(out), "trim", "0", f"{seconds}"],
                       check=True)
    return out


def compose(out_dir: Path, parts: Sequence[Part], voice: str = "en-us", speed: int = 165,
            noise_db: float | None = None) -> Path:
    """Join ("speech", text) and ("silence", seconds) parts; optionally add white noise at `noise_db` dBFS."""
    files = [synth(out_dir, str(v), voice, speed) if kind == "speech" else silence(out_dir, float(v))
             for kind, v in parts]
    key = hashlib.sha1(("|".join(map(str, files)) + f"|{noise_db}").encode()).hexdigest()[:16]
    out = out_dir / f"clip-{key}.wav"
    if not out.exists():
        joined = out_dir / f"joined-{key}.wav"
        subprocess.run(["sox", "-R", *map(str, files), str(joined)], check=True)
        if noise_db is None:
            joined.rename(out)
        else:
            noise = out_dir / f"noise-{key}.wav"
            length = subprocess.run(["soxi", "-D", str(joined)], check=True, capture_output=True, text=True).stdout
            subprocess.run(["sox", "-R", "-n", "-r", "16000", "-c", "1", "-b", "16", str(noise), "synth",
                            length.strip(), "whitenoise", "vol", f"{noise_db}dB"], check=True)
            subprocess.run(["sox", "-R", "-m", str(joined), str(noise), str(out)], check=True)
    return out


def duration(path: Path) -> float:
    """Length of a WAV file in seconds."""
    out = subprocess.run(["soxi", "-D", str(path)], check=True, capture_output=True, text=True).stdout
    return float(out)
