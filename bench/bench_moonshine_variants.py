#!/usr/bin/env python3
"""Moonshine base-en, weight format by weight format and session option by option: load, memory, speed, transcripts.

    .venv/bin/python scripts/bench_moonshine_variants.py [--data ../shared/data/barista] [--files 20] [--write]

Variants: the wheel's shipped `.ort` graphs (weights de-quantised on every call), folded fp32 ONNX,
and int8 MatMul weights (device.adapters.moonshine_prepare --variant int8/fp32, prepared into a
scratch folder). Each runs with onnxruntime's CPU memory arena on/off and weight pre-packing on/off,
in its own child process (1 thread), so load time and RSS are its own: RSS before and after loading,
peak RSS, ms per decoder token at batch 1 and batch 6 (self-attention caches stacked, 16 steps
after the prompt), encoder ms for a 4 s clip, and a constrained-request estimate (encoder + 15 steps
at batch 6 + 15 at batch 1, the free greedy pass). Transcripts (free greedy, audio trimmed to the
speech ± 0.3 s) of the first N recordings are compared with the shipped graphs'. --write puts the
table into BENCHMARKS.md (section "moonshine-variants").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OPTIONS = [(False, True), (True, True), (False, False), (True, False)]  # (arena, prepack)
STEPS = 16
DEFAULT_NOTE = (
    "Default (adapters.moonshine, moonshine_prepare): **int8 MatMul weights, arena off, pre-packing on** — "
    "the only variant fast enough for a 250 ms constrained request (about 12x less decoder CPU per token "
    "than the shipped graphs at batch 1, 2.5x less than fp32) and it holds half of fp32's memory; the "
    "arena buys nothing for it and costs memory; pre-packing off gives back 30-40 MB but costs 1.6-2.3x "
    "decoder time. int8 transcripts differ from the shipped graphs' on a few files (hyphens, one garbled "
    "word on a hard clip); fp32 matches them exactly. int8 scores move slightly with a hypothesis's "
    "batch-mates (one activation scale per batch): up to 0.2 nats on likely tokens.")


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process, MB."""
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def read_audio(path: Path):  # type: ignore[no-untyped-def]
    """Any file sox reads, as float32 16 kHz mono."""
    import numpy as np

    raw = subprocess.run(["sox", str(path), "-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed",
                          "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, "<i2").astype(np.float32) / 32768


def child(args: argparse.Namespace) -> None:
    """One variant with one set of options: print one JSON line."""
    import numpy as np

    before = rss_mb()[0]
    from device.adapters.moonshine import Moonshine, greedy_tokens, trim_silence

    imported = rss_mb()[0]
    t = time.perf_counter()
    dec = Moonshine(args.model, arena=args.arena, prepack=args.prepack, trim=True)
    load_s = time.perf_counter() - t
    after_load = rss_mb()[0]
    files = [Path(f) for f in args.audio]
    clip = trim_silence(read_audio(files[0]))
    clip4 = np.resize(clip, 4 * 16000).astype(np.float32)  # 4 s of speech (repeated if shorter)
    dec.trim = False  # the 4 s clip is speech already
    enc, enc_cpu = [], []
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        dec._encoder.run(None, {"input_values": clip4[None, :]})
        enc.append(time.perf_counter() - t)
        enc_cpu.append(time.process_time() - c)
    tokens = greedy_tokens(dec, clip4, limit=STEPS + 1) + [dec.eos] * (STEPS + 1)
    per, cpu = {}, {}
    for batch in (1, 6):
        _, state = dec.start(clip4)
        states, times, cpus = [state] * batch, [], []
        for step in range(STEPS):
            t, c = time.perf_counter(), time.process_time()
            _, states = dec.advance(states, [tokens[step]] * batch)
            times.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        per[batch], cpu[batch] = float(np.median(times)) * 1000, float(np.median(cpus)) * 1000
    texts = []
    dec.trim = True
    if args.transcripts:
        for f in files:
            texts.append(dec.decode_text(greedy_tokens(dec, read_audio(f))))
    current, peak = rss_mb()
    print(json.dumps({"load_s": load_s, "rss_python": before, "rss_imported": imported, "rss_load": after_load,
                      "rss_end": current, "peak": peak, "enc_ms": min(enc) * 1000, "b1_ms": per[1],
                      "b6_ms": per[6], "enc_cpu": min(enc_cpu) * 1000, "b1_cpu": cpu[1], "b6_cpu": cpu[6],
                      "load": os.getloadavg()[0], "texts": texts}))


def prepare_variants(scratch: Path) -> dict[str, Path]:
    """The three folders: shipped .ort (symlinks), fp32 and int8 prepared from the installed wheel."""
    from device.adapters import moonshine_prepare

    wheel = moonshine_prepare.installed_wheel_dir()
    if wheel is None:
        sys.exit("bench_moonshine_variants: moonshine-cpp is not installed (scripts/dev setup installs it)")
    shipped = scratch / "shipped"
    shipped.mkdir()
    for src, dst in (("encoder_model.ort", "encoder.ort"), ("decoder_model_merged.ort", "decoder.ort"),
                     ("tokenizer.bin", "tokenizer.bin")):
        (shipped / dst).symlink_to(wheel / src)
    folders = {"shipped .ort": shipped}
    for variant in ("fp32", "int8"):
        t = time.perf_counter()
        moonshine_prepare.prepare(wheel, scratch / variant, variant)
        print(f"prepared {variant} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        folders[f"{variant} ONNX"] = scratch / variant
    return folders


def run_child(folder: Path, arena: bool, prepack: bool, audio: list[Path], transcripts: bool) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--child", "--model", str(folder), "--arena", str(int(arena)),
           "--prepack", str(int(prepack)), *(["--transcripts"] if transcripts else []), "--audio", *map(str, audio)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def section(rows: list[dict], reference: list[str], n: int, command: str) -> str:
    lines = ["## Moonshine base-en: weight format and session options", "",
             f"`{command}` — {platform.node()}, {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores shared with other jobs, 1 thread, {time.strftime('%Y-%m-%d')}. "
             "Each row is a fresh process. RSS in MB (the process before loading: Python, numpy, onnxruntime "
             "imported); ms per decoder token = median of 16 cached steps, as CPU time of the process and, in "
             "brackets, wall time on this shared machine (load average in the last column); CPU time is still "
             "inflated by the other jobs (FINDINGS.md's quiet-machine figures: shipped 47, fp32 8, int8 5 ms per "
             "token at batch 1, i.e. 2-4x less), so read the ratios; request = encoder (4 s) + 15 steps at batch 6 "
             "+ 15 at "
             "batch 1 (beam 6 and the free greedy pass), CPU ms. Transcripts: free greedy on the "
             f"first {n} barista recordings trimmed to the speech (± 0.3 s), compared with the shipped graphs'.", "",
             "| variant | arena | prepack | load s | RSS imported | RSS loaded | peak RSS | encoder 4 s ms "
             "| ms/token b1 | ms/token b6 | request ms | same transcripts | load avg |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        request = r["enc_cpu"] + 15 * r["b6_cpu"] + 15 * r["b1_cpu"]
        same = "—" if not r["texts"] else f"{sum(a == b for a, b in zip(r['texts'], reference))}/{n}"
        lines.append(f"| {r['variant']} | {'on' if r['arena'] else 'off'} | {'on' if r['prepack'] else 'off'} "
                     f"| {r['load_s']:.2f} | {r['rss_imported']:.0f} | {r['rss_load']:.0f} | {r['peak']:.0f} "
                     f"| {r['enc_cpu']:.0f} ({r['enc_ms']:.0f}) | {r['b1_cpu']:.1f} ({r['b1_ms']:.0f}) "
                     f"| {r['b6_cpu']:.1f} ({r['b6_ms']:.0f}) | {request:.0f} | {same} | {r['load']:.1f} |")
    lines += ["", DEFAULT_NOTE]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "barista")
    p.add_argument("--files", type=int, default=20, help="recordings whose transcripts are compared (20)")
    p.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--arena", type=int, help=argparse.SUPPRESS)
    p.add_argument("--prepack", type=int, help=argparse.SUPPRESS)
    p.add_argument("--transcripts", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--audio", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        args.arena, args.prepack = bool(args.arena), bool(args.prepack)
        child(args)
        return
    audio = sorted((args.data / "audio").glob("*.flac"))[:args.files]
    if not audio:
        sys.exit(f"bench_moonshine_variants: no .flac files in {args.data / 'audio'}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="moonshine-variants-") as tmp:
        folders = prepare_variants(Path(tmp))
        reference: list[str] = []
        for name, folder in folders.items():
            for arena, prepack in OPTIONS:
                first = (arena, prepack) == OPTIONS[0]
                r = run_child(folder, arena, prepack, audio, transcripts=first)
                if name == "shipped .ort" and first:
                    reference = r["texts"]
                rows.append({**r, "variant": name, "arena": arena, "prepack": prepack})
                print(f"{name:14} arena={arena!s:5} prepack={prepack!s:5} load {r['load_s']:.2f} s, RSS "
                      f"{r['rss_load']:.0f} MB (peak {r['peak']:.0f}), enc {r['enc_ms']:.0f} ms, "
                      f"b1 {r['b1_ms']:.1f} ms, b6 {r['b6_ms']:.1f} ms; CPU b1 {r['b1_cpu']:.1f} "
                      f"b6 {r['b6_cpu']:.1f} enc {r['enc_cpu']:.0f}", file=sys.stderr, flush=True)
    for r in rows:
        if r["texts"]:
            diff = [(a, b) for a, b in zip(r["texts"], reference) if a != b]
            for a, b in diff:
                print(f"{r['variant']}: {a!r} (shipped: {b!r})", file=sys.stderr)
    command = "python scripts/bench_moonshine_variants.py" + (f" --files {args.files}" if args.files != 20 else "") \
        + (" --write" if args.write else "")
    text = section(rows, reference, len(audio), command)
    print(text)
    if args.write:
        from bench_sections import write_section  # scripts/bench_sections.py

        write_section("moonshine-variants", text)


if __name__ == "__main__":
    main()
