"""Composition root: builds each stage from the settings and the chosen adapters."""

from __future__ import annotations

import json
import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .catalogue import Catalogue
from .config import Settings
from .errors import CatalogueError
from .events import Event
from .loop import Loop
from .stages.audio_source import AudioSource
from .stages.delivery import Delivery
from .stages.endpointer import Endpointer
from .stages.order import iso
from .stages.outbox import Outbox
from .stages.state_report import state_payload
from .stages.wake_word import GatedEngine, WakeWordDetector, WakeWordEngine
from .topics import Topics

log = logging.getLogger(__name__)


def make_wake_engine(settings: Settings) -> WakeWordEngine:
    """The configured engine (microWakeWord, openWakeWord, or Porcupine with its AccessKey), behind
    the voice-activity gate unless [wake] vad_gate = false."""
    w = settings.wake
    engine: WakeWordEngine
    if w.engine == "porcupine":
        from .adapters.porcupine import Porcupine, read_access_key

        engine = Porcupine(w.keyword, read_access_key(w.access_key_file), w.sensitivity)
    elif w.engine == "microwakeword":
        from .adapters.microwakeword import MicroWakeWordEngine

        engine = MicroWakeWordEngine(w.keyword)
    else:
        # The lean scorer: openWakeWord's own ONNX files and numbers, without importing the package
        # (scipy, scikit-learn: ~150 MB on a 512 MB Pi) and with a reset that forgets old audio.
        from .adapters.oww_lite import OpenWakeWordLite

        engine = OpenWakeWordLite(w.keyword)
    if not w.vad_gate:
        return engine
    from .adapters.vad import WebRtcVad

    return GatedEngine(engine, WebRtcVad())


def make_wake_detector(settings: Settings) -> WakeWordDetector:
    """The engine with its threshold ([wake] threshold, or the engine's own when 0) and refractory period."""
    engine = make_wake_engine(settings)
    return WakeWordDetector(engine, settings.wake.threshold or engine.default_threshold,
                            settings.wake.refractory_seconds)


def make_recognizer(settings: Settings):
    """The recogniser `[recognizer] engine` asks for; "auto" picks by locale, models and memory (device.recognizers)."""
    from . import recognizers

    return recognizers.build(settings)


def initial_catalogue(settings: Settings) -> Catalogue | None:
    """The fixed catalogue file, else the cached broker catalogue, else None (wait for the broker)."""
    if settings.storage.catalog:
        return Catalogue.load(settings.storage.catalog)
    cache = settings.storage.catalog_cache_path()
    if cache.exists():
        try:
            return Catalogue.load(cache)
        except CatalogueError as exc:
            log.warning("cached catalogue ignored: %s", exc)
    return None


@dataclass
class Device:
    """The assembled device; close() releases everything (idempotent)."""

    loop: Loop
    source: AudioSource
    panel: object
    link: object
    outbox: Outbox

    def close(self, flush_seconds: float = 2.0) -> None:
        """Stop: give in-flight orders a moment to be acknowledged, publish offline, LEDs off."""
        try:
            self.source.close()
            deadline = time.monotonic() + flush_seconds
            while self.loop.delivery.in_flight and time.monotonic() < deadline:
                self.loop.drain()
                time.sleep(0.02)
        finally:
            self.link.stop(final=(self.loop.topics.state, self.loop.state_payload(online=False)))
            self.panel.close()
            self.outbox.close()


def build(settings: Settings, source: AudioSource, emit: Callable[[Event], None], *, play_audio: bool = True,
          pin_factory=None) -> Device:
    """Wire every stage; raises a ReorderError with one clear line for anything missing."""
    from .adapters.gpio import GpioPanel
    from .adapters.mqtt import MqttLink
    from .adapters.tts import EspeakSpeaker
    from .adapters.vad import WebRtcVad

    catalogue = initial_catalogue(settings)
    wake = make_wake_detector(settings)
    recognizer = make_recognizer(settings)
    r = settings.recognizer
    endpointer = Endpointer(WebRtcVad(), r.end_silence_seconds, r.max_utterance_seconds, r.no_speech_seconds,
                            r.min_speech_seconds)
    outbox = Outbox(settings.storage.outbox_path(), settings.storage.outbox_capacity)
    topics = Topics(settings.mqtt.topic_prefix, settings.device.id)
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    # The last will: what the store sees if the device vanishes without a goodbye.
    offline = state_payload(online=False, outbox_depth=outbox.depth(), muted=False,
                            since=iso(datetime.now(timezone.utc)))
    link = MqttLink(settings.mqtt, settings.device.id, inbox.put, (topics.order_status, topics.catalog),
                    will=(topics.state, offline), topics=topics)
    panel = GpioPanel(settings.gpio, inbox.put, pin_factory=pin_factory)
    try:
        loop = Loop(settings, wake=wake, endpointer=endpointer, recognizer=recognizer,
                    delivery=Delivery(outbox, link, topics), light=panel,
                    speaker=EspeakSpeaker(settings.audio.output_device, play=play_audio), emit=emit,
                    catalogue=catalogue, catalogue_cache=settings.storage.catalog_cache_path(), inbox=inbox)
    except BaseException:
        panel.close()
        outbox.close()
        raise
    if outbox.recovered_from:
        from .events import Error

        emit(Error(0.0, f"outbox was corrupt: kept as {outbox.recovered_from}, started a new one"))
    link.start()
    return Device(loop, source, panel, link, outbox)


def event_line(event: Event) -> str:
    """One JSON line of CONTRACT §4."""
    return json.dumps(event.to_dict(), ensure_ascii=False, separators=(", ", ": "))


def sample_path(name: str) -> Path:
    """A file shipped in device/samples."""
    return Path(__file__).parent / "samples" / name
