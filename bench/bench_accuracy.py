"""Accuracy benchmark: exact intents per locale and SNR, refusals and wrong orders, into BENCHMARKS.md.

Requests from bench/accuracy_templates.py: the text path parses them; the audio path (every recogniser the machine has
for the locale) says them after "hey jarvis" (bench/accuracy_audio.py), in noise, to one device replayed as `reorder
replay` does. BENCHMARKS.md describes the method after the section. --short: a few requests, for CI.
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import logging
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from pathlib import Path

import numpy as np

from bench import accuracy_templates as templates
from bench.accuracy_audio import ACCENTS_LABEL, OTHER_ACCENTS, make_babble, make_clip, noisy
from bench.accuracy_report import LOCALES, section
from bench.common import ROOT as REPO
from bench.common import code_version, logger, write_section
from bench.corpus import RATE, write_wav
from device import config
from device.adapters.audio.wav_source import WavSource
from device.adapters.speech.vosk import default_model_dir, find_model
from device.app import build
from device.audio.source import FRAME_SECONDS, SILENT_FRAME
from device.contract.catalogue import Catalogue
from device.engines import _neural_model
from device.events import IntentEvent, Prompt, Rejected, Timeout, TranscriptEvent, Wake
from device.language import grammar as grammars
from device.language.parser import IntentParser
from device.runner import PressPlan, run_replay
from tests.support import Mosquitto, free_port

log = logger("bench accuracy")

SNRS = (12, 9, 6)
NOISES = ("babble", "white")
GAP_SECONDS = 2.5
"""Idle silence between clips (seconds): longer than the wake word's refractory period."""


def items_of(pairs) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((p["sku"], int(p["quantity"])) if isinstance(p, dict) else (p.sku, int(p.quantity))
                        for p in pairs))


def diff(expected, got) -> str:
    e, g = dict(expected), dict(got)
    parts = [f"{s} quantity {e[s]}→{g[s]}" for s in sorted(e.keys() & g.keys()) if e[s] != g[s]]
    missing, extra = sorted(e.keys() - g.keys()), sorted(g.keys() - e.keys())
    if len(missing) == 1 and len(extra) == 1:
        parts.append(f"{missing[0]}→{extra[0]}")
    else:
        parts += [f"dropped {s}" for s in missing] + [f"added {s}" for s in extra]
    return "; ".join(parts)


def judge(req: templates.Request, got: dict | None, prompt, why: str) -> tuple[str, str]:
    """("exact" | "refusal" | "wrong", what went wrong). `prompt`: the items read back, or None."""
    if req.action == "reorder":
        if prompt is None:
            return "refusal", why
        return ("exact", "") if tuple(prompt) == req.items else ("wrong", diff(req.items, prompt))
    if prompt is not None:
        return "wrong", f"{req.action} expected, ordered " + (", ".join(f"{q}×{s}" for s, q in prompt) or "nothing")
    if (got is None and req.action == "none") or (got is not None and got["action"] == req.action):
        return "exact", ""
    return "refusal", f"{req.action} expected, got {why}"


def why_text(intent) -> str:
    if intent.action == "none" and intent.unknown:
        return f"none (unknown: {' '.join(intent.unknown)})"
    return intent.action


def run_text(locale: str, requests: list[templates.Request]) -> list[dict]:
    parser = IntentParser(Catalogue.load(templates.CATALOG_PATH), locale)
    out = []
    for req in requests:
        intent = parser.parse(req.text)
        got = {"action": intent.action, "items": items_of(intent.items)}
        prompt = got["items"] if intent.action == "reorder" else None
        verdict, sig = judge(req, got, prompt, why_text(intent) if intent.action != "reorder" else "")
        out.append({"path": "text", "locale": locale, "noise": "-", "snr": "-", "kind": req.kind, "text": req.text,
                    "expected": req.expected(), "got": intent.to_dict(), "verdict": verdict, "sig": sig})
    return out


def recognisers_for(locale: str) -> list[tuple[str, str]]:
    """Every (engine setting, model) a device could use for the locale, the neural one first; empty when none can."""
    found = []
    neural, _ = _neural_model(locale)
    if neural:
        found.append((neural, ""))
    model = find_model("", locale)
    if model is not None:
        found.append(("vosk", str(model)))
    if locale.startswith("en"):
        found.append(("pocketsphinx", ""))
    return found


def device_settings(locale: str, engine: str, model: str, workdir: Path, broker: str, tag: str) -> dict:
    """The device's configuration (a TOML-shaped mapping): mock pins, the benchmark catalogue, no caps."""
    return {
        "device": {"id": "bench-accuracy", "locale": locale},
        "gpio": {"pin_factory": "mock"},
        "mqtt": {"broker": broker},
        "storage": {"outbox": str(workdir / f"outbox-{tag}.sqlite3"), "catalog": str(templates.CATALOG_PATH),
                    "catalog_cache": str(workdir / f"catalog-{tag}.json")},
        "recognizer": {"engine": engine, **({"vosk_model": model} if model else {})},
        # The wake phrase here is espeak-ng's, which microWakeWord (the default) does not hear; this
        # benchmark measures the recogniser, so the wake word stays openWakeWord's, ungated, as before.
        "wake": {"engine": "openwakeword", "vad_gate": False},
        # No spending caps (twenty bottles is a fair request here) and a short confirmation wait.
        "confirmation": {"speak": False, "timeout_seconds": 3.0, "max_order_total": 0.0, "max_orders_per_day": 0,
                         "repeat_guard": "off"},
    }


def toml(mapping: dict) -> str:
    """The mapping as a TOML file (strings, numbers and booleans only)."""
    return "".join(f"[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
                   for name, values in mapping.items())


def replay_cli(wav: Path, config_file: Path) -> dict:
    """What `reorder replay` prints for this file: the first transcript and intent."""
    out = subprocess.run([sys.executable, "-m", "device", "replay", str(wav), "--config", str(config_file)],
                         capture_output=True, text=True, timeout=300, cwd=REPO).stdout
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {"transcript": next((e["text"] for e in events if e["event"] == "transcript"), None),
            "intent": next(({k: v for k, v in e.items() if k not in ("event", "t")} for e in events
                            if e["event"] == "intent"), None)}


class FreshState:
    """A just-built device's stream state, put back before each clip so that each is heard as `reorder replay`
    on that one file would hear it (models stay loaded): openWakeWord's feature buffers (its reset() only clears
    the scores), the endpointer's VAD (WebRTC's noise estimate, Silero's state), pocketsphinx's live cepstral
    mean (set_cmn() does not restore it exactly; reinit_feat() does). Vosk's recogniser is reset after every
    utterance."""

    def __init__(self, device) -> None:
        self.features = getattr(getattr(device.loop.wake.engine, "_model", None), "preprocessor", None)
        self.saved = {k: copy.deepcopy(v) for k, v in vars(self.features).items()
                      if isinstance(v, (np.ndarray, deque, int))} if self.features is not None else {}
        self.decoder = getattr(device.loop.requests.recognizer, "_decoder", None)

    def restore(self, device) -> None:
        device.loop.wake.engine.reset()
        for key, value in self.saved.items():
            setattr(self.features, key, copy.deepcopy(value))
        device.loop.endpointer.vad = type(device.loop.endpointer.vad)()  # the device's own VAD (Silero, WebRTC)
        if self.decoder is not None:
            self.decoder.reinit_feat()


def audio_outcome(req: templates.Request, events: list) -> dict:
    wake = next((e for e in events if isinstance(e, Wake)), None)
    intent = next((e.intent for e in events if isinstance(e, IntentEvent)), None)
    heard = next((e for e in events if isinstance(e, TranscriptEvent)), None)
    prompt = next((e for e in events if isinstance(e, Prompt)), None)
    rejected = next((e for e in events if isinstance(e, Rejected)), None)
    timeout = next((e for e in events if isinstance(e, Timeout) and getattr(e, "during", "") == "listening"), None)
    got = {"action": intent.action, "items": items_of(intent.items)} if intent else None
    if wake is None:
        why = "no wake"
    elif intent is None:
        why = "no speech heard (listening timed out)" if timeout else "no intent"
    elif rejected is not None:
        right = (intent.action, items_of(intent.items)) == (req.action, req.items)
        why = f"rejected: {rejected.reason}" + (" (intent was right)" if right else "")
    else:
        why = why_text(intent)
    verdict, sig = judge(req, got, items_of(prompt.items) if prompt else None, why)
    return {"verdict": verdict, "sig": sig, "got": intent.to_dict() if intent else None,
            "transcript": heard.text if heard else None, "confidence": heard.confidence if heard else None,
            "no_wake": wake is None, "low_confidence": bool(rejected and rejected.reason == "low-confidence"),
            "extra_wakes": max(0, sum(isinstance(e, Wake) for e in events) - 1)}


def run_audio(label: str, locale: str, engine: str, model: str, requests: list[templates.Request],
              conditions: list[tuple[str, int | None]], workdir: Path, broker: str, seed: int, babble: np.ndarray,
              notes: dict | None, verify: int = 0, voices: tuple[str, ...] = ()) -> list[dict]:
    """Every request said (by `voices`, else the locale's) in every condition, to one device; its grammar gaps
    and `verify` clips run again by `reorder replay` go into `notes` (None: neither)."""
    rng = random.Random(f"{seed}:{locale}:{'accents' if voices else ''}:voices")  # the same voices for every engine
    clips = [make_clip(workdir / "speech", r, rng, voices) for r in requests]
    events: list = []
    settings = config.from_mapping(device_settings(locale, engine, model, workdir, broker, locale), "bench")
    silence = write_wav(workdir / "silence.wav", np.zeros(RATE // 10, np.int16))
    device = build(settings, WavSource(silence), events.append, play_audio=False)
    pairs = [(c, i) for c in range(len(conditions)) for i in range(len(requests))]
    to_check = set(random.Random(f"{seed}:{locale}:verify").sample(pairs, min(verify, len(pairs))))
    checks: list[tuple[Path, dict]] = []
    fresh = FreshState(device)
    if notes is not None:
        notes["gaps"][label] = grammar_gaps(device, locale, requests)
    out = []
    try:
        for ci, (noise, snr) in enumerate(conditions):
            started = time.monotonic()
            for i, (req, clip) in enumerate(zip(requests, clips)):
                path = write_wav(workdir / "request.wav", noisy(clip, noise, snr, babble,
                                                                np.random.default_rng([seed, ci, i])))
                for _ in range(round(GAP_SECONDS / FRAME_SECONDS)):  # idle time: the refractory period ends
                    device.loop.step(SILENT_FRAME)
                fresh.restore(device)
                events.clear()
                device.source = WavSource(path)
                run_replay(device, PressPlan(long_seconds=settings.confirmation.long_press_seconds))
                result = audio_outcome(req, list(events))
                if (ci, i) in to_check:
                    kept = workdir / f"verify-{ci}-{i}.wav"
                    shutil.copyfile(path, kept)
                    checks.append((kept, {"transcript": result["transcript"], "intent": result["got"]}))
                out.append({"path": "audio", "locale": label, "noise": noise if snr is not None else "-",
                            "snr": "clean" if snr is None else snr, "kind": req.kind, "text": req.text,
                            "voice": clip.voice, "speed": clip.speed, "expected": req.expected(), **result})
            exact = sum(r["verdict"] == "exact" for r in out[-len(requests):])
            log(f"audio {locale} {noise if snr is not None else ''} {snr if snr is not None else 'clean'}: "
                f"{exact}/{len(requests)} exact ({time.monotonic() - started:.0f} s)")
    finally:
        device.close()
    if checks and notes is not None:
        config_file = workdir / f"verify-{locale}.toml"
        config_file.write_text(toml(device_settings(locale, engine, model, workdir, broker, f"verify-{locale}")))
        for wav, ours in checks:
            theirs = replay_cli(wav, config_file)
            notes["verified"].append({"locale": locale, "same": theirs == ours, "bench": ours, "replay": theirs})
            if theirs != ours:
                log(f"replay differs on {wav.name}: bench {ours} / replay {theirs}")
    return out


def test_phrasings(tests: Path) -> frozenset[str]:
    """Every string literal in the tests, squashed: the benchmark must not reuse them."""
    found = set()
    for file in tests.rglob("*.py"):
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        found |= {templates.squash(n.value) for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and isinstance(n.value, str) and " " in n.value.strip()}
    return frozenset(found)


def unproducible(text: str, usable: set[str]) -> set[str]:
    """The words of `text` a grammar of the words `usable` cannot produce. Split as the grammar's words are:
    a hyphen is a break ("peux-tu" is "peux" + "tu"), and an elision may stand alone ("d'eau" is "d'" + "eau")."""
    def producible(word: str) -> bool:
        head, mark, rest = word.partition("'")
        return word in usable or bool(mark and rest and head + mark in usable and rest in usable)

    return {w for w in text.lower().replace(",", " ").replace("-", " ").split() if not producible(w)}


def grammar_gaps(device, locale: str, requests: list[templates.Request]) -> list[str]:
    """Words said in the requests (not the out-of-domain ones) that the recogniser's grammar cannot
    produce, each with the number of requests that use it."""
    knows = getattr(device.loop.requests.recognizer, "knows", lambda word: True)  # a neural recogniser spells any word
    usable = {w for w in grammars.build(Catalogue.load(templates.CATALOG_PATH), locale).words() if knows(w)}
    said = Counter(w for r in requests if r.kind != "ood" for w in unproducible(r.text, usable))
    return [f"{w} ({n})" for w, n in said.most_common()]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its section (or print it: --short without --output)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--short", action="store_true", help="a few requests (CI); writes only with --output")
    parser.add_argument("--output", help="file to write the section into (default: BENCHMARKS.md; --short: none)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--clean-only", action="store_true",
                        help="audio without added noise only (issue 24's wrong-quantity check on clean requests)")
    parser.add_argument("--audio-requests", type=int, help="per locale and condition (default 150; --short 3)")
    parser.add_argument("--engines", default="", help="only these recognisers (comma-separated; default: every one "
                        "the machine has for the locale: moonshine/whisper, vosk, pocketsphinx)")
    parser.add_argument("--details", help="also write every request and its outcome as JSON lines here")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    n_text = 40 if args.short else 1000
    n_audio = args.audio_requests if args.audio_requests is not None else (3 if args.short else 150)
    snrs = () if args.clean_only else (6,) if args.short else SNRS
    conditions: list[tuple[str, int | None]] = [("-", None)] + [(noise, snr) for noise in NOISES for snr in snrs]
    for tool in ("espeak-ng", "sox"):
        if not shutil.which(tool):
            log(f"{tool} is not installed (apt-get install espeak-ng sox)")
            return 2
    if problems := templates.check_tables():
        log("the templates disagree with the catalogue: " + "; ".join(problems))
        return 2
    logging.basicConfig(level=logging.ERROR, format="%(name)s: %(message)s")
    started = time.monotonic()
    notes: dict = {"commit": code_version(), "gaps": {}, "verified": []}  # the commit before the run: what was measured
    avoid = test_phrasings(REPO / "tests")
    results: list[dict] = []
    stats: Counter = Counter()
    for locale in LOCALES:
        results += run_text(locale, templates.generate(locale, n_text, args.seed, avoid, stats))
    log(f"text: {len(results)} requests parsed")
    skipped: dict[str, str] = {}
    recognisers: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-accuracy-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        (work / "speech").mkdir()
        # A Mosquitto on a free loopback port (tests/support.py), or none: the device then runs offline (it may).
        server = Mosquitto(work / "mosquitto").start() if shutil.which("mosquitto") else None
        broker = server.url if server else f"mqtt://127.0.0.1:{free_port()}"
        notes["broker"] = "Mosquitto on loopback" if server else "none (device offline)"
        try:
            babble = None
            for locale in LOCALES:
                engines = [(e, m) for e, m in recognisers_for(locale)
                           if not args.engines or e in args.engines.split(",")]
                if not engines or not n_audio:
                    skipped[locale] = "--audio-requests 0" if engines else (
                        f"no recogniser for {locale}: no Whisper model prepared and no Vosk model in "
                        f"{default_model_dir(locale)}")
                    continue
                if babble is None:
                    babble = make_babble(work / "speech", 40 if args.short else 120, 6, args.seed)
                reqs = templates.generate(locale, n_audio, args.seed + 1, avoid, stats)
                for n, (engine, model) in enumerate(engines):
                    label = f"{locale} {engine}"
                    recognisers[label] = engine
                    results += run_audio(label, locale, engine, model, reqs, conditions, work, broker, args.seed,
                                         babble, notes, 0 if n else (1 if args.short else 10))
                    if locale == "en-US" and not args.short:
                        accents = f"{ACCENTS_LABEL} {engine}"
                        recognisers[accents] = engine
                        results += run_audio(accents, locale, engine, model, reqs, conditions[:1], work, broker,
                                             args.seed, babble, None, voices=OTHER_ACCENTS)
        finally:
            if server:
                server.stop()
    text = section(results, skipped, recognisers, args, time.monotonic() - started, notes, stats["avoided"])
    output = args.output or (None if args.short else str(REPO / "BENCHMARKS.md"))
    if output:
        write_section("accuracy", text, Path(output))
        log(f"wrote the accuracy section of {output}")
    else:
        print(text)
    if args.details:
        Path(args.details).write_text("".join(json.dumps(r, ensure_ascii=False, default=list) + "\n" for r in results),
                                      encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
