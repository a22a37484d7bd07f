"""The device loop: one State enum, one step() per 80 ms audio frame, transitions written down.

    IDLE/OFFLINE ──wake word / press──▶ LISTENING ──request heard──▶ THINKING
    LISTENING ──nobody spoke──▶ IDLE
    THINKING ──reorder, guards pass──▶ CONFIRMING  (items + total read back)
    THINKING ──none / refused / low confidence──▶ REJECTED ──2 s──▶ IDLE
    THINKING ──"cancel"──▶ IDLE  (undoes the last order while its undo window is open)
    CONFIRMING ──short press after the read-back──▶ QUEUED  (order committed to the outbox)
    CONFIRMING ──long press──▶ IDLE (cancelled)      CONFIRMING ──no press in time──▶ IDLE (timeout)
    QUEUED ──broker PUBACK──▶ SENT ──store "accepted"──▶ ACCEPTED
    QUEUED/SENT/ACCEPTED ──press within the undo window──▶ IDLE (cancelled; cancel published)
    QUEUED/SENT/ACCEPTED ──undo window over──▶ IDLE     SENT ──store "rejected"──▶ REJECTED
    any ──mute──▶ MUTED (microphone closed) ──unmute──▶ IDLE
    IDLE ⇄ OFFLINE follows the broker connection; orders queue on disk meanwhile.

Time is audio time: `t` grows by one frame per step, so a replayed recording gives the same
events every run. Other threads (gpiozero, paho) only put records on `inbox`.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Protocol

from . import __version__, schemas
from .catalogue import Catalogue
from .config import Settings
from .errors import CatalogueError, OutboxError, ReorderError
from .events import (Cancelled, Confirmed, Error, Event, Ignored, Intent, IntentEvent, Prompt, Published, Queued,
                     Rejected, Said, StateChanged, Status, Timeout, TranscriptEvent)
from .inputs import Acked, BrokerDown, BrokerUp, ButtonEdge, Message, MuteChanged
from .stages import grammar as grammars
from .stages import guards
from .stages.audio_source import FRAME_SECONDS, SILENT_FRAME
from .stages.button import PressTimer
from .stages.delivery import Delivery
from .stages.endpointer import Endpointer, Outcome
from .stages.indicator import PATTERNS, StatusLight
from .stages.intent import IntentParser, same_meaning
from .stages.order import build_order, iso
from .stages.outbox import OutboxFull
from .stages.readback import Readback, message, readback
from .stages.recognizer import Recognizer
from .stages.wake_word import WakeWordDetector
from .topics import Topics

log = logging.getLogger(__name__)

FEEDBACK_SECONDS = 2.0
"""How long a refusal or error shows before the device is idle again."""
UNDO_CLOSING_SECONDS = 5.0
"""In the last seconds of the undo window the LED blinks fast."""


class State(str, Enum):
    """Where the device is in a request; each state has an LED pattern (stages.indicator)."""

    IDLE = "idle"
    OFFLINE = "offline"
    MUTED = "muted"
    LISTENING = "listening"
    THINKING = "thinking"
    CONFIRMING = "awaiting-confirmation"
    QUEUED = "queued"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ERROR = "error"


AT_REST = {State.IDLE, State.OFFLINE}
CAN_WAKE = AT_REST | {State.REJECTED, State.ERROR, State.QUEUED, State.SENT, State.ACCEPTED}
UNDOABLE = {State.QUEUED, State.SENT, State.ACCEPTED}


class Speaker(Protocol):
    """Sound out, played in turn. Implementation: adapters.tts (espeak-ng, earcons made in code)."""

    def say(self, text: str, locale: str) -> float:
        """Say `text`; how many seconds it takes (the microphone is ignored meanwhile)."""

    def cue(self, name: str) -> float:
        """Play an earcon ("listen", "confirmed", "cancelled", "refused", "done"); its length."""


@dataclass
class _Pending:
    """An order read back and waiting for the press (prices as they were read back)."""

    intent: Intent
    catalogue: Catalogue
    readback: Readback
    press_after: float
    deadline: float
    presses_needed: int


class Loop:
    """The device: feed it frames with step(); it emits events and drives the LED, speaker and outbox."""

    def __init__(self, settings: Settings, *, wake: WakeWordDetector, endpointer: Endpointer,
                 recognizer: Recognizer, delivery: Delivery, light: StatusLight, speaker: Speaker,
                 emit: Callable[[Event], None], catalogue: Catalogue | None = None,
                 catalogue_cache: Path | None = None, now: Callable[[], datetime] | None = None,
                 inbox: queue.SimpleQueue | None = None) -> None:
        self.settings = settings
        self.locale = settings.device.locale
        self.topics = Topics(settings.mqtt.topic_prefix, settings.device.id)
        self.wake, self.endpointer, self.recognizer = wake, endpointer, recognizer
        self.delivery, self.outbox = delivery, delivery.outbox
        self.light, self.speaker, self._emit = light, speaker, emit
        self.catalogue_cache = catalogue_cache
        self.now = now or (lambda: datetime.now(timezone.utc))
        self.inbox: queue.SimpleQueue = inbox if inbox is not None else queue.SimpleQueue()
        c = settings.confirmation
        self.limits = guards.Limits(Decimal(str(c.max_order_total)), c.max_orders_per_day, c.repeat_guard_hours,
                                    c.repeat_guard)
        self.t = 0.0
        self.state = State.OFFLINE
        self.muted = False
        self.catalogue: Catalogue | None = None
        self.parser = IntentParser(None, self.locale)
        self._deaf_until = 0.0
        self._pending: _Pending | None = None
        self.button = PressTimer(settings.confirmation.long_press_seconds)
        self._last_order: tuple[str, dict] | None = None
        self._undo_until = 0.0
        self._feedback_until = 0.0
        self._closing = False
        self._online_since = iso(self.now())
        self.light.show(PATTERNS[self.state.value])
        if catalogue is not None:
            self.set_catalogue(catalogue)

    # -- plumbing ---------------------------------------------------------------------------------
    def post(self, item: object) -> None:
        """Thread-safe: hand an input (button edge, broker message...) to the loop."""
        self.inbox.put(item)

    def emit(self, event: Event) -> None:
        self._emit(event)

    def _enter(self, state: State) -> None:
        if state is not self.state:
            self._closing = False
            previous, self.state = self.state, state
            self.light.show(PATTERNS[state.value])
            self.emit(StateChanged(self.t, state.value, previous.value))

    def _rest(self) -> None:
        self._pending = None
        self._enter(State.IDLE if self.delivery.connected else State.OFFLINE)

    def _sounding(self, seconds: float) -> float:
        """Sounds play in turn; returns when this one ends. Half duplex: until then, what the
        microphone hears is the device itself and is not used."""
        self._deaf_until = max(self._deaf_until, self.t) + seconds
        return self._deaf_until

    def _say(self, text: str) -> float:
        """Speak; returns the audio time at which the words have been said."""
        seconds = self.speaker.say(text, self.locale) if self.settings.confirmation.speak else 0.0
        self.emit(Said(self.t, text, round(seconds, 3)))
        return self._sounding(seconds)

    def _cue(self, name: str) -> None:
        self._sounding(self.speaker.cue(name))

    @property
    def idle(self) -> bool:
        """At rest with nothing pending (replay exits when the audio is over and this holds)."""
        return self.state in AT_REST | {State.MUTED} and self.inbox.empty()

    # -- one frame --------------------------------------------------------------------------------
    def drain(self) -> None:
        """Handle what other threads posted, without advancing audio time."""
        self._guarded(self._drain_inbox)

    def step(self, frame: bytes | None) -> None:
        """Advance one frame of audio time; `frame` is None while muted (the microphone is closed)."""
        self.t += FRAME_SECONDS
        self._guarded(lambda: self._turn(frame))

    def _turn(self, frame: bytes | None) -> None:
        self._drain_inbox()
        self._check_press()
        if frame is not None and not self.muted:
            self._hear(frame)
        self._check_timers()

    def _drain_inbox(self) -> None:
        while not self.inbox.empty():
            self._handle(self.inbox.get_nowait())

    def _guarded(self, work: Callable[[], None]) -> None:
        try:
            work()
        except ReorderError as exc:
            self._fail(str(exc))
        except Exception as exc:  # the loop never dies: report, show, carry on
            log.exception("unexpected error in state %s", self.state.value)
            self._fail(f"internal error: {type(exc).__name__}: {exc}")

    def _fail(self, text: str) -> None:
        self.emit(Error(self.t, text))
        self._pending = None
        self._feedback_until = self.t + FEEDBACK_SECONDS
        self._enter(State.ERROR)

    def _hear(self, frame: bytes) -> None:
        deaf = self.t < self._deaf_until
        # The wake-word model keeps ~1.5 s of features: feed it every frame, silence when it must
        # not listen (while the device speaks, listens or waits for a press), so audio from before
        # can never complete a wake word later.
        awake = self.state in CAN_WAKE and not deaf
        wake = self.wake.process(frame if awake else SILENT_FRAME, self.t)
        if wake and awake:
            self.emit(wake)
            self._start_listening()
        elif self.state is State.CONFIRMING and not deaf and self.settings.confirmation.voice_confirmation:
            end = self.endpointer.feed(frame)
            if end is not None and end.outcome is Outcome.UTTERANCE:
                self._voice_answer(end.audio)
        elif self.state is State.LISTENING and not deaf:
            end = self.endpointer.feed(frame)
            if end is None:
                return
            if end.outcome is Outcome.NO_SPEECH:
                self.emit(Timeout(self.t, by="timer", during="listening"))
                self.wake.hold_off(self.t)
                self._rest()
            else:
                self._understand(end.audio)

    def _start_listening(self) -> None:
        self._pending = None
        self._undo_until = 0.0
        self.endpointer.reset()
        self._cue("listen")
        self._enter(State.LISTENING)

    def _check_timers(self) -> None:
        if self.state is State.CONFIRMING and self._pending and self.t >= self._pending.deadline:
            self.emit(Timeout(self.t, by="timer"))
            self._rest()
        elif self.state in UNDOABLE and self.t >= self._undo_until:
            self._rest()
        elif self.state in UNDOABLE and not self._closing and self._undo_until - self.t <= UNDO_CLOSING_SECONDS:
            self._closing = True  # the LED counts down: the undo window is about to close
            self.light.show(PATTERNS["undo-closing"])
        elif self.state in (State.REJECTED, State.ERROR) and self.t >= self._feedback_until:
            self._rest()

    # -- understanding ----------------------------------------------------------------------------
    def _understand(self, audio: bytes) -> None:
        self._enter(State.THINKING)
        heard = self.recognizer.recognize(audio)
        self.emit(TranscriptEvent(self.t, heard.text, heard.confidence))
        intent = self.parser.parse(heard.text, heard.confidence)
        self.emit(IntentEvent(self.t, intent))
        self.wake.hold_off(self.t)
        if heard.text and heard.confidence < self.settings.recognizer.min_confidence:
            return self._refuse("low-confidence", f"confidence {heard.confidence:.2f}")
        if intent.action == "reorder" and heard.second_opinion is not None and not same_meaning(
                intent, self.parser.parse(heard.second_opinion)):
            return self._refuse("low-confidence", f"heard differently on a second decoding: {heard.second_opinion!r}")
        if intent.action == "cancel":
            return self._cancel_by_voice()
        if intent.action != "reorder":
            if intent.unknown and not self.parser.negated(intent):
                self._refuse("not-in-catalog", " ".join(intent.unknown), spoken=message(
                    "unknown", self.locale, words=" ".join(intent.unknown)))
            else:
                self._say(message("sorry", self.locale))
                self._rest()
            return
        if self.catalogue is None:
            return self._refuse("no-catalog", "no catalogue file and none retained on the broker yet")
        verdict = guards.check(intent.items, self.catalogue, self.limits, self.outbox, self.now())
        if verdict.reason:
            return self._refuse(verdict.reason, verdict.detail)
        rb = readback(intent.items, self.catalogue, self.locale, verdict.repeated)
        self.emit(Prompt(self.t, rb.text, float(rb.total), self.catalogue.currency,
                         tuple({"sku": i.sku, "quantity": i.quantity} for i in intent.items)))
        press_after = self._say(rb.spoken)  # a press counts only once items and total were heard
        said_all = self._say(rb.instruction)
        self._pending = _Pending(intent, self.catalogue, rb, press_after,
                                 said_all + self.settings.confirmation.timeout_seconds, 2 if verdict.repeated else 1)
        self.endpointer.reset()
        self._enter(State.CONFIRMING)

    def _voice_answer(self, audio: bytes) -> None:
        """Optional spoken yes/no to the read-back; never replaces the press above voice_max_total."""
        assert self._pending is not None
        heard = self.recognizer.recognize(audio)
        self.emit(TranscriptEvent(self.t, heard.text, heard.confidence))
        answer = self.parser.answer(heard.text) if heard.confidence >= self.settings.recognizer.min_confidence \
            else None
        if heard.second_opinion is not None and self.parser.answer(heard.second_opinion) != answer:
            answer = None  # a yes heard once of two decodings is not a yes
        if answer == "no":
            self.emit(Cancelled(self.t, by="voice"))
            self._cue("cancelled")
            self._rest()
        elif answer == "yes":
            if self._pending.readback.total > Decimal(str(self.settings.confirmation.voice_max_total)):
                self.emit(Ignored(self.t, "voice", "above voice_max_total only the button confirms"))
            elif self._pending.presses_needed > 1:
                self.emit(Ignored(self.t, "voice", "a repeat order needs the button"))
            else:
                self._confirm(self._pending, "voice")

    def _refuse(self, reason: str, detail: str = "", spoken: str | None = None) -> None:
        self.emit(Rejected(self.t, reason, detail))
        self._cue("refused")
        self._say(spoken or message("refused", self.locale, reason=reason))
        self._pending = None
        self._feedback_until = self.t + FEEDBACK_SECONDS
        self._enter(State.REJECTED)

    # -- the button -------------------------------------------------------------------------------
    def _check_press(self) -> None:
        press = self.button.tick(self.t)
        if press:
            self._long_press()

    def _button(self, edge: ButtonEdge) -> None:
        if edge.pressed:
            self.button.pressed(self.t)
            if self.state in AT_REST | {State.REJECTED, State.ERROR}:  # push-to-talk
                self.button.use()
                self._start_listening()
            return
        press = self.button.released(self.t)
        if press:
            self._short_press(press.down)

    def _short_press(self, down: float) -> None:
        if self.state is State.CONFIRMING and self._pending:
            pending = self._pending
            if down < pending.press_after:
                self.emit(Ignored(self.t, "press", "the items and total were not read back yet"))
                return
            pending.presses_needed -= 1
            if pending.presses_needed > 0:
                self._say(message("press-again", self.locale))
                return
            self._confirm(pending, "button")
        elif self.state in UNDOABLE and self.t < self._undo_until:
            self._undo("button")

    def _long_press(self) -> None:
        if self.state is State.CONFIRMING:
            self.emit(Cancelled(self.t, by="long-press"))
            self._cue("cancelled")
            self._say(message("cancelled", self.locale))
            self._rest()
        elif self.state in UNDOABLE and self.t < self._undo_until:
            self._undo("long-press")

    # -- ordering ---------------------------------------------------------------------------------
    def _confirm(self, pending: _Pending, by: str) -> None:
        order = build_order(pending.intent.items, pending.catalogue, self.settings.device.id, self.locale, by,
                            self.now())
        self.emit(Confirmed(self.t, by=by))
        try:
            self.delivery.submit(order)
        except OutboxFull as exc:
            log.error("%s", exc)
            return self._refuse("outbox-full", str(exc))
        except OutboxError as exc:
            return self._fail(str(exc))
        self._cue("confirmed")
        self.emit(Queued(self.t, order["order_id"]))
        self._last_order = (order["order_id"], order)
        self._undo_until = self.t + self.settings.confirmation.undo_seconds
        self._pending = None
        self._enter(State.QUEUED)
        self._publish_state()

    def _undo(self, by: str) -> None:
        assert self._last_order is not None
        order_id, order = self._last_order
        withdrawn = self.outbox.withdraw(order_id)
        # Always tell the store too: the order may be in flight even if not acknowledged yet.
        self.delivery.publisher.publish(self.topics.cancel, {
            "schema": "reorder.cancel/1", "order_id": order_id, "device_id": self.settings.device.id,
            "created_at": iso(self.now())})
        self.emit(Cancelled(self.t, by=by, order_id=order_id))
        log.info("order %s undone (%s)", order_id, "never sent" if withdrawn else "cancel sent to the store")
        self._undo_until = 0.0
        self._cue("cancelled")
        self._say(message("cancelled", self.locale))
        self._rest()

    def _cancel_by_voice(self) -> None:
        if self._last_order and self.t < self._undo_until:
            return self._undo("voice")
        self.emit(Cancelled(self.t, by="voice"))
        self._rest()

    # -- inputs from other threads ----------------------------------------------------------------
    def _handle(self, item: object) -> None:
        if isinstance(item, ButtonEdge):
            if not self.muted:
                self._button(item)
        elif isinstance(item, MuteChanged):
            self._set_muted(item.muted)
        elif isinstance(item, Acked):
            order_id = self.delivery.acknowledged(item.mid)
            if order_id:
                self.emit(Published(self.t, order_id))
                if self.state is State.QUEUED and self._last_order and self._last_order[0] == order_id:
                    self._enter(State.SENT)
                self._publish_state()
        elif isinstance(item, BrokerUp):
            self._online_since = iso(self.now())
            self.delivery.connection_up()
            self._publish_state()
            if self.state is State.OFFLINE:
                self._enter(State.IDLE)
        elif isinstance(item, BrokerDown):
            log.warning("broker connection lost (%s); orders wait in the outbox", item.reason)
            self._online_since = iso(self.now())
            self.delivery.connection_down()
            if self.state is State.IDLE:
                self._enter(State.OFFLINE)
        elif isinstance(item, Message):
            self._message(item)

    def _set_muted(self, muted: bool) -> None:
        if muted == self.muted:
            return
        self.muted = muted
        if muted:
            if self.state is State.CONFIRMING:
                self.emit(Cancelled(self.t, by="mute"))
            self._pending = None
            self._enter(State.MUTED)
        else:
            self.wake.hold_off(self.t)
            self._rest()
        self._publish_state()

    def _message(self, msg: Message) -> None:
        try:
            payload = schemas.loads(msg.payload)  # NaN/Infinity refused
        except (ValueError, UnicodeDecodeError, RecursionError):
            log.warning("ignored a message on %s: not JSON", msg.topic)
            return
        if msg.topic == self.topics.order_status:
            self._order_status(payload)
        elif msg.topic == self.topics.catalog:
            try:
                catalogue = Catalogue.from_payload(payload, source=f"catalogue on {msg.topic}")
            except CatalogueError as exc:
                log.warning("ignored: %s; keeping catalogue version %s", exc,
                            self.catalogue.version if self.catalogue else "none")
                return
            if self.catalogue is None or catalogue != self.catalogue:
                self.set_catalogue(catalogue, cache=True)

    def _order_status(self, payload: object) -> None:
        wrong = schemas.problem(payload, schemas.ORDER_STATUS)
        if wrong:
            log.warning("ignored an order-status message: %s", wrong)
            return
        assert isinstance(payload, dict)
        order_id, status, reason = payload["order_id"], payload["status"], payload.get("reason")
        if not self.outbox.record_status(order_id, status, reason):
            log.warning("ignored a status for order %s: not an order of this device", order_id)
            return
        self.emit(Status(self.t, order_id, status, reason))
        current = self._last_order and self._last_order[0] == order_id and self.state in UNDOABLE
        if not current:
            return
        if status in ("accepted", "duplicate"):
            self._enter(State.ACCEPTED)
        elif status == "rejected":
            self._say(message("store-rejected", self.locale, reason=reason or "?"))
            self._feedback_until = self.t + FEEDBACK_SECONDS
            self._enter(State.REJECTED)
        elif status == "cancelled":
            self._say(message("store-cancelled", self.locale))
            self._rest()

    # -- catalogue and state ----------------------------------------------------------------------
    def set_catalogue(self, catalogue: Catalogue, cache: bool = False) -> None:
        """Use a new catalogue: parser and recognition grammar are rebuilt without a restart."""
        parser = IntentParser(catalogue, self.locale)  # built first: a failure keeps the old catalogue
        grammar = grammars.build(catalogue, self.locale)
        self.recognizer.catalogue = catalogue  # type: ignore[attr-defined]
        self.recognizer.set_grammar(grammar)
        self.catalogue, self.parser = catalogue, parser
        log.info("catalogue version %s: %d items", catalogue.version, len(catalogue.items))
        if cache and self.catalogue_cache:
            try:
                catalogue.save(self.catalogue_cache)
            except OSError as exc:
                log.warning("catalogue cache %s not written (%s)", self.catalogue_cache, exc)

    def state_payload(self, online: bool = True) -> dict:
        """The retained `reorder.state/1` message."""
        return {"schema": "reorder.state/1", "online": online, "firmware": __version__,
                "outbox_depth": self.outbox.depth(), "muted": self.muted, "since": self._online_since}

    def _publish_state(self) -> None:
        if self.delivery.connected:
            self.delivery.publisher.publish(self.topics.state, self.state_payload(), retain=True)
