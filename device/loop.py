"""The device loop: one step() per 80 ms audio frame; what each state does is one method.

The states and every move between them are the table in device/states.py, which `_enter` enforces.
A state's method is given each input in turn: a button gesture (confirmation.gestures), the frame
heard, then the timer tick. Time is audio time (`t` grows one frame per step), so a replayed recording
gives the same events however busy the machine is. Other threads (gpiozero, paho) only post typed
records, which device.inbox handles at the start of each step. app.build_loop builds the collaborators:
dialogue.request hears and answers a request, confirmation.session keeps the press and the undo window,
orders.lifecycle the order after the press, telemetry.state_report the retained state.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from device.audio.endpointer import Endpointer, Ending
from device.audio.source import FRAME_SECONDS, SILENT_FRAME
from device.audio.voice import Voice
from device.audio.wake_word import WakeWordDetector
from device.config import ConfirmationSettings
from device.confirmation.gestures import Down, Gesture, PressTimer, Push
from device.confirmation.led import PATTERNS, StatusLight
from device.confirmation.mute import MuteMemory
from device.confirmation.session import Meaning, Pending, OrderSession
from device.contract.catalogue import Catalogue
from device.dialogue.decision import Cancel, ReadBack, Refuse
from device.dialogue.readback import message
from device.dialogue.request import Requests
from device.errors import OutboxError, ReorderError
from device.inbox import Inbox
from device.events import Cancelled, Error, Event, Ignored, StateChanged, Timeout
from device.orders.lifecycle import Orders
from device.orders.outbox import OutboxFull
from device.states import CAN_WAKE, FEEDBACK_SECONDS, REST, TICK, TRANSITIONS, Heard, State, Tick
from device.telemetry.state_report import StateReport

S = State
log = logging.getLogger(__name__)


class Loop(Inbox):
    """The device: feed it frames with step(); it emits events and drives the LED, speaker and outbox."""

    def __init__(self, *, wake: WakeWordDetector, endpointer: Endpointer, requests: Requests, orders: Orders,
                 session: OrderSession, report: StateReport, presses: PressTimer, voice: Voice, light: StatusLight,
                 rules: ConfirmationSettings, emit: Callable[[Event], None], now: Callable[[], datetime],
                 catalogue_cache: Path | None = None, inbox: queue.SimpleQueue | None = None, muted: bool = False,
                 mute_memory: MuteMemory | None = None) -> None:
        self.wake, self.endpointer, self.requests, self.orders = wake, endpointer, requests, orders
        self.session, self.report, self.presses, self.voice, self.light = session, report, presses, voice, light
        self.delivery = orders.delivery
        self.outbox, self.topics, self.locale = self.delivery.outbox, self.delivery.topics, voice.locale
        self.rules, self.emit, self.now = rules, emit, now
        self.catalogue_cache, self.mute_memory = catalogue_cache, mute_memory
        super().__init__(inbox)  # the inputs other threads post (device.inbox)
        self.t = 0.0
        self.state = S.MUTED if muted else S.OFFLINE  # as confirmation.mute decided: no frame is read before
        self._feedback_until = 0.0
        self._closing = False
        self._in_state: dict[State, Callable[[Gesture | Heard | Tick], None]] = {
            S.IDLE: self._resting, S.OFFLINE: self._resting, S.REJECTED: self._showing, S.ERROR: self._showing,
            S.LISTENING: self._listening, S.CONFIRMING: self._confirming, S.QUEUED: self._placed, S.SENT: self._placed,
            S.ACCEPTED: self._placed,
            S.THINKING: lambda item: None,  # over within the step that entered it
            S.MUTED: lambda item: None}  # the microphone is closed and presses do nothing
        self.light.show(PATTERNS[self.state.value])

    # -- plumbing ---------------------------------------------------------------------------------
    @property
    def catalogue(self) -> Catalogue | None:
        """The catalogue in use (None until a file, the cache or the broker gave one)."""
        return self.requests.catalogue

    @property
    def idle(self) -> bool:
        """At rest with nothing pending (replay exits when the audio is over and this holds)."""
        return self.state in (*REST, S.MUTED) and self.inbox.empty()

    def set_catalogue(self, catalogue: Catalogue, cache: bool = False) -> None:
        """Use a new catalogue: understanding and recognition grammar are rebuilt without a restart."""
        self.requests.set_catalogue(catalogue, self.catalogue_cache if cache else None)

    def state_payload(self, online: bool = True) -> dict:
        """The retained `reorder.state/1` message."""
        return self.report.payload(self.muted, online)

    def _enter(self, state: State) -> None:
        if state is self.state:
            return
        if (self.state, state) not in TRANSITIONS:
            raise RuntimeError(f"no transition from {self.state.value} to {state.value}")
        self._closing = False
        previous, self.state = self.state, state
        self.light.show(PATTERNS[state.value])
        self.emit(StateChanged(self.t, state.value, previous.value))

    def _rest(self) -> None:
        self.session.drop()
        self._enter(S.IDLE if self.delivery.connected else S.OFFLINE)

    def _feedback(self, state: State) -> None:
        """Show a refusal or an error for FEEDBACK_SECONDS, then rest."""
        self.session.drop()
        self._feedback_until = self.t + FEEDBACK_SECONDS
        self._enter(state)

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
        for gesture in self.presses.tick(self.t):
            self._in_state[self.state](gesture)
        if frame is not None and not self.muted and not self._woke(frame):
            self._in_state[self.state](Heard(frame, self.voice.deaf(self.t)))
        self._in_state[self.state](TICK)

    def _woke(self, frame: bytes) -> bool:
        """Feed the wake word every frame (silence while it must not listen, so audio from before can
        never complete a wake word later); True when it woke the device."""
        awake = self.state in CAN_WAKE and not self.voice.deaf(self.t)
        wake = self.wake.process(frame if awake else SILENT_FRAME, self.t)
        if wake and awake:
            self.emit(wake)
            self._start_listening()
        return bool(wake and awake)

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
        if not self.muted:  # muted, the LED keeps saying so: the microphone is still closed
            self._feedback(S.ERROR)

    # -- the states -------------------------------------------------------------------------------
    def _resting(self, item: Gesture | Heard | Tick) -> None:
        """IDLE and OFFLINE: the wake word (above) or push-to-talk starts a request."""
        if isinstance(item, Down):
            self.presses.use()
            self._start_listening()

    def _showing(self, item: Gesture | Heard | Tick) -> None:
        """REJECTED and ERROR: shown for FEEDBACK_SECONDS; the wake word and push-to-talk still work."""
        if isinstance(item, Tick) and self.t >= self._feedback_until:
            self._rest()
        else:
            self._resting(item)

    def _listening(self, item: Gesture | Heard | Tick) -> None:
        """LISTENING: the endpointer collects the request; nobody speaking ends it."""
        if not isinstance(item, Heard) or item.deaf:
            return
        end = self.endpointer.feed(item.audio)
        if end is None:  # the request's audio may be known already: the recogniser can start on it
            early = self.endpointer.early()
            if early is not None:
                self.requests.prefetch(early)
            return
        if end.outcome is Ending.NO_SPEECH:
            self.emit(Timeout(self.t, by="timer", during="listening"))
            self.wake.hold_off(self.t)
            self._rest()
        else:
            self._understand(end.audio)

    def _confirming(self, item: Gesture | Heard | Tick) -> None:
        """CONFIRMING: items and total were read back; a press (or a spoken yes) orders, a long press,
        a spoken no or the deadline cancels."""
        pending = self.session.pending
        assert pending is not None
        if isinstance(item, Push) and item.long:
            self.emit(Cancelled(self.t, by="long-press"))
            self.voice.cue("cancelled", self.t)
            self.voice.say(message("cancelled", self.locale), self.t)
            self._rest()
        elif isinstance(item, Push):
            meaning = self.session.press(item.down, self.t, confirming=True, undoable=False)
            if meaning is Meaning.EARLY:
                self.emit(Ignored(self.t, "press", "before \"press again\" was said" if pending.asked_again
                                  else "the items and total were not read back yet"))
            elif meaning is Meaning.AGAIN:
                pending.again_said(self.voice.say(message("press-again", self.locale), self.t), self.t)
            elif meaning is Meaning.CONFIRM:
                self.confirm(pending, "button")
        elif isinstance(item, Heard) and not item.deaf and self.rules.voice_confirmation:
            end = self.endpointer.feed(item.audio)
            if end is not None and end.outcome is Ending.UTTERANCE:
                self._voice_answer(pending, self.requests.answer(end.audio, self.t))
        elif isinstance(item, Tick) and self.session.expired(self.t):
            self.emit(Timeout(self.t, by="timer"))
            self._rest()

    def _placed(self, item: Gesture | Heard | Tick) -> None:
        """QUEUED, SENT, ACCEPTED: the order is on its way; a press undoes it while its window is open."""
        if isinstance(item, Push) and item.long:
            if self.session.can_undo(self.t):
                self._undo("long-press")
        elif isinstance(item, Push):
            meaning = self.session.press(item.down, self.t, confirming=False, undoable=True)
            if meaning is Meaning.TOO_SOON:
                self.emit(Ignored(self.t, "press", "too soon after the confirmation to undo it"))
            elif meaning is Meaning.UNDO:
                self._undo("button")
        elif isinstance(item, Tick) and self.session.undo_over(self.t):
            self._rest()
        elif isinstance(item, Tick) and not self._closing and self.session.undo_closing(self.t):
            self._closing = True  # the LED counts down: the undo window is about to close
            self.light.show(PATTERNS["undo-closing"])

    # -- a request, its read-back, the order ------------------------------------------------------
    def _start_listening(self) -> None:
        self.session.drop()  # the undo window stays open: "hey jarvis, cancel" undoes the last order
        self.endpointer.reset()
        self.voice.cue("listen", self.t)
        self._enter(S.LISTENING)

    def _understand(self, audio: bytes) -> None:
        self._enter(S.THINKING)
        outcome = self.requests.heard(audio, self.t, self.outbox, self.now())
        self.wake.hold_off(self.t)
        if isinstance(outcome, Cancel):
            return self._undo("voice") if self.session.can_undo(self.t) else self._cancelled_by_voice()
        self.session.close_undo()  # another request: the last order stays as it is
        if isinstance(outcome, Refuse):
            self._refuse(outcome.reason, outcome.detail, outcome.words)
        elif isinstance(outcome, ReadBack):
            heard_at, said_at = self.requests.read_back(outcome, self.t)  # a press counts once both were heard
            self.session.offer(outcome.items, outcome.catalogue, outcome.readback, heard_at, said_at,
                               outcome.presses_needed)
            self.endpointer.reset()
            self._enter(S.CONFIRMING)
        else:
            self.voice.say(outcome.words, self.t)
            self._rest()

    def _voice_answer(self, pending: Pending, answer: str | None) -> None:
        """Optional spoken yes/no to the read-back; never replaces the press above voice_max_total."""
        if answer == "no":
            self._cancelled_by_voice()
        elif answer == "yes":
            why_not = pending.voice_yes(Decimal(str(self.rules.voice_max_total)))
            if why_not:
                self.emit(Ignored(self.t, "voice", why_not))
            else:
                self.confirm(pending, "voice")

    def _cancelled_by_voice(self) -> None:
        self.emit(Cancelled(self.t, by="voice"))
        if self.state is S.CONFIRMING:
            self.voice.cue("cancelled", self.t)
        self._rest()

    def _refuse(self, reason: str, detail: str = "", words: str | None = None) -> None:
        self.requests.refuse(reason, self.t, detail, words)
        self._feedback(S.REJECTED)

    def confirm(self, pending: Pending, by: str) -> None:
        """What a confirming press (or spoken yes) does: the order goes on disk, then on its way."""
        try:
            order = self.orders.place(pending, by, self.t)
        except OutboxFull as exc:
            log.error("%s", exc)
            return self._refuse("outbox-full", str(exc))
        except OutboxError as exc:
            return self._fail(str(exc))
        self.session.place(order, self.t)
        self._enter(S.QUEUED)
        self.report.publish(self.muted)

    def _undo(self, by: str) -> None:
        assert self.session.placed is not None
        self.orders.undo(self.session.placed.order_id, by, self.t)
        self.session.close_undo()
        self._rest()
