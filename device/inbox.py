"""What the loop does with each input another thread posts (contract.inputs): broker up or down, an
acknowledged publish, the store's answer, the mute switch, a retained catalogue, a raw button edge.

gpiozero and paho call back on their own threads; they only `post` typed records. The loop drains them at
the start of each step, on its own thread, so a state's handling (device.loop) never races them.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable

from device.audio.wake_word import WakeWordDetector
from device.confirmation.gestures import PressTimer
from device.confirmation.mute import MuteMemory
from device.confirmation.session import OrderSession
from device.contract.catalogue import Catalogue
from device.contract.inputs import Acked, BrokerDown, BrokerUp, ButtonEdge, CatalogueArrived, MuteChanged, OrderStatus
from device.events import Cancelled, Event
from device.orders.lifecycle import Orders
from device.states import FEEDBACK_SECONDS, REST, UNDOABLE, State
from device.telemetry.state_report import StateReport

S = State
log = logging.getLogger(__name__)


class Inbox:
    """The inputs from other threads; device.loop.Loop is one (it provides the state and the moves below)."""

    state: State
    t: float
    _feedback_until: float
    wake: WakeWordDetector
    orders: Orders
    session: OrderSession
    report: StateReport
    presses: PressTimer
    mute_memory: MuteMemory | None
    emit: Callable[[Event], None]

    def __init__(self, inbox: queue.SimpleQueue | None) -> None:
        self.inbox: queue.SimpleQueue = inbox if inbox is not None else queue.SimpleQueue()
        self._inputs: dict[type, Callable] = {
            ButtonEdge: lambda e: self.presses.edge(e.pressed, self.t),  # raw, chatter included: debounced there
            MuteChanged: lambda m: self._set_muted(m.muted), Acked: self._acked, BrokerUp: self._broker,
            BrokerDown: self._broker, CatalogueArrived: self._catalogue_arrived, OrderStatus: self._order_status}

    def _enter(self, state: State) -> None:
        raise NotImplementedError  # the loop's move, checked against the table

    def _rest(self) -> None:
        raise NotImplementedError

    @property
    def catalogue(self) -> Catalogue | None:
        raise NotImplementedError

    def set_catalogue(self, catalogue: Catalogue, cache: bool = False) -> None:
        raise NotImplementedError

    @property
    def muted(self) -> bool:
        """The microphone is closed: derived from the state, so the LED and the microphone always agree."""
        return self.state is S.MUTED

    def post(self, item: object) -> None:
        """Thread-safe: hand an input (device.contract.inputs) to the loop."""
        self.inbox.put(item)

    def _drain_inbox(self) -> None:
        while not self.inbox.empty():
            item = self.inbox.get_nowait()
            handler = self._inputs.get(type(item))
            if handler is None:
                log.warning("ignored an input the loop does not take: %r", item)
            else:
                handler(item)

    def _acked(self, item: Acked) -> None:
        order_id = self.orders.acknowledged(item.mid, self.t)
        if order_id:
            if self.state is S.QUEUED and self.session.is_last(order_id):
                self._enter(S.SENT)
            self.report.publish(self.muted)

    def _broker(self, item: BrokerUp | BrokerDown) -> None:
        up = isinstance(item, BrokerUp)
        if isinstance(item, BrokerDown):
            log.warning("broker connection lost (%s); orders wait in the outbox", item.reason)
        self.report.connection(up, self.muted)
        if self.state is (S.OFFLINE if up else S.IDLE):
            self._enter(S.IDLE if up else S.OFFLINE)

    def _set_muted(self, muted: bool) -> None:
        if muted == self.muted:
            return
        if self.mute_memory is not None:
            self.mute_memory.remember(muted)
        self.presses.reset()  # a press held across a mute change does nothing
        if muted:
            if self.state is S.CONFIRMING:
                self.emit(Cancelled(self.t, by="mute"))
            self.session.drop()
            self._enter(S.MUTED)
        else:
            self.wake.hold_off(self.t)
            self._rest()
        self.report.publish(self.muted)

    def _catalogue_arrived(self, item: CatalogueArrived) -> None:
        if self.catalogue is None or item.catalogue != self.catalogue:
            self.set_catalogue(item.catalogue, cache=True)

    def _order_status(self, s: OrderStatus) -> None:
        told = self.orders.answered(s, self.t, self.session.placed, tell=self.state in (*UNDOABLE, *REST))
        if not told or self.state not in UNDOABLE:
            return
        if s.status in ("accepted", "duplicate"):
            self._enter(S.ACCEPTED)
        elif s.status == "rejected":
            self._feedback_until = self.t + FEEDBACK_SECONDS
            self._enter(S.REJECTED)
        elif s.status == "cancelled":
            self._rest()
