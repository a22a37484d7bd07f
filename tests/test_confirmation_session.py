"""stages.confirmation: the order session in audio time (the read-back's press, the undo window)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from device.confirmation.session import PRESS_GAP_SECONDS, UNDO_CLOSING_SECONDS, Meaning, OrderSession
from device.contract.catalogue import Catalogue
from device.dialogue.readback import readback
from device.events import IntentItem

CATALOG = Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json"
ITEMS = (IntentItem("MILK-1L", 2, "milk"),)


@pytest.fixture
def catalogue() -> Catalogue:
    return Catalogue.load(CATALOG)


def offered(catalogue: Catalogue, presses: int = 1, timeout: float = 10.0, undo: float = 30.0) -> OrderSession:
    """A session whose items and total were said by t=4, the instruction by t=6."""
    s = OrderSession(timeout_seconds=timeout, undo_seconds=undo)
    s.offer(ITEMS, catalogue, readback(ITEMS, catalogue, "en-US"), heard_at=4.0, said_at=6.0, presses_needed=presses)
    return s


def test_a_press_counts_only_once_items_and_total_were_said(catalogue):
    s = offered(catalogue)
    assert s.press(down=3.9, t=4.1, confirming=True, undoable=False) is Meaning.EARLY
    assert s.pending is not None and s.pending.presses_needed == 1  # an early press costs nothing
    assert s.press(down=4.0, t=4.2, confirming=True, undoable=False) is Meaning.CONFIRM


def test_a_repeat_order_needs_two_presses(catalogue):
    s = offered(catalogue, presses=2)
    assert s.press(down=5.0, t=5.2, confirming=True, undoable=False) is Meaning.AGAIN
    s.pending.again_said(said_at=6.4, t=5.2)
    assert s.press(down=6.5, t=6.7, confirming=True, undoable=False) is Meaning.CONFIRM


def test_the_second_press_counts_only_after_press_again_was_said(catalogue):
    s = offered(catalogue, presses=2)
    assert s.press(down=5.0, t=5.2, confirming=True, undoable=False) is Meaning.AGAIN
    s.pending.again_said(said_at=6.4, t=5.2)  # "Press again to order." ends at 6.4
    assert s.press(down=6.3, t=6.5, confirming=True, undoable=False) is Meaning.EARLY
    assert s.pending.asked_again and s.pending.presses_needed == 1
    assert s.press(down=6.4, t=6.6, confirming=True, undoable=False) is Meaning.CONFIRM


def test_without_speech_the_second_press_still_needs_a_gap(catalogue):
    s = offered(catalogue, presses=2)
    s.press(down=5.0, t=5.2, confirming=True, undoable=False)
    s.pending.again_said(said_at=5.2, t=5.2)  # speak = false: said in no time
    assert s.press(down=5.2 + PRESS_GAP_SECONDS - 0.1, t=6.3, confirming=True, undoable=False) is Meaning.EARLY
    assert s.press(down=5.2 + PRESS_GAP_SECONDS, t=6.5, confirming=True, undoable=False) is Meaning.CONFIRM


def test_an_undo_needs_a_press_some_time_after_the_confirmation(catalogue):
    s = offered(catalogue)
    s.place({"order_id": "o-1"}, t=8.0)
    assert s.press(down=8.0 + PRESS_GAP_SECONDS - 0.1, t=9.0, confirming=False, undoable=True) is Meaning.TOO_SOON
    assert s.can_undo(9.0)  # still open
    assert s.press(down=8.0 + PRESS_GAP_SECONDS, t=9.2, confirming=False, undoable=True) is Meaning.UNDO


def test_the_deadline_counts_from_the_end_of_the_instruction(catalogue):
    s = offered(catalogue, timeout=10.0)
    assert s.pending.deadline == 16.0
    assert not s.expired(15.9) and s.expired(16.0)
    s.drop()
    assert s.pending is None and not s.expired(100.0)


def test_the_undo_window_opens_at_confirmation_and_closes(catalogue):
    s = offered(catalogue, undo=30.0)
    s.place({"order_id": "o-1"}, t=8.0)
    assert s.pending is None and s.is_last("o-1") and not s.is_last("o-2")
    assert s.can_undo(37.9) and not s.undo_over(37.9)
    assert not s.undo_closing(38.0 - UNDO_CLOSING_SECONDS - 0.1) and s.undo_closing(38.0 - UNDO_CLOSING_SECONDS)
    assert s.press(down=20.0, t=20.2, confirming=False, undoable=True) is Meaning.UNDO
    assert not s.can_undo(38.0) and s.undo_over(38.0)
    assert s.press(down=38.0, t=38.2, confirming=False, undoable=True) is Meaning.NOTHING


def test_closing_the_undo_window_keeps_the_last_order(catalogue):
    s = offered(catalogue)
    s.place({"order_id": "o-1"}, t=8.0)
    s.close_undo()  # a new request began
    assert not s.can_undo(9.0) and s.is_last("o-1")
    assert s.press(down=9.0, t=9.2, confirming=False, undoable=True) is Meaning.NOTHING


def test_nothing_waits_for_a_press_at_first():
    s = OrderSession(timeout_seconds=10.0, undo_seconds=30.0)
    assert s.press(down=1.0, t=1.2, confirming=True, undoable=True) is Meaning.NOTHING
    assert s.undo_over(0.0) and not s.undo_closing(0.0) and not s.expired(1e9)
    s.close_undo()  # harmless without an order


@pytest.mark.parametrize("presses,max_total,why", [
    (1, "10", None),
    (1, "2", "above voice_max_total only the button confirms"),  # 2 × 1.15 = 2.30
    (2, "10", "a repeat order needs the button"),
])
def test_a_spoken_yes_confirms_only_small_first_orders(catalogue, presses, max_total, why):
    s = offered(catalogue, presses=presses)
    assert s.pending.voice_yes(Decimal(max_total)) == why
