"""`reorder doctor [--config PATH]`: checks the device's setup, one line per check; exit 0 only when none fails.

Each line is one of
    ✓ name: what was found                      (pass)
    ! name: what is missing — how to fix         (warning: still exit 0)
    ✗ name: what is wrong — how to fix           (failure: exit 1)
coloured through rich when stdout is a terminal, plain text otherwise (OK/WARN/FAIL and "-" when
stdout cannot encode the symbols), then one summary line.

Checks, in order (device/doctor/): config, microphone, speaker, wake word, recogniser, licences,
GPIO, clock, broker, outbox, catalogue, counters. Decisions:
- config: a file that does not load stops the doctor there (every other check needs its settings).
- microphone: records 2 s through the device's Microphone and shows the RMS level in dBFS with a
  meter. All-zero audio fails ("microphone delivers silence"); below -75 dBFS warns (almost silent).
- speaker: missing espeak-ng or no output device only warn: the device still works and shows
  read-backs on the LED, as the loop does. An [audio] output_device that matches nothing fails;
  `[confirmation] speak = false` passes. Nothing is played.
- wake word / recogniser: built by the same functions as `reorder run` (device.app), so a bad
  Porcupine AccessKey or a missing Vosk model gives the same line as at start-up.
- licences: the licence of each model in use (wake word, recogniser, espeak-ng voices); a
  non-commercial one (openWakeWord's pretrained models, CC BY-NC-SA 4.0) or one under an
  agreement to check (Porcupine) warns. Nothing is loaded (device/doctor/model_licences.py, NOTICE.md).
- GPIO: claims the configured pins through the configured (or gpiozero's default) pin factory
  and releases them.
- clock: a year before 2024 fails. Not NTP-synchronised (timedatectl) fails with an mqtts://
  broker (certificate validity) and warns with plain mqtt://; no timedatectl passes with a note.
- broker: connects with the device's TLS settings, username and password, but with a client id of
  its own and a clean session, so it never takes over the running device's session; also checks
  that the ACL lets it subscribe to its order-status and catalog topics. Nothing is published.
- outbox: opened as the device opens it, so a missing one is created and a corrupt one is set
  aside (a warning); a full one fails. Reports how many orders wait to be sent.
- catalogue: the [storage] catalog file, else the cached one, else the retained one from the
  broker (5 s); when the broker check failed it is not asked again.
- counters: the retained stats of the last run from the broker (3 s), else the since-install
  counters kept next to the outbox, in one line; many wakes followed by no speech warn.
The service holds the microphone and the pins: stop it first (sudo systemctl stop reorder) and run
the doctor as its user (sudo -u reorder) so that it reads the same config and files.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import TextIO

from device.config import Settings
from device.doctor.audio import check_microphone, check_speaker
from device.doctor.counters import check_counters
from device.doctor.engines import check_recognizer, check_wake_word
from device.doctor.licences import check_licences
from device.doctor.network import check_broker, check_catalogue
from device.doctor.result import ASCII_SYMBOLS, SYMBOLS, Result, Status, failed, from_error
from device.doctor.system import check_clock, check_gpio, check_outbox, load_config
from device.errors import ReorderError

log = logging.getLogger(__name__)

STYLES: dict[Status, str] = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red"}


def guarded(name: str, check: Callable[[], Result]) -> Result:
    """Run one check; an error it did not expect becomes its failure line, never a traceback."""
    try:
        return check()
    except ReorderError as exc:
        return from_error(name, exc, "see the message above")
    except Exception as exc:  # a doctor must finish every line whatever a library raises
        log.debug("check %s failed", name, exc_info=True)
        return failed(name, f"the check itself failed ({type(exc).__name__}: {exc})",
                      "please report this line with the output of `reorder --version`")


def run_checks(settings: Settings, report: Callable[[Result], None]) -> list[Result]:
    """Every check after the config, in order; each result is reported as soon as it is known."""
    results: list[Result] = []
    broker_ok = True
    steps: list[tuple[str, Callable[[], Result]]] = [
        ("microphone", lambda: check_microphone(settings)),
        ("speaker", lambda: check_speaker(settings)),
        ("wake word", lambda: check_wake_word(settings)),
        ("recogniser", lambda: check_recognizer(settings)),
        ("licences", lambda: check_licences(settings)),
        ("GPIO", lambda: check_gpio(settings)),
        ("clock", lambda: check_clock(settings)),
        ("broker", lambda: check_broker(settings)),
        ("outbox", lambda: check_outbox(settings)),
        ("catalogue", lambda: check_catalogue(settings, ask_broker=broker_ok)),
        ("counters", lambda: check_counters(settings, ask_broker=broker_ok)),
    ]
    for name, step in steps:
        result = guarded(name, step)
        report(result)
        results.append(result)
        if name == "broker":
            broker_ok = result.ok
    return results


class Printer:
    """Prints result lines: rich colours on a terminal, plain text otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        try:
            "✓✗—".encode(getattr(self.stream, "encoding", None) or "ascii")
            self.symbols, self.dash = SYMBOLS, "—"
        except (UnicodeEncodeError, LookupError):
            self.symbols, self.dash = ASCII_SYMBOLS, "-"
        self.console = None
        if self.stream.isatty():
            try:
                from rich.console import Console
            except ImportError:  # rich comes with the [demo] extra; a device prints plain lines
                return
            self.console = Console(file=self.stream, highlight=False, soft_wrap=True)

    def __call__(self, result: Result) -> None:
        """Print one check's line."""
        if self.console is None:
            print(result.line(self.symbols, self.dash), file=self.stream, flush=True)
            return
        from rich.text import Text

        text = Text.assemble((self.symbols[result.status], STYLES[result.status]), " ", (result.name, "bold"),
                             ": ", result.detail)
        if result.fix and result.status != "pass":
            text.append(f" {self.dash} {result.fix}", style="yellow" if result.ok else "red")
        self.console.print(text)

    def summary(self, results: list[Result]) -> None:
        """The last line: how many checks passed, warned and failed."""
        counts = {s: sum(1 for r in results if r.status == s) for s in ("pass", "warn", "fail")}
        words = f"{counts['pass']} passed, {counts['warn']} warning{'s' if counts['warn'] != 1 else ''}, " \
                f"{counts['fail']} failed"
        verdict = "all checks pass" if not counts["fail"] else "fix the lines marked " + self.symbols["fail"]
        print(f"doctor: {words}: {verdict}", file=self.stream, flush=True)


def doctor(config_path: str | None, stream: TextIO | None = None) -> int:
    """Run every check and print its line; 0 when none failed, else 1."""
    printer = Printer(stream)
    result, settings = load_config(config_path)
    printer(result)
    results = [result]
    if settings is None:
        print("doctor: the other checks need a valid config", file=printer.stream, flush=True)
        return 1
    results += run_checks(settings, printer)
    printer.summary(results)
    return 0 if all(r.ok for r in results) else 1


def main(args: argparse.Namespace) -> int:
    """Entry point of `reorder doctor` (args.config: the config file or None)."""
    # Every problem is a doctor line already: keep the device's own warnings off stderr.
    logging.basicConfig(level=logging.CRITICAL, stream=sys.stderr, format="reorder: %(name)s: %(message)s")
    return doctor(getattr(args, "config", None))
