#!/usr/bin/env python3
"""Real French speech through Whisper base and the constrained search: commands told apart, the rest refused.

    python scripts/bench_french.py --data ../shared/data/fr_commands [--json OUT.json] [--no-write]
        [--snr clean,12,9,6] [--distractors 300] [--grocery 30] [--details OUT.jsonl]

DIR holds audio/*.wav (16 kHz mono) and labels.json (file → {"text", "kind": command | oov | silence};
accents may be spelled NFD: normalised to NFC, as the model writes). The grammar is the recordings'
sentences plus `--distractors` generated sentences of the same style (scripts/french_commands.py).
A command is right when the sentence decoded is exactly its label and accepted, wrong when another
sentence is accepted, refused otherwise. Noise: kitchen_noise.flac beside DIR (../barista) mixed by
the rule of scripts/bench_realspeech.py `mix`.

Out-of-domain speech must be refused: the clips labelled oov/silence (every condition), the
kitchen noise alone, real English coffee orders (../barista/audio, people, not espeak), and — the
near neighbours — each command decoded with its own sentence taken out of the grammar (no right
answer exists; what comes out is the closest other sentence). Latency is end of speech → result
(trim, encoder, search: what the loop waits for after the endpointer). Each encoder window runs in
its own process (its peak RSS is its own). The French grocery requests (espeak-ng, the accuracy
benchmark's templates and catalogue) are plumbing only: Whisper base hears espeak-ng French badly.

Short answers: each command is cut in two at the quietest point near where its first word should
end ("media" | "suivant", "allume" | "la lumière"), and both pieces are decoded against the grammar
plus every piece as a sentence of its own (set "short"), then again with the piece's own sentence
taken out (set "short-near": the nearest other sentence, which must be refused). A piece counts as
said clearly when the free transcript holds its words. The odd-numbered recordings' pieces fit the
short-sentence allowance, the even-numbered ones check it (data not fitted on).

Every decision keeps its gap, mean, tokens and any outright refusal (quantity not heard, no sentence
finished), so the rejection rule (reject_gap, reject_mean, short_allowance) is chosen afterwards over
a grid by one rule (see `choose`), and the trade-off table printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

GAPS = (-0.25, -0.5, -0.75, -1.0, -1.25, -1.5, -2.0, -3.0)
MEANS = (-0.5, -0.75, -1.0, -1.25, -1.5, -1.75, -2.0, -2.25, -2.5, -3.0, -math.inf)
ALLOWANCES = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
TARGET = 0.97
ENGLISH_OOD = 20
NOISE_CLIPS = 5
GROCERY_VOICE = ("fr", 140)
STANDARD_SPELLING = {"vérouille": "verrouille", "dévérouille": "déverrouille"}
"""The data set's labels (and so french_commands) spell these verbs off the dictionary; Whisper writes the
dictionary's spelling. --standard-spelling respells labels and grammar alike (a variant, reported apart)."""


def norm(text: str) -> str:
    return unicodedata.normalize("NFC", text.lower().replace("’", "'")).strip()


def rss_peak_mb() -> float:
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(fields["VmHWM"].split()[0]) / 1024


def automaton_of(sentences: list[str]):
    from device.language.automaton import Builder

    b = Builder()
    for s in sentences:
        b.finals.add(b.phrase(b.start, s.split()))
    return b.compile()


# -- one window, in this process -------------------------------------------------------------------
def run_child(args: argparse.Namespace) -> dict:
    from bench.bench_realspeech import mix, read_audio
    from bench.french_commands import distractors

    from device.adapters.speech.whisper import WhisperDecoder
    from device.engines import NEURAL_SEARCH
    from device.recognition.neural import ConstrainedRecognizer, SearchSettings

    data = Path(args.data)
    labels = {f: {"kind": v["kind"], "text": norm(v["text"]) if v.get("text") else None}
              for f, v in json.loads((data / "labels.json").read_text(encoding="utf-8")).items()}
    files = sorted(labels)
    commands = sorted({v["text"] for v in labels.values() if v["kind"] == "command"})
    grammar = sorted(set(commands) | set(distractors(args.distractors)))
    if args.standard_spelling:
        def respell(text: str) -> str:
            return " ".join(STANDARD_SPELLING.get(w, w) for w in text.split())

        labels = {f: {**v, "text": respell(v["text"]) if v["text"] else None} for f, v in labels.items()}
        grammar = sorted({respell(g) for g in grammar})
    settings = SearchSettings(**{**NEURAL_SEARCH["whisper"], **({"beam": args.beam} if args.beam else {})})
    t0 = time.perf_counter()
    decoder = WhisperDecoder(window_s=args.window, **({"embeddings": args.embeddings} if args.embeddings else {}))
    load_s = time.perf_counter() - t0
    rec = ConstrainedRecognizer(decoder, "fr-FR", settings)
    rec.set_automaton(automaton_of(grammar))
    starts: list[float] = []
    start = decoder.start

    def timed_start(audio):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        out = start(audio)
        starts.append((time.perf_counter() - t) * 1000)
        return out

    decoder.start = timed_start  # type: ignore[method-assign]
    decisions: list[dict] = []

    def decode(audio: np.ndarray, **info) -> dict:
        t = time.perf_counter()
        result = rec.search(audio)
        ms = (time.perf_counter() - t) * 1000
        best = result.best
        d = {**info, "words": best.text if best else "", "gap": round(result.gap(), 4) if best else None,
             "mean": round(best.mean, 4) if best else None, "tokens": best.tokens if best else None,
             "reason": rec.verdict(result)[1], "partial": result.partial.text if result.partial else None,
             "free": rec.free_text(result), "ms": round(ms, 1),
             "encoder_ms": round(starts[-1], 1),
             "second": result.nbest[1].text if len(result.nbest) > 1 else None}
        decisions.append(d)
        print(json.dumps(d, ensure_ascii=False), file=sys.stderr, flush=True)
        return d

    clean = {f: read_audio(data / "audio" / f) for f in files}
    noise_path = data.parent / "barista" / "kitchen_noise.flac"
    noise = read_audio(noise_path) if noise_path.exists() else None
    snrs = [s for s in args.snr.split(",") if s == "clean" or noise is not None]
    for snr in snrs:
        for f in files:
            audio = clean[f] if snr == "clean" else mix(clean[f], noise, float(snr), f)
            decode(audio, set="command" if labels[f]["kind"] == "command" else "ood", part=labels[f]["kind"],
                   cond=snr, file=f, label=labels[f]["text"])
    if args.window_only:
        return {"window": args.window, "load_s": round(load_s, 2), "decisions": decisions,
                "peak_rss_mb": round(rss_peak_mb(), 1), "grammar": len(grammar)}
    if noise is not None:
        step = len(noise) // (NOISE_CLIPS + 1)
        for k in range(NOISE_CLIPS):
            part = noise[k * step: k * step + 5 * 16000]
            decode((part / max(np.abs(part).max(), 1e-9) * 0.5).astype(np.float32), set="ood", part="kitchen noise",
                   cond="clean", file=f"noise@{k * step / 16000:.0f}s", label=None)
    barista = data.parent / "barista" / "audio"
    for f in sorted(barista.glob("*.flac"))[:ENGLISH_OOD] if barista.is_dir() else []:
        decode(read_audio(f), set="ood", part="English (real)", cond="clean", file=f.name, label=None)
    for f in files:
        if labels[f]["kind"] != "command":
            continue
        rec.set_automaton(automaton_of([s for s in grammar if s != labels[f]["text"]]))
        decode(clean[f], set="near", part="own sentence removed", cond="clean", file=f, label=labels[f]["text"])
    if args.short:
        short_pieces(rec, decode, grammar, {f: (clean[f], labels[f]["text"]) for f in files
                                            if labels[f]["kind"] == "command"})
    before = rss_peak_mb()  # the grocery grammar (31 items, every phrasing) is far larger than this one
    if args.grocery:
        grocery(rec, decode, args.grocery)
    return {"window": args.window, "load_s": round(load_s, 2), "decisions": decisions,
            "peak_rss_mb": round(before, 1), "peak_rss_with_grocery_mb": round(rss_peak_mb(), 1),
            "grammar": len(grammar)}


def split_command(audio: np.ndarray, text: str) -> list[tuple[str, np.ndarray]]:
    """(first word, its audio) and (the rest, its audio): cut at the quietest 10 ms (smoothed over 50 ms) within
    -15%/+20% of where the first word should end by its share of the letters, 0.3 s of silence around each."""
    from device.recognition.neural import trim

    speech = trim(audio, 0.1)
    hop = 160
    n = len(speech) // hop
    energy = np.log10(np.mean(speech[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-10)
    energy = np.convolve(energy, np.ones(5) / 5, mode="same")
    words = text.split()
    share = len(words[0]) / len(text.replace(" ", ""))
    lo, hi = int(n * max(share - 0.15, 0.08)), int(n * min(share + 0.2, 0.9))
    cut = (lo + int(np.argmin(energy[lo:hi]))) * hop
    pad = np.zeros(4800, np.float32)
    return [(words[0], np.concatenate([pad, speech[:cut], pad])),
            (" ".join(words[1:]), np.concatenate([pad, speech[cut:], pad]))]


def heard_freely(free: str, words: str) -> bool:
    """Whether the free transcript holds the piece's words (lower case, punctuation and hyphens as spaces)."""
    def plain(text: str) -> list[str]:
        return "".join(c if c.isalnum() or c in "'%" else " " for c in norm(text)).split()
    return plain(words) == plain(free)


def short_pieces(rec, decode, grammar: list[str], commands: dict[str, tuple[np.ndarray, str]]) -> None:  # type: ignore[no-untyped-def]
    """Each command's two pieces against the grammar plus every piece, then without the piece's own sentence."""
    pieces = {f: split_command(audio, text) for f, (audio, text) in commands.items()}
    texts = sorted({t for parts in pieces.values() for t, _ in parts})
    rec.set_automaton(automaton_of(sorted(set(grammar) | set(texts))))
    for f, parts in pieces.items():
        fold = "fit" if int(f.split("_")[1].split(".")[0]) % 2 else "check"
        for k, (text, audio) in enumerate(parts):
            d = decode(audio, set="short", part=f"{'first word' if k == 0 else 'rest'} ({fold})", cond="clean",
                       file=f, label=text, fold=fold)
            d["clear"] = heard_freely(d["free"], text)
    for f, parts in pieces.items():
        for text, audio in parts:
            rec.set_automaton(automaton_of(sorted((set(grammar) | set(texts)) - {text})))
            decode(audio, set="short-near", part="piece's own sentence removed", cond="clean", file=f, label=text)


def grocery(rec, decode, count: int) -> None:  # type: ignore[no-untyped-def]
    """espeak-ng French grocery requests against the benchmark catalogue's grammar (plumbing)."""
    from bench import accuracy_templates as templates
    from bench.accuracy_audio import synth

    from device.contract.catalogue import Catalogue
    from device.language import grammar as grammars

    catalogue = Catalogue.load(templates.CATALOG_PATH)
    rec.set_grammar(grammars.build(catalogue, "fr-FR"))
    cache = Path(os.environ.get("TMPDIR", "/tmp")) / "bench_french_tts"
    cache.mkdir(exist_ok=True)
    voice, speed = GROCERY_VOICE
    for req in templates.generate("fr-FR", count, seed=12):
        audio = synth(cache, req.text, voice, speed).astype(np.float32)
        audio = np.concatenate([np.zeros(4800, np.float32), audio, np.zeros(4800, np.float32)])
        decode(audio, set="grocery", part=req.kind, cond="clean", file=f"{voice} {speed}", label=req.text,
               expected=req.expected())


# -- the rule --------------------------------------------------------------------------------------
def accepted(d: dict, gap: float, mean: float, allowance: float = 0.0) -> bool:
    """The device's rule (device.recognition.neural.verdict) at these settings."""
    from device.recognition.neural import SearchSettings, confidence, short_sentence_allowance

    if not d["words"] or d["gap"] is None or d.get("reason"):
        return False
    fair = short_sentence_allowance(d.get("tokens") or 99, allowance, SearchSettings.short_reference)
    conf = min(confidence(min(d["gap"] + fair, 0.0), gap),
               confidence(min(d["mean"] + fair, 0.0), mean) if mean != -math.inf else 1.0)
    return conf >= 0.85


def score(decisions: list[dict], gap: float, mean: float, allowance: float = 0.0) -> dict:
    """Counts at one setting."""
    out: dict = {"gap": gap, "mean": mean, "allowance": allowance, "cond": {}, "short": {}}
    for d in decisions:
        if d["set"] not in ("command", "short"):
            continue
        if d["set"] == "command":
            c = out["cond"].setdefault(d["cond"], {"n": 0, "right": 0, "wrong": 0, "refused": 0})
        else:
            c = out["short"].setdefault(d["fold"] + (" clear" if d.get("clear") else " unclear"),
                                        {"n": 0, "right": 0, "wrong": 0, "refused": 0})
        c["n"] += 1
        if not accepted(d, gap, mean, allowance):
            c["refused"] += 1
        elif d["words"] == d["label"]:
            c["right"] += 1
        else:
            c["wrong"] += 1
    for name in ("ood", "near", "short-near"):
        ds = [d for d in decisions if d["set"] == name]
        out[name] = {"n": len(ds), "accepted": sum(accepted(d, gap, mean, allowance) for d in ds)}
    return out


def choose(decisions: list[dict]) -> tuple[dict, list[dict], bool]:
    """The setting: every out-of-domain clip refused in every condition and ≥ 97% of clean commands right
    with ≤ 1 wrong, and no more short pieces of the fitting half wrong than with no allowance; among those, fewest
    near-neighbour accepts (whole commands and short pieces: a wrong answer where the right one is missing), then
    most short pieces of the fitting half right, then most commands right in
    noise, then the strictest setting (the most margin against speech not heard here). When none keeps 97%:
    most clean commands right among those refusing every out-of-domain clip, then the same order (target
    reported missed). The checking half of the short pieces plays no part: it is reported at the setting."""
    grid = [score(decisions, g, m, a) for g in GAPS for m in MEANS for a in ALLOWANCES]

    def clean(s: dict) -> dict:
        return s["cond"].get("clean", {"n": 1, "right": 0, "wrong": 0})

    def noisy_right(s: dict) -> int:
        return sum(c["right"] for k, c in s["cond"].items() if k != "clean")

    def fit(s: dict) -> dict:
        parts = [v for k, v in s["short"].items() if k.startswith("fit")]
        return {k: sum(v[k] for v in parts) for k in ("n", "right", "wrong")}

    plain = {(s["gap"], s["mean"]): fit(s)["wrong"] for s in grid if s["allowance"] == 0.0}

    def near(s: dict) -> int:
        return s["near"]["accepted"] + s["short-near"]["accepted"]

    safe = [s for s in grid if s["ood"]["accepted"] == 0 and fit(s)["wrong"] <= plain[(s["gap"], s["mean"])]]
    ok = [s for s in safe if clean(s)["right"] >= TARGET * clean(s)["n"] and clean(s)["wrong"] <= 1]
    pool = ok or safe or grid

    def strict(s: dict) -> tuple[float, float, float]:
        return -s["gap"], -s["mean"], s["allowance"]

    key = (lambda s: (near(s), -fit(s)["right"], -noisy_right(s), *strict(s))) if ok else \
        (lambda s: (-clean(s)["right"], near(s), -fit(s)["right"], -noisy_right(s), *strict(s)))
    return min(pool, key=key), grid, bool(ok)


# -- report ----------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 0) if values else float("nan")


def section(results: dict, command: str) -> str:
    main = results["windows"]["10"]
    chosen, grid, met = choose(main["decisions"])
    when = results.get("when") or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = results.get("load") or f"{os.getloadavg()[0]:.1f}"
    results.update(when=when, load=load)
    g, m, a = chosen["gap"], chosen["mean"], chosen["allowance"]
    lines = ["## Real French speech: Whisper base + the constrained search (OHF-Voice fr_commands)", "",
             f"`{command}` — {platform.machine()}, {platform.processor() or platform.platform()}, 1 thread, "
             f"load average {load} (shared machine: timings inflated), {when}.",
             f"Grammar: the {sum(1 for d in main['decisions'] if d['set'] == 'command' and d['cond'] == 'clean')} "
             f"recordings' sentences + generated distractors ({main['grammar']} sentences, "
             "scripts/french_commands.py). One speaker: this tells sentences apart, it is not a household figure.",
             f"Rejection chosen by the rule in `choose` (all out-of-domain refused, ≥ 97% of clean commands right "
             f"with ≤ 1 wrong, then fewest near-neighbour accepts, then most short pieces of the fitting half "
             f"right): **reject_gap {g}, reject_mean {m}, short_allowance {a}**"
             + ("" if met else " — **the 97% target is not met at any setting that refuses every out-of-domain "
                                "clip**") + ".", "",
             "| window | condition | n | right | wrong | refused | p50 ms | p95 ms | encoder p50 ms |",
             "|---|---|---|---|---|---|---|---|---|"]
    for w, res in sorted(results["windows"].items(), key=lambda kv: float(kv[0])):
        s = score(res["decisions"], g, m, a)
        for cond, c in s["cond"].items():
            ds = [d for d in res["decisions"] if d["set"] == "command" and d["cond"] == cond]
            lines.append(f"| {w} s | {cond} | {c['n']} | {c['right']} | {c['wrong']} | {c['refused']} | "
                         f"{pct([d['ms'] for d in ds], 50):.0f} | {pct([d['ms'] for d in ds], 95):.0f} | "
                         f"{pct([d['encoder_ms'] for d in ds], 50):.0f} |")
    lines += ["", "Out-of-domain accepted at the chosen setting (should be refused), 10 s window:", "",
              "| part | n | accepted |", "|---|---|---|"]
    parts: dict[str, list[int]] = {}
    for d in main["decisions"]:
        if d["set"] in ("ood", "near", "short-near"):
            label = d["part"] + (f" ({d['cond']})" if d["part"] in ("oov", "silence") else "")
            p = parts.setdefault(label, [0, 0])
            p[0] += 1
            p[1] += accepted(d, g, m, a)
    lines += [f"| {k} | {v[0]} | {v[1]} |" for k, v in parts.items()]
    chosen_short = score(main["decisions"], g, m, a)["short"]
    if chosen_short:
        lines += ["", "Short answers — each command cut into its first word and the rest, the pieces decoded as "
                  "sentences of their own (clear: the free transcript holds the piece's words; the fitting half "
                  "chose the allowance, the checking half did not take part):", "",
                  "| pieces | n | right | wrong | refused | right without the allowance |", "|---|---|---|---|---|---|"]
        before = score(main["decisions"], g, m, 0.0)["short"]
        for key in sorted(chosen_short):
            c = chosen_short[key]
            lines.append(f"| {key} | {c['n']} | {c['right']} | {c['wrong']} | {c['refused']} | "
                         f"{before.get(key, {}).get('right', 0)} |")
    lines += ["", "Trade-off (10 s window): clean right/wrong, noisy (12+9+6 dB) right, out-of-domain accepted, "
              "near neighbours accepted (whole commands and short pieces), short pieces right (fitting half):", "",
              "| reject_gap | reject_mean | short_allowance | clean right | clean wrong | noisy right | OOD accepted | "
              "near accepted | short right |", "|---|---|---|---|---|---|---|---|---|"]
    for s in grid:
        if s["mean"] not in (-1.5, m, -2.0, -2.5, -math.inf) or s["gap"] > -0.5 or s["allowance"] not in (0.0, a):
            continue
        c = s["cond"].get("clean", {"right": 0, "wrong": 0, "n": 0})
        noisy = sum(v["right"] for k, v in s["cond"].items() if k != "clean")
        n_noisy = sum(v["n"] for k, v in s["cond"].items() if k != "clean")
        mark = " **←**" if (s["gap"], s["mean"], s["allowance"]) == (g, m, a) else ""
        clear = [v for k, v in s["short"].items() if k.startswith("fit")]
        near_n = s["near"]["n"] + s["short-near"]["n"]
        lines.append(f"| {s['gap']} | {s['mean']} | {s['allowance']} | {c['right']}/{c['n']} | {c['wrong']} | "
                     f"{noisy}/{n_noisy} | {s['ood']['accepted']}/{s['ood']['n']} | "
                     f"{s['near']['accepted'] + s['short-near']['accepted']}/{near_n} | "
                     f"{sum(v['right'] for v in clear)}/{sum(v['n'] for v in clear)}{mark} |")
    groc = [d for d in main["decisions"] if d["set"] == "grocery"]
    if groc:
        right, wrong, refused = grocery_counts(groc, g, m, a)
        voice = groc[0]["file"]
        lines += ["", f"French grocery requests, espeak-ng `{voice}` (plumbing only — Whisper base hears espeak-ng "
                  f"French badly; not an accuracy figure): {len(groc)} requests (orders, cancels, non-orders), "
                  f"{right} right, {wrong} wrong, {refused} refused."]
    grocery_rss = main.get("peak_rss_with_grocery_mb")
    lines += ["", "Peak RSS (benchmark process: model, speller, search, on this grammar): " + ", ".join(
        f"{w} s window {r['peak_rss_mb']:.0f} MB" for w, r in sorted(results["windows"].items(),
                                                                    key=lambda kv: float(kv[0]))) +
              (f"; {grocery_rss:.0f} MB once the grocery catalogue's grammar was spelled too" if grocery_rss else "") +
              f"; model load {main['load_s']} s. The windows ran one after the other, at different loads: compare "
              "their latencies in BENCHMARKS \"whisper-variants\" (side by side), not here."]
    return "\n".join(lines) + "\n"


def grocery_counts(groc: list[dict], gap: float, mean: float, allowance: float = 0.0) -> tuple[int, int, int]:
    """(right, wrong, refused): an order right when its items are the expected ones; a cancel when it
    cancels; a non-order when refused or understood as nothing."""
    from bench import accuracy_templates as templates

    from device.contract.catalogue import Catalogue
    from device.language.parser import IntentParser

    parser = IntentParser(Catalogue.load(templates.CATALOG_PATH), "fr-FR")
    right = wrong = refused = 0
    for d in groc:
        exp = d["expected"]
        if not accepted(d, gap, mean, allowance):
            if exp["action"] == "none":
                right += 1
            else:
                refused += 1
            continue
        intent = parser.parse(d["words"])
        items = sorted([p.sku, int(p.quantity)] for p in intent.items) if intent.action == "reorder" else []
        got = {"action": intent.action, "items": items}
        ok = got["action"] == exp["action"] and (exp["action"] != "reorder" or items == sorted(exp["items"]))
        if ok or (exp["action"] == "none" and intent.action == "none"):
            right += 1
        else:
            wrong += 1
    return right, wrong, refused


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="a folder laid out like ../shared/data/fr_commands")
    p.add_argument("--snr", default="clean,12,9,6")
    p.add_argument("--distractors", type=int, default=300)
    p.add_argument("--grocery", type=int, default=30, help="espeak-ng grocery requests (0: none)")
    p.add_argument("--windows", default="10,30", help="encoder windows (s); the first is the device's")
    p.add_argument("--beam", type=int, default=0, help="override NEURAL_SEARCH['whisper'] beam")
    p.add_argument("--standard-spelling", action="store_true", help="respell the labels' verrouille (variant)")
    p.add_argument("--no-short", dest="short", action="store_false", help="leave out the short pieces")
    p.add_argument("--embeddings", choices=["float32", "int8"],
                   help="WhisperDecoder's token table (default: the device's)")
    p.add_argument("--json", help="write every decision and the chosen setting here")
    p.add_argument("--from-json", help="re-make the section from an earlier --json (no decoding)")
    p.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    p.add_argument("--window", type=float, help=argparse.SUPPRESS)  # the child
    p.add_argument("--window-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.window:
        print(json.dumps(run_child(args), ensure_ascii=False))
        return 0
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text(encoding="utf-8"))
    else:
        results = {"windows": {}}
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        for k, w in enumerate(args.windows.split(",")):
            cmd = [sys.executable, __file__, "--data", args.data, "--distractors", str(args.distractors),
                   "--window", w, "--beam", str(args.beam), "--grocery", str(args.grocery if k == 0 else 0),
                   "--snr", args.snr if k == 0 else "clean"] + \
                (["--embeddings", args.embeddings] if args.embeddings else []) + \
                ([] if args.short and k == 0 else ["--no-short"]) + \
                (["--standard-spelling"] if args.standard_spelling else []) + \
                (["--window-only"] if k else [])
            out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True, env=env)
            results["windows"][str(int(float(w)))] = json.loads(out.stdout.strip().splitlines()[-1])
        chosen, _, met = choose(results["windows"][str(int(float(args.windows.split(",")[0])))]["decisions"])
        results["chosen"] = {"reject_gap": chosen["gap"], "reject_mean": chosen["mean"],
                             "short_allowance": chosen["allowance"], "target_met": met}
    command = results.get("command") or "python scripts/bench_french.py " + " ".join(sys.argv[1:])
    results["command"] = command
    text = section(results, command)
    if args.json and not args.from_json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print(text)
    if not args.no_write:
        from bench.common import write_section

        write_section("french", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
