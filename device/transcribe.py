"""`reorder transcribe`: what the recogniser hears in recordings, free or constrained to a grammar.

    reorder transcribe AUDIO... [--locale L] [--catalog PATH | --grammar FILE.yaml] [--engine E] [--details]

One JSON line per file: `file`, `text`, `confidence`, `accepted` (confidence ≥ the configured
min_confidence), `reason` when something refused it outright (no sentence finished: `text` is then
the words it got to; a quantity the free transcript lacks), and `slots`/`intent` with a Rhino-style
grammar. `--details` adds the search's gap, mean, tokens, n-best, `carrier_only` (the sentence and the
free transcript differ in carrier words only) and `heard_mean` (the mean without the carrier words not
heard). Without a catalogue or grammar the neural engines
decode freely (what the model would say with no grammar; `confidence` is null); with one, the text is
the grammar sentence the device would act on, and `free` is what the model said without it. For
checking a microphone, a catalogue's names, or a benchmark.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from device.errors import ConfigError


def add_parser(sub) -> None:
    """The subcommand's arguments."""
    p = sub.add_parser(
        "transcribe", help="print what the recogniser hears in recordings (JSON lines)",
        description="What the recogniser hears in each recording, one JSON line per file: free decoding without"
        " a grammar, or the grammar sentence the device would act on with --catalog or --grammar (with what the"
        " model heard freely beside it). See docs/recognition.md.",
        epilog="examples:\n  reorder transcribe device/samples/demo-en.wav\n  reorder transcribe *.wav --catalog"
        " device/samples/catalog.json --locale en-US\n\ndocs: docs/cli.md, docs/recognition.md",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("audio", nargs="+", metavar="AUDIO", help="WAV files (any rate; converted to 16 kHz mono)")
    p.add_argument("--locale", choices=["en-US", "fr-FR"], default=None,
                   help="language of the recordings (default: the config's [device] locale, else en-US)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--catalog", metavar="PATH", help="constrain to the sentences of this catalogue (default: none)")
    group.add_argument("--grammar", metavar="FILE.yaml",
                       help="constrain to a Rhino-style context YAML (expressions, slots; default: none)")
    p.add_argument("--engine", choices=["auto", "moonshine", "whisper", "vosk", "pocketsphinx"], default=None,
                   help="recogniser (default: the config's [recognizer] engine, else auto: Moonshine or Whisper when"
                   " prepared and the memory is there, else an installed Vosk model, else pocketsphinx)")
    p.add_argument("--config", metavar="PATH", help="device config file, for min_confidence, engine and locale"
                   " (default: $REORDER_CONFIG, else /etc/reorder/device.toml if present)")
    p.add_argument("--details", action="store_true",
                   help="add the search's figures: gap, mean and tokens of the best sentence, the n-best, "
                        "carrier_only, heard_mean")


def _grammar_file(path: str):
    from device.language.rhino import compile_context

    try:
        import yaml
    except ImportError:
        raise ConfigError("reading a YAML grammar needs PyYAML: pip install pyyaml") from None
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"grammar file {path} cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"grammar file {path} is not YAML ({str(exc).splitlines()[0]})") from None
    return compile_context(data, f"grammar file {path}")


def run(args: argparse.Namespace) -> int:
    """Decode each file and print its line."""
    from device import config, engines
    from device.adapters.audio.wav_source import load_wav
    from device.contract.catalogue import Catalogue
    from device.language import grammar as grammars
    from device.recognition.neural import ConstrainedRecognizer
    from device.recognition.second_opinion import SecondOpinion

    settings = config.load(args.config)
    changes = {}
    if args.locale:
        changes[("device", "locale")] = args.locale
    if args.engine:
        changes[("recognizer", "engine")] = args.engine
    settings = config.override(settings, changes) if changes else settings
    locale, threshold = settings.device.locale, settings.recognizer.min_confidence
    context = _grammar_file(args.grammar) if args.grammar else None
    catalogue = Catalogue.load(args.catalog) if args.catalog else None
    choice = engines.choose(settings)
    if choice.engine in ("pocketsphinx", "vosk") and context is None and catalogue is None:
        raise ConfigError(f"{choice.engine} only decodes against a grammar here: give --catalog or --grammar")
    rec = engines.load(settings, choice)
    neural = isinstance(rec, (ConstrainedRecognizer, SecondOpinion))
    if context is not None:
        if not neural:
            raise ConfigError(f"--grammar needs a neural engine (moonshine or whisper), not {choice.engine}")
        rec.set_automaton(context.automaton, roles=context.roles())
    elif catalogue is not None or neural:
        rec.set_grammar(grammars.build(catalogue, locale))
    for name in args.audio:
        samples = load_wav(name).astype("float32") / 32768.0
        line: dict = {"file": name}
        if neural:
            free_only = context is None and catalogue is None  # what the first model hears, nothing to refuse
            which, result = (rec.first if free_only and isinstance(rec, SecondOpinion) else rec).answer(samples)
            free = which.free_text(result)
            if isinstance(rec, SecondOpinion):
                line.update(by=which.name)  # which model's decision stands
            if free_only:
                line.update(text=free, confidence=None, accepted=None)
            else:
                best = result.best
                conf, reason = which.verdict(result)
                shown = best or result.partial  # never an empty answer: how far a failed search got
                line.update(text=shown.text if shown else "", confidence=conf,
                            accepted=bool(best) and conf >= threshold, free=free)
                if reason:
                    line.update(reason=reason)
                if args.details:
                    line.update(gap=round(result.gap(), 3) if best else None,
                                mean=round(shown.mean, 3) if shown else None, tokens=shown.tokens if shown else 0,
                                nbest=[h.text for h in result.nbest[:5]], sentence=best is not None,
                                carrier_only=which.judge.carrier_only(result),
                                heard_mean=round(which.judge.heard_mean(result), 3) if best else None)
                if context is not None and best is not None:
                    understood = context.understand(best.words)
                    if understood:
                        line.update(intent=understood[0], slots=understood[1])
        else:
            heard = rec.recognize((samples * 32768).astype("<i2").tobytes())
            line.update(text=heard.text, confidence=heard.confidence, accepted=heard.confidence >= threshold)
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return 0

