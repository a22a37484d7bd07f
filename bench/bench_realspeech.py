#!/usr/bin/env python3
"""Real-speech benchmark: Picovoice's speech-to-intent "barista" commands, as Rhino is measured.

    python scripts/bench_realspeech.py --data ../shared/data/barista [--snr clean,12,9,6]
        [--engines moonshine,pocketsphinx] [--json OUT.json] [--details OUT] [--limit N] [--no-write]

DIR holds audio/*.flac (16 kHz mono), labels.json (file → {"intent", "slots"}), one Rhino-style
context YAML (expressions and slots) and kitchen_noise.flac. A command is right when its intent
and every slot are exactly the label's ("command acceptance", the benchmark's metric), wrong when
the device would have read back something else, refused when the recogniser's confidence is
under the device's min_confidence (0.85). Noise is mixed by the benchmark's own rule (src/mix.py
there): the noise is scaled so that the highest 2048-sample frame energy of speech over that of
noise is the SNR, added, and the mix normalised to its peak; each file takes the noise from its
own offset (seeded by the file name).

Out-of-grammar speech must be refused: real commands decoded with their drink removed from the
grammar (no right answer exists), the real "alexa" recordings beside DIR (../wakeword/alexa) when
present, and espeak-ng sentences that are not orders. Each engine runs in its own process, so its
peak RSS is its own. Results go to BENCHMARKS.md (section "Real speech") unless --no-write.
By default every engine is tried; one that cannot run (pocketsphinx on a grammar of over a million
sentences, a missing model) gets a row saying why instead of the process being killed. Moonshine runs
with the device's search settings (device.engines.NEURAL_SEARCH); BENCH_SEARCH='{"greedy_first": true}'
overrides some of them and BENCH_THREADS=2 sets the model's threads, for comparisons.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

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


def read_audio(path: Path) -> np.ndarray:
    """16 kHz mono float32 through sox (some of the FLAC files trip libsndfile's decoder)."""
    raw = subprocess.run(["sox", str(path), "-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def max_frame_energy(x: np.ndarray, frame: int = 2048) -> float:
    n = len(x) // frame
    return float((x[: n * frame].reshape(n, frame).astype(np.float64) ** 2).sum(axis=1).max()) if n else 1e-12


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float, name: str) -> np.ndarray:
    """The benchmark's rule (see the module docstring)."""
    start = zlib.crc32(name.encode()) % max(len(noise) - len(speech), 1)
    part = np.resize(noise[start:], len(speech))
    scale = np.sqrt(max_frame_energy(speech) / (max_frame_energy(part) * 10 ** (snr_db / 10)))
    mixed = speech + scale * part
    return (mixed / max(np.abs(mixed).max(), 1e-9) * 0.99).astype(np.float32)


def espeak(text: str, voice: str) -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", voice, "-w", f.name, text], check=True, capture_output=True)
        subprocess.run(["sox", f.name, "-r", "16000", "-c", "1", "-b", "16", f.name + ".16k.wav", "pad", "0.5", "0.5"],
                       check=True, capture_output=True)
        audio = read_audio(Path(f.name + ".16k.wav"))
        Path(f.name + ".16k.wav").unlink()
    return audio


# -- engines (one per process) ---------------------------------------------------------------------
class MoonshineEngine:
    """Moonshine base-en with the constrained search over the context's automaton."""

    name = "moonshine"

    def __init__(self) -> None:
        from device.adapters.speech.moonshine import Moonshine
        from device.engines import NEURAL_SEARCH
        from device.recognition.neural import ConstrainedRecognizer, SearchSettings

        settings = {**NEURAL_SEARCH["moonshine"], **json.loads(os.environ.get("BENCH_SEARCH", "{}"))}
        self.rec = ConstrainedRecognizer(Moonshine(trim=False, threads=int(os.environ.get("BENCH_THREADS", "1"))),
                                         "en-US", SearchSettings(**settings))
        self.last: dict = {}

    def cannot_run(self, automaton) -> str | None:
        """Why this engine cannot decode with this grammar, or None: the neural search handles any size."""
        return None

    def use(self, automaton) -> None:
        self.rec.set_automaton(automaton)

    def decode(self, audio: np.ndarray) -> tuple[tuple[str, ...], float]:
        from device.recognition.neural import trim

        audio = np.ascontiguousarray(audio, dtype=np.float32)
        kept = trim(audio, self.rec.settings.pad_seconds)
        start = (kept.__array_interface__["data"][0] - audio.__array_interface__["data"][0]) // 4
        window = {"audio_s": round(len(audio) / 16000, 2), "kept": [round(start / 16000, 2),
                                                                     round((start + len(kept)) / 16000, 2)]}
        result = self.rec.search(audio)
        if result.best is None:
            self.last = window
            return (), 0.0
        best = result.best
        self.last = {"gap": round(result.gap(), 3), "mean": round(best.mean, 3), "worst": round(best.worst, 3),
                     "second": result.nbest[1].text if len(result.nbest) > 1 else None,
                     "second_lp": round(result.nbest[1].logprob - best.logprob, 3) if len(result.nbest) > 1 else None,
                     "free": self.rec.free_text(result), "free_lp": round(result.free_logprob, 3),
                     "free_n": len(result.free_tokens), "tokens": best.tokens,
                     "nbest": [[h.text, round(h.logprob, 3), h.tokens, round(h.worst, 3)] for h in result.nbest[:8]],
                     **window, **getattr(result, "timing", {})}
        return best.words, self.rec.confidence(result)


class PocketSphinxEngine:
    """pocketsphinx en-US with the context as a JSGF grammar (its own confidence measure)."""

    name = "pocketsphinx"

    def __init__(self) -> None:
        from device.adapters.speech.pocketsphinx import PocketSphinx

        self.ps = PocketSphinx("en-US")
        self.n = 0
        self.last: dict = {}

    def cannot_run(self, automaton) -> str | None:
        """pocketsphinx expands a JSGF grammar into one search graph: the barista context (120 million
        sentences) makes it grow until the kernel kills the process, so grammars past a million are refused."""
        n = automaton.count(limit=PS_MAX_SENTENCES + 1)
        if n > PS_MAX_SENTENCES:
            return (f"not run: the grammar has over {PS_MAX_SENTENCES:,} sentences and pocketsphinx's JSGF search "
                    f"grows until the kernel kills it (out of memory); run it on a smaller context")
        return None

    def use(self, automaton) -> None:
        from device.language.automaton import jsgf

        self.n += 1
        d = self.ps._decoder
        d.add_jsgf_string(f"ctx{self.n}", jsgf(automaton, known=self.ps.knows))
        d.activate_search(f"ctx{self.n}")

    def decode(self, audio: np.ndarray) -> tuple[tuple[str, ...], float]:
        pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
        heard = self.ps._decode(pcm)
        return tuple(heard.text.split()), heard.confidence


ENGINES = {"moonshine": MoonshineEngine, "pocketsphinx": PocketSphinxEngine}
PS_MAX_SENTENCES = 1_000_000
"""The largest grammar pocketsphinx is asked to search here (its finite-state search is built whole)."""


def run_engine(args: argparse.Namespace) -> dict:
    """The whole benchmark for one engine, in this process."""
    import yaml

    from device.language.rhino import compile_context

    data = Path(args.data)
    labels = json.loads((data / "labels.json").read_text())
    files = sorted(labels)[: args.limit or None]
    context_file = next(data.glob("*.yaml"))
    raw = yaml.safe_load(context_file.read_text())
    context = compile_context(raw, str(context_file))
    noise = read_audio(data / "kitchen_noise.flac")
    try:
        engine = ENGINES[args.engine]()
    except Exception as exc:  # a missing model or library: a row saying why, not a traceback
        return {"engine": args.engine, "skipped": f"not run: {str(exc).strip().splitlines()[0][:200]}"}
    why = engine.cannot_run(context.automaton)
    if why:
        return {"engine": args.engine, "skipped": why}
    engine.use(context.automaton)
    threshold = 0.85
    conditions = []
    details: list[dict] = []
    clean_audio = {f: read_audio(data / "audio" / f) for f in files}
    for snr in args.snr.split(","):
        right = wrong = refused = 0
        times = []
        for f in files:
            audio = clean_audio[f] if snr == "clean" else mix(clean_audio[f], noise, float(snr), f)
            t0 = time.perf_counter()
            words, conf = engine.decode(audio)
            times.append((time.perf_counter() - t0) * 1000)
            understood = context.understand(words) if words and conf >= threshold else None
            if args.details:
                heard = context.understand(words) if words else None
                details.append({"snr": snr, "file": f, "confidence": conf, "words": " ".join(words),
                                "ms": round(times[-1], 1), "right": heard == (labels[f]["intent"], labels[f]["slots"]),
                                **engine.last})
            if understood is None:
                refused += 1
            elif understood == (labels[f]["intent"], labels[f]["slots"]):
                right += 1
            else:
                wrong += 1
        conditions.append({"snr": snr, "n": len(files), "right": right, "wrong": wrong, "refused": refused,
                           "p50_ms": round(float(np.percentile(times, 50)), 1),
                           "p95_ms": round(float(np.percentile(times, 95)), 1)})
        print(json.dumps({"engine": engine.name, **conditions[-1]}), file=sys.stderr, flush=True)
    ood = {"n": 0, "accepted": 0}
    parts = {}
    # Real commands with their drink taken out of the grammar: nothing right can come out.
    slots = raw["context"]["slots"]
    by_drink: dict[str, list[str]] = {}
    for f in files:
        drink = labels[f]["slots"].get("coffeeDrink")
        if drink:
            by_drink.setdefault(drink, []).append(f)
    kind = next((k for k, vs in slots.items() if any(d in vs for d in by_drink)), None)
    accepted = n = 0
    if kind:
        for drink, group in sorted(by_drink.items()):
            reduced = {"context": {"expressions": raw["context"]["expressions"],
                                   "slots": {**slots, kind: [v for v in slots[kind] if v != drink]}}}
            engine.use(compile_context(reduced).automaton)
            for f in group:
                words, conf = engine.decode(clean_audio[f])
                n += 1
                accepted += bool(words) and conf >= threshold
                details.append({"ood": "drink removed", "file": f, "confidence": conf, "words": " ".join(words),
                                **engine.last})
    parts["drink removed"] = (n, accepted)
    engine.use(context.automaton)
    alexa = data.parent / "wakeword" / "alexa"
    n = accepted = 0
    for f in sorted(alexa.glob("*.flac"))[: args.limit or None] if alexa.is_dir() else []:
        words, conf = engine.decode(read_audio(f))
        n += 1
        accepted += bool(words) and conf >= threshold
        details.append({"ood": "alexa", "file": f.name, "confidence": conf, "words": " ".join(words), **engine.last})
    parts["real 'alexa' clips"] = (n, accepted)
    n = accepted = 0
    for text in NON_ORDERS[: args.limit or None]:
        for voice in ("en-us", "en-gb"):
            words, conf = engine.decode(espeak(text, voice))
            n += 1
            accepted += bool(words) and conf >= threshold
            details.append({"ood": "espeak", "file": f"{voice}: {text}", "confidence": conf, "words": " ".join(words),
                            **engine.last})
    parts["espeak-ng non-orders"] = (n, accepted)
    ood = {"n": sum(p[0] for p in parts.values()), "accepted": sum(p[1] for p in parts.values()),
           "parts": {k: {"n": v[0], "accepted": v[1]} for k, v in parts.items()}}
    if args.details:
        Path(f"{args.details}.{engine.name}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in details))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"engine": engine.name, "conditions": conditions, "ood": ood, "peak_rss_mb": round(peak, 1)}


def section(results: list[dict], command: str) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["## Real speech: barista commands (Picovoice speech-to-intent benchmark)", "",
             f"`{command}` — {platform.machine()}, {platform.processor() or platform.platform()}, "
             f"{os.environ.get('BENCH_THREADS', '1')} thread(s), {when}.",
             "Command acceptance = intent and all slots exactly right; wrong = something else would be read back; "
             "refused = confidence under 0.85. Noise: the benchmark's kitchen noise by its own mixing rule.", "",
             "| engine | SNR | n | right | wrong | refused | p50 ms | p95 ms | Rhino (published) |",
             "|---|---|---|---|---|---|---|---|---|"]
    ran = [r for r in results if "skipped" not in r]
    for r in results:
        if "skipped" in r:
            lines.append(f"| {r['engine']} | – | – | {r['skipped']} | | | | | |")
            continue
        for c in r["conditions"]:
            rhino = RHINO.get(c["snr"])
            lines.append(f"| {r['engine']} | {c['snr']} | {c['n']} | {c['right']} ({100 * c['right'] / c['n']:.1f}%) | "
                         f"{c['wrong']} ({100 * c['wrong'] / c['n']:.1f}%) | {c['refused']} | {c['p50_ms']} | "
                         f"{c['p95_ms']} | {'' if rhino is None else f'{100 * rhino:.1f}%'} |")
    if not ran:
        return "\n".join(lines) + "\n"
    lines += ["", "Out-of-grammar speech accepted (should be refused):", "",
              "| engine | " + " | ".join(ran[0]["ood"]["parts"]) + " | all | peak RSS MB |",
              "|---|" + "---|" * (len(ran[0]["ood"]["parts"]) + 2)]
    for r in ran:
        cells = [f"{p['accepted']}/{p['n']}" for p in r["ood"]["parts"].values()]
        lines.append(f"| {r['engine']} | " + " | ".join(cells) + f" | {r['ood']['accepted']}/{r['ood']['n']} | "
                     f"{r['peak_rss_mb']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="a folder laid out like ../shared/data/barista")
    p.add_argument("--snr", default="clean,12,9,6", help="comma-separated: clean and/or dB values")
    p.add_argument("--engines", default=",".join(ENGINES),
                   help="comma-separated (default: all; one that cannot run gets a row saying why)")
    p.add_argument("--engine", help=argparse.SUPPRESS)  # one engine, in this process (the child)
    p.add_argument("--json", help="write the first engine that ran's result as JSON here")
    p.add_argument("--limit", type=int, default=0, help="only the first N files (a quick look)")
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
    results = []
    for name in args.engines.split(","):
        if name not in ENGINES:
            print(f"--engines: unknown engine {name!r}; choose from {', '.join(ENGINES)}", file=sys.stderr)
            return 2
        cmd = [sys.executable, "-m", "bench.bench_realspeech", "--data", str(data.resolve()), "--snr", args.snr,
               "--engine", name, "--limit", str(args.limit)]
        cmd += ["--details", str(Path(args.details).resolve())] if args.details else []
        out = subprocess.run(cmd, capture_output=False, stdout=subprocess.PIPE, text=True, cwd=REPO)
        lines = out.stdout.strip().splitlines()
        if out.returncode != 0 or not lines:
            why = "killed by the kernel (out of memory?)" if out.returncode == -9 else f"exit code {out.returncode}"
            results.append({"engine": name, "skipped": f"failed: {why}"})
        else:
            results.append(json.loads(lines[-1]))
    ran = [r for r in results if "skipped" not in r]
    if args.json and ran:
        Path(args.json).write_text(json.dumps({k: ran[0][k] for k in ("engine", "conditions", "ood",
                                                                        "peak_rss_mb")}, indent=1))
    command = "python scripts/bench_realspeech.py " + " ".join(sys.argv[1:])
    text = section(results, command)
    print(text)
    if not args.no_write:
        from bench.common import write_section

        write_section("realspeech", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
