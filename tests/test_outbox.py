"""The outbox keeps every confirmed order on disk until the broker acknowledged it."""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import datetime, timedelta, timezone

import pytest

from device.errors import OutboxError
from device.orders.outbox import KEEP_DAYS, Outbox, OutboxFull
from device.orders.payload import iso

NOW = datetime(2026, 11, 22, 13, 0, tzinfo=timezone.utc)


def order(n: int, sku: str = "MILK-1L", at: datetime = NOW) -> dict:
    return {"schema": "reorder.order/1", "order_id": f"order-{n}", "device_id": "d", "created_at": iso(at),
            "items": [{"sku": sku, "quantity": 1, "unit_price": 1.0}], "total": 1.0, "currency": "EUR"}


def test_orders_wait_in_order_until_acknowledged(tmp_path):
    box = Outbox(tmp_path / "o.db")
    for n in range(3):
        box.add(order(n))
    assert [o["order_id"] for o in box.pending()] == ["order-0", "order-1", "order-2"]
    assert box.mark_sent("order-1") and not box.mark_sent("order-1")
    assert [o["order_id"] for o in box.pending()] == ["order-0", "order-2"] and box.depth() == 2


def test_adding_the_same_order_twice_keeps_one(tmp_path):
    box = Outbox(tmp_path / "o.db")
    box.add(order(1))
    box.add(order(1))
    assert box.depth() == 1


def _add_then_die(path: str) -> None:
    box = Outbox(path)
    box.add(order(7))
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no flush: like a power cut after the commit


def test_an_order_survives_the_process_being_killed_right_after_add(tmp_path):
    path = str(tmp_path / "o.db")
    proc = multiprocessing.get_context("fork").Process(target=_add_then_die, args=(path,))
    proc.start()
    proc.join(10)
    assert proc.exitcode == -signal.SIGKILL
    assert [o["order_id"] for o in Outbox(path).pending()] == ["order-7"]


def test_a_full_outbox_refuses_and_drops_nothing(tmp_path):
    box = Outbox(tmp_path / "o.db", capacity=2)
    box.add(order(1))
    box.add(order(2))
    with pytest.raises(OutboxFull, match="holds 2 unsent orders"):
        box.add(order(3))
    assert box.depth() == 2
    box.mark_sent("order-1")
    box.add(order(3))
    assert box.depth() == 2


def test_withdraw_only_what_was_not_sent(tmp_path):
    box = Outbox(tmp_path / "o.db")
    box.add(order(1))
    box.add(order(2))
    box.mark_sent("order-2")
    assert box.withdraw("order-1") and not box.withdraw("order-2")
    assert box.pending() == [] and box.status_of("order-1") == "cancelled"


def test_history_counts_for_limits_and_forgets_undone_orders(tmp_path):
    box = Outbox(tmp_path / "o.db")
    box.add(order(1, "MILK-1L", NOW - timedelta(hours=30)))
    box.add(order(2, "COFFEE-500G", NOW - timedelta(hours=2)))
    box.add(order(3, "EGGS-12", NOW - timedelta(hours=1)))
    box.record_status("order-3", "cancelled")
    assert box.orders_since(NOW - timedelta(days=1)) == 1
    assert box.skus_since(NOW - timedelta(hours=12)) == {"COFFEE-500G"}


def test_a_corrupt_file_is_kept_aside_and_a_new_outbox_starts(tmp_path):
    path = tmp_path / "o.db"
    path.write_bytes(b"this is not a database" * 100)
    box = Outbox(path)
    assert box.recovered_from is not None and box.recovered_from.exists()
    assert box.recovered_from.read_bytes().startswith(b"this is not a database")
    box.add(order(1))
    assert box.depth() == 1


def test_an_unwritable_place_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutboxError, match="cannot be created"):
        Outbox(blocker / "sub" / "o.db")


def test_acknowledged_orders_without_an_answer_are_kept_across_a_restart(tmp_path):
    box = Outbox(tmp_path / "o.db")
    for n in range(4):
        box.add(order(n))
    for n in (0, 1, 2):
        box.mark_sent(f"order-{n}")
    box.record_status("order-1", "accepted")
    box.close()
    again = Outbox(tmp_path / "o.db")  # the device restarted
    assert [o["order_id"] for o in again.unanswered(10)] == ["order-0", "order-2"]  # not 3: never acknowledged
    assert [o["order_id"] for o in again.unanswered(1)] == ["order-2"]


def test_a_duplicate_answer_keeps_the_stores_first_answer(tmp_path):
    box = Outbox(tmp_path / "o.db")
    box.add(order(1))
    box.add(order(2))
    box.mark_sent("order-1")
    box.mark_sent("order-2")
    box.record_status("order-1", "accepted")
    assert box.record_status("order-1", "duplicate") and box.status_of("order-1") == "accepted"
    assert box.record_status("order-2", "duplicate") and box.status_of("order-2") == "duplicate"
    assert not box.record_status("order-9", "duplicate")


def test_a_new_order_forgets_sent_orders_older_than_30_days_and_keeps_unsent_ones(tmp_path):
    box = Outbox(tmp_path / "o.db")
    box.add(order(1, at=NOW - timedelta(days=KEEP_DAYS, hours=1)))  # sent, a month old: forgotten
    box.mark_sent("order-1")
    box.add(order(2, at=NOW - timedelta(days=KEEP_DAYS, hours=1)))  # never sent: kept, it still has to go
    box.add(order(3, at=NOW - timedelta(days=KEEP_DAYS - 1)))  # sent 29 days ago: still counts for limits
    box.mark_sent("order-3")
    assert box.status_of("order-1") is None and box.is_sent("order-1")  # nothing forgotten before a new order
    box.add(order(4))
    assert not box.is_sent("order-1") and [o["order_id"] for o in box.pending()] == ["order-2", "order-4"]
    assert box.is_sent("order-3") and box.orders_since(NOW - timedelta(days=KEEP_DAYS)) == 2
