"""Tables of scripts/bench_wakeword.py: the summary JSON, the details list, and its section of BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path

SWEEP = (0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99)
"""Thresholds the recorded scores are replayed at (the trade-off table the sensitivities are read from)."""
BARE = "bare openWakeWord library"
COUNTED = ("positive", "negative", "synthetic")
"""Streams whose wakes outside an own recording's window are false wakes (not the probes)."""


def noisy(results: dict) -> str:
    return f"{results['snr']:g} dB"


def own_streams(results: dict, arm: str, condition: str | None = None, folder: str | None = None) -> list[dict]:
    """The positive streams of the arm's own word (optionally in one condition, of one folder)."""
    word = results["arms"][arm]["keyword"]
    return [s for s in results["streams"] if s["kind"] == "positive" and s["keyword"] == word
            and condition in (None, s["condition"]) and folder in (None, s["folder"])]


def rate(results: dict, arm: str, condition: str, folder: str | None = None) -> tuple[int, int]:
    """(detected, total) recordings of the arm's own word."""
    streams = own_streams(results, arm, condition, folder)
    return sum(len(s["arms"][arm]["detected"]) for s in streams), sum(len(s["labels"]) for s in streams)


def false_list(results: dict, arm: str, kinds: tuple[str, ...] = COUNTED) -> list[tuple[str, str, float]]:
    """(stream, file, seconds into it) of every false wake of the arm."""
    return [(s["folder"] + ("" if s["condition"] == "clean" else f" ({s['condition']})"), f, t)
            for s in results["streams"] if s["kind"] in kinds
            for f, t, _ in s["arms"][arm]["false"]]


def negative_streams(results: dict, real: bool = False) -> list[dict]:
    return [s for s in results["streams"] if s["kind"] == "negative" or (s["kind"] == "synthetic" and not real)]


def hours(streams: list[dict]) -> float:
    return sum(s["seconds"] for s in streams) / 3600


def damaged_files(results: dict) -> list[tuple[str, str]]:
    """(folder, file) of every recording the decoder reported damaged, once (not once per noise condition)."""
    return sorted({(s["folder"].split(" at ")[0], name) for s in results["streams"] for name in s["damaged"]})


def frac(hit: tuple[int, int]) -> float:
    return round(hit[0] / hit[1], 4) if hit[1] else 0.0


def summary(results: dict) -> dict:
    """The issue's JSON: the device's engine on the measured words (each with its own model and threshold)."""
    arms = [a for a, m in results["arms"].items() if m["engine"] == results["default"]["engine"]]
    home = results["home"]
    pooled = {c: [sum(x) for x in zip(*(rate(results, a, c) for a in arms), strict=False)] or [0, 0]
              for c in ("clean", noisy(results))}
    per = {results["arms"][a]["keyword"]: {
        "threshold": results["arms"][a]["threshold"], "detected_clean": frac(rate(results, a, "clean")),
        "detected_10db": frac(rate(results, a, noisy(results))), "false_wakes": len(false_list(results, a)),
        "probe_wakes": len(false_list(results, a, ("probe",)))} for a in arms}
    return {"engine": results["default"]["engine"], "keyword": results["keywords"][0],
            "keywords": results["keywords"], "detected_clean": frac(tuple(pooled["clean"])),
            "detected_10db": frac(tuple(pooled[noisy(results)])),
            "false_wakes": sum(p["false_wakes"] for p in per.values()),
            "negative_hours": round(hours(negative_streams(results)), 3),
            "real_negative_hours": round(hours(negative_streams(results, real=True)), 3),
            "negative_files": sum(len(s["labels"]) for s in negative_streams(results, real=True)),
            "damaged_files": len(damaged_files(results)),
            "cpu_ratio_vs_bare_oww": round(home["cpu"][home["together"]] / home["cpu"][BARE], 4),
            "per_keyword": per}


def details(results: dict) -> str:
    """Every false wake (stream, file, seconds into it) and every missed recording (peak score), per arm."""
    lines = []
    for arm in results["arms"]:
        for kinds, title in ((COUNTED, "false wake"), (("probe",), "probe wake")):
            lines += [f"{arm}\t{title}\t{stream}\t{name}\t{t:.2f} s"
                      for stream, name, t in false_list(results, arm, kinds)]
        lines += [f"{arm}\tmissed ({s['condition']})\t{s['folder']}\t{name}\tpeak {s['arms'][arm]['peaks'][i]:.3f}"
                  for s in own_streams(results, arm) for i, name in enumerate(s["labels"])
                  if i not in s["arms"][arm]["detected"]]
    lines += [f"damaged (decoded to its end)\t{folder}\t{name}" for folder, name in damaged_files(results)]
    return "\n".join(lines) + "\n"


def pct(hit: tuple[int, int]) -> str:
    return f"{100 * hit[0] / hit[1]:.1f}% ({hit[0]}/{hit[1]})" if hit[1] else "–"


def short(folder: str) -> str:
    parts = Path(folder).parts
    return "/".join(parts[-2:]) if len(parts) > 1 and parts[-2] in ("small_real", "barista") else (
        parts[-1] if parts else folder)


def sweep_cell(results: dict, arm: str, t: float) -> str:
    """Detected clean / noisy (own real recordings, pooled) and false wakes on real speech / synthetic talk."""
    det = [str(sum(s["arms"][arm]["sweep"][str(t)][0] for s in own_streams(results, arm, c)))
           for c in ("clean", noisy(results))]
    real = sum(s["arms"][arm]["sweep"][str(t)][1] for s in results["streams"] if s["kind"] in ("positive", "negative"))
    synth = sum(s["arms"][arm]["sweep"][str(t)][1] for s in results["streams"] if s["kind"] == "synthetic")
    return f"{'/'.join(det)}, {real}+{synth}"


def render(results: dict) -> str:
    m, snr = results["machine"], noisy(results)
    negs, synth, probes = ([s for s in results["streams"] if s["kind"] == kind]
                           for kind in ("negative", "synthetic", "probe"))
    damaged = [(short(folder), name) for folder, name in damaged_files(results)]
    lines = [f"## Wake words {', '.join(results['keywords'])}: every model on real recordings, false wakes, cost", "",
             f"Measured {m['date']} by `{m['command']}` ({m['minutes']:.0f} min) at {m['commit']}. "
             f"Machine: {m['machine']}; FLAC decoded by FFmpeg's decoder (PyAV), damage reported by libFLAC. "
             f"Load average {m['load_start'][0]:.1f} at the start, {m['load_end'][0]:.1f} at the end "
             "(a shared machine). **Not a Raspberry Pi.**", "",
             "Positives: each recording with 1 s of silence before and 6 s after, clean and mixed with kitchen noise "
             f"at {snr} (Picovoice's peak-frame rule). Negatives: "
             + ", ".join(f"{short(s['folder'])} ({len(s['labels'])} files, {s['seconds'] / 60:.0f} min)" for s in negs)
             + (f", {hours(synth) * 60:.0f} min of espeak-ng English and French talk" if synth else "")
             + f"; {hours(negative_streams(results, True)):.2f} h of real speech, "
             + f"{sum(s['seconds'] for s in results['streams'] if s['kind'] == 'positive') / 3600:.2f} h more in the "
             "positives' streams (other words' recordings count as negatives for each model). "
             + (f"{len(damaged)} files have FLAC errors (libFLAC) and are decoded to their end, the frames whose "
                "checksum fails kept as FFmpeg decodes them: "
                f"{', '.join(f'{f}/{n}' for f, n in damaged)}." if damaged else "No file had a decoding error."), "",
             "| model (threshold) | own recordings detected: clean, " + snr + " | false wakes: "
             + " | ".join(short(s["folder"]) for s in negs) + " | other words' recordings | synthetic talk | "
             "total | highest score on real speech | probe: " + ", ".join(short(s["folder"]) for s in probes) + " |",
             "|---|---|" + "---|" * (len(negs) + 5)]
    for a in results["arms"]:
        cells = "; ".join(f"{short(s['folder'])} {pct(rate(results, a, 'clean', s['folder']))}, "
                          f"{pct(rate(results, a, snr, s['folder']))}"
                          for s in own_streams(results, a, "clean"))
        other = sum(len(s["arms"][a]["false"]) for s in results["streams"] if s["kind"] == "positive")
        top = max((s["arms"][a]["max_score"] for s in results["streams"] if s["kind"] == "negative"), default=0.0)
        lines.append(f"| {a} ({results['arms'][a]['threshold']:g}) | {cells or '–'} | "
                     + " | ".join(str(len(s["arms"][a]["false"])) for s in negs)
                     + f" | {other} | {sum(len(s['arms'][a]['false']) for s in synth)} | "
                     f"{len(false_list(results, a))} | {top:.3f} | "
                     + ", ".join(f"{len(s['arms'][a]['false'])}/{len(s['labels'])}" for s in probes) + " |")
    lines += ["", f"Cells: own real recordings detected clean/{snr}, false wakes on real speech + on synthetic talk.",
              "",
              "| model | " + " | ".join(f"{t:g}" for t in SWEEP) + " |", "|---|" + "---|" * len(SWEEP)]
    lines += [f"| {a} | " + " | ".join(sweep_cell(results, a, t) for t in SWEEP) + " |" for a in results["arms"]]
    home = results["home"]
    base = home["cpu"][BARE] / home["seconds"]
    lines += ["", f"Listening CPU on {home['seconds'] / 60:.0f} min of home-like audio (real speech "
              f"{home['speech_share']:.0%} of the time over a −65 dBFS pink-noise floor), ÷ the bare openWakeWord "
              f"library (`Model([word]).predict` per frame: {base:.4f} CPU-s per audio-s): "
              + ", ".join(f"{k} {v / home['cpu'][BARE]:.3f}×"
                          + (f" (gate open {home['open'][k]:.0%})" if home["open"].get(k) is not None else "")
                          for k, v in home["cpu"].items() if k != BARE)
              + ". Peak RSS: " + ", ".join(f"{k} {v:.0f} MB" for k, v in results["rss"].items() if v) + "."]
    return "\n".join(lines) + "\n"

