"""Real-speech benchmark: Picovoice's speech-to-intent "barista" commands, as Rhino is measured.

--data DIR holds audio/*.flac, labels.json (file → {"intent", "slots"}), one Rhino-style context YAML and
kitchen_noise.flac. A command is right when its intent and every slot are the label's ("command
acceptance", the benchmark's metric), wrong when the device would read back something else, refused
under the device's min_confidence (0.85). Noise is mixed by the benchmark's rule (corpus.peak_mix),
each file taking the noise from its own offset (seeded by its name). Out-of-grammar speech must be
refused: real commands decoded with their drink removed from the grammar, the real "alexa" clips beside
DIR (../wakeword/alexa) and espeak-ng sentences that are not orders. Each engine runs in its own process
(its peak RSS is its own); one that cannot run gets a row saying why. Moonshine runs with the device's
NEURAL_SEARCH; BENCH_SEARCH='{"greedy_first": true}' overrides some of it, BENCH_THREADS=2 its threads.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench import common, corpus
from device.language.rhino import Context, compile_context

NON_ORDERS = [
    "what's the weather like tomorrow", "play some music in the kitchen", "turn off the lights please",
    "set a timer for ten minutes", "how long do I cook pasta", "tell me a joke", "call mom",
    "I would love a cup of green tea", "the kids are late for school again", "did you feed the cat",
    "what time is it", "remind me to water the plants", "is it going to rain today",
    "we should paint the living room", "can you hear me", "turn the volume up", "good morning everyone",
    "where are my keys", "I made pancakes for breakfast", "let's watch a movie tonight",
]
RHINO = {"clean": None, "24": 0.99, "15": 0.985, "12": 0.98, "9": 0.965, "6": 0.935}
"""Rhino's published command acceptance (mean of cafe and kitchen noise; README of the data)."""
THRESHOLD = 0.85
THREADS = os.environ.get("BENCH_THREADS", "1")
"""Moonshine's threads per model call here (the sections say it)."""
OOD_PARTS = {"drink removed": "drink removed", "alexa": "real 'alexa' clips", "espeak": "espeak-ng non-orders"}
"""Out-of-grammar speech: its records' label (--details) → its column in the section."""


class MoonshineEngine:
    """Moonshine base-en with the constrained search over the context's automaton."""

    name = "moonshine"

    def __init__(self) -> None:
        from device.adapters.speech.moonshine import Moonshine
        from device.engines import NEURAL_SEARCH
        from device.recognition.neural import ConstrainedRecognizer, SearchSettings

        settings = {**NEURAL_SEARCH["moonshine"], **json.loads(os.environ.get("BENCH_SEARCH", "{}"))}
        self.rec = ConstrainedRecognizer(Moonshine(trim=False, threads=int(THREADS)),
                                         "en-US", SearchSettings(**settings))
        self.recognizer: Any = self.rec
        """What the device runs (before recognition.early wraps it)."""
        self.last: dict = {}

    def decode(self, audio: np.ndarray) -> tuple[tuple[str, ...], float]:
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        kept, start = trimmed(audio, self.rec.settings.pad_seconds)
        window = {"audio_s": round(len(audio) / 16000, 2), "kept": [round(start / 16000, 2),
                                                                     round((start + len(kept)) / 16000, 2)]}
        rec, result = self.recognizer.answer(audio)
        best = result.best
        if best is None:
            self.last = window
            return (), 0.0
        second = result.nbest[1] if len(result.nbest) > 1 else None
        judge = rec.judge
        self.last = {"gap": round(result.gap(), 3), "mean": round(best.mean, 3), "worst": round(best.worst, 3),
                     "second": second.text if second else None,
                     "second_lp": round(second.logprob - best.logprob, 3) if second else None,
                     "free": judge.free_text(result), "free_lp": round(result.free_logprob, 3),
                     "free_n": len(result.free_tokens), "tokens": best.tokens, "by": rec.name,
                     "carrier_only": judge.carrier_only(result), "heard_mean": round(judge.heard_mean(result), 3),
                     "nbest": [[h.text, round(h.logprob, 3), h.tokens, round(h.worst, 3)] for h in result.nbest[:8]],
                     **window}
        return best.words, judge.confidence(result)


class SecondOpinionEngine(MoonshineEngine):
    """Moonshine, and Whisper base (English) when Moonshine refuses, as `[recognizer] second_opinion` runs them."""

    name = "moonshine+whisper"

    def __init__(self) -> None:
        super().__init__()
        from device.engines import second_opinion

        self.recognizer = second_opinion(self.rec, THRESHOLD, int(THREADS))


ENGINES = {"moonshine": MoonshineEngine, "moonshine+whisper": SecondOpinionEngine}
"""The engines --engines names (pocketsphinx's, which the barista grammar's size rules out, was removed:
`git show cce96cb:bench/bench_realspeech.py`)."""


def endpoint_vad(name: str):
    """The device's voice-activity detector for the request's end (adapters.audio.vad)."""
    from device.adapters.audio.vad import SileroVad, WebRtcVad

    return SileroVad() if name == "silero" else WebRtcVad()


def trimmed(audio: np.ndarray, pad: float) -> tuple[np.ndarray, int]:
    """The recogniser's trim of `audio` (recognition.neural.trim, a view into it) and the sample it starts at."""
    from device.recognition.neural import trim

    kept = trim(audio, pad)
    return kept, (kept.__array_interface__["data"][0] - audio.__array_interface__["data"][0]) // audio.itemsize


def in_kitchen(clean: np.ndarray, noise: np.ndarray, snr: str, name: str) -> np.ndarray:
    """A recording as the device hears it after a wake word: from 1 s before its speech (found on the clean
    recording by the recogniser's trim: some recordings start with up to 5 s of room noise, which no one waits
    through after saying the wake word), 0.5 s of silence before and 2 s after, the noise going on throughout."""
    onset = trimmed(clean, 0.0)[1]
    audio = np.concatenate([np.zeros(8000, np.float32), clean[max(0, onset - 16000):], np.zeros(32000, np.float32)])
    return audio if snr == "clean" else corpus.named_mix(audio, noise, float(snr), name)


def frames(audio: np.ndarray) -> list[bytes]:
    """The whole 80 ms frames of float audio, as the microphone gives them (16-bit)."""
    pcm = (np.clip(audio, -1, 32767 / 32768) * 32768).astype("<i2").tobytes()
    return [pcm[i:i + 2560] for i in range(0, len(pcm) - 2559, 2560)]


def device_endpointer(vad):
    """The endpointer as app.build makes it for Moonshine and Whisper, with the default [recognizer] settings."""
    from device.app import make_endpointer
    from device.config import RecognizerSettings

    return make_endpointer(RecognizerSettings(), vad, neural=True)


def endpointed(audio: np.ndarray, vad) -> tuple[np.ndarray, dict]:
    """What the device's endpointer (with `vad`, from the first frame: push-to-talk) hands the recogniser:
    the request up to recognition.early.TAIL_SECONDS after its speech, or nothing when it heard none."""
    from device.audio.endpointer import Ending

    endpointer = device_endpointer(vad)
    for k, frame in enumerate(frames(audio) + [bytes(2560)] * 200):  # silence after the recording, if ever needed
        end = endpointer.feed(frame)
        if end is not None:
            request = np.frombuffer(end.audio, "<i2").astype(np.float32) / 32768
            return request, {"end_s": round((k + 1) * 0.08, 2), "cut": end.cut,
                             "kept_s": round(len(request) / 16000, 2), "no_speech": end.outcome is Ending.NO_SPEECH}
    raise AssertionError("the endpointer never ended")  # max_utterance_seconds ends it within 200 frames


def barista(args: argparse.Namespace, every: int = 1) -> tuple[dict, dict[str, np.ndarray], dict, Context, np.ndarray]:
    """--data's labels, the audio of its first --limit files (every `every`'th), its context (YAML, compiled), noise."""
    data = Path(args.data)
    labels = json.loads((data / "labels.json").read_text())
    context_file = next(data.glob("*.yaml"))
    raw = yaml.safe_load(context_file.read_text())
    clean = {f: corpus.sox_float(data / "audio" / f) for f in sorted(labels)[: args.limit or None][::every]}
    return labels, clean, raw, compile_context(raw, str(context_file)), corpus.sox_float(data / "kitchen_noise.flac")


def run_engine(args: argparse.Namespace) -> dict:
    """The whole benchmark for one engine, in this process."""
    labels, clean_audio, raw, context, noise = barista(args)
    try:
        engine = ENGINES[args.engine]()
    except Exception as exc:  # a missing model or library: a row saying why, not a traceback
        return {"engine": args.engine, "skipped": f"not run: {str(exc).strip().splitlines()[0][:200]}"}
    engine.recognizer.set_automaton(context.automaton, roles=context.roles())
    conditions = []
    details: list[dict] = []
    vad = None if args.endpoint == "none" else endpoint_vad(args.endpoint)
    for snr in args.snr.split(","):
        counts = {"right": 0, "wrong": 0, "refused": 0, "cut": 0}
        times, kept = [], []
        for f in clean_audio:
            expected = (labels[f]["intent"], labels[f]["slots"])
            cut: dict = {}
            if vad is not None:
                audio, cut = endpointed(in_kitchen(clean_audio[f], noise, snr, f), vad)
                counts["cut"] += cut["cut"]
            else:
                audio = clean_audio[f] if snr == "clean" else corpus.named_mix(clean_audio[f], noise, float(snr), f)
            kept.append(len(audio) / 16000)
            t0 = time.perf_counter()
            engine.last = {}  # nothing decoded (the endpointer heard no speech): no record of another file's
            words, conf = engine.decode(audio) if not cut.get("no_speech") else ((), 0.0)
            times.append((time.perf_counter() - t0) * 1000)
            heard = context.understand(words) if words else None
            counts["refused" if heard is None or conf < THRESHOLD else "right" if heard == expected else "wrong"] += 1
            details.append({"snr": snr, "file": f, "confidence": conf, "words": " ".join(words),
                            "ms": round(times[-1], 1), "right": heard == expected, **cut, **engine.last})
        conditions.append({"snr": snr, "n": len(clean_audio), **counts, "kept_s": round(float(np.mean(kept)), 2),
                           "p50_ms": round(float(np.percentile(times, 50)), 1),
                           "p95_ms": round(float(np.percentile(times, 95)), 1)})
        print(json.dumps({"engine": engine.name, **conditions[-1]}), file=sys.stderr, flush=True)
    parts = {column: {"n": 0, "accepted": 0} for column in OOD_PARTS.values()}

    def out_of_grammar(label: str, name: str, audio: np.ndarray) -> None:
        words, conf = engine.decode(audio)
        parts[OOD_PARTS[label]]["n"] += 1
        parts[OOD_PARTS[label]]["accepted"] += bool(words) and conf >= THRESHOLD
        details.append({"ood": label, "file": name, "confidence": conf, "words": " ".join(words), **engine.last})

    # Real commands with their drink taken out of the grammar: nothing right can come out.
    slots = raw["context"]["slots"]
    by_drink: dict[str, list[str]] = {}
    for f in clean_audio:
        if labels[f]["slots"].get("coffeeDrink"):
            by_drink.setdefault(labels[f]["slots"]["coffeeDrink"], []).append(f)
    kind = next((k for k, vs in slots.items() if any(d in vs for d in by_drink)), None)
    for drink, group in sorted(by_drink.items()) if kind else []:
        reduced = {"context": {"expressions": raw["context"]["expressions"],
                               "slots": {**slots, kind: [v for v in slots[kind] if v != drink]}}}
        smaller = compile_context(reduced)
        engine.recognizer.set_automaton(smaller.automaton, roles=smaller.roles())
        for f in group:
            out_of_grammar("drink removed", f, clean_audio[f])
    engine.recognizer.set_automaton(context.automaton, roles=context.roles())
    alexa = Path(args.data).parent / "wakeword" / "alexa"
    for path in sorted(alexa.glob("*.flac"))[: args.limit or None] if alexa.is_dir() else []:
        out_of_grammar("alexa", path.name, corpus.sox_float(path))
    cache = Path(tempfile.gettempdir()) / "bench_realspeech_tts"
    cache.mkdir(exist_ok=True)
    pad = np.zeros(corpus.RATE // 2, np.float32)
    for text in NON_ORDERS[: args.limit or None]:
        for voice in ("en-us", "en-gb"):
            speech = corpus.speak(cache, text, voice, 175, trimmed=False).astype(np.float32) / 32768
            out_of_grammar("espeak", f"{voice}: {text}", np.concatenate([pad, speech, pad]))
    if args.details:
        Path(args.details).parent.mkdir(parents=True, exist_ok=True)
        Path(f"{args.details}.{engine.name}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in details))
    return {"engine": engine.name, "endpoint": args.endpoint, "conditions": conditions,
            "ood": {"n": sum(p["n"] for p in parts.values()), "accepted": sum(p["accepted"] for p in parts.values()),
                    "parts": parts}, "peak_rss_mb": round(common.peak_rss_mb(), 1)}


def paced(args: argparse.Namespace) -> dict:
    """End of listening → decision, paced like a microphone (a frame per 80 ms of wall time) on every --paced'th
    file: the device's endpointer (Silero VAD) and Moonshine started early as shipped, then the same request
    decoded again at the end (early_start = false); waits in ms, both on this process's one core."""
    from device.audio.endpointer import Ending
    from device.recognition.early import EarlyStart

    _, clean, _, context, noise = barista(args, args.paced)
    engine = ENGINES[args.engines.split(",")[0]]()
    engine.recognizer.set_automaton(context.automaton, roles=context.roles())
    early, vad = EarlyStart(engine.recognizer), endpoint_vad("silero")
    rows = []
    for snr in args.snr.split(","):
        waits, alone, used, asked = [], [], 0, []
        for f, audio in clean.items():
            heard = frames(in_kitchen(audio, noise, snr, f))
            endpointer, end, start = device_endpointer(vad), None, time.monotonic()
            for k, frame in enumerate(heard):
                time.sleep(max(0.0, start + (k + 1) * 0.08 - time.monotonic()))
                end = endpointer.feed(frame)
                if end is not None:
                    break
                if (request := endpointer.early()) is not None:
                    early.prefetch(request)
            if end is None or end.outcome is Ending.NO_SPEECH:
                continue
            before, t0 = early.used, time.perf_counter()
            early.recognize(end.audio)
            waits.append((time.perf_counter() - t0) * 1000)
            used += early.used > before
            before, t0 = getattr(engine.recognizer, "asked", 0), time.perf_counter()
            engine.recognizer.recognize(end.audio)
            alone.append((time.perf_counter() - t0) * 1000)
            asked.append(getattr(engine.recognizer, "asked", 0) > before)
        groups = [("all", [True] * len(waits))] + ([("second opinion asked", asked)] if any(asked) else [])
        for requests, chosen in groups:
            pick = [[v for v, c in zip(values, chosen) if c] for values in (waits, alone)]
            rows.append({"snr": snr, "requests": requests, "n": len(pick[0]), "early": used if requests == "all" else
                         "", **{f"{name}_p{q}": round(common.percentile(values, q) or 0, 1)
                                for name, values in zip(("wait", "alone"), pick) for q in (50, 95)}})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return {"files": len(clean), "engine": engine.name, "rows": rows}


def paced_section(result: dict, command: str) -> str:
    """The latency table of a --paced run."""
    lines = ["### Real speech: end of listening → decision, paced like a microphone", "",
             f"`{command}` — {common.machine()}, {THREADS} thread(s), {common.now()}, {common.code_version()}. "
             f"{result['files']} commands per condition; the device's endpointer (Silero VAD) ends each request after "
             f"0.6 s of silence; {result['engine']} is given it up to 0.24 s after the speech and starts then (as "
             "shipped), then the same request is decoded again from the end of listening (`early_start = false`).", "",
             *common.table("SNR | requests | n | started early and used | as shipped p50 / p95 ms | "
                           "at the end p50 / p95 ms", (
                               [r["snr"], r["requests"], r["n"], r["early"], f"{r['wait_p50']} / {r['wait_p95']}",
                                f"{r['alone_p50']} / {r['alone_p95']}"] for r in result["rows"]))]
    return "\n".join(lines) + "\n"


def section(results: list[dict], command: str) -> str:
    """The section's text: command acceptance per engine and SNR, then out-of-grammar speech accepted."""
    lines = ["## Real speech: barista commands (Picovoice speech-to-intent benchmark)", "",
             f"`{command}` — {common.machine()}, {THREADS} thread(s), {common.now()}.", "",
             *common.table("engine | SNR | n | right | wrong | refused | p50 ms | p95 ms | Rhino (published)", [])]
    ran = [r for r in results if "skipped" not in r]
    for r in results:
        if "skipped" in r:
            lines.append(f"| {r['engine']} | – | – | {r['skipped']} | | | | | |")
        for c in r.get("conditions", []):
            rhino = RHINO.get(c["snr"])
            lines.append(f"| {r['engine']} | {c['snr']} | {c['n']} | {c['right']} ({100 * c['right'] / c['n']:.1f}%) | "
                         f"{c['wrong']} ({100 * c['wrong'] / c['n']:.1f}%) | {c['refused']} | {c['p50_ms']} | "
                         f"{c['p95_ms']} | {'' if rhino is None else f'{100 * rhino:.1f}%'} |")
    for r in ran:
        if any(c.get("cut") is not None for c in r["conditions"]) and r.get("endpoint", "none") != "none":
            lines += ["", f"{r['engine']}: each request cut by the device's endpointer ({r['endpoint']} VAD), from 1 s "
                      "before its speech, 0.5 s of silence before and 2 s after, the noise going on: " + ", ".join(
                          f"{c['snr']}: {c['kept_s']} s kept on average, {c['cut']} cut at 8 s"
                          for c in r["conditions"]) + "."]
    if ran:
        lines += ["", "Out-of-grammar speech accepted (should be refused):", "",
                  *common.table(" | ".join(["engine", *ran[0]["ood"]["parts"], "all", "peak RSS MB"]), (
                      [r["engine"], *(f"{p['accepted']}/{p['n']}" for p in r["ood"]["parts"].values()),
                       f"{r['ood']['accepted']}/{r['ood']['n']}", r["peak_rss_mb"]] for r in ran))]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Run each engine in a child process and print the section (or the --paced latency section)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="a folder laid out like ../shared/data/barista")
    p.add_argument("--snr", default="clean,12,9,6", help="comma-separated: clean and/or dB values")
    p.add_argument("--engines", default=",".join(ENGINES),
                   help="comma-separated (default: all; one that cannot run gets a row saying why)")
    p.add_argument("--engine", help=argparse.SUPPRESS)  # one engine, in this process (the child)
    p.add_argument("--json", help="write the first engine that ran's result as JSON here")
    p.add_argument("--limit", type=int, default=0, help="only the first N files (a quick look)")
    p.add_argument("--endpoint", choices=("none", "silero", "webrtc"), default="none",
                   help="none: each file decoded whole (the benchmark's rule); silero, webrtc: cut by the "
                        "device's endpointer, as the section says")
    p.add_argument("--paced", type=int, default=0, metavar="EVERY",
                   help="instead: end of listening → decision, paced like a microphone, on every EVERY'th file")
    p.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    p.add_argument("--details", help="write every decision to DETAILS.<engine>.jsonl (for the threshold curves)")
    args = p.parse_args()
    if args.engine:
        print(json.dumps(run_engine(args)))
        return 0
    data = Path(args.data)
    missing = [n for n in ("labels.json", "audio", "kitchen_noise.flac") if not (data / n).exists()]
    if missing or not any(data.glob("*.yaml")):
        print(f"--data {data}: lacks {', '.join(missing) or 'a context *.yaml'}; point it at a folder laid out like "
              f"../shared/data/barista", file=sys.stderr)
        return 2
    if args.paced:
        text = paced_section(paced(args), common.command("realspeech"))
        common.publish("realspeech-latency", text, not args.no_write)
        return 0
    if unknown := [name for name in args.engines.split(",") if name not in ENGINES]:
        print(f"--engines: unknown engine {unknown[0]!r}; choose from {', '.join(ENGINES)}", file=sys.stderr)
        return 2
    results = []
    for name in args.engines.split(","):
        cmd = [sys.executable, "-m", "bench.bench_realspeech", "--data", str(data.resolve()), "--snr", args.snr,
               "--engine", name, "--limit", str(args.limit), "--endpoint", args.endpoint]
        cmd += ["--details", str(Path(args.details).resolve())] if args.details else []
        out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=common.ROOT)
        lines = out.stdout.strip().splitlines()
        if out.returncode != 0 or not lines:
            why = "killed by the kernel (out of memory?)" if out.returncode == -9 else f"exit code {out.returncode}"
            results.append({"engine": name, "skipped": f"failed: {why}"})
        else:
            results.append(json.loads(lines[-1]))
    ran = [r for r in results if "skipped" not in r]
    if args.json and ran:
        Path(args.json).write_text(json.dumps(ran[0], indent=1))
    common.publish("realspeech", section(results, common.command("realspeech")), not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
