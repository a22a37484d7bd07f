"""Short answers in English ("yes", "cancel", "the usual") through Moonshine: the short-sentence allowance.

    python -m bench.short_answers [--json OUT] [--no-write]

flite's voices (Moonshine hears them as it hears people: FINDINGS.md) say the English lexicon's short
answers and a few out-of-domain phrases, decoded against the sample catalogue's grocery grammar with
the device's search settings. The rule: on the fitting voices (slt, rms), the smallest
`short_allowance` (ALLOWANCES) with the most short answers right, no more wrong ones and no
out-of-domain phrase accepted; the checking voices (awb, kal16) are then reported at that setting
(data not fitted on). French short answers are measured on real speech by `python -m bench french`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

SHORT = ("yes", "no", "cancel", "never mind", "the usual", "confirm", "yeah", "cancel that", "forget it", "nope",
         "go ahead", "same again")
OOD = ("hello", "thank you", "what time is it", "play some music", "good night", "turn on the lights", "pause")
FIT, CHECK = ("slt", "rms"), ("awb", "kal16")
ALLOWANCES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
REPO = Path(__file__).resolve().parents[1]


def flite(text: str, voice: str) -> np.ndarray:
    """flite speech at 16 kHz with 0.5 s of silence either side."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", f.name], check=True)
        raw = subprocess.run(["sox", f.name, "-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", "-"],
                             capture_output=True, check=True).stdout
    pad = np.zeros(8000, np.float32)
    return np.concatenate([pad, np.frombuffer(raw, "<i2").astype(np.float32) / 32768, pad])


def decode_all() -> list[dict]:
    from device.adapters.speech.moonshine import Moonshine
    from device.contract.catalogue import Catalogue
    from device.engines import NEURAL_SEARCH
    from device.language import grammar as grammars
    from device.recognition.neural import ConstrainedRecognizer, SearchSettings

    rec = ConstrainedRecognizer(Moonshine(trim=False), "en-US",
                                SearchSettings(**{**NEURAL_SEARCH["moonshine"], "short_allowance": 0.0}))
    rec.set_grammar(grammars.build(Catalogue.load(REPO / "device" / "samples" / "catalog.json"), "en-US"))
    rows = []
    for voice in FIT + CHECK:
        for kind, texts in (("short", SHORT), ("ood", OOD)):
            for text in texts:
                result = rec.search(flite(text, voice))
                best = result.best
                rows.append({"set": kind, "voice": voice, "label": text if kind == "short" else None,
                             "words": best.text if best else "", "gap": result.gap() if best else None,
                             "mean": best.mean if best else None, "tokens": best.tokens if best else None,
                             "reason": rec.verdict(result)[1], "free": rec.free_text(result)})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def counts(rows: list[dict], voices: tuple[str, ...], allowance: float) -> dict:
    from device.engines import NEURAL_SEARCH
    from device.recognition.neural import SearchSettings, confidence, short_sentence_allowance

    s = replace(SearchSettings(**NEURAL_SEARCH["moonshine"]), short_allowance=allowance)

    def accepted(d: dict) -> bool:
        if not d["words"] or d["reason"]:
            return False
        fair = short_sentence_allowance(d["tokens"], s.short_allowance, s.short_reference)
        return min(confidence(min(d["gap"] + fair, 0.0), s.reject_gap),
                   confidence(min(d["mean"] + fair, 0.0), s.reject_mean)) >= 0.85

    short = [d for d in rows if d["set"] == "short" and d["voice"] in voices]
    ood = [d for d in rows if d["set"] == "ood" and d["voice"] in voices]
    return {"n": len(short), "right": sum(accepted(d) and d["words"] == d["label"] for d in short),
            "wrong": sum(accepted(d) and d["words"] != d["label"] for d in short),
            "ood": len(ood), "ood_accepted": sum(accepted(d) for d in ood)}


def choose(rows: list[dict]) -> float:
    """The smallest allowance with the most fitting-voice answers right, no more wrong, no out-of-domain accepted."""
    base = counts(rows, FIT, 0.0)
    fits = [(a, counts(rows, FIT, a)) for a in ALLOWANCES]
    safe = [(a, c) for a, c in fits if c["ood_accepted"] == 0 and c["wrong"] <= base["wrong"]]
    return min(safe, key=lambda ac: (-ac[1]["right"], ac[0]))[0] if safe else 0.0


def section(rows: list[dict], command: str) -> str:
    from bench import common

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
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", help="write every decision here")
    p.add_argument("--from-json", help="re-make the section from an earlier --json (no decoding)")
    p.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = p.parse_args()
    rows = json.loads(Path(args.from_json).read_text()) if args.from_json else decode_all()
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    text = section(rows, "python -m bench.short_answers " + " ".join(sys.argv[1:]))
    print(text)
    if not args.no_write:
        from bench import common

        common.write_section("short-answers", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
