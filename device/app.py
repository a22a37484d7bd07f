"""Composition root: builds each stage from the settings and the chosen adapters."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import queue
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from device.audio.endpointer import Endpointer, VoiceActivity
from device.audio.source import AudioSource
from device.audio.voice import Speaker, Voice
from device.audio.wake_word import GatedEngine, WakeWordDetector, WakeWordEngine
from device.config import DEFAULT_KEYWORDS, MqttSettings, RecognizerSettings, Settings
from device.confirmation.gestures import PressTimer
from device.confirmation.led import StatusLight
from device.confirmation.mute import MuteFile, MuteMemory, initial_mute
from device.confirmation.session import OrderSession
from device.contract.catalogue import Catalogue
from device.contract.inputs import MuteChanged
from device.contract.topics import Topics
from device.dialogue.limits import Limits
from device.dialogue.request import Requests
from device.errors import CatalogueError
from device.events import Event, StateChanged
from device.loop import Loop
from device.orders.delivery import Delivery
from device.orders.lifecycle import Orders
from device.orders.outbox import Outbox
from device.orders.payload import iso
from device.recognition.early import TAIL_SECONDS, EarlyStart
from device.recognition.neural import ConstrainedRecognizer
from device.recognition.protocol import Recognizer
from device.recognition.second_opinion import SecondOpinion
from device.telemetry.discovery import discovery_messages
from device.telemetry.state_report import StateReport, StatsReport, state_payload
from device.telemetry.stats import Stats, StatsFile, TimedRecognizer

if TYPE_CHECKING:
    from device.adapters.hardware.gpio import GpioPanel

log = logging.getLogger(__name__)


def one_word(settings: Settings, word: str) -> Settings:
    """The settings with only this wake word (each word has an engine of its own)."""
    return dataclasses.replace(settings, wake=dataclasses.replace(settings.wake, keyword=word))


def sensitivity_level(value: str | float) -> str:
    """low / normal / high; a number (Porcupine's 0-1 scale) below 0.5 is low, 0.5 normal, above high."""
    if isinstance(value, str):
        return value
    return "low" if value < 0.5 else "high" if value > 0.5 else "normal"


def make_wake_engine(settings: Settings) -> WakeWordEngine:
    """The first configured word's engine (microWakeWord, openWakeWord, or Porcupine with its AccessKey),
    behind the voice-activity gate unless [wake] vad_gate = false."""
    w = settings.wake
    word = w.words()[0]
    engine: WakeWordEngine
    if w.engine == "porcupine":
        from device.adapters.speech.porcupine import SENSITIVITY, Porcupine, read_access_key

        sensitivity = w.sensitivity_of(word)
        value = SENSITIVITY[sensitivity] if isinstance(sensitivity, str) else sensitivity
        engine = Porcupine(word, read_access_key(w.access_key_file), value)
    elif w.engine == "microwakeword":
        from device.adapters.speech.microwakeword import MicroWakeWordEngine

        engine = MicroWakeWordEngine(word)
    else:
        # The lean scorer: openWakeWord's own ONNX files and numbers, without importing the package
        # (scipy, scikit-learn: ~150 MB on a 512 MB Pi) and with a reset that forgets old audio.
        from device.adapters.speech.openwakeword import OpenWakeWordLite

        engine = OpenWakeWordLite(word)
    if not w.vad_gate:
        return engine
    from device.adapters.audio.vad import WebRtcVad

    return GatedEngine(engine, WebRtcVad())


def wake_threshold(settings: Settings, engine: WakeWordEngine) -> float:
    """The first word's threshold: [wake] threshold when set, else its sensitivity's (the engine's table)."""
    w = settings.wake
    word = w.words()[0]
    if w.threshold_of(word):
        return w.threshold_of(word)
    level = sensitivity_level(w.sensitivity_of(word))
    return float(getattr(engine, "thresholds", {}).get(level, engine.default_threshold))


OTHER_ENGINES_WORDS = {"openwakeword": ("hey_jarvis", "alexa", "hey_mycroft"), "porcupine": ("hey_jarvis", "alexa")}
"""The words the other engines have a model for (neither has "okay nabu"); "hey jarvis" stands in for the default."""


def wake_words(settings: Settings) -> tuple[str, ...]:
    """The configured wake words; when the default list meets an engine without a model for its words
    (openWakeWord, Porcupine: no "okay nabu"), the ones that engine has, else "hey jarvis" (Porcupine's "jarvis")."""
    w = settings.wake
    if w.keyword or w.keywords != DEFAULT_KEYWORDS or w.engine not in OTHER_ENGINES_WORDS:
        return w.words()
    return tuple(word for word in w.keywords if word in OTHER_ENGINES_WORDS[w.engine]) or ("hey_jarvis",)


def make_wake_detector(settings: Settings) -> WakeWordDetector:
    """Every configured wake word's engine with its threshold, and the refractory period."""
    words = []
    for word in wake_words(settings):
        one = one_word(settings, word)
        engine = make_wake_engine(one)
        words.append((engine, wake_threshold(one, engine)))
    (engine, threshold), *more = words
    return WakeWordDetector(engine, threshold, settings.wake.refractory_seconds, more)


def make_recognizer(settings: Settings):
    """The recogniser `[recognizer] engine` asks for; "auto" picks by locale, models and memory (device.engines)."""
    from device import engines

    return engines.load(settings)


def make_endpointer(r: RecognizerSettings, vad: VoiceActivity, neural: bool) -> Endpointer:
    """The request's endpointer from the [recognizer] settings; `neural` (Moonshine, Whisper): its audio known
    TAIL_SECONDS after the last speech, so recognition may start before the end silence is over (recognition.early)."""
    return Endpointer(vad, r.end_silence_seconds, r.max_utterance_seconds, r.no_speech_seconds, r.min_speech_seconds,
                      tail_seconds=TAIL_SECONDS if neural else math.inf,
                      brief_end_silence_seconds=r.brief_end_silence_seconds)


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


def mute_memory_path(settings: Settings) -> Path:
    """Where the toggled mute is remembered: beside the outbox."""
    return settings.storage.outbox_path().with_name("mute-state")


class Panel(Protocol):
    """The buttons and LEDs as the device holds them. Implementation: adapters.gpio.GpioPanel."""

    confirm_button: Any
    """gpiozero's Button on the confirm pin (replay drives its mock pin)."""

    def close(self) -> None:
        """Release the pins, LEDs off (idempotent)."""


class Connection(Protocol):
    """A broker connection closed with a last retained message. Implementations: adapters.mqtt.MqttLink,
    adapters.mirror.HouseholdMirror."""

    def stop(self, final: tuple[str, dict[str, Any]] | None = None) -> None:
        """Publish `final` (topic, payload) if connected, then disconnect (idempotent)."""


class StoreLink(Connection, Protocol):
    """The store's broker connection, which a replay waits on before its audio time starts. Implementation:
    adapters.mqtt.MqttLink."""

    def first_attempt(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the first connection attempt to end either way; whether it is connected."""


@dataclass
class Device:
    """The assembled device; close() releases everything (idempotent)."""

    loop: Loop
    source: AudioSource
    panel: Panel
    link: StoreLink
    outbox: Outbox
    stats: StatsReport | None = None
    mirror: Connection | None = None
    """The household broker (adapters.mirror.HouseholdMirror), when [home_assistant] broker is set."""
    closed: bool = False

    def close(self, flush_seconds: float = 2.0) -> None:
        """Stop: give in-flight orders a moment to be acknowledged, publish offline, LEDs off."""
        if self.closed:
            return
        self.closed = True
        try:
            self.source.close()
            deadline = time.monotonic() + flush_seconds
            while self.loop.delivery.in_flight and time.monotonic() < deadline:
                self.loop.drain()
                time.sleep(0.02)
            if self.stats is not None:
                self.stats.publish()  # the since-install counters are saved
        finally:
            final = (self.loop.topics.state, self.loop.state_payload(online=False))
            if self.mirror is not None:
                self.mirror.stop(final=final)
            self.link.stop(final=final)
            self.panel.close()
            self.outbox.close()


class RemoteMute:
    """Mute commands from Home Assistant on their way to the loop: a closed latching mute switch wins."""

    def __init__(self, inbox: Callable[[object], None]) -> None:
        self.inbox = inbox
        self.panel: GpioPanel | None = None

    def __call__(self, item: object) -> None:
        if isinstance(item, MuteChanged) and self.panel is not None:
            switch = getattr(self.panel, "mute_button", None)
            if not item.muted and self.panel.settings.mute_is_switch and switch is not None and switch.is_pressed:
                log.warning("ignored an unmute command from Home Assistant: the mute switch is closed")
                return
            self.panel.mute_state(item.muted)
        self.inbox(item)


def counted(emit: Callable[[Event], None], stats: Stats) -> tuple[Callable[[Event], None], list[StatsReport]]:
    """The loop's emit, folding each event into the counters, which are published whenever the loop is at rest."""
    at_rest = [True]
    report: list[StatsReport] = []

    def emit_counted(event: Event) -> None:
        stats.observe(event)
        emit(event)
        if isinstance(event, StateChanged):
            at_rest[0] = event.state in ("idle", "offline", "muted")
        if at_rest[0] and report:
            report[0].publish()

    return emit_counted, report


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def household_settings(settings: Settings) -> MqttSettings:
    """The [home_assistant] broker as MQTT settings (prefix, keep-alive and protocol as [mqtt])."""
    h, m = settings.home_assistant, settings.mqtt
    return MqttSettings(broker=h.broker, topic_prefix=m.topic_prefix, ca_file=h.ca_file, username=h.username,
                        password_file=h.password_file, allow_insecure=h.allow_insecure,
                        keepalive_seconds=m.keepalive_seconds, protocol=m.protocol)


def utc_now() -> datetime:
    """The wall clock, for order timestamps and the retained state (audio time drives everything else)."""
    return datetime.now(timezone.utc)


def build_loop(settings: Settings, *, wake: WakeWordDetector, endpointer: Endpointer, recognizer: Recognizer,
               delivery: Delivery, light: StatusLight, speaker: Speaker, emit: Callable[[Event], None],
               catalogue: Catalogue | None = None, catalogue_cache: Path | None = None,
               now: Callable[[], datetime] = utc_now, inbox: queue.SimpleQueue | None = None, muted: bool = False,
               mute_memory: MuteMemory | None = None) -> Loop:
    """The loop and the collaborators it drives, each given only its own settings."""
    c, locale = settings.confirmation, settings.device.locale
    voice = Voice(speaker, locale, c.speak, emit)
    limits = Limits(Decimal(str(c.max_order_total)), c.max_orders_per_day, c.repeat_guard_hours, c.repeat_guard)
    loop = Loop(wake=wake, endpointer=endpointer,
                requests=Requests(recognizer, voice, locale, limits, settings.recognizer.min_confidence, emit),
                orders=Orders(delivery, locale, voice, emit, now),
                session=OrderSession(c.timeout_seconds, c.undo_seconds),
                report=StateReport(delivery, delivery.topics.state, now), presses=PressTimer(c.long_press_seconds),
                voice=voice, light=light, rules=c, emit=emit, now=now, catalogue_cache=catalogue_cache, inbox=inbox,
                muted=muted, mute_memory=mute_memory)
    if catalogue is not None:
        loop.set_catalogue(catalogue)
    return loop


def build(settings: Settings, source: AudioSource, emit: Callable[[Event], None], *, play_audio: bool = True,
          pin_factory=None) -> Device:
    """Wire every stage; raises a ReorderError with one clear line for anything missing."""
    from device.adapters.audio.tts import EspeakSpeaker
    from device.adapters.audio.vad import SileroVad, WebRtcVad
    from device.adapters.hardware.gpio import GpioPanel
    from device.adapters.network.mqtt import MqttLink

    catalogue = initial_catalogue(settings)
    wake = make_wake_detector(settings)
    recognizer = make_recognizer(settings)
    # pure: may start early, on the audio up to the tail
    neural = isinstance(recognizer, (ConstrainedRecognizer, SecondOpinion))
    if settings.recognizer.early_start and neural:
        recognizer = EarlyStart(recognizer)
    stats_file = StatsFile(settings.storage.outbox_path().with_name("stats.json"))
    stats = Stats(getattr(recognizer, "name", type(recognizer).__name__), stats_file.load(),
                  iso(utc_now()))
    recognizer = TimedRecognizer(recognizer, stats.decoded)
    emit, stats_holder = counted(emit, stats)
    r = settings.recognizer
    vad = SileroVad() if r.vad == "silero" or (r.vad == "auto" and neural) else WebRtcVad()
    endpointer = make_endpointer(r, vad, neural)
    outbox = Outbox(settings.storage.outbox_path(), settings.storage.outbox_capacity, now=utc_now)
    topics = Topics(settings.mqtt.topic_prefix, settings.device.id)
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    # The last will: what the store sees if the device vanishes without a goodbye.
    offline = state_payload(online=False, outbox_depth=outbox.depth(), muted=False,
                            since=iso(utc_now()))
    ha = settings.home_assistant
    remote = RemoteMute(inbox.put)
    subscriptions: tuple[str, ...] = (topics.order_status, topics.catalog)
    if ha.enabled and ha.mute_command and not ha.broker:
        subscriptions += (topics.mute,)
    link = MqttLink(settings.mqtt, settings.device.id, remote, subscriptions, will=(topics.state, offline),
                    topics=topics)
    mirror = None
    if ha.enabled and ha.broker:
        from device.adapters.network.household import HouseholdMirror

        mirror = HouseholdMirror(household_settings(settings), settings.device.id, topics,
                                 discovery_messages(topics, ha.discovery_prefix, ha.mute_command),
                                 will=(topics.state, offline), on_mute=remote if ha.mute_command else None)
    panel = GpioPanel(settings.gpio, inbox.put, pin_factory=pin_factory)
    remote.panel = panel
    try:
        memory = MuteFile(mute_memory_path(settings))
        muted = initial_mute(panel.mute_level(), memory)  # known before the microphone is ever read
        panel.mute_state(muted)
        delivery = Delivery(outbox, link, topics)
        speaker = EspeakSpeaker(settings.audio.output_device, play=play_audio, rate=settings.audio.speech_rate,
                                volume=settings.audio.volume)
        loop = build_loop(settings, wake=wake, endpointer=endpointer, recognizer=recognizer, delivery=delivery,
                          light=panel, speaker=speaker, emit=emit, catalogue=catalogue,
                          catalogue_cache=settings.storage.catalog_cache_path(), inbox=inbox, muted=muted,
                          mute_memory=memory)
    except BaseException:
        panel.close()
        outbox.close()
        raise
    report = StatsReport(stats, delivery, topics.stats, settings.device.id, utc_now,
                         lambda: _free_bytes(settings.storage.outbox_path().parent), stats_file)
    stats_holder.append(report)
    loop.report.attach(stats=report)
    if mirror is not None:
        loop.report.attach(mirror=mirror.offer)
        mirror.offer(topics.state, loop.state_payload())  # alive, whatever the store's broker does
    elif ha.enabled:
        for topic, payload in discovery_messages(topics, ha.discovery_prefix, ha.mute_command):
            link.publish(topic, payload, retain=True)  # sent on connect, kept by the broker
    if outbox.recovered_from:
        from device.events import Error

        emit(Error(0.0, f"outbox was corrupt: kept as {outbox.recovered_from}, started a new one"))
    report.publish()  # saved now; to the broker once connected
    link.start()
    if mirror is not None:
        mirror.start()
    return Device(loop, source, panel, link, outbox, report, mirror)


def event_line(event: Event) -> str:
    """One JSON line of CONTRACT §4."""
    return json.dumps(event.to_dict(), ensure_ascii=False, separators=(", ", ": "))


def sample_path(name: str) -> Path:
    """A file shipped in device/samples."""
    return Path(__file__).parent / "samples" / name
