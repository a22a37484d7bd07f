"""The `reorder` command: parse, validate, run; bad input ends in one clear line, never a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import NoReturn

from device import __version__
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


def _device_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="device config file (TOML; default /etc/reorder/device.toml if present)")
    p.add_argument("--broker", help="mqtt://host:port or mqtts://host:port")
    p.add_argument("--device-id", help="device id used in topics")
    p.add_argument("--locale", choices=["en-US", "fr-FR"])
    p.add_argument("--catalog", help="catalogue file, instead of waiting for the retained catalogue")
    p.add_argument("--outbox", help="outbox database file")
    p.add_argument("--wake-engine", choices=["microwakeword", "openwakeword", "porcupine"])
    p.add_argument("--wake-word", type=_wake_word, metavar="NAME",
                   help="wake word model, e.g. hey_jarvis (default), alexa, hey_mycroft, okay_nabu, or a model file")
    p.add_argument("--recognizer", choices=["auto", "moonshine", "whisper", "vosk", "pocketsphinx"])
    p.add_argument("-v", "--verbose", action="store_true", help="debug logs on stderr")


def make_parser() -> _Parser:
    parser = _Parser(prog="reorder", description="Offline voice re-order speaker.")
    parser.add_argument("--version", action="version", version=f"reorder {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="the device loop on real hardware")
    _device_options(run)
    replay = sub.add_parser("replay", help="the device loop on a WAV file, printing JSON-lines events")
    replay.add_argument("audio", help="WAV file (any rate; converted to 16 kHz mono)")
    _device_options(replay)
    replay.add_argument("--press-at", type=float, action="append", default=[], metavar="SECONDS",
                        help="short press of the confirm button at that time of the recording (repeatable)")
    replay.add_argument("--long-press-at", type=float, action="append", default=[], metavar="SECONDS",
                        help="long press (cancel) at that time (repeatable)")
    replay.add_argument("--realtime", action="store_true", help="pace the audio like a live microphone")
    replay.add_argument("--linger", type=float, default=0.0, metavar="SECONDS",
                        help="keep running after the audio, to wait for the store's answer")
    parse = sub.add_parser("parse", help="print the intent of one utterance as JSON")
    parse.add_argument("text")
    parse.add_argument("--catalog", required=True, help="catalogue file")
    parse.add_argument("--locale", required=True, choices=["en-US", "fr-FR"])
    demo = sub.add_parser("demo", help="everything on a laptop: embedded broker, store, device")
    demo.add_argument("--mic", action="store_true", help="use the microphone instead of the sample recording")
    demo.add_argument("--lang", choices=["en", "fr"], default="en")
    demo.add_argument("--broker", help="use this broker instead of the embedded one")
    from device.transcribe import add_parser as transcribe_parser

    transcribe_parser(sub)
    doctor = sub.add_parser("doctor", help="check microphone, speaker, models, GPIO, clock, broker")
    doctor.add_argument("--config")
    sub.add_parser("store-backend", help="the reference store backend (see `reorder store-backend --help`)")
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
    log.info("reorder %s: device %s, locale %s, broker %s (%s)", __version__, settings.device.id,
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `reorder` console script."""
    argv = sys.argv[1:] if argv is None else argv
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
