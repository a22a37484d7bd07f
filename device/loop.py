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
    start ──mute switch closed, or muted when it stopped (stages.mute)──▶ MUTED (microphone never opened)
    IDLE ⇄ OFFLINE follows the broker connection; orders queue on disk meanwhile.

Time is audio time: `t` grows by one frame per step, so a replayed recording gives the same
events every run. Other threads (gpiozero, paho) only put typed records on `inbox` (device.contract.inputs;
broker messages arrive decoded by adapters.mqtt). A request is recognised, understood and answered
by stages.request, the read-back's press and the undo window are kept by stages.confirmation, the
order after the press by stages.ordering, the retained state by stages.state_report: here are the
states, the timers and the dispatch.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from enum import Enum
from pathlib import Path

from device.audio.endpointer import Endpointer, Outcome
from device.audio.source import FRAME_SECONDS, SILENT_FRAME
from device.audio.voice import Speaker, Voice
from device.audio.wake_word import WakeWordDetector
from device.config import Settings
from device.confirmation.gestures import Down, PressTimer
from device.confirmation.gestures import Press as Gesture
from device.confirmation.led import PATTERNS, StatusLight
from device.confirmation.mute import MuteMemory
from device.confirmation.session import Pending, Press, Session
from device.contract.catalogue import Catalogue
from device.contract.inputs import Acked, BrokerDown, BrokerUp, ButtonEdge, CatalogueArrived, MuteChanged, OrderStatus
from device.contract.topics import Topics
from device.dialogue import limits
from device.dialogue.decision import Cancel, ReadBack, Refuse
from device.dialogue.readback import message
from device.dialogue.request import Requests
from device.errors import OutboxError, ReorderError
from device.events import Cancelled, Error, Event, Ignored, StateChanged, Timeout
from device.orders.delivery import Delivery
from device.orders.lifecycle import Orders
from device.orders.outbox import OutboxFull
from device.recognition.protocol import Recognizer
from device.telemetry.state_report import StateReport

log = logging.getLogger(__name__)

FEEDBACK_SECONDS = 2.0
"""How long a refusal or error shows before the device is idle again."""


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


class Loop:
    """The device: feed it frames with step(); it emits events and drives the LED, speaker and outbox."""

    def __init__(self, settings: Settings, *, wake: WakeWordDetector, endpointer: Endpointer,
                 recognizer: Recognizer, delivery: Delivery, light: StatusLight, speaker: Speaker,
                 emit: Callable[[Event], None], catalogue: Catalogue | None = None,
                 catalogue_cache: Path | None = None, now: Callable[[], datetime] | None = None,
                 inbox: queue.SimpleQueue | None = None, muted: bool = False,
                 mute_memory: MuteMemory | None = None) -> None:
        self.settings = settings
        self.locale = settings.device.locale
        self.topics = Topics(settings.mqtt.topic_prefix, settings.device.id)
        self.wake, self.endpointer, self.recognizer = wake, endpointer, recognizer
        self.delivery, self.outbox = delivery, delivery.outbox
        self.light, self.speaker, self._emit = light, speaker, emit
        self.voice = Voice(speaker, self.locale, settings.confirmation.speak, self.emit)
        self.catalogue_cache = catalogue_cache
        self.now = now or (lambda: datetime.now(timezone.utc))
        self.inbox: queue.SimpleQueue = inbox if inbox is not None else queue.SimpleQueue()
        c = settings.confirmation
        self.limits = limits.Limits(Decimal(str(c.max_order_total)), c.max_orders_per_day, c.repeat_guard_hours,
                                    c.repeat_guard)
        self.t = 0.0
        self.muted = muted
        """Starts as stages.mute.initial_mute decided: the microphone is never read before it is known."""
        self.state = State.MUTED if muted else State.OFFLINE
        self.mute_memory = mute_memory
        self.requests = Requests(recognizer, self.voice, self.locale, self.limits, settings.recognizer.min_confidence,
                                 self.emit)
        self.orders = Orders(delivery, self.locale, self.voice, self.emit, self.now)
        self.session = Session(c.timeout_seconds, c.undo_seconds)
        self.report = StateReport(delivery, self.topics.state, self.now)
        self.button = PressTimer(c.long_press_seconds)
        self._feedback_until = 0.0
        self._closing = False
        self._handlers: dict[type, Callable] = {
            ButtonEdge: self._button, MuteChanged: lambda m: self._set_muted(m.muted), Acked: self._acked,
            BrokerUp: self._broker_up, BrokerDown: self._broker_down, CatalogueArrived: self._catalogue_arrived,
            OrderStatus: self._order_status}
        self.light.show(PATTERNS[self.state.value])
        if catalogue is not None:
            self.set_catalogue(catalogue)

    # -- plumbing ---------------------------------------------------------------------------------
    def post(self, item: object) -> None:
        """Thread-safe: hand an input (device.contract.inputs) to the loop."""
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
        self.session.drop()
        self._enter(State.IDLE if self.delivery.connected else State.OFFLINE)

    def _feedback(self, state: State) -> None:
        """Show a refusal or an error for FEEDBACK_SECONDS, then rest."""
        self.session.drop()
        self._feedback_until = self.t + FEEDBACK_SECONDS
        self._enter(state)

    def _say(self, text: str) -> float:
        return self.voice.say(text, self.t)

    def _cue(self, name: str) -> None:
        self.voice.cue(name, self.t)

    @property
    def catalogue(self) -> Catalogue | None:
        """The catalogue in use (None until a file, the cache or the broker gave one)."""
        return self.requests.catalogue

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
        for gesture in self.button.tick(self.t):
            if not self.muted:
                self._gesture(gesture)
        if frame is not None and not self.muted:
            self._hear(frame)
        self._check_timers()

    def _drain_inbox(self) -> None:
        while not self.inbox.empty():
            item = self.inbox.get_nowait()
            handler = self._handlers.get(type(item))
            if handler is None:
                log.warning("ignored an input the loop does not take: %r", item)
            else:
                handler(item)

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
        self._feedback(State.ERROR)

    def _hear(self, frame: bytes) -> None:
        deaf = self.voice.deaf(self.t)
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
        self.session.drop()  # the undo window stays open: "hey jarvis, cancel" undoes the last order
        self.endpointer.reset()
        self._cue("listen")
        self._enter(State.LISTENING)

    def _check_timers(self) -> None:
        if self.state is State.CONFIRMING and self.session.expired(self.t):
            self.emit(Timeout(self.t, by="timer"))
            self._rest()
        elif self.state in UNDOABLE and self.session.undo_over(self.t):
            self._rest()
        elif self.state in UNDOABLE and not self._closing and self.session.undo_closing(self.t):
            self._closing = True  # the LED counts down: the undo window is about to close
            self.light.show(PATTERNS["undo-closing"])
        elif self.state in (State.REJECTED, State.ERROR) and self.t >= self._feedback_until:
            self._rest()

    # -- a request, and the spoken answer to a read-back ------------------------------------------
    def _understand(self, audio: bytes) -> None:
        self._enter(State.THINKING)
        outcome = self.requests.heard(audio, self.t, self.outbox, self.now())
        self.wake.hold_off(self.t)
        if not isinstance(outcome, Cancel):
            self.session.close_undo()  # another request: the last order stays as it is
        if isinstance(outcome, Refuse):
            self._refuse(outcome.reason, outcome.detail, outcome.words)
        elif isinstance(outcome, Cancel):
            self._cancel_by_voice()
        elif isinstance(outcome, ReadBack):
            self._read_back(outcome)
        else:
            self._say(outcome.words)
            self._rest()

    def _read_back(self, r: ReadBack) -> None:
        heard_at, said_at = self.requests.read_back(r, self.t)  # a press counts once items and total were heard
        self.session.offer(r.items, r.catalogue, r.readback, heard_at, said_at, r.presses_needed)
        self.endpointer.reset()
        self._enter(State.CONFIRMING)

    def _voice_answer(self, audio: bytes) -> None:
        """Optional spoken yes/no to the read-back; never replaces the press above voice_max_total."""
        pending = self.session.pending
        assert pending is not None
        answer = self.requests.answer(audio, self.t)
        if answer == "no":
            self.emit(Cancelled(self.t, by="voice"))
            self._cue("cancelled")
            self._rest()
        elif answer == "yes":
            why_not = pending.voice_yes(Decimal(str(self.settings.confirmation.voice_max_total)))
            if why_not:
                self.emit(Ignored(self.t, "voice", why_not))
            else:
                self._confirm(pending, "voice")

    def _refuse(self, reason: str, detail: str = "", words: str | None = None) -> None:
        self.requests.refuse(reason, self.t, detail, words)
        self._feedback(State.REJECTED)

    # -- the button -------------------------------------------------------------------------------
    def _button(self, edge: ButtonEdge) -> None:
        self.button.edge(edge.pressed, self.t)  # raw, chatter included: stages.button debounces

    def _gesture(self, gesture: Down | Gesture) -> None:
        if isinstance(gesture, Down):
            if self.state in AT_REST | {State.REJECTED, State.ERROR}:  # push-to-talk
                self.button.use()
                self._start_listening()
        elif gesture.long:
            self._long_press()
        else:
            self._short_press(gesture)

    def _short_press(self, press: Gesture) -> None:
        meaning = self.session.press(press.down, self.t, self.state is State.CONFIRMING, self.state in UNDOABLE)
        if meaning is Press.EARLY:
            asked = self.session.pending is not None and self.session.pending.asked_again
            self.emit(Ignored(self.t, "press", "before \"press again\" was said" if asked
                              else "the items and total were not read back yet"))
        elif meaning is Press.TOO_SOON:
            self.emit(Ignored(self.t, "press", "too soon after the confirmation to undo it"))
        elif meaning is Press.AGAIN:
            assert self.session.pending is not None
            self.session.pending.again_said(self._say(message("press-again", self.locale)), self.t)
        elif meaning is Press.CONFIRM:
            assert self.session.pending is not None
            self._confirm(self.session.pending, "button")
        elif meaning is Press.UNDO:
            self._undo("button")

    def _long_press(self) -> None:
        if self.state is State.CONFIRMING:
            self.emit(Cancelled(self.t, by="long-press"))
            self._cue("cancelled")
            self._say(message("cancelled", self.locale))
            self._rest()
        elif self.state in UNDOABLE and self.session.can_undo(self.t):
            self._undo("long-press")

    # -- ordering ---------------------------------------------------------------------------------
    def _confirm(self, pending: Pending, by: str) -> None:
        try:
            order = self.orders.place(pending, by, self.t)
        except OutboxFull as exc:
            log.error("%s", exc)
            return self._refuse("outbox-full", str(exc))
        except OutboxError as exc:
            return self._fail(str(exc))
        self.session.place(order, self.t)
        self._enter(State.QUEUED)
        self.report.publish(self.muted)

    def _undo(self, by: str) -> None:
        assert self.session.placed is not None
        self.orders.undo(self.session.placed.order_id, by, self.t)
        self.session.close_undo()
        self._rest()

    def _cancel_by_voice(self) -> None:
        if self.session.can_undo(self.t):
            return self._undo("voice")
        self.emit(Cancelled(self.t, by="voice"))
        self._rest()

    # -- inputs from other threads ----------------------------------------------------------------
    def _acked(self, item: Acked) -> None:
        order_id = self.orders.acknowledged(item.mid, self.t)
        if order_id:
            if self.state is State.QUEUED and self.session.is_last(order_id):
                self._enter(State.SENT)
            self.report.publish(self.muted)

    def _broker_up(self, item: BrokerUp) -> None:
        self.report.connection_changed()
        self.delivery.connection_up()
        self.report.publish(self.muted)
        if self.state is State.OFFLINE:
            self._enter(State.IDLE)

    def _broker_down(self, item: BrokerDown) -> None:
        log.warning("broker connection lost (%s); orders wait in the outbox", item.reason)
        self.report.connection_changed()
        self.delivery.connection_down()
        if self.state is State.IDLE:
            self._enter(State.OFFLINE)

    def _set_muted(self, muted: bool) -> None:
        if muted == self.muted:
            return
        self.muted = muted
        if self.mute_memory is not None:
            self.mute_memory.remember(muted)
        self.button.reset()  # a press held across a mute change does nothing
        if muted:
            if self.state is State.CONFIRMING:
                self.emit(Cancelled(self.t, by="mute"))
            self.session.drop()
            self._enter(State.MUTED)
        else:
            self.wake.hold_off(self.t)
            self._rest()
        self.report.publish(self.muted)

    def _catalogue_arrived(self, item: CatalogueArrived) -> None:
        if self.catalogue is None or item.catalogue != self.catalogue:
            self.set_catalogue(item.catalogue, cache=True)

    def _order_status(self, s: OrderStatus) -> None:
        told = self.orders.answered(s, self.t, self.session.placed, tell=self.state in UNDOABLE | AT_REST)
        if not told or self.state not in UNDOABLE:
            return
        if s.status in ("accepted", "duplicate"):
            self._enter(State.ACCEPTED)
        elif s.status == "rejected":
            self._feedback_until = self.t + FEEDBACK_SECONDS
            self._enter(State.REJECTED)
        elif s.status == "cancelled":
            self._rest()

    # -- catalogue and state ----------------------------------------------------------------------
    def set_catalogue(self, catalogue: Catalogue, cache: bool = False) -> None:
        """Use a new catalogue: understanding and recognition grammar are rebuilt without a restart."""
        self.requests.set_catalogue(catalogue, self.catalogue_cache if cache else None)

    def state_payload(self, online: bool = True) -> dict:
        """The retained `reorder.state/1` message."""
        return self.report.payload(self.muted, online)
