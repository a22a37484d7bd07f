"""Tables of scripts/bench_wakeword.py: the summary JSON, and its section of BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path

SWEEP = (0.5, 0.7, 0.8, 0.9, 0.95, 0.97)
"""Thresholds the recorded scores are replayed at (for the trade-off table; the device uses the engine's own)."""
GOALS = {"clean": 0.97, "noisy": 0.95, "cpu": 0.3, "hours": 1.5}


def noisy_condition(results: dict) -> str | None:
    return next((c for c in results["positives"] if c != "clean"), None)


def rate(results: dict, arm: str, condition: str | None, only_sound: bool = False) -> tuple[int, int]:
    """(detected, total) recordings, optionally only those sox decoded without error."""
    if condition is None:
        return 0, 0
    damaged = set(results["damaged"])
    keep = [i for i, name in enumerate(results["labels"]) if not (only_sound and name in damaged)]
    hit = set(results["positives"][condition]["arms"][arm]["detected"])
    return sum(1 for i in keep if i in hit), len(keep)


def negative_hours(results: dict) -> float:
    return sum(n["seconds"] for n in results["negatives"]) / 3600


def false_wakes(results: dict, arm: str) -> int:
    """Every wake outside a positive's window: in the negatives and between the positives."""
    among = sum(len(n["arms"][arm]["wakes"]) for n in results["negatives"])
    return among + sum(len(c["arms"][arm]["false"]) for c in results["positives"].values())


def cpu_ratio(results: dict, arm: str, where: str = "home") -> float:
    cpu = results[where]["cpu"]
    return cpu[arm] / cpu["bare openWakeWord library"]


def summary(results: dict, default: str) -> dict:
    """The issue's JSON for the default engine."""
    clean, noisy = rate(results, default, "clean"), rate(results, default, noisy_condition(results))
    return {"engine": default.split(",")[0], "keyword": results["keyword"],
            "detected_clean": round(clean[0] / clean[1], 4) if clean[1] else 0.0,
            "detected_10db": round(noisy[0] / noisy[1], 4) if noisy[1] else 0.0,
            "false_wakes": false_wakes(results, default), "negative_hours": round(negative_hours(results), 3),
            "cpu_ratio_vs_bare_oww": round(cpu_ratio(results, default), 4)}


def pct(hit: tuple[int, int]) -> str:
    return f"{100 * hit[0] / hit[1]:.1f}% ({hit[0]}/{hit[1]})" if hit[1] else "–"


def met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def render(results: dict, default: str) -> str:
    m, kw = results["machine"], results["keyword"]
    arms = list(results["thresholds"])
    noisy = noisy_condition(results)
    hours = negative_hours(results)
    v = m["versions"]
    lines = [f"## Wake word \"{kw.replace('_', ' ')}\": detection, false wakes, listening cost", "",
             f"Measured {m['date']} by `{m['command']}` ({m['minutes']:.0f} min) at commit {m['commit']}. "
             f"Machine: {m['cpu']}, {m['cores']} cores ({m['arch']}), Python {m['python']}; pymicro-wakeword "
             f"{v['pymicro-wakeword']}, pymicro-features {v['pymicro-features']}, openwakeword {v['openwakeword']}, "
             f"onnxruntime {v['onnxruntime']}. Load average {m['load_start'][0]:.1f} at the start, "
             f"{m['load_end'][0]:.1f} at the end (a shared machine: CPU figures carry that noise, ratios less so). "
             "**Not a Raspberry Pi.**"
             + (f" Negatives, CPU and memory: measured {m['reused']}." if m.get("reused") else ""), "",
             f"Positives: {len(results['labels'])} {results['source']}, each with 1 s of silence before and 6 s "
             f"after, clean and mixed with `{Path(results['noise']).name if results['noise'] else '(none)'}` at "
             f"{results['snr']:g} dB (peak-frame SNR, Picovoice's mixing rule). Negatives: "
             + ", ".join(f"{n['condition']} ({n['seconds'] / 60:.0f} min)" for n in results["negatives"][:1])
             + (f" and {sum(n['seconds'] for n in results['negatives'][1:]) / 60:.0f} min of espeak-ng English and "
                "French talk (scripts/bench_corpus.py)" if len(results["negatives"]) > 1 else "")
             + f": {hours:.2f} h. Each engine runs as the device builds it (`device.app.make_wake_detector`): its "
             "own threshold, 2 s refractory period, and the WebRTC voice-activity gate (0.96 s pre-roll) unless "
             "\"no gate\"; after a wake it is fed silence for 5 s, as the loop does while it listens, then reset. "
             "False wakes count every wake outside a recording's window (start to 1.5 s after its end), in the "
             "negatives and between the positives.", ""]
    clean, noisy_hit = rate(results, default, "clean"), rate(results, default, noisy)
    fw, ratio = false_wakes(results, default), cpu_ratio(results, default)
    lines += [f"### Targets (default engine: {default})", "", "| measurement | result | goal | |", "|---|---|---|---|",
              f"| detected, clean | {pct(clean)} | ≥ 97% | "
              f"{met(clean[1] > 0 and clean[0] / clean[1] >= GOALS['clean'])} |",
              f"| detected, {noisy} | {pct(noisy_hit)} | ≥ 95% | "
              f"{met(noisy_hit[1] > 0 and noisy_hit[0] / noisy_hit[1] >= GOALS['noisy'])} |",
              f"| false wakes in {hours:.2f} h of speech | {fw} | 0 in ≥ 1.5 h | "
              f"{met(fw == 0 and hours >= GOALS['hours'])} |",
              f"| listening CPU on home-like audio ÷ bare openWakeWord library | {ratio:.3f}× | ≤ 0.3× | "
              f"{met(ratio <= GOALS['cpu'])} |", ""]
    if results["damaged"]:
        lines += [f"sox reports decoding errors (FLAC lost sync) in {len(results['damaged'])} of the recordings "
                  f"({', '.join(results['damaged'])}); they are counted above as they decode. On the "
                  f"{len(results['labels']) - len(results['damaged'])} others: "
                  + "; ".join(f"{a}: clean {pct(rate(results, a, 'clean', True))}, {noisy} "
                              f"{pct(rate(results, a, noisy, True))}" for a in arms) + ".", ""]
    lines += ["### Every engine", "", f"| engine | threshold | clean | {noisy} | false wakes ({hours:.2f} h) | highest "
              "score on negatives | CPU ÷ bare oWW, home audio (gate open) | CPU ÷ bare oWW, noise alone (gate open) "
              "| peak RSS |", "|---|---|---|---|---|---|---|---|---|"]
    for a in arms:
        top = max(n["arms"][a]["max_score"] for n in results["negatives"]) if results["negatives"] else 0.0
        home_open = results["home"]["open"].get(a)
        alone = results.get("noise_alone")
        alone_txt = "–" if not alone else f"{cpu_ratio(results, a, 'noise_alone'):.3f}×" + (
            f" ({alone['open'][a]:.0%})" if alone["open"].get(a) is not None else "")
        rss = results["rss"].get(a)
        lines.append(f"| {a} | {results['thresholds'][a]:g} | {pct(rate(results, a, 'clean'))} | "
                     f"{pct(rate(results, a, noisy))} | {false_wakes(results, a)} | {top:.3f} | "
                     f"{cpu_ratio(results, a):.3f}×" + (f" ({home_open:.0%})" if home_open is not None else "")
                     + f" | {alone_txt} | {f'{rss:.0f} MB' if rss else '–'} |")
    home = results["home"]
    base = home["cpu"]["bare openWakeWord library"] / home["seconds"]
    lines += ["", f"Home-like audio: {home['seconds'] / 60:.0f} min, real speech now and then "
              f"({home['speech_share']:.0%} "
              f"of the time) over a −65 dBFS pink-noise floor. The bare openWakeWord library "
              f"(`Model([{kw}]).predict` per frame) took {base:.4f} CPU-s per audio-s there. VADs alone: "
              + ", ".join(f"{k} {v / home['cpu']['bare openWakeWord library']:.3f}×" for k, v in home["cpu"].items()
                          if "VAD alone" in k)
              + f". Peak RSS of Python with numpy alone: {results['rss'].get('python + numpy') or 0:.0f} MB.", ""]
    lines += ["Missed recordings (peak score):", ""]
    for cond in results["positives"]:
        for a in arms:
            r = results["positives"][cond]["arms"][a]
            missed = [f"{results['labels'][i]} {r['peaks'][i]:.2f}" for i in range(len(results["labels"]))
                      if i not in set(r["detected"])]
            lines.append(f"- {cond}, {a}: {len(missed)}" + (f" — {', '.join(missed[:25])}"
                                                              + (" …" if len(missed) > 25 else "") if missed else ""))
    lines += ["", "### Other thresholds (the recorded scores replayed with the refractory period alone, so "
              "approximate; the device uses each engine's own threshold)", "",
              "| engine | " + " | ".join(f"{t:g}" for t in SWEEP) + " |", "|---|" + "---|" * len(SWEEP)]
    for a in arms:
        cells = []
        for t in SWEEP:
            det = [results["positives"][c]["sweep"][a][str(t)][0] for c in results["positives"]]
            false = sum(results["positives"][c]["sweep"][a][str(t)][1] for c in results["positives"]) + sum(
                n["arms"][a]["sweep"][str(t)] for n in results["negatives"])
            cells.append(" / ".join(str(d) for d in det) + f", {false} false")
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    lines += ["", f"Cells: recordings detected ({' / '.join(results['positives'])}, of {len(results['labels'])}), "
              "and false wakes."]
    return "\n".join(lines) + "\n"


def write_section(path: Path, keyword: str, section: str) -> None:
    """Replace this keyword's section between its markers (or add it), leaving the rest of the file alone."""
    start, end = f"<!-- bench:wakeword-{keyword}:start -->", f"<!-- bench:wakeword-{keyword}:end -->"
    block = f"{start}\n{section.rstrip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if start in text and end in text and text.index(start) < text.index(end):
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
