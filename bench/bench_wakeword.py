#!/usr/bin/env python3
"""Wake-word benchmark: every model on real recordings (clean and in kitchen noise), false wakes, CPU, memory.

    python scripts/bench_wakeword.py --positives ../shared/data/wakeword/alexa:alexa \\
        --positives ../shared/data/wakeword/small_real/okay_nabu:okay_nabu ... \\
        --negatives ../shared/data/barista/audio --negatives ../shared/data/wakeword/other_words \\
        --probe ../shared/data/wakeword/jarvis [--engines microwakeword,openwakeword] [--details OUT.txt] \\
        [--json OUT.json]
    python scripts/bench_wakeword.py --keyword hey_jarvis --negatives ../shared/data/barista/audio
        # without --positives: synthetic positives of --keyword (espeak-ng, and flite if installed)

Every model of the positives' words (and of --keyword) runs as the device builds it for that one
word (device.app.make_wake_detector: the engine, the threshold of sensitivity "normal", the 2 s
refractory period and the voice-activity gate; "no gate" arms with --ungated), on the same audio,
taking turns every 2 s of audio (CPU is main-thread time); after a wake it is fed silence for 5 s,
as the loop does while it listens. Positives: each recording with 1 s of silence before and 6 s
after, one after the other, once clean and once mixed with the noise file at --snr dB (Picovoice's
rule: peak 2048-sample frame energies; see wakeword_audio.py). A wake counts for a recording of
the arm's own word from its start to 1.5 s after its end; every other wake is a false wake: in
the negatives, between the positives, and on the recordings of the other words. --probe folders
(e.g. "jarvis" without "hey") are reported apart and not counted. Negatives: every --negatives
folder played as one stream, plus --synthetic-hours of espeak-ng English and French talk
(bench_corpus.py). FLAC is decoded by libFLAC to its end (`flac -d -F`); damaged files are
counted. CPU is compared with the bare openWakeWord library (`Model([word]).predict`) on home-like
audio: real speech now and then in a quiet room; "together" is all the measured words in one
detector, as `[wake] keywords` runs them. Writes its section of BENCHMARKS.md (--output).
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
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from bench import wakeword_audio as wa  # noqa: E402
from bench import wakeword_report as report  # noqa: E402
from bench.common import timed_interleaved as timed  # noqa: E402  (engines take turns on the same frames)

REFRACTORY = 2.0
LISTEN = 5.0
"""After a wake the device listens (the wake word is fed silence) until nobody has spoken for 5 s
([recognizer] no_speech_seconds), then holds off: a wake during that time cannot happen."""
SILENT_FRAME = bytes(2 * 1280)
OWW_WORDS = ("alexa", "hey_jarvis", "hey_mycroft")
DEFAULT_NOISE = ROOT.parent / "shared" / "data" / "barista" / "kitchen_noise.flac"


def corpus_module():
    """bench/'s synthetic speech (corpus.py; bench_corpus.py before bench/ became one package)."""
    try:
        from bench import corpus
    except ImportError:
        import bench_corpus as corpus  # type: ignore[import-not-found, no-redef]
    return corpus


def log(text: str) -> None:
    print(f"bench_wakeword: {text}", file=sys.stderr, flush=True)


def label(engine: str, keyword: str, gated: bool = True) -> str:
    return f"{engine} {keyword}" + ("" if gated else ", no gate")


def settings_for(engine: str, keywords: list[str], gated: bool):
    from device import config

    return config.from_mapping({"wake": {"engine": engine, "keywords": keywords, "vad_gate": gated}},
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
    """One engine for one word as the device runs it (or all `keywords` in one detector), fed stream after stream."""

    def __init__(self, engine: str, keywords: list[str], gated: bool = True, name: str = "") -> None:
        from device.app import make_wake_detector

        self.engine, self.keyword, self.gated = engine, keywords[0], gated
        self.label = name or label(engine, keywords[0], gated)
        self.detector = make_wake_detector(settings_for(engine, keywords, gated))
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

    def rest(self) -> None:
        """A rested detector, as after a completed flow."""
        self.detector.hold_off(self.t - REFRACTORY)
        self.deaf_until = 0.0

    def gates(self) -> list:
        """The voice-activity gates of its words (none without the gate)."""
        engines = [e.engine if isinstance(e, Recorded) else e for e, _ in self.detector.words]
        return [g for g in engines if hasattr(g, "frames")]

    def open_share(self) -> float | None:
        gates = [g for g in self.gates() if g.frames]
        return sum(g.scored / g.frames for g in gates) / len(gates) if gates else None


def play(arms: list[Arm], stream: wa.Stream) -> dict:
    """Feed a stream to every arm; per arm: wakes (seconds into the stream), scores, CPU."""
    frames = wa.frames_of(stream.samples)
    starts = {a.label: (a.t, len(a.wakes), len(a.recorded.scores)) for a in arms}
    for a in arms:
        a.rest()
    cpu = timed(frames, {a.label: a for a in arms})
    out = {}
    for a in arms:
        t0, w0, s0 = starts[a.label]
        out[a.label] = {"wakes": [round(t - t0, 2) for t in a.wakes[w0:]],
                        "scores": np.array(a.recorded.scores[s0:], dtype=np.float32), "cpu": cpu[a.label]}
        del a.recorded.scores[s0:]  # the per-stream copy is enough
    return {"seconds": len(frames) * 0.08, "arms": out}


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


def judge(arms: list[Arm], stream: wa.Stream, played: dict, own_word: str | None) -> dict:
    """Per arm: recordings of its own word detected (with peak scores), false wakes located, the threshold sweep."""
    judged = {}
    for a in arms:
        r = played["arms"][a.label]
        own = own_word is not None and own_word in a.detector.keywords
        windows = stream.windows if own else []
        hit, false = set(), []
        for t in r["wakes"]:
            inside = [i for i, (s, e) in enumerate(windows) if s <= t <= e]
            if inside:
                hit.add(inside[0])
            else:
                false.append([*wa.locate(stream, t), t])
        peaks = [round(float(r["scores"][int(s / 0.08):int(e / 0.08) + 1].max(initial=0.0)), 3) for s, e in windows]
        judged[a.label] = {"detected": sorted(hit), "false": false, "peaks": peaks, "cpu": r["cpu"],
                           "max_score": float(r["scores"].max(initial=0.0)),
                           "sweep": {str(t): sweep(r["scores"], windows, t) for t in report.SWEEP}}
    return judged


def folder_clips(folder: Path, short: bool) -> list[wa.Clip]:
    files = wa.audio_files(folder)
    return [wa.read_audio(p) for p in (files[:12] if short else files)]


def positive_sets(args, cache: Path) -> list[tuple[str, str, list[wa.Clip]]]:
    """(folder, keyword, clips) of every --positives DIR:KEYWORD; synthetic speech of --keyword without any."""
    sets = []
    for spec in args.positives:
        folder, _, keyword = spec.rpartition(":") if ":" in spec else (spec, "", args.keyword)
        sets.append((folder, keyword, folder_clips(Path(folder), args.short)))
    if sets:
        return sets
    corpus = corpus_module()

    spoken = args.keyword.replace("_", " ")
    clips = [wa.Clip(f"espeak-ng {name}", x, False) for name, x in corpus.wake_phrases(cache, args.short)
             ] if spoken == "hey jarvis" else []
    if wa.flite_available():
        clips += [wa.Clip(f"flite {v} x{s}", wa.flite(cache, spoken, v, s), False)
                  for v in ("kal", "kal16", "awb", "rms", "slt") for s in (0.8, 1.0, 1.25)]
    if not clips:
        raise SystemExit(f"bench_wakeword: no --positives and no synthetic voice for {spoken!r} (install flite)")
    return [("synthetic speech (espeak-ng" + (", flite" if wa.flite_available() else "") + ")", args.keyword, clips)]


def negative_streams(args, cache: Path, noise: np.ndarray | None) -> list[tuple[str, wa.Stream, list[wa.Clip]]]:
    """(kind, stream, clips): every --negatives (and with --noisy-negatives, again in noise) and --probe folder as
    one stream, then the synthetic talk."""
    out = []
    for kind, folders in (("negative", args.negatives), ("probe", args.probe)):
        for folder in folders:
            clips = folder_clips(Path(folder), args.short)
            out.append((kind, wa.negative_stream(clips, folder), clips))
            if kind == "negative" and args.noisy_negatives and noise is not None:
                mixed = [wa.Clip(c.name, wa.noisy(c.samples, noise, args.snr, seed=i), c.damaged)
                         for i, c in enumerate(clips)]
                out.append((kind, wa.negative_stream(mixed, f"{folder} at {args.snr:g} dB"), mixed))
    seconds = 60.0 if args.short else args.synthetic_hours * 3600
    if seconds > 0:
        corpus = corpus_module()

        chunk, done, n = min(600.0, seconds), 0.0, 0
        while done < seconds:
            x = corpus.talk(cache, min(chunk, seconds - done), seed=100 + n)  # the audio scripts/bench uses
            out.append(("synthetic", wa.Stream(f"synthetic talk {n + 1}", x), []))
            done += len(x) / wa.RATE
            n += 1
    return out


def cpu_on(frames: list[bytes], arms: list[Arm], keyword: str) -> dict:
    """CPU of every arm, the bare openWakeWord library and the VADs alone, on the same frames."""
    from openwakeword.model import Model

    from device.adapters.audio.vad import WebRtcVad
    from device.adapters.speech.openwakeword import model_path

    bare = Model(wakeword_model_paths=[str(model_path(keyword if keyword in OWW_WORDS else "hey_jarvis"))])
    runners = {"bare openWakeWord library": lambda f: bare.predict(np.frombuffer(f, dtype="<i2"))}
    runners.update({a.label: a for a in arms})
    runners["WebRTC VAD alone"] = WebRtcVad().is_speech
    for a in arms:
        a.rest()
        for gate in a.gates():  # the gates' counters: count this audio only
            gate.frames = gate.scored = 0
    return timed(frames, runners)


def rss_child(engine: str, keywords: str, gated: bool, wav: str) -> None:
    """In a fresh process: build the arm, score the audio, print the peak RSS (MB) as JSON."""
    corpus = corpus_module()

    frames = wa.frames_of(corpus.read_wav(Path(wav)))
    if engine != "none":
        arm = Arm(engine, keywords.split(","), gated)
        for f in frames:
            arm(f)
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))
    print(json.dumps({"peak_rss_mb": peak}))


def peak_rss(engine: str, keywords: list[str], gated: bool, wav: Path) -> float | None:
    done = subprocess.run([sys.executable, __file__, "--rss-child", engine, ",".join(keywords), str(int(gated)),
                           str(wav)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        log(f"peak RSS of {engine}: failed ({(done.stderr.strip().splitlines() or ['?'])[-1]})")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_mb"]


def machine() -> dict:
    from importlib import metadata

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith(("model name", "Model"))), "unknown CPU")
    versions = {}
    for dist in ("pymicro-wakeword", "pymicro-features", "openwakeword", "onnxruntime", "numpy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    flac = subprocess.run(["flac", "--version"], capture_output=True, text=True) if wa.flac_available() else None
    versions["flac"] = flac.stdout.strip() if flac else "not installed (sox decodes FLAC)"
    try:
        versions["av"] = metadata.version("av")
    except metadata.PackageNotFoundError:
        versions["av"] = ""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return {"cpu": cpu, "cores": os.cpu_count(), "arch": platform.machine(), "python": platform.python_version(),
            "versions": versions, "commit": commit.stdout.strip() or "?", "load_start": os.getloadavg()}


def make_arms(args, words: list[str]) -> list[Arm]:
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    arms = []
    for engine in engines:
        for word in words:
            if engine == "openwakeword" and word not in OWW_WORDS:
                continue
            arms += [Arm(engine, [word], True)] + ([Arm(engine, [word], False)] if args.ungated else [])
    return arms


def measure(args, info: dict, cache: Path, tmp: Path) -> dict:
    from device.config import WakeSettings

    sets = positive_sets(args, cache)
    words = list(dict.fromkeys([k for _, k, _ in sets] + ([args.keyword] if not args.positives else [])))
    noise = wa.read_audio(Path(args.noise)).samples if Path(args.noise).is_file() else None
    if noise is None:
        log(f"no noise file {args.noise}: only the clean condition is measured")
    arms = make_arms(args, words)
    log(f"{sum(len(c) for _, _, c in sets)} positives of {', '.join(words)}; arms: {', '.join(a.label for a in arms)}")
    results: dict = {"machine": info, "keywords": words, "snr": args.snr, "streams": [],
                     "default": {"engine": arms[0].engine, "keywords": list(WakeSettings().words())},
                     "arms": {a.label: {"engine": a.engine, "keyword": a.keyword, "gated": a.gated,
                                        "threshold": a.threshold} for a in arms},
                     "noise": args.noise if noise is not None else None}
    conditions = [("clean", None)] + ([(f"{args.snr:g} dB", noise)] if noise is not None else [])
    for folder, keyword, clips in sets:
        for name, mixed in conditions:
            stream = wa.positive_stream(clips, name, mixed, args.snr)
            log(f"positives {folder} ({keyword}), {name}: {len(stream.samples) / wa.RATE / 60:.1f} min")
            played = play(arms, stream)
            results["streams"].append({"kind": "positive", "folder": folder, "keyword": keyword, "condition": name,
                                       "seconds": played["seconds"], "labels": stream.labels,
                                       "damaged": [c.name for c in clips if c.damaged],
                                       "arms": judge(arms, stream, played, keyword)})
    for kind, stream, clips in negative_streams(args, cache, noise):
        log(f"{kind} {stream.condition}: {len(stream.samples) / wa.RATE / 60:.1f} min")
        played = play(arms, stream)
        results["streams"].append({"kind": kind, "folder": stream.condition, "keyword": None, "condition": "clean",
                                   "seconds": played["seconds"], "labels": stream.labels,
                                   "damaged": [c.name for c in clips if c.damaged],
                                   "arms": judge(arms, stream, played, None)})
    corpus = corpus_module()

    talk = folder_clips(Path(args.negatives[0]), args.short)[:40] if args.negatives else sets[0][2]
    floor = corpus.sox_noise(cache, "pinknoise", 60, -65)
    home, share = wa.home_audio(talk, 60.0 if args.short else args.home_minutes * 60, floor)
    engine = arms[0].engine
    together = [Arm(engine, words, True, name=f"{engine}: {' + '.join(words)} together")]
    if list(WakeSettings().words()) != words and engine == WakeSettings.engine:
        together.append(Arm(WakeSettings.engine, list(WakeSettings().words()), True,
                            name=f"{WakeSettings.engine}: the default {' + '.join(WakeSettings().words())}"))
    cpu_arms = [a for a in arms if a.gated] + together
    log(f"CPU on {len(home) / wa.RATE / 60:.1f} min of home-like audio ({share:.0%} speech)")
    results["home"] = {"seconds": len(home) / wa.RATE, "speech_share": share,
                       "cpu": cpu_on(wa.frames_of(home), cpu_arms, words[0]),
                       "open": {a.label: a.open_share() for a in cpu_arms}, "together": together[0].label}
    home_wav = corpus.write_wav(tmp / "home.wav", home[: 60 * wa.RATE])
    results["rss"] = {"python + numpy": peak_rss("none", words, False, home_wav),
                      together[0].label: peak_rss(engine, words, True, home_wav)}
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/bench_wakeword.py", description=__doc__.splitlines()[0])
    p.add_argument("--positives", action="append", default=[], metavar="DIR:KEYWORD",
                   help="recordings of a wake word (repeatable; DIR alone means --keyword's; none: synthetic speech)")
    p.add_argument("--keyword", default="alexa", help="the word of a bare --positives DIR, or of synthetic speech")
    p.add_argument("--negatives", action="append", default=[], metavar="DIR", help="speech without the keywords")
    p.add_argument("--probe", action="append", default=[], metavar="DIR",
                   help="speech near a keyword (e.g. 'jarvis' alone): wakes reported, not counted as false")
    p.add_argument("--engines", default="microwakeword", help="comma-separated: microwakeword (the device's), "
                   "openwakeword (its models are CC BY-NC-SA 4.0: non-commercial)")
    p.add_argument("--ungated", action="store_true", help="also every model without the voice-activity gate")
    p.add_argument("--noise", default=str(DEFAULT_NOISE), help="noise mixed into the positives")
    p.add_argument("--snr", type=float, default=10.0, help="SNR of the noisy positives (dB)")
    p.add_argument("--noisy-negatives", action="store_true", help="also every --negatives folder mixed with the "
                   "noise at --snr (real speech in a noisy kitchen)")
    p.add_argument("--synthetic-hours", type=float, default=1.0, help="espeak-ng talk added to the negatives")
    p.add_argument("--home-minutes", type=float, default=10.0, help="home-like audio for the CPU comparison")
    p.add_argument("--json", help="write the summary here")
    p.add_argument("--details", help="write every false wake (file, time) and every miss (peak score) here")
    p.add_argument("--raw", help="write every raw result here")
    p.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="file to write the section into ('' = none)")
    p.add_argument("--section", default="", help="the section's name in --output (default: the keywords)")
    p.add_argument("--cache", help="keep synthesised speech here between runs")
    p.add_argument("--short", action="store_true", help="a seconds-scale run (tests); the numbers are rough")
    p.add_argument("--from-raw", metavar="RAW", help="only re-render the section and JSON from saved --raw results")
    p.add_argument("--only", metavar="WORDS", help="with --from-raw: the figures of these words only (comma-separated; "
                   "e.g. the default pair), their CPU the run's arm of those words together")
    p.add_argument("--rss-child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rss_child:
        engine, keywords, gated, wav = args.rss_child
        rss_child(engine, keywords, gated == "1", wav)
        return 0
    if args.from_raw:
        results = json.loads(Path(args.from_raw).read_text())
        return finish(args, report.only(results, args.only.split(",")) if args.only else results)
    began = time.monotonic()
    info = machine()
    info["date"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    info["command"] = "python scripts/bench_wakeword.py " + " ".join(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="reorder-wakeword-") as tmp:
        cache = Path(args.cache) if args.cache else Path(tmp)
        cache.mkdir(parents=True, exist_ok=True)
        results = measure(args, info, cache, Path(tmp))
    info["minutes"] = (time.monotonic() - began) / 60
    info["load_end"] = os.getloadavg()
    name = "-".join(results["keywords"])
    raw = Path(args.raw) if args.raw else Path(tempfile.gettempdir()) / f"reorder-wakeword-{name}.json"
    raw.write_text(json.dumps(results, indent=1, default=float))
    log(f"raw results in {raw} (re-render with --from-raw)")
    return finish(args, results)


def finish(args, results: dict) -> int:
    """Print and write the summary JSON, the details, and the section of BENCHMARKS.md."""
    summary = report.summary(results)
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")
    if args.details:
        Path(args.details).write_text(report.details(results))
    if args.output:
        section = args.section or "-".join(results["keywords"])
        report.write_section(Path(args.output), section, report.render(results))
        log(f"wrote the {section} section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
