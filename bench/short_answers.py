"""Short answers in English ("yes", "cancel", "the usual") through Moonshine: the short-sentence allowance.

flite's voices (Moonshine hears them as it hears people: FINDINGS.md) say the English lexicon's short answers and a
few out-of-domain phrases against the sample catalogue's grocery grammar; `choose` fits the allowance on two voices
(FIT), the other two (CHECK) are reported at it. French short answers: `python -m bench french`.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench import common, corpus
from bench.bench_french import accepted
from device.adapters.speech.moonshine import Moonshine
from device.contract.catalogue import Catalogue
from device.engines import NEURAL_SEARCH
from device.language import grammar as grammars
from device.recognition.neural import ConstrainedRecognizer, SearchSettings

SHORT = ("yes", "no", "cancel", "never mind", "the usual", "confirm", "yeah", "cancel that", "forget it", "nope",
         "go ahead", "same again")
OOD = ("hello", "thank you", "what time is it", "play some music", "good night", "turn on the lights", "pause")
FIT, CHECK = ("slt", "rms"), ("awb", "kal16")
STRETCH = {"kal16": 1.1}
"""flite's own duration_stretch for a voice where it is not 1.0 (corpus.flite always sets one)."""
ALLOWANCES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
PAD = np.zeros(corpus.RATE // 2, np.float32)


def decode_all() -> list[dict]:
    """Every voice's short answers and out-of-domain phrases, decoded once (no allowance applied yet)."""
    rec = ConstrainedRecognizer(Moonshine(trim=False), "en-US",
                                SearchSettings(**{**NEURAL_SEARCH["moonshine"], "short_allowance": 0.0}))
    rec.set_grammar(grammars.build(Catalogue.load(common.ROOT / "device" / "samples" / "catalog.json"), "en-US"))
    cache = Path(tempfile.gettempdir()) / "bench_short_answers_tts"
    cache.mkdir(exist_ok=True)
    rows = []
    for voice in FIT + CHECK:
        for kind, texts in (("short", SHORT), ("ood", OOD)):
            for text in texts:
                speech = corpus.flite(cache, text, voice, STRETCH.get(voice, 1.0))
                result = rec.search(np.concatenate([PAD, speech.astype(np.float32) / 32768, PAD]))
                best = result.best
                rows.append({"set": kind, "voice": voice, "label": text if kind == "short" else None,
                             "words": best.text if best else "", "gap": result.gap() if best else None,
                             "mean": best.mean if best else None, "tokens": best.tokens if best else None,
                             "reason": rec.verdict(result)[1], "free": rec.free_text(result)})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def counts(rows: list[dict], voices: tuple[str, ...], allowance: float) -> dict:
    """Short answers right and wrong, out-of-domain phrases accepted, on these voices at this allowance."""
    s = SearchSettings(**NEURAL_SEARCH["moonshine"])
    short = [(d, accepted(d, s.reject_gap, s.reject_mean, allowance)) for d in rows
             if d["set"] == "short" and d["voice"] in voices]
    ood = [d for d in rows if d["set"] == "ood" and d["voice"] in voices]
    return {"n": len(short), "right": sum(ok and d["words"] == d["label"] for d, ok in short),
            "wrong": sum(ok and d["words"] != d["label"] for d, ok in short),
            "ood": len(ood), "ood_accepted": sum(accepted(d, s.reject_gap, s.reject_mean, allowance) for d in ood)}


def choose(rows: list[dict]) -> float:
    """The smallest allowance with the most fitting-voice answers right, no more wrong, no out-of-domain accepted."""
    base = counts(rows, FIT, 0.0)
    safe = [(a, c) for a, c in ((a, counts(rows, FIT, a)) for a in ALLOWANCES)
            if c["ood_accepted"] == 0 and c["wrong"] <= base["wrong"]]
    return min(safe, key=lambda ac: (-ac[1]["right"], ac[0]))[0] if safe else 0.0


def section(rows: list[dict], command: str) -> str:
    """The section's text: the chosen allowance, and the counts with and without it per group of voices."""
    chosen = choose(rows)
    lines = ["## Short answers in English: Moonshine, flite voices", "",
             f"`{command}` — {common.now()}. The sample catalogue's grocery grammar, the device's Moonshine settings; "
             f"{len(SHORT)} short answers and {len(OOD)} out-of-domain phrases per voice. Rule "
             "(bench/short_answers.py): "
             f"the smallest short_allowance with the most answers right on the fitting voices ({', '.join(FIT)}), no "
             f"more wrong, no out-of-domain phrase accepted: **{chosen}**; the checking voices ({', '.join(CHECK)}) "
             "took no part.", "",
             "| voices | short_allowance | answers right | wrong | out-of-domain accepted |", "|---|---|---|---|---|"]
    for name, voices in (("fitting", FIT), ("checking", CHECK)):
        for a in sorted({0.0, chosen}):
            c = counts(rows, voices, a)
            lines.append(f"| {name} ({', '.join(voices)}) | {a} | {c['right']}/{c['n']} | {c['wrong']} | "
                         f"{c['ood_accepted']}/{c['ood']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    """Decode, then print (and write) the section."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", help="write every decision here")
    p.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = p.parse_args()
    rows = decode_all()
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    common.publish("short-answers", section(rows, "python -m bench.short_answers " + " ".join(sys.argv[1:])),
                   not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
