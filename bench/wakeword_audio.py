"""Audio for scripts/bench_wakeword.py: recordings decoded (libFLAC, sox), padded, mixed with noise, joined.

Everything is 16 kHz mono int16 and deterministic (sorted files, fixed seeds). Noise is mixed as
Picovoice's speech-to-intent benchmark does (its benchmark/mixer.py): the noise is scaled so that
the highest energy of a 2048-sample frame of speech over that of noise is the SNR, and the mix is
then normalised to a peak of half full scale. Nothing here imports the device package.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RATE = 16000
FRAME = 1280
AUDIO_SUFFIXES = (".flac", ".wav")
LEAD, TAIL = 1.0, 6.0
"""Silence before and after each positive recording (seconds): after a wake the device listens 5 s,
which must not reach into the next recording even when the wake came 1.5 s after the end."""
AFTER = 1.5
"""A wake counts for a recording from its start until this long after its end (seconds)."""


@dataclass
class Clip:
    """One recording as decoded, and whether the decoder reported damage (decoded to its end anyway)."""

    name: str
    samples: np.ndarray
    damaged: bool


def _to_16k(data: bytes, kind: str) -> np.ndarray:
    """Any audio sox reads from stdin (kind: "wav"), as 16 kHz mono int16."""
    done = subprocess.run(["sox", "-t", kind, "-", "-t", "raw", "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed",
                           "-"], input=data, capture_output=True, check=True)
    return np.frombuffer(done.stdout, dtype="<i2").copy()


def decode_ffmpeg(path: Path) -> np.ndarray | None:
    """FFmpeg's decoder through PyAV (the [bench] extra), as 16 kHz mono int16; None without PyAV. It keeps
    the samples of a FLAC frame whose checksum fails, where libFLAC drops the frame: 8 of the 9 damaged
    "alexa" recordings have the word back whole (libFLAC leaves 0.1-0.3 s holes in it)."""
    try:
        import av
    except ImportError:
        return None
    parts = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:  # a packet nothing can be made of: skipped, the rest kept
                continue
            for frame in frames:
                parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(parts).astype(np.int16) if parts else np.zeros(0, np.int16)


def read_flac(path: Path) -> tuple[np.ndarray, bool]:
    """A FLAC file decoded to its end (FFmpeg's decoder when PyAV is installed, else libFLAC's `flac -d -F`,
    where a frame it cannot decode becomes silence), as 16 kHz mono int16; and whether libFLAC reports
    errors (`flac -t`). sox drops damaged frames, which cut 9 of the 172 "alexa" recordings short."""
    test = subprocess.run(["flac", "-t", "--silent", str(path)], capture_output=True)
    damaged = test.returncode != 0 or b"ERROR" in test.stderr or b"error code" in test.stderr
    samples = decode_ffmpeg(path)
    if samples is not None:
        return samples, damaged
    done = subprocess.run(["flac", "-d", "-F", "-c", "--silent", str(path)], capture_output=True)
    if not done.stdout:
        raise SystemExit(f"bench_wakeword: libFLAC decodes nothing of {path} ({done.stderr.decode()[-200:]})")
    import io
    import wave

    with wave.open(io.BytesIO(done.stdout)) as w:
        native = (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        pcm = w.readframes(w.getnframes())
    return (np.frombuffer(pcm, dtype="<i2").copy() if native else _to_16k(done.stdout, "wav")), damaged


def flac_available() -> bool:
    import shutil

    return shutil.which("flac") is not None


def read_audio(path: Path) -> Clip:
    """A recording as 16 kHz mono int16: FLAC decoded to its end (read_flac) when Debian's `flac` is
    installed, else by sox; `damaged` when the decoder reports an error."""
    if path.suffix.lower() == ".flac" and flac_available():
        samples, damaged = read_flac(path)
        return Clip(path.name, samples, damaged)
    done = subprocess.run(["sox", "-V2", str(path), "-t", "raw", "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed",
                           "-"], capture_output=True, check=True)
    damaged = b"FAIL" in done.stderr or b"mismatch" in done.stderr
    return Clip(path.name, np.frombuffer(done.stdout, dtype="<i2").copy(), damaged)


def audio_files(folder: Path) -> list[Path]:
    """The audio files of a folder, sorted by name."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise SystemExit(f"bench_wakeword: no .flac or .wav files in {folder}")
    return files


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype=np.int16)


def pad_to_frames(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x, np.zeros((-len(x)) % FRAME, dtype=np.int16)]).astype(np.int16)


def frames_of(x: np.ndarray) -> list[bytes]:
    x = pad_to_frames(x)
    return [x[i:i + FRAME].tobytes() for i in range(0, len(x), FRAME)]


def max_frame_energy(x: np.ndarray, frame: int = 2048) -> float:
    n = len(x) // frame * frame
    if n == 0:
        return float((x.astype(np.float64) ** 2).sum())
    return float((x[:n].astype(np.float64).reshape(-1, frame) ** 2).sum(axis=1).max())


def mix(clip: np.ndarray, speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """clip + noise (as long as the clip), the noise scaled by the peak-frame SNR against `speech`; peak at 0.5."""
    noise = noise[: len(clip)].astype(np.float64)
    scale = np.sqrt(max_frame_energy(speech) / (max_frame_energy(noise) * 10 ** (snr_db / 10) + 1e-12))
    out = clip.astype(np.float64) + scale * noise
    out *= 0.5 * 32767 / (np.abs(out).max() + 1e-12)
    return np.clip(out, -32768, 32767).astype(np.int16)


def noisy(clip: np.ndarray, noise: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """One recording mixed with a stretch of the noise chosen by `seed`, by the peak-frame rule."""
    rng = np.random.default_rng(seed)
    start = int(rng.integers(0, max(1, len(noise) - len(clip))))
    return mix(clip, clip, np.resize(noise[start:], len(clip)), snr_db)


@dataclass
class Stream:
    """A continuous recording made of clips; windows[i] is where a wake counts as detecting clip i."""

    condition: str
    samples: np.ndarray
    windows: list[tuple[float, float]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    spans: list[tuple[float, float]] = field(default_factory=list)
    """Where each recording of a negative stream is (seconds)."""


def positive_stream(clips: list[Clip], condition: str, noise: np.ndarray | None = None, snr_db: float = 10.0,
                    seed: int = 10) -> Stream:
    """Each clip with LEAD s of silence before and TAIL s after, optionally mixed with noise, one after the other."""
    rng = np.random.default_rng(seed)
    parts, windows, pos = [], [], 0
    for clip in clips:
        padded = np.concatenate([silence(LEAD), clip.samples, silence(TAIL)])
        if noise is not None:
            start = int(rng.integers(0, max(1, len(noise) - len(padded))))
            padded = mix(padded, clip.samples, noise[start:start + len(padded)], snr_db)
        begin = pos / RATE + LEAD
        windows.append((begin, begin + len(clip.samples) / RATE + AFTER))
        parts.append(padded)
        pos += len(padded)
    return Stream(condition, pad_to_frames(np.concatenate(parts)), windows, [c.name for c in clips])


def negative_stream(clips: list[Clip], condition: str, gap: float = 0.5) -> Stream:
    """Recordings one after the other with `gap` s of silence between them (no wake word anywhere);
    `spans` say where each one is (to name the file of a false wake)."""
    parts, spans, pos = [], [], 0
    for clip in clips:
        parts += [clip.samples, silence(gap)]
        spans.append((pos / RATE, (pos + len(clip.samples)) / RATE))
        pos += len(clip.samples) + len(parts[-1])
    return Stream(condition, pad_to_frames(np.concatenate(parts)), labels=[c.name for c in clips], spans=spans)


def locate(stream: Stream, t: float) -> tuple[str, float]:
    """(file, seconds into it) of a moment of a stream; the nearest earlier file when between two."""
    spans = stream.spans or [(s - LEAD, e) for s, e in stream.windows]
    i = max((k for k, (s, _) in enumerate(spans) if s <= t), default=0)
    return (stream.labels[i] if stream.labels else stream.condition), round(t - spans[i][0], 2) if spans else t


def home_audio(clips: list[Clip], seconds: float, floor: np.ndarray, seed: int = 5) -> tuple[np.ndarray, float]:
    """A quiet home: real speech now and then (one clip every 15-60 s) over a noise floor; (samples, speech share)."""
    rng = np.random.default_rng(seed)
    parts, total, talk, i = [], 0, 0, 0
    while total < seconds * RATE:
        pause = silence(float(rng.uniform(15.0, 60.0)))
        x = clips[i % len(clips)].samples
        parts += [pause, x]
        total += len(pause) + len(x)
        talk += len(x)
        i += 1
    quiet = np.concatenate(parts)[: int(seconds * RATE)].astype(np.float64)
    mixed = quiet + np.resize(floor, len(quiet)).astype(np.float64)
    return pad_to_frames(np.clip(mixed, -32768, 32767).astype(np.int16)), talk / total


def flite_available() -> bool:
    import shutil

    return shutil.which("flite") is not None


def flite(cache: Path, text: str, voice: str, stretch: float) -> np.ndarray:
    """flite speech (Debian's flite: voices kal, kal16, awb, rms, slt), 16 kHz, silence trimmed."""
    out = cache / f"flite-{voice}-{stretch}-{text.replace(' ', '_')}.wav"
    if not out.exists():
        raw = cache / "flite-raw.wav"
        subprocess.run(["flite", "-voice", voice, "--setf", f"duration_stretch={stretch}", "-t", text, "-o", str(raw)],
                       check=True, capture_output=True)
        subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out)], check=True,
                       capture_output=True)
    from bench.corpus import read_wav, trim

    return trim(read_wav(out))
