#!/usr/bin/env python3
"""Whisper base for French, variant by variant: load, memory, encoder and decoder cost, accuracy on real speech.

    .venv/bin/python scripts/bench_whisper_variants.py [--data ../shared/data/fr_commands] [--write]

Each variant runs in its own child process (one thread: OMP/OpenBLAS/CTranslate2), so its RSS is its
own: load time, RSS after load, encoder ms for the request window, decoder ms per token at batch 1
and 8, free greedy WER on the real French commands (labels.json, kind == "command"), and the
grammar-constrained search (stages.constrained, beam 6) over a grammar of those commands' sentences:
exact sentences and end-of-speech -> result ms (encoder + search) p50/p95, peak RSS. --write puts the
table into BENCHMARKS.md (section "whisper-variants").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
import unicodedata
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {
    # name: (encoder window s, CTranslate2 compute type, encoder-only copy, decoder weights)
    "int8 encoder-only, 10 s window, float32 numpy decoder (default)": (10.0, "int8", True, "float32"),
    "same, int8 onnxruntime decoder matrices": (10.0, "int8", True, "int8"),
    "int8 encoder-only, 30 s window": (30.0, "int8", True, "float32"),
    "int8 whole model in CTranslate2, 10 s": (10.0, "int8", False, "float32"),
    "float32 encoder-only, 10 s window": (10.0, "float32", True, "float32"),
}


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process, MB."""
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def read_wav(path: Path):  # type: ignore[no-untyped-def]
    import numpy as np

    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768


def words(text: str) -> list[str]:
    """NFC, lower case, punctuation dropped, hyphens and apostrophes split (both sides alike)."""
    text = re.sub(r"[-'’]", " ", unicodedata.normalize("NFC", text).lower())
    return re.sub(r"[^\w%\s]", " ", text).split()


def edits(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def child(name: str, data: Path) -> dict:
    """Measure one variant in this process."""
    import numpy as np

    from device.adapters import whisper
    from device.adapters.whisper_prepare import default_model_dir
    from device.stages.automaton import Builder
    from device.stages.constrained import search
    from device.stages.speller import Speller

    window, compute, encoder_only, weights = VARIANTS[name]
    base = rss_mb()[0]
    t0 = time.perf_counter()
    dec = whisper.WhisperDecoder(default_model_dir(), window_s=window, compute_type=compute,
                                 encoder_only=encoder_only, decoder_weights=weights)
    load_s = time.perf_counter() - t0
    after_load = rss_mb()[0]
    labels = json.loads((data / "labels.json").read_text())
    # labels.json spells accents decomposed (NFD: "e" + U+0300); the model and the grammar use NFC
    commands = {f: unicodedata.normalize("NFC", v["text"]) for f, v in sorted(labels.items()) if v["kind"] == "command"}
    builder = Builder()
    for text in commands.values():
        builder.finals.add(builder.phrase(builder.start, text.lower().split()))
    speller = Speller(builder.compile(), dec.vocabulary)
    enc_ms, greedy_ms, search_ms, errors, ref_words, exact = [], [], [], 0, 0, 0
    audio = {f: read_wav(data / "audio" / f) for f in commands}
    for f, text in commands.items():
        t = time.perf_counter()
        dec.encode(audio[f])
        enc_ms.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        hyp = whisper.greedy_transcript(dec, audio[f])
        greedy_ms.append((time.perf_counter() - t) * 1e3)
        errors += edits(words(text), words(hyp))
        ref_words += len(words(text))
        t = time.perf_counter()
        result = search(dec, speller, audio[f], beam=6)
        search_ms.append((time.perf_counter() - t) * 1e3)
        best = result.best
        exact += best is not None and " ".join(best.words) == text.lower()
    _, state = dec.start(audio[next(iter(commands))])
    step = {}
    for batch in (1, 8):
        states, tokens = [state] * batch, [int(np.argmax(dec.start(np.zeros(16000, np.float32))[0]))] * batch
        times = []
        for _ in range(12):
            t = time.perf_counter()
            _, states = dec.advance(states, tokens)
            times.append((time.perf_counter() - t) * 1e3)
        step[batch] = float(np.median(times))
    return {"variant": name, "load_s": load_s, "rss_base_mb": base, "rss_after_load_mb": after_load,
            "encoder_ms_p50": float(np.median(enc_ms)), "step_ms_b1": step[1], "step_ms_b8": step[8],
            "greedy_ms_p50": float(np.median(greedy_ms)), "wer": errors / ref_words, "n": len(commands),
            "constrained_exact": exact, "search_ms_p50": pct(search_ms, 0.5), "search_ms_p95": pct(search_ms, 0.95),
            "peak_rss_mb": rss_mb()[1]}


def render(rows: list[dict], command: str) -> str:
    """The BENCHMARKS.md section."""
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.machine())
    lines = ["## Whisper base (French): model variants", "",
             f"`{command}` — {time.strftime('%Y-%m-%d')}, {cpu} ({platform.machine()}), 1 thread, shared with "
             f"other jobs (timings are noisy: compare rows of one run). {rows[0]['n']} real French commands "
             "(one speaker, ../shared/data/fr_commands). Search = encoder + grammar-constrained beam search "
             "(beam 6, with its free pass) over a grammar of exactly those sentences: an upper bound on "
             "accuracy, a fair figure for cost.", "",
             "| variant | load s | RSS after load MB | encoder ms | decoder ms/token b1 | b8 | free greedy WER "
             "| constrained exact | search ms p50 | p95 | peak RSS MB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['variant']} | failed: {r['error']} |")
            continue
        lines.append(f"| {r['variant']} | {r['load_s']:.1f} | {r['rss_after_load_mb']:.0f} | {r['encoder_ms_p50']:.0f} "
                     f"| {r['step_ms_b1']:.1f} | {r['step_ms_b8']:.1f} | {r['wer']:.1%} "
                     f"| {r['constrained_exact']}/{r['n']} | {r['search_ms_p50']:.0f} | {r['search_ms_p95']:.0f} "
                     f"| {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fr_commands")
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--only", action="append", help="run only the variants whose name contains this")
    p.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    p.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = p.parse_args()
    if args.variant:
        print(json.dumps(child(args.variant, args.data)))
        return 0
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(ROOT))
    rows = []
    for name in VARIANTS:
        if args.only and not any(o in name for o in args.only):
            continue
        done = subprocess.run([sys.executable, __file__, "--variant", name, "--data", str(args.data)],
                              capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            rows.append({"variant": name, "error": done.stderr.strip().splitlines()[-1:]})
        else:
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr)
    command = "python scripts/bench_whisper_variants.py" + (" --write" if args.write else "")
    text = render(rows, command)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    if args.write:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_sections import write_section

        write_section("whisper-variants", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
