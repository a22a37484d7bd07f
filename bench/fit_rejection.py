#!/usr/bin/env python3
"""Fit the calibrated rejection rule (device/recognition/rejection.py) on bench_realspeech's per-decision records.

    python -m bench.fit_rejection DETAILS.moonshine.jsonl [--folds 5] [--max-wrong 0.5] [--max-ood 0.5]

Every decision of the barista benchmark (305 commands at each SNR, and the out-of-grammar clips) is
one example: right (intent and every slot as labelled) or not (wrong, or out of grammar). A logistic
regression over the six features (standardised, L2 penalty 1.0, Newton's method) gives P(right).
Cross-validation: folds by recording — every SNR of one command and its drink-removed decoding stay
in the same fold (the files carry no speaker id; about 10 commands per speaker). The operating
point, chosen on the out-of-fold probabilities: the lowest threshold at which wrong read-backs are
at most --max-wrong % at every SNR and out-of-grammar acceptances at most --max-ood %; the final
model is fitted on everything and shifted so that this threshold is confidence 0.85.
"""

from __future__ import annotations

import argparse
import json
import math
import zlib
from pathlib import Path

import numpy as np

from device.recognition.rejection import AT_THRESHOLD, FEATURES, features
from device.recognition.spelling import digit_aliases

DIGITS = digit_aliases("en")


def load(path: Path) -> list[dict]:
    """The records with a sentence (no sentence is always refused), each with its features and group."""
    rows = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        if not d.get("words") or "gap" not in d:
            d["x"] = None
        else:
            nbest = d.get("nbest") or []
            margin = nbest[0][1] - nbest[1][1] if len(nbest) > 1 else None
            d["x"] = features(d["gap"], d["mean"], d["worst"], margin, d["words"].split(), d["tokens"],
                              d.get("free", ""), d.get("free_n", 0), DIGITS)
        d["kind"] = d.get("snr") or "ood"
        d["ok"] = bool(d.get("right")) and "snr" in d
        d["group"] = d["file"] if d.get("ood") in (None, "drink removed") else f"{d['ood']}:{d['file']}"
        rows.append(d)
    return rows


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights with the bias last, centre, scale) of an L2-penalised logistic regression, by Newton's method."""
    centre, scale = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-3)
    a = np.hstack([(x - centre) / scale, np.ones((len(x), 1))])
    w = np.zeros(a.shape[1])
    penalty = np.eye(a.shape[1]) * l2
    penalty[-1, -1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(a @ w)))
        grad = a.T @ (p - y) + penalty @ w
        hess = (a * (p * (1 - p))[:, None]).T @ a + penalty
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w, centre, scale


def logit(x: np.ndarray, w: np.ndarray, centre: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return ((x - centre) / scale) @ w[:-1] + w[-1]


def counts(rows: list[dict], accept: np.ndarray) -> dict[str, tuple[int, int, int, int]]:
    """Per condition: (n, right accepted, wrong accepted, refused); "ood": (n, 0, accepted, refused)."""
    out: dict[str, list[int]] = {}
    for d, a in zip(rows, accept):
        c = out.setdefault(d["kind"], [0, 0, 0, 0])
        c[0] += 1
        if not a:
            c[3] += 1
        elif d["ok"]:
            c[1] += 1
        else:
            c[2] += 1
    return {k: (v[0], v[1], v[2], v[3]) for k, v in out.items()}


def operating_point(rows: list[dict], z: np.ndarray, max_wrong: float, max_ood: float) -> float:
    """The lowest logit threshold meeting both limits on these (out-of-fold) scores."""
    for t in np.sort(np.unique(np.round(z[np.isfinite(z)], 3))):
        c = counts(rows, z >= t)
        if all(100 * v[2] / v[0] <= (max_ood if k == "ood" else max_wrong) for k, v in c.items()):
            return float(t)
    return math.inf


def table(title: str, c: dict[str, tuple[int, int, int, int]]) -> str:
    cells = [f"{k}: {v[1]}/{v[2]}/{v[3]}" if k != "ood" else f"out-of-grammar accepted {v[2]}/{v[0]}"
             for k, v in c.items()]
    return f"| {title} | " + " | ".join(cells) + " |"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("details", type=Path)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--max-wrong", type=float, default=0.5, help="percent, at every SNR")
    p.add_argument("--max-ood", type=float, default=0.5, help="percent of the out-of-grammar clips")
    args = p.parse_args()
    rows = load(args.details)
    has = np.array([d["x"] is not None for d in rows])
    x = np.array([d["x"] if d["x"] is not None else [0.0] * len(FEATURES) for d in rows], dtype=float)
    y = np.array([d["ok"] for d in rows], dtype=float)
    fold = np.array([zlib.crc32(d["group"].encode()) % args.folds for d in rows])
    z = np.full(len(rows), -np.inf)
    thresholds = []
    for k in range(args.folds):
        train, test = has & (fold != k), has & (fold == k)
        w, c, s = fit(x[train], y[train])
        z[test] = logit(x[test], w, c, s)
        inner = [d for d, m in zip(rows, train) if m]
        thresholds.append(operating_point(inner, logit(x[train], w, c, s), args.max_wrong, args.max_ood))
    # Each fold's test part judged at the threshold chosen on its own training part: an honest estimate.
    accept = np.zeros(len(rows), dtype=bool)
    for k in range(args.folds):
        accept |= (fold == k) & (z >= thresholds[k])
    old = np.array([d["confidence"] >= 0.85 for d in rows])
    print("| rule | " + " | ".join(sorted({d["kind"] for d in rows}, key=lambda k: (k == "ood", k))) + " |")
    print(table("today's rule (gap and mean, 0.85)", counts(rows, old)))
    print(table(f"calibrated, {args.folds}-fold by recording (out of fold)", counts(rows, accept)))
    w, c, s = fit(x[has], y[has])
    t = operating_point(rows, np.where(has, logit(x, w, c, s), -np.inf), args.max_wrong, args.max_ood)
    print(table("calibrated, fitted and judged on all (optimistic)", counts(rows, np.where(has, logit(x, w, c, s),
                                                                                             -np.inf) >= t)))
    print(f"fold thresholds (logit): {[round(v, 3) for v in thresholds]}; all: {t:.3f}")
    bias = w[-1] - t + math.log(AT_THRESHOLD / (1 - AT_THRESHOLD))
    print("Calibration(weights=%s, centre=%s, scale=%s, bias=%.4f)" % (
        tuple(round(float(v), 4) for v in w[:-1]), tuple(round(float(v), 4) for v in c),
        tuple(round(float(v), 4) for v in s), bias))
    for name, v in zip(FEATURES, w[:-1]):
        print(f"  {name}: {v:+.3f} per standard deviation")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
