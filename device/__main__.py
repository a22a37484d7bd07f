"""The `reorder` command: parse, validate, run; bad input ends in one clear line, never a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import tempfile
import textwrap
import threading
from pathlib import Path
from typing import NoReturn

from device import firmware
from device.errors import ReorderError

log = logging.getLogger("device")

# Flags that override the config file: flag → (section, key).
OVERRIDES = {
    "broker": ("mqtt", "broker"), "device_id": ("device", "id"), "locale": ("device", "locale"),
    "catalog": ("storage", "catalog"), "outbox": ("storage", "outbox"), "wake_engine": ("wake", "engine"),
    "wake_word": ("wake", "keyword"), "recognizer": ("recognizer", "engine"),
}


class _Parser(argparse.ArgumentParser):
    command = ""
    """The subcommand named on the command line: the top parser reports its unknown flags."""

    def error(self, message: str) -> NoReturn:  # one line, exit 2, like every other bad input
        where = " ".join(self.prog.split()[1:]) or self.command
        self.exit(2, f"reorder: {message} (see `reorder {where + ' ' if where else ''}--help`)\n")


def _wake_word(value: str) -> str:
    """A model name as spoken ("hey jarvis", "Alexa") becomes its model name (hey_jarvis, alexa); paths stay."""
    if "/" in value or value.endswith((".json", ".onnx", ".ppn", ".tflite")):
        return value
    return "_".join(value.lower().split())


DOCS = "docs/cli.md (in the project; README.md links every guide)"
EXIT_CODES = """exit codes:
  0    done: demo ended with the order accepted (or you cancelled or quit), doctor found nothing failing
  1    failed while running: broker, audio device, model, a failing doctor check, a demo with no accepted order
  2    bad configuration or input: a flag, a config key, a catalogue or a recording (one line on stderr)
  130  interrupted (Ctrl-C)"""
AUTO = ("auto = Moonshine (en-US) or Whisper (fr-FR) when its model is prepared and the board has the memory for it,"
        " else an installed Vosk model, else pocketsphinx (en-US only); the log and `reorder doctor` say which and why")


def _epilog(*examples: str, codes: bool = False) -> str:
    """Examples, optionally the exit codes, and where the docs are: the end of every --help."""
    text = "examples:\n" + "\n".join(f"  {e}" for e in examples)
    return text + (f"\n\n{EXIT_CODES}" if codes else "") + f"\n\ndocs: {DOCS}"


def _sub(sub, name: str, summary: str, description: str, *examples: str) -> argparse.ArgumentParser:
    """A subcommand with its one-line summary (in `reorder --help`), its description and examples."""
    return sub.add_parser(name, help=summary, description=textwrap.fill(description, 79), epilog=_epilog(*examples),
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _device_options(p: argparse.ArgumentParser) -> None:
    from device.config import DEFAULT_CONFIG_PATHS, CONFIG_ENV, MqttSettings, WakeSettings

    config_file = f"${CONFIG_ENV}, else {DEFAULT_CONFIG_PATHS[0]} if present, else the built-in defaults"
    p.add_argument("--config", metavar="PATH", help=f"device config file (TOML; default: {config_file})")
    p.add_argument("--broker", metavar="URL", help="mqtt://host:port or mqtts://host:port (default: [mqtt] broker,"
                   f" else {MqttSettings().broker})")
    p.add_argument("--device-id", metavar="ID", help="the device's id in topics and its MQTT client id"
                   " (default: [device] id, else this machine's hostname)")
    p.add_argument("--locale", choices=["en-US", "fr-FR"], help="language of requests and read-backs"
                   " (default: [device] locale, else en-US)")
    p.add_argument("--catalog", metavar="PATH", help="a catalogue file to use instead of waiting for the store's"
                   " retained one (default: [storage] catalog, else the retained catalogue)")
    p.add_argument("--outbox", metavar="PATH", help="the outbox database: orders on disk until the broker"
                   " acknowledges them (default: [storage] outbox; replay: a temporary file)")
    p.add_argument("--wake-engine", choices=["microwakeword", "openwakeword", "porcupine"],
                   help=f"wake-word engine (default: [wake] engine, else {WakeSettings().engine}; openwakeword's"
                   " models are non-commercial, porcupine needs a Picovoice AccessKey)")
    p.add_argument("--wake-word", type=_wake_word, metavar="NAME",
                   help="one wake word instead of [wake] keywords (default: those, else"
                   f" {' and '.join(WakeSettings().keywords)}): okay_nabu, hey_jarvis, alexa, hey_mycroft"
                   " (\"hey jarvis\" spelt with a space works too) or a model file")
    p.add_argument("--recognizer", choices=["auto", "moonshine", "whisper", "vosk", "pocketsphinx"],
                   help=f"speech recogniser (default: [recognizer] engine, else auto). {AUTO}")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="debug logs on stderr (default: info; replay: warnings)")


def make_parser() -> _Parser:
    """`reorder` and its subcommands (store-backend's own options are in device/store/cli.py)."""
    parser = _Parser(prog="reorder", formatter_class=argparse.RawDescriptionHelpFormatter,
                     description=textwrap.fill("An offline voice re-order speaker: say \"hey jarvis, order two"
                     " bottles of milk\","
                     " hear the items and the total read back, press the button, and the order goes to the store"
                     " over MQTT. Nothing heard leaves the device.", 79),
                     epilog=_epilog("reorder demo                 # the whole product on a laptop, in about 20 s",
                                    "reorder parse \"order two bottles of milk\" --catalog device/samples/catalog.json"
                                    " --locale en-US", codes=True))
    parser.add_argument("--version", action="version", version=f"reorder {firmware()}",
                        help="print the version (with the git commit when run from a checkout) and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    run = _sub(sub, "run", "the device loop on real hardware (what the systemd service runs)",
               "The device loop on real hardware: the microphone through sounddevice, the button, mute switch and"
               " LED through gpiozero, orders over MQTT. Every option overrides the config file. Runs until"
               " SIGTERM or SIGINT, which end it cleanly; events are logged as JSON lines.",
               "reorder run --config /etc/reorder/device.toml",
               "reorder run --broker mqtt://127.0.0.1:1883 --locale fr-FR -v")
    _device_options(run)
    replay = _sub(sub, "replay", "the device loop on a WAV file, printing one JSON event per line",
                  "The same loop as `run`, with a WAV file as the microphone and gpiozero's mock pins as the"
                  " hardware: prints one JSON object per event. Ends when the audio is over, the loop is idle and"
                  " the outbox drained (at most 10 s), then lingers --linger seconds. Its outbox, catalogue cache"
                  " and mute memory are temporary unless --outbox is given.",
                  "reorder replay device/samples/demo-en.wav --catalog device/samples/catalog.json --press-at 10",
                  "reorder replay request.wav --press-at 8.5 --linger 2 --broker mqtt://127.0.0.1:1883")
    replay.add_argument("audio", metavar="AUDIO.wav", help="the recording (WAV, any rate; converted to 16 kHz mono)")
    _device_options(replay)
    replay.add_argument("--press-at", type=float, action="append", default=[], metavar="SECONDS",
                        help="a short press of the confirm button at that time of the recording (repeatable;"
                        " default: none)")
    replay.add_argument("--long-press-at", type=float, action="append", default=[], metavar="SECONDS",
                        help="a long press (cancel) at that time (repeatable; default: none)")
    replay.add_argument("--realtime", action="store_true",
                        help="pace the audio like a live microphone (default: as fast as the machine can)")
    replay.add_argument("--linger", type=float, default=0.0, metavar="SECONDS",
                        help="keep running after the audio, to wait for the store's answer (default: %(default)s)")
    parse = _sub(sub, "parse", "print the intent of one sentence as JSON (no audio, no broker)",
                 "Prints the intent the device would act on for one transcript, as JSON: reorder (SKUs and"
                 " quantities), usual, cancel or none (with the words it could not place). Loads no model.",
                 "reorder parse \"could you order two bottles of milk\" --catalog device/samples/catalog.json"
                 " --locale en-US",
                 "reorder parse \"commande deux bouteilles de lait\" --catalog device/samples/catalog.json"
                 " --locale fr-FR")
    parse.add_argument("text", metavar="TEXT", help="what was said, as the recogniser would write it")
    parse.add_argument("--catalog", required=True, metavar="PATH",
                       help="catalogue file (reorder.catalog/1 JSON; required)")
    parse.add_argument("--locale", required=True, choices=["en-US", "fr-FR"], help="the sentence's language (required)")
    demo = _sub(sub, "demo", "everything on a laptop: embedded broker, store backend and device",
                "A newcomer's first run: an embedded MQTT broker, the reference store backend with the sample"
                " catalogue and the device loop on a bundled recording, shown live. In a terminal, Enter presses"
                " the button, c then Enter is a long press, q quits; without one it presses the button itself"
                " after the read-back. Exit 0 once the store accepted the order (or you cancelled or quit).",
                "reorder demo", "reorder demo --lang fr")
    demo.add_argument("--mic", action="store_true",
                      help="listen to the microphone instead of the sample recording (default: the recording)")
    demo.add_argument("--lang", choices=["en", "fr"], default="en",
                      help="the sample's language: en (Moonshine) or fr (Whisper base) (default: %(default)s)")
    demo.add_argument("--broker", metavar="URL", help="use this broker instead of the embedded one (default: an"
                      " embedded amqtt broker on a free loopback port)")
    from device.transcribe import add_parser as transcribe_parser

    transcribe_parser(sub)
    doctor = _sub(sub, "doctor", "check microphone, speaker, models, GPIO, clock, broker, outbox, catalogue",
                  "Checks what the device needs, one line each: config, microphone level, speaker, wake word and"
                  " recogniser (loaded as `run` loads them), model licences, GPIO pins, clock, broker and"
                  " credentials, outbox, catalogue, counters. Each line says what to do; exit 0 only when none"
                  " failed. Stop the service first: it holds the pins and the microphone.",
                  "reorder doctor",
                  "sudo -u reorder /opt/reorder/venv/bin/reorder doctor --config /etc/reorder/device.toml")
    doctor.add_argument("--config", metavar="PATH", help="device config file to check (default: $REORDER_CONFIG,"
                        " else /etc/reorder/device.toml if present, else the built-in defaults)")
    sub.add_parser("store-backend", help="the reference store backend (its options: `reorder store-backend --help`)",
                   add_help=False)
    return parser


def _settings(args: argparse.Namespace):
    from device import config

    settings = config.load(args.config)
    changes = {OVERRIDES[k]: v for k, v in vars(args).items() if k in OVERRIDES and v is not None}
    return config.override(settings, changes)


def _logging(verbose: bool, quiet: bool = False) -> None:
    from device.adapters.hardware.systemd import log_handler

    level = logging.DEBUG if verbose else (logging.WARNING if quiet else logging.INFO)
    # Under systemd: "<4>device.loop: ..." lines that journald files as warnings and time-stamps itself.
    logging.basicConfig(level=level, handlers=[log_handler(sys.stderr, "reorder: %(levelname)s %(name)s: %(message)s")])
    logging.captureWarnings(True)  # a library's Python warning is a logged warning too (journal priority 4)


def cmd_parse(args: argparse.Namespace) -> int:
    from device.contract.catalogue import Catalogue
    from device.language.parser import parse

    intent = parse(args.text, Catalogue.load(args.catalog), args.locale)
    print(json.dumps(intent.to_dict(), ensure_ascii=False))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    import dataclasses

    from device.adapters.audio.wav_source import WavSource
    from device.app import build, event_line
    from device.runner import PressPlan, run_replay

    _logging(args.verbose, quiet=True)
    settings = _settings(args)
    # Replay always uses gpiozero's mock pins: --press-at drives them like a finger.
    settings = dataclasses.replace(settings, gpio=dataclasses.replace(settings.gpio, pin_factory="mock"))
    with tempfile.TemporaryDirectory(prefix="reorder-replay-") as scratch:
        if args.outbox is None:
            # Not the device's own files: its outbox (another device id would re-send its orders),
            # catalogue cache and mute memory stay as they are unless --outbox says otherwise.
            settings = dataclasses.replace(settings, storage=dataclasses.replace(
                settings.storage, outbox=str(Path(scratch) / "outbox.sqlite3"),
                catalog_cache=str(Path(scratch) / "catalog.json")))
        source = WavSource(args.audio)

        def emit(event) -> None:
            print(event_line(event), flush=True)

        device = build(settings, source, emit, play_audio=False)
        try:
            run_replay(device, PressPlan(args.press_at, args.long_press_at, settings.confirmation.long_press_seconds),
                       realtime=args.realtime, linger=args.linger)
        finally:
            device.close()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from device.adapters.audio.microphone import Microphone
    from device.app import build, event_line

    _logging(args.verbose)
    settings = _settings(args)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    events = logging.getLogger("device.events")
    device = build(settings, Microphone(settings.audio.input_device), lambda e: events.info("%s", event_line(e)))
    log.info("reorder %s: device %s, locale %s, broker %s (%s)", firmware(), settings.device.id,
             settings.device.locale, settings.mqtt.broker, settings.source)
    from device.runner import run_live

    try:
        run_live(device, stop)
    finally:
        device.close()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from device.demo import main as demo_main

    return demo_main(args)


def cmd_doctor(args: argparse.Namespace) -> int:
    from device.doctor import main as doctor_main

    return doctor_main(args)


def cmd_transcribe(args: argparse.Namespace) -> int:
    from device.transcribe import run

    _logging(False, quiet=True)
    return run(args)


COMMANDS = {"transcribe": cmd_transcribe, "parse": cmd_parse, "replay": cmd_replay, "run": cmd_run, "demo": cmd_demo,
            "doctor": cmd_doctor}


def few_malloc_arenas(arenas: int = 1) -> bool:
    """Let glibc keep at most `arenas` malloc arenas (as MALLOC_ARENA_MAX would). Each thread that allocates
    otherwise gets its own, and memory freed in one is not reused by another: the recogniser's worker
    (recognition.early) added 15-25 MB to the loop's peak (`reorder replay` of the demo recordings, measured
    then: 312/320 MiB in one arena, 319/333 in two). Call before any thread starts; False where the C library
    has no mallopt (not glibc) or the environment already says."""
    import ctypes
    import os

    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(-8, arenas))  # -8: M_ARENA_MAX
    except (OSError, AttributeError):
        return False


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `reorder` console script."""
    argv = sys.argv[1:] if argv is None else argv
    few_malloc_arenas()
    if argv[:1] == ["store-backend"]:  # its own parser (device/store/cli.py) owns every option
        try:
            from device.store.cli import main as store_main

            return store_main(argv[1:])
        except ReorderError as exc:
            print(f"reorder: {exc}", file=sys.stderr)
            return exc.exit_code
    parser = make_parser()
    parser.command = next((a for a in argv[:1] if a in COMMANDS), "")
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ReorderError as exc:
        print(f"reorder: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `reorder replay ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
