"""The device loop as shipped: listening cost and VAD gating, wake word, latency, memory and start-up, in one run.

Needs espeak-ng, sox and mosquitto; each measurement runs in its own process (bench/loop_child.py). The full run
takes ~15 min on 2 shared cores (10 min of audio per listening condition, 1 h of false-wake speech).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, code_version, command, logger, machine, now, percentile, table, write_section
from tests.support import Mosquitto

FULL = {"seconds": 600, "false_seconds": 3600, "requests": 30, "startup_runs": 3,
        "memory": ["python", "pocketsphinx", "moonshine"]}
SHORT = {"seconds": 8, "false_seconds": 60, "requests": 3, "startup_runs": 1, "memory": ["pocketsphinx"]}
GOALS = {"idle": 1.10, "gate": 0.30, "rss": 150}
QUIET = ("digital silence", "pink noise -50 dBFS", "brown noise -40 dBFS")
log = logger("bench loop")


def child(role: str, args: dict, timeout: float) -> dict:
    """One measurement in a fresh process (given the moment it was spawned, for start-up): its result, or
    {"error": ...}."""
    started = time.monotonic()
    argv = [sys.executable, "-m", "bench.loop_child", role, json.dumps({**args, "spawned": started})]
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"{role}: no result after {timeout:.0f} s"}
    if done.returncode != 0 or not done.stdout.strip():
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"{role} exited {done.returncode}: {tail}"}
    log(f"  {role} finished in {time.monotonic() - started:.0f} s")
    return json.loads(done.stdout.splitlines()[-1])


def measure(args: argparse.Namespace, plan: dict, workdir: Path) -> dict:
    """Every measurement, each in its own process, against one private Mosquitto."""
    cache = Path(args.cache) if args.cache else workdir / "audio"
    cache.mkdir(parents=True, exist_ok=True)
    broker = Mosquitto(workdir / "mosquitto").start()
    base = {"workdir": str(workdir), "broker": broker.url, "cache": str(cache), "short": args.short,
            "catalog": str(ROOT / "device" / "samples" / "catalog.json")}
    try:
        return {
            "listening": child("listening", {**base, "seconds": plan["seconds"]}, 7200),
            "wake": child("wake", {**base, "false_seconds": plan["false_seconds"]}, 7200),
            "latency": child("latency", {**base, "requests": plan["requests"]}, 1800),
            "memory": {what: child("memory", {**base, "what": what}, 600) for what in plan["memory"]},
            "startup": [child("startup", base, 120) for _ in range(plan["startup_runs"])],
        }
    finally:
        broker.stop()


# -- the section ----------------------------------------------------------------------------------
def ms(x: float | None) -> str:
    return "–" if x is None else f"{x * 1000:.0f} ms"


def sec(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f} s"


def times(x: float) -> str:
    return f"{x:.2f}×" if x >= 0.1 else f"{x:.3f}×"


def errors(r: dict) -> list[str]:
    """Every measurement that failed."""
    return [p["error"] for p in (r["listening"], r["wake"], r["latency"], *r["memory"].values(), *r["startup"])
            if "error" in p]


def ratio(c: dict, arm: str) -> float:
    """An arm's CPU over the bare engine's on the same frames (the loop is charged its background threads)."""
    return (c["cpu"][arm] + (c["background"] if arm == "loop" else 0.0)) / c["cpu"]["bare"]


def summary(r: dict) -> list[str]:
    rows = []

    def add(what: str, result: str, goal: str = "", ok: bool | None = None) -> None:
        rows.append([what, result, goal, "–" if ok is None else ("met" if ok else "**not met**")])

    if "error" not in r["listening"]:
        talk = r["listening"]["conditions"]["talk and pauses"]
        loop = ratio(talk, "loop") / ratio(talk, "gated")
        add("Idle listening: device loop ÷ its wake-word detector alone (talk and pauses)",
            f"{loop:.2f}× ({(talk['cpu']['loop'] + talk['background']) / talk['audio_seconds']:.4f} vs "
            f"{talk['cpu']['gated'] / talk['audio_seconds']:.4f} CPU-s/s)", f"≤ {GOALS['idle']:.2f}×",
            loop <= GOALS["idle"])
        quiet = [ratio(r["listening"]["conditions"][c], "gated") for c in QUIET]
        add("Wake word gated by the WebRTC VAD, nobody speaking (silence / pink −50 / brown −40 dBFS)",
            " / ".join(times(x) for x in quiet), f"≤ {GOALS['gate']:.1f}×", max(quiet) <= GOALS["gate"])
    if "error" not in r["wake"]:
        w = r["wake"]
        hours = w["false_seconds"] / 3600
        add(f"False wakes on {hours:.2f} h of English and French speech (as shipped)",
            f"{w['false_wakes']} ({w['false_wakes'] / hours:.1f} per hour)", "0", w["false_wakes"] == 0)
        add("\"okay nabu\" detected (as shipped), clean: espeak-ng voices / flite",
            " / ".join(f"{100 * d / n:.0f}% ({d}/{n})" for d, n in w["detected"].values()))
    if "error" not in r["latency"]:
        ok = [q for q in r["latency"]["requests"] if q["prompt"]]
        ep, proc = [q["endpoint"] for q in ok], [q["processing"] for q in ok]
        add("End of speech → prompt: endpoint wait (audio) + processing, p50 / p95",
            f"{sec(percentile(ep, 50))} + {ms(percentile(proc, 50))} / {sec(percentile(ep, 95))} + "
            f"{ms(percentile(proc, 95))}")
        rel = [q["release_to_puback"] for q in ok]
        add("Button release → broker PUBACK (live pacing), p50 / p95", f"{ms(percentile(rel, 50))} / "
            f"{ms(percentile(rel, 95))}")
    mem = r["memory"].get("pocketsphinx", {})
    if mem and "error" not in mem:
        add("Peak RSS, loop with pocketsphinx (as shipped otherwise)", f"{mem['peak_rss_mb']:.0f} MB",
            f"≤ {GOALS['rss']} MB", mem["peak_rss_mb"] <= GOALS["rss"])
    runs = [x for x in r["startup"] if "error" not in x]
    if runs:
        add("Start-up: process start → listening (as shipped, pocketsphinx)",
            sec(percentile([x["process_to_ready"] for x in runs], 50)))
    return ["### Summary", "", *table("measurement | result | goal | ", rows), ""]


def details(r: dict) -> list[str]:
    listening = r["listening"]
    words = ", ".join(listening.get("words", ["okay_nabu"])) if "error" not in listening else "?"
    out = ["### Listening cost and gating", "",
           f"CPU per audio-second of the shipped wake-word detector (microWakeWord: {words}) without the gate, as "
           "shipped (each word behind the WebRTC VAD gate, `device/audio/wake_word.py` `GatedEngine`: 0.96 s of "
           "pre-roll when the gate opens), and the device loop as shipped, all in one process on the same frames, "
           "taking turns every 2 s of audio (`time.thread_time()`); the loop is also charged its background threads "
           "(paho, gpiozero). \"Open\": the share of frames the words were scored.", "",
           *table("audio | ungated detector CPU-s/s | gated (open) | loop", (
               [f"{name} ({c['audio_seconds']:.0f} s)", f"{c['cpu']['bare'] / c['audio_seconds']:.4f}",
                f"{times(ratio(c, 'gated'))} ({100 * c['open']:.0f}%)", times(ratio(c, "loop"))]
               for name, c in ({} if "error" in listening else listening["conditions"]).items()))]
    out += ["", "### Latency", "", "| | p50 | p95 | max | n |", "|---|---|---|---|---|"]
    latency = [] if "error" in r["latency"] else [q for q in r["latency"]["requests"] if q["prompt"]]
    for key, label, fmt in (("endpoint", "end of speech → endpoint (audio)", sec),
                            ("processing", "endpoint step → `prompt` (processing)", ms),
                            ("release_to_puback", "button release → PUBACK", ms)):
        v = [q[key] for q in latency if q[key] is not None]
        out.append(f"| {label} | {fmt(percentile(v, 50))} | {fmt(percentile(v, 95))} | {fmt(max(v, default=None))} "
                   f"| {len(v)} |")
    if "error" not in r["latency"]:
        out += ["", f"Requests without a prompt: {len(r['latency']['requests']) - len(latency)}."]
    out += ["", "### Memory and start-up", "",
            *table("configuration | peak RSS | events", (
                ["Python + numpy (baseline)" if what == "python" else f"device loop as shipped, {what}",
                 m.get("error") or format(m["peak_rss_mb"], ".0f") + " MB", ", ".join(m.get("events", [])) or "–"]
                for what, m in r["memory"].items()))]
    runs = [x for x in r["startup"] if "error" not in x]
    if runs:
        med = {k: percentile([x[k] for x in runs], 50) for k in ("imports", "build", "first_step")}
        out += ["", f"Start-up (pocketsphinx, median of {len(runs)}): imports {sec(med['imports'])}, build "
                    f"{sec(med['build'])}, first step {ms(med['first_step'])}."]
    return out + [""]


def render(r: dict) -> str:
    m = r["machine"]
    out = ["## Device loop: cost, gating, wake word, latency, memory, start-up", "",
           f"Measured {m['date']} by `{m['command']}` ({m['mode']} mode, {m.get('minutes', 0):.0f} min) on the code "
           f"at {m['code']}.",
           f"Machine: {m['line']}. Load average {m['load_start']:.1f} at the start and {m.get('load_end', 0):.1f} at "
           f"the end (the machine is shared, so CPU and wall-clock figures carry that noise).", "",
           "**This is not a Raspberry Pi.** Run the same command on one (it needs espeak-ng, sox and mosquitto).", ""]
    if m["mode"] == "short":
        out += ["*Short run: tiny samples, for keeping the benchmark alive in CI; do not quote these numbers.*", ""]
    return "\n".join(out + summary(r) + details(r))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench loop", description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="seconds-scale run (CI); the numbers are rough")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="file to write the section into")
    parser.add_argument("--json", default=str(Path(tempfile.gettempdir()) / "reorder-bench-last.json"),
                        help="where every raw result goes (default: %(default)s)")
    parser.add_argument("--cache", help="keep the synthesised audio here between runs (default: a temp dir)")
    args = parser.parse_args(argv)
    if missing := [tool for tool in ("espeak-ng", "sox", "mosquitto") if not shutil.which(tool)]:
        print(f"bench loop: {', '.join(missing)} not installed (apt-get install espeak-ng sox mosquitto)",
              file=sys.stderr)
        return 2
    plan, began = SHORT if args.short else FULL, time.monotonic()
    info = {"date": now(), "command": command("loop", argv), "mode": "short" if args.short else "full",
            "code": code_version(), "load_start": os.getloadavg()[0],
            "line": machine("pymicro-wakeword", "pocketsphinx", "numpy", "paho-mqtt", tools=[("mosquitto", "-h")])}
    with tempfile.TemporaryDirectory(prefix="reorder-bench-") as tmp:
        log(f"{info['mode']} run")
        results = {"machine": info, **measure(args, plan, Path(tmp))}
    info.update(load_end=os.getloadavg()[0], minutes=(time.monotonic() - began) / 60)
    Path(args.json).write_text(json.dumps(results, indent=1))
    write_section("loop", render(results), Path(args.output))
    log(f"wrote the loop section of {args.output} ({info['minutes']:.1f} min); raw results in {args.json}")
    for error in errors(results):
        log(f"FAILED: {error}")
    return 1 if errors(results) else 0


if __name__ == "__main__":
    sys.exit(main())
