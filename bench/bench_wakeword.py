"""Wake-word benchmark: every model on real recordings (clean and in kitchen noise), false wakes, CPU, memory.

BENCHMARKS.md's wake-word sections show the commands. Every model of the measured words (--positives DIR:WORD) runs
as the device builds it for that one word (device.app.make_wake_detector), all on the same audio, taking turns every
2 s of it (CPU is main-thread time). Positives play clean and mixed with NOISE (the barista benchmark's kitchen
noise) at --snr dB, negatives (--negatives folders, --synthetic-hours of espeak-ng talk) as long streams;
BENCHMARKS.md says how wakes are counted. "together" is all the words in one detector, as `[wake] keywords` runs them.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from bench import common, corpus
from bench.corpus import FRAME, RATE, frames_of, pad_to_frames, silence
from bench import wakeword_report as report

REFRACTORY = 2.0
LISTEN = 5.0
"""After a wake the device listens (the wake word is fed silence) until nobody has spoken for 5 s
([recognizer] no_speech_seconds), then holds off: a wake during that time cannot happen."""
LEAD, TAIL = 1.0, 6.0
"""Silence before and after each positive recording (seconds): after a wake the device listens 5 s,
which must not reach into the next recording even when the wake came 1.5 s after the end."""
AFTER = 1.5
"""A wake counts for a recording from its start until this long after its end (seconds)."""
PEAK = 0.5  # a noisy mix is normalised to half full scale
SILENT_FRAME = bytes(2 * FRAME)
OWW_WORDS = ("alexa", "hey_jarvis", "hey_mycroft")
NOISE = common.ROOT.parent / "shared" / "data" / "barista" / "kitchen_noise.flac"
log = common.logger("bench_wakeword")


@dataclass
class Clip:
    """One recording as decoded, and whether the decoder reported damage (decoded to its end anyway)."""

    name: str
    samples: np.ndarray
    damaged: bool


def read_audio(path: Path) -> Clip:
    """A recording as 16 kHz mono int16 (by sox, FLAC by FFmpeg through PyAV: it keeps the samples of a frame whose
    checksum fails, where libFLAC drops the frame and sox cuts the file short), `damaged` if `flac -t` reports errors
    (8 of the 9 damaged "alexa" recordings have the word back whole)."""
    if path.suffix.lower() != ".flac":
        return Clip(path.name, corpus.sox_read(path), False)
    import av

    test = subprocess.run(["flac", "-t", "--silent", str(path)], capture_output=True)
    parts = []
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        for packet in container.demux(container.streams.audio[0]):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:  # a packet nothing can be made of: skipped, the rest kept
                continue
            for frame in frames:
                parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    samples = np.concatenate(parts).astype(np.int16) if parts else np.zeros(0, np.int16)
    return Clip(path.name, samples, test.returncode != 0 or b"ERROR" in test.stderr or b"error code" in test.stderr)


def folder_clips(folder: Path, short: bool) -> list[Clip]:
    """A folder's recordings, sorted by name (the first 12 with --short)."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".flac", ".wav"))
    if not files:
        raise SystemExit(f"bench_wakeword: no .flac or .wav files in {folder}")
    return [read_audio(p) for p in (files[:12] if short else files)]


def noisy(clip: np.ndarray, noise: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """One recording mixed with a stretch of the noise chosen by `seed`, by the peak-frame rule."""
    start = int(np.random.default_rng(seed).integers(0, max(1, len(noise) - len(clip))))
    return corpus.peak_mix(clip, noise, snr_db, start, PEAK).astype(np.int16)


@dataclass
class Stream:
    """A continuous recording made of clips: where each one starts (seconds) and, of positives, windows[i] where a
    wake counts as detecting clip i."""

    condition: str
    samples: np.ndarray
    windows: list[tuple[float, float]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)


def positive_stream(clips: list[Clip], condition: str, noise: np.ndarray | None = None, snr_db: float = 10.0,
                    seed: int = 10) -> Stream:
    """Each clip with LEAD s of silence before and TAIL s after, optionally mixed with noise, one after the other."""
    rng = np.random.default_rng(seed)
    parts, windows, starts, pos = [], [], [], 0
    for clip in clips:
        padded = np.concatenate([silence(LEAD), clip.samples, silence(TAIL)])
        if noise is not None:
            start = int(rng.integers(0, max(1, len(noise) - len(padded))))
            # the SNR is the recording's own (its peak frame against the noise), not that of the padded stretch
            own = snr_db + 10 * np.log10(corpus.max_frame_energy(padded) / corpus.max_frame_energy(clip.samples))
            padded = corpus.peak_mix(padded, noise, own, start, PEAK).astype(np.int16)
        begin = pos / RATE + LEAD
        windows.append((begin, begin + len(clip.samples) / RATE + AFTER))
        starts.append(begin - LEAD)
        parts.append(padded)
        pos += len(padded)
    return Stream(condition, pad_to_frames(np.concatenate(parts)), windows, [c.name for c in clips], starts)


def negative_stream(clips: list[Clip], condition: str, gap: float = 0.5) -> Stream:
    """Recordings one after the other with `gap` s of silence between them (no wake word anywhere)."""
    parts, starts, pos = [], [], 0
    for clip in clips:
        parts += [clip.samples, silence(gap)]
        starts.append(pos / RATE)
        pos += len(clip.samples) + len(parts[-1])
    return Stream(condition, pad_to_frames(np.concatenate(parts)), labels=[c.name for c in clips], starts=starts)


def locate(stream: Stream, t: float) -> tuple[str, float]:
    """(file, seconds into it) of a moment of a stream; the nearest earlier file when between two."""
    if not stream.starts:
        return stream.condition, t
    i = max((k for k, start in enumerate(stream.starts) if start <= t), default=0)
    return stream.labels[i], round(t - stream.starts[i], 2)


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


class Arm:
    """One engine for one word as the device runs it (or all `keywords` in one detector), fed stream after stream;
    every score of its first word is kept (for threshold sweeps)."""

    def __init__(self, engine: str, keywords: list[str], name: str = "") -> None:
        from device import config
        from device.app import make_wake_detector

        settings = config.from_mapping({"wake": {"engine": engine, "keywords": keywords}}, "scripts/bench_wakeword.py")
        self.engine, self.keyword, self.label = engine, keywords[0], name or f"{engine} {keywords[0]}"
        self.detector = make_wake_detector(settings)
        self.threshold = self.detector.threshold
        self.scores: list[float] = []
        first: Any = self.detector.engine
        score = first.score

        def recorded(frame: bytes) -> float:
            value = float(score(frame))
            self.scores.append(value)
            return value

        first.score = recorded
        self.t, self.deaf_until = 0.0, 0.0
        self.wakes: list[float] = []

    def __call__(self, frame: bytes) -> None:
        self.t += 0.08
        if self.t < self.deaf_until:  # the loop after a wake: listening, the wake word fed silence
            self.detector.process(SILENT_FRAME, self.t)
            if self.t + 0.08 >= self.deaf_until:  # then reset; no refractory period after it here, so
                self.detector.hold_off(self.t - REFRACTORY)  # one recording's wake never blocks the next
            return
        if self.detector.process(frame, self.t):
            self.wakes.append(self.t)
            self.deaf_until = self.t + LISTEN

    def rest(self) -> None:
        """A rested detector, as after a completed flow."""
        self.detector.hold_off(self.t - REFRACTORY)
        self.deaf_until = 0.0

    def gates(self) -> list:
        """The voice-activity gates of its words."""
        return [engine for engine, _ in self.detector.words if hasattr(engine, "frames")]

    def open_share(self) -> float | None:
        """The share of frames its gates let through to the model."""
        gates = [g for g in self.gates() if g.frames]
        return sum(g.scored / g.frames for g in gates) / len(gates) if gates else None


def tally(wakes: list[float], windows: list[tuple[float, float]]) -> tuple[set[int], list[float]]:
    """The recordings some wake falls in the window of, and the wakes outside every window."""
    inside = [next((k for k, (start, end) in enumerate(windows) if start <= t <= end), None) for t in wakes]
    return {k for k in inside if k is not None}, [t for t, k in zip(wakes, inside) if k is None]


def sweep(scores: np.ndarray, windows: list[tuple[float, float]], threshold: float) -> tuple[int, int]:
    """(detected, false wakes) the detector would give at another threshold, from the recorded scores."""
    wakes: list[float] = []
    for i in np.nonzero(scores >= threshold)[0]:
        if not wakes or (i + 1) * 0.08 - wakes[-1] >= REFRACTORY:
            wakes.append((i + 1) * 0.08)
    hit, outside = tally(wakes, windows)
    return len(hit), len(outside)


def play(arms: list[Arm], stream: Stream, clips: list[Clip], kind: str, folder: str, keyword: str | None,
         condition: str) -> dict:
    """Feed a stream to every arm (taking turns); per arm: the recordings of its own word detected (with peak
    scores), its false wakes located, CPU and the threshold sweep."""
    frames = frames_of(stream.samples)
    starts = {a.label: (a.t, len(a.wakes), len(a.scores)) for a in arms}
    for a in arms:
        a.rest()
    cpu = common.timed_interleaved(frames, {a.label: a for a in arms})
    judged = {}
    for a in arms:
        t0, w0, s0 = starts[a.label]
        scores = np.array(a.scores[s0:], dtype=np.float32)
        del a.scores[s0:]  # the per-stream copy is enough
        windows = stream.windows if keyword in a.detector.keywords else []
        hit, outside = tally([round(w - t0, 2) for w in a.wakes[w0:]], windows)
        peaks = [round(float(scores[int(s / 0.08):int(e / 0.08) + 1].max(initial=0.0)), 3) for s, e in windows]
        judged[a.label] = {"detected": sorted(hit), "false": [[*locate(stream, t), t] for t in outside],
                           "peaks": peaks, "cpu": cpu[a.label], "max_score": float(scores.max(initial=0.0)),
                           "sweep": {str(t): sweep(scores, windows, t) for t in report.SWEEP}}
    return {"kind": kind, "folder": folder, "keyword": keyword, "condition": condition,
            "seconds": len(frames) * 0.08, "labels": stream.labels, "damaged": [c.name for c in clips if c.damaged],
            "arms": judged}


def positive_sets(args) -> list[tuple[str, str, list[Clip]]]:
    """(folder, keyword, clips) of every --positives DIR:KEYWORD. (Synthetic positives, espeak-ng and flite
    voices, were a finished study: BENCHMARKS.md, "Wake words"; `git show cce96cb:bench/bench_wakeword.py`.)"""
    specs = [spec.rpartition(":") for spec in args.positives]
    return [(folder, keyword, folder_clips(Path(folder), args.short)) for folder, _, keyword in specs]


def negative_streams(args, cache: Path, noise: np.ndarray | None) -> list[tuple[str, Stream, list[Clip]]]:
    """(kind, stream, clips): every --negatives (and with --noisy-negatives, again in noise) and --probe folder as
    one stream, then the synthetic talk."""
    out = []
    for kind, folders in (("negative", args.negatives), ("probe", args.probe)):
        for folder in folders:
            clips = folder_clips(Path(folder), args.short)
            out.append((kind, negative_stream(clips, folder), clips))
            if kind == "negative" and args.noisy_negatives and noise is not None:
                mixed = [Clip(c.name, noisy(c.samples, noise, args.snr, seed=i), c.damaged)
                         for i, c in enumerate(clips)]
                out.append((kind, negative_stream(mixed, f"{folder} at {args.snr:g} dB"), mixed))
    seconds = 60.0 if args.short else args.synthetic_hours * 3600
    done, n = 0.0, 0
    while done < seconds:
        x = corpus.talk(cache, min(600.0, seconds - done), seed=100 + n)  # the audio `python -m bench loop` uses
        out.append(("synthetic", Stream(f"synthetic talk {n + 1}", x), []))
        done += len(x) / RATE
        n += 1
    return out


def cpu_on(frames: list[bytes], arms: list[Arm], keyword: str) -> dict:
    """CPU of every arm, the bare openWakeWord library and the VADs alone, on the same frames."""
    from openwakeword.model import Model

    from device.adapters.audio.vad import WebRtcVad
    from device.adapters.speech.openwakeword import model_path

    bare = Model(wakeword_model_paths=[str(model_path(keyword if keyword in OWW_WORDS else "hey_jarvis"))])
    runners = {report.BARE: lambda f: bare.predict(np.frombuffer(f, dtype="<i2")), **{a.label: a for a in arms},
               "WebRTC VAD alone": WebRtcVad().is_speech}
    for a in arms:
        a.rest()
        for gate in a.gates():  # the gates' counters: count this audio only
            gate.frames = gate.scored = 0
    return common.timed_interleaved(frames, runners)


def rss_child(engine: str, keywords: str, wav: str) -> None:
    """In a fresh process: build the arm, score the audio, print the peak RSS (MB) as JSON."""
    frames = frames_of(corpus.read_wav(Path(wav)))
    if engine != "none":
        arm = Arm(engine, keywords.split(","))
        for f in frames:
            arm(f)
    print(json.dumps({"peak_rss_mb": common.peak_rss_mb()}))


def peak_rss(engine: str, keywords: list[str], wav: Path) -> float | None:
    """The peak RSS (MB) of a fresh process that builds the arm and scores the audio ("none": no arm)."""
    done = subprocess.run([sys.executable, "-m", "bench.bench_wakeword", "--rss-child", engine, ",".join(keywords),
                           str(wav)], capture_output=True, text=True, timeout=600, cwd=common.ROOT)
    if done.returncode != 0:
        log(f"peak RSS of {engine}: failed ({(done.stderr.strip().splitlines() or ['?'])[-1]})")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_mb"]


def measure(args, info: dict, cache: Path, tmp: Path) -> dict:
    """Every arm on the positives (clean and in noise), the negatives and the probes; CPU and memory."""
    from device.config import WakeSettings

    sets = positive_sets(args)
    words = list(dict.fromkeys(k for _, k, _ in sets))
    noise = read_audio(NOISE).samples if NOISE.is_file() else None
    if noise is None:
        log(f"no noise file {NOISE}: only the clean condition is measured")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    arms = [Arm(engine, [word]) for engine in engines for word in words  # each word every engine has a model of
            if engine != "openwakeword" or word in OWW_WORDS]
    log(f"{sum(len(c) for _, _, c in sets)} positives of {', '.join(words)}; arms: {', '.join(a.label for a in arms)}")
    defaults = list(WakeSettings().words())
    results: dict = {"machine": info, "keywords": words, "snr": args.snr, "streams": [],
                     "default": {"engine": arms[0].engine, "keywords": defaults},
                     "noise": str(NOISE) if noise is not None else None,
                     "arms": {a.label: {"engine": a.engine, "keyword": a.keyword, "threshold": a.threshold}
                              for a in arms}}
    conditions = [("clean", None)] + ([(f"{args.snr:g} dB", noise)] if noise is not None else [])
    for folder, keyword, clips in sets:
        for name, mixed in conditions:
            stream = positive_stream(clips, name, mixed, args.snr)
            log(f"positives {folder} ({keyword}), {name}: {len(stream.samples) / RATE / 60:.1f} min")
            results["streams"].append(play(arms, stream, clips, "positive", folder, keyword, name))
    for kind, stream, clips in negative_streams(args, cache, noise):
        log(f"{kind} {stream.condition}: {len(stream.samples) / RATE / 60:.1f} min")
        results["streams"].append(play(arms, stream, clips, kind, stream.condition, None, "clean"))
    talk = folder_clips(Path(args.negatives[0]), args.short)[:40] if args.negatives else sets[0][2]
    floor = corpus.sox_noise(cache, "pinknoise", 60, -65)
    home, share = home_audio(talk, 60.0 if args.short else args.home_minutes * 60, floor)
    engine = arms[0].engine
    together = [Arm(engine, words, name=f"{engine}: {' + '.join(words)} together")]
    if defaults != words and engine == WakeSettings.engine:
        together.append(Arm(engine, defaults, name=f"{engine}: the default {' + '.join(defaults)}"))
    cpu_arms = arms + together
    log(f"CPU on {len(home) / RATE / 60:.1f} min of home-like audio ({share:.0%} speech)")
    results["home"] = {"seconds": len(home) / RATE, "speech_share": share,
                       "cpu": cpu_on(frames_of(home), cpu_arms, words[0]),
                       "open": {a.label: a.open_share() for a in cpu_arms}, "together": together[0].label}
    home_wav = corpus.write_wav(tmp / "home.wav", home[: 60 * RATE])
    results["rss"] = {"python + numpy": peak_rss("none", words, home_wav),
                      together[0].label: peak_rss(engine, words, home_wav)}
    return results


def main(argv: list[str] | None = None) -> int:
    """Measure; print the summary JSON, write it, the raw results, the details and the section."""
    p = argparse.ArgumentParser(prog="scripts/bench_wakeword.py", description=__doc__.splitlines()[0])
    p.add_argument("--positives", action="append", default=[], metavar="DIR:KEYWORD",
                   help="recordings of a wake word (repeatable)")
    p.add_argument("--negatives", action="append", default=[], metavar="DIR", help="speech without the keywords")
    p.add_argument("--probe", action="append", default=[], metavar="DIR",
                   help="speech near a keyword (e.g. 'jarvis' alone): wakes reported, not counted as false")
    p.add_argument("--engines", default="microwakeword", help="comma-separated: microwakeword (the device's), "
                   "openwakeword (its models are CC BY-NC-SA 4.0: non-commercial)")
    p.add_argument("--snr", type=float, default=10.0, help="SNR of the noisy positives (dB)")
    p.add_argument("--noisy-negatives", action="store_true", help="also the --negatives in the kitchen noise at --snr")
    p.add_argument("--synthetic-hours", type=float, default=1.0, help="espeak-ng talk added to the negatives")
    p.add_argument("--home-minutes", type=float, default=10.0, help="home-like audio for the CPU comparison")
    p.add_argument("--json", help="write the summary here")
    p.add_argument("--details", help="write every false wake (file, time) and every miss (peak score) here")
    p.add_argument("--raw", help="write every raw result here")
    p.add_argument("--output", default=str(common.BENCHMARKS), help="file to write the section into ('' = none)")
    p.add_argument("--section", default="", help="the section's name in --output (default: the keywords)")
    p.add_argument("--cache", help="keep synthesised speech here between runs")
    p.add_argument("--short", action="store_true", help="a seconds-scale run (tests); the numbers are rough")
    p.add_argument("--rss-child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rss_child:
        rss_child(*args.rss_child)
        return 0
    if not args.positives or any(":" not in spec for spec in args.positives):
        p.error("--positives DIR:KEYWORD is required (a folder and its word)")
    began = time.monotonic()
    machine = common.machine("pymicro-wakeword", "pymicro-features", "openwakeword", "onnxruntime", "av",
                             tools=[("flac", "--version")])
    info: dict[str, Any] = {"date": common.now(), "command": common.command("wakeword", argv),
                            "machine": machine, "commit": common.code_version(), "load_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="reorder-wakeword-") as tmp:
        cache = Path(args.cache) if args.cache else Path(tmp)
        cache.mkdir(parents=True, exist_ok=True)
        results = measure(args, info, cache, Path(tmp))
    info.update(minutes=(time.monotonic() - began) / 60, load_end=os.getloadavg())
    raw = Path(args.raw or Path(tempfile.gettempdir()) / f"reorder-wakeword-{'-'.join(results['keywords'])}.json")
    raw.write_text(json.dumps(results, indent=1, default=float))
    log(f"raw results in {raw}")
    summary = report.summary(results)
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")
    if args.details:
        Path(args.details).write_text(report.details(results))
    if args.output:
        section = args.section or "-".join(results["keywords"])
        common.write_section(f"wakeword-{section}", report.render(results), Path(args.output))
        log(f"wrote the {section} section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
