"""`reorder demo`: the whole product on a laptop, with nothing to install, no hardware and no key.

    embedded broker (amqtt, 127.0.0.1:<free port>)      or --broker URL
        ▲                        ▲
    store backend            device loop  ◀── sample recording (demo-en.wav / demo-fr.wav) or --mic
    (sample catalogue,       (mock GPIO: the view shows its LED; Enter presses its button)
     published retained)

Set-up, in order: the broker, the store backend (it publishes the sample catalogue retained for
device "demo-kitchen"), the device (outbox and catalogue cache in a temporary folder; it takes the
catalogue from the broker, falling back to the bundled file), then the loop in real time. Without
a terminal on stdin it presses the button itself once the items and total were read back, and exits
0 when the store accepted the order; any other end is one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
import threading
import time
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from device.app import build, sample_path
from device.config import Settings, from_mapping
from device.contract.catalogue import Catalogue
from device.demo.driver import Driver, KeyReader, DemoResult
from device.demo.view import LiveView, PlainView, View, ViewLogHandler, short_id
from device.errors import AudioError, ModelError, ReorderError
from device.events import Event

if TYPE_CHECKING:
    from device.adapters.hardware.gpio import GpioPanel

log = logging.getLogger(__name__)

DEVICE_ID = "demo-kitchen"
CATALOGUE_WAIT_SECONDS = 5.0
"""How long the device waits for the retained catalogue before using the bundled file."""
SAMPLES = {
    "en": ("en-US", "demo-en.wav", "hey jarvis … could you order a coffee and two bottles of milk"),
    "fr": ("fr-FR", "demo-fr.wav", "hey jarvis … je voudrais du café et des pâtes"),
}
KEYS_HELP = "Enter: short press (confirm) · c then Enter: long press (cancel) · q: quit · Ctrl-C: stop"


class DemoFailed(ReorderError):
    """The demo ran but did not end in an accepted order (the reason is the message)."""


def main(args: argparse.Namespace) -> int:
    """Run the demo; 0 when the order was accepted (or the user cancelled or quit), else one line and 1."""
    locale, wav, words = SAMPLES[args.lang]
    from device.errors import require

    for module in ("amqtt", "rich"):  # the embedded broker, the live view
        require(module, "demo", "reorder demo")
    _check_language(locale)
    if args.mic:
        _check_microphone()
    keys = sys.stdin.isatty()
    view: View = (LiveView(f"reorder demo · device {DEVICE_ID}", KEYS_HELP if keys else "") if sys.stdout.isatty()
                  else PlainView())
    root = logging.getLogger()
    with tempfile.TemporaryDirectory(prefix="reorder-demo-") as tmp, ExitStack() as stack:
        _quiet_libraries(stack)
        handler = ViewLogHandler(view)
        stack.callback(root.removeHandler, handler)
        stack.callback(root.setLevel, root.level)
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
        view.start()
        stack.callback(view.stop)
        return _run(args, view, stack, Path(tmp), keys, locale, wav, words)


def _run(args: argparse.Namespace, view: View, stack: ExitStack, tmp: Path, keys: bool, locale: str, wav: str,
         words: str) -> int:
    catalogue = Catalogue.load(sample_path("catalog.json"))
    url = args.broker
    if url is None:
        from device.demo.broker import EmbeddedBroker

        broker = stack.enter_context(EmbeddedBroker())
        url = broker.url
        _quiet(stack, "device.store.session", logging.ERROR)  # amqtt has no MQTT 5: expected here
        view.note(f"broker: embedded amqtt on {url} (MQTT 3.1.1)")
    else:
        view.note(f"broker: {url}")

    outcome = DemoResult()
    stored: set[str] = set()

    def on_order(request: dict[str, Any], answer: dict[str, Any]) -> None:
        view.store("order", request, answer)
        stored.add(str(request.get("order_id")))
        outcome.stored = outcome.order_id in stored

    store = _start_store(url, tmp, catalogue, on_order, lambda r, a: view.store("cancel", r, a))
    stack.callback(store.stop)
    protocol = "5" if store.session.shared else "3.1.1"
    store.announce_catalog(DEVICE_ID)
    view.note(f"store backend: connected; catalogue version {catalogue.version} ({len(catalogue.items)} items) "
              f"published, retained, for {DEVICE_ID}")

    settings = _settings(url, protocol, locale, tmp)
    if args.mic:
        from device.adapters.audio.microphone import Microphone

        source: Any = Microphone(settings.audio.input_device)
        view.note("device: listening to the microphone; say \"hey jarvis\", then e.g. "
                  "\"could you order a coffee and two bottles of milk\"")
    else:
        from device.adapters.audio.wav_source import WavSource

        source = WavSource(sample_path(wav))
        view.note(f"device {DEVICE_ID}: sample recording {wav} ({source.duration:.1f} s): \"{words}\"")
    view.note("loading the wake-word and speech models…")

    def emit(event: Event) -> None:
        outcome.observe(event)
        if event.name == "queued":
            outcome.stored = outcome.order_id in stored
        view.event(event)

    device = build(settings, source, emit, play_audio=sys.stdout.isatty())
    stack.callback(device.close)
    if isinstance(view, LiveView):
        led = cast("GpioPanel", device.panel).led  # an RGBLED on mock pins: its value blinks as the real one would
        view.led = (lambda: tuple(led.value)) if led is not None else None
        view.clock = lambda: device.loop.t
        stack.callback(setattr, view, "led", None)  # runs before device.close(): the pins go away
    elif isinstance(view, PlainView):
        view.clock = lambda: device.loop.t
    _wait_for_catalogue(device, catalogue, view)

    driver = Driver(device, view, outcome, auto_press=not keys, live_source=args.mic)
    if keys:
        reader = KeyReader(driver.commands, view)
        reader.start()
        stack.callback(reader.stop)
        view.note("press Enter after the read-back to order; c then Enter cancels")
    else:
        view.note("no terminal on stdin: the button will be pressed automatically after the read-back")
    stop = threading.Event()
    interrupted = _on_signals(stop, stack)
    if not args.mic and sys.stdout.isatty():
        _play(sample_path(wav))
    session = args.mic and keys  # the microphone and a person at the keys: any number of requests, until quit
    driver.run(stop, linger=3.0 if keys else 1.0, exit_on_outcome=not session)
    return 0 if session else _result(outcome, interrupted, view)


def _result(outcome: DemoResult, interrupted: list[int], view: View) -> int:
    """0 for an accepted order, a cancel or a quit; 128 + the signal when interrupted; else DemoFailed."""
    if outcome.accepted:
        view.note(f"done: the store accepted order {short_id(outcome.order_id)} ({outcome.total})")
        return 0
    if outcome.cancelled:
        view.note("done: cancelled, nothing was ordered")
        return 0
    if interrupted:
        return 128 + interrupted[0]
    if outcome.failure:
        raise DemoFailed(f"demo: {outcome.failure}")
    return 0


def _start_store(url: str, tmp: Path, catalogue: Catalogue, on_order: Any, on_cancel: Any):
    from device.store import StoreBackend

    store = StoreBackend(url, tmp / "store.sqlite3", catalogue=catalogue, on_order=on_order, on_cancel=on_cancel)
    store.start()
    return store


def _settings(url: str, protocol: str, locale: str, tmp: Path) -> Settings:
    """Defaults, with mock pins, the demo's device id and broker, and every file in the temporary folder."""
    return from_mapping({
        "device": {"id": DEVICE_ID, "locale": locale},
        "gpio": {"pin_factory": "mock"},
        "mqtt": {"broker": url, "protocol": protocol},
        "storage": {"outbox": str(tmp / "outbox.sqlite3"), "catalog_cache": str(tmp / "catalog.json")},
    }, "reorder demo")


def _wait_for_catalogue(device: Any, fallback: Catalogue, view: View) -> None:
    """The retained catalogue from the broker (the live path), else the bundled file."""
    loop = device.loop
    deadline = time.monotonic() + CATALOGUE_WAIT_SECONDS
    while loop.catalogue is None and time.monotonic() < deadline:
        loop.drain()
        time.sleep(0.02)
    if loop.catalogue is not None:
        view.note(f"device: catalogue version {loop.catalogue.version} received from the broker (retained message)")
    else:
        loop.set_catalogue(fallback)
        view.note(f"device: no retained catalogue after {CATALOGUE_WAIT_SECONDS:.0f} s; using the bundled one")


def _on_signals(stop: threading.Event, stack: ExitStack) -> list[int]:
    """SIGINT/SIGTERM end the demo cleanly; returns the list the signal number is put in."""
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        return got

    def handle(signum: int, frame: object) -> None:
        got.append(signum)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.signal(sig, handle)
        stack.callback(signal.signal, sig, previous)
    return got


def _play(path: Path) -> None:
    """Play the sample recording on the speaker, so the request is heard as the device hears it."""
    try:
        import sounddevice as sd

        from device.adapters.audio.wav_source import load_wav

        sd.play(load_wav(path), 16000)
    except Exception as exc:  # no PortAudio, no output device: the view still shows everything
        log.debug("sample recording not played (%s)", exc)


def _check_language(locale: str) -> None:
    """French needs Whisper (prepared by scripts/dev setup) or a Vosk model (pocketsphinx is English only):
    without either, say in one line how to get one."""
    if locale == "en-US":
        return
    from device.adapters.speech.vosk import DEFAULT_MODELS, find_model
    from device.adapters.speech.vosk import default_model_dir as vosk_dir
    from device.prepare.whisper import default_model_dir as whisper_dir
    from device.prepare.whisper import is_prepared

    if is_prepared(whisper_dir()) or find_model("", locale) is not None:
        return
    raise ModelError(f"the French demo needs the Whisper base model in {whisper_dir()} (prepare it with: python -m "
                     f"device.prepare.whisper; scripts/dev setup does) or the Vosk model "
                     f"{DEFAULT_MODELS[locale]} in {vosk_dir(locale).parent} (sudo python3 scripts/model_fetch.py "
                     f"--manifest models/manifest.json --locale {locale} --name {DEFAULT_MODELS[locale]} "
                     f"--dest {vosk_dir(locale).parent})")


def _check_microphone() -> None:
    """One clear line when there is no microphone to listen to."""
    fix = "plug one in, or run `reorder demo` without --mic to use the bundled recording"
    try:
        import sounddevice as sd
    except OSError:
        raise AudioError(f"no microphone: PortAudio is not installed (apt-get install libportaudio2); {fix}") \
            from None
    try:
        sd.query_devices(kind="input")
    except (sd.PortAudioError, ValueError):
        raise AudioError(f"no microphone found; {fix}") from None


def _quiet(stack: ExitStack, name: str, level: int) -> None:
    """Raise a logger's level for the demo's duration."""
    logger = logging.getLogger(name)
    stack.callback(logger.setLevel, logger.level)
    logger.setLevel(level)


def _quiet_libraries(stack: ExitStack) -> None:
    """Keep third-party chatter out of the demo (it reports what matters itself)."""
    stack.enter_context(warnings.catch_warnings())
    warnings.filterwarnings("ignore", message=".*CUDAExecutionProvider.*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    _quiet(stack, "amqtt", logging.CRITICAL)  # every connection, and tracebacks while shutting down
    _quiet(stack, "transitions", logging.WARNING)
