"""stages.stats: the counters as a fold over events, saved since install, published retained when they move."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from device.contract import schemas
from device.contract.topics import Topics
from device.events import (
    NONE,
    Cancelled,
    Confirmed,
    Error,
    IntentEvent,
    Prompt,
    Published,
    Queued,
    Rejected,
    StateChanged,
    Status,
    Timeout,
    TranscriptEvent,
    Wake,
)
from device.orders.delivery import Delivery
from device.orders.outbox import Outbox
from device.telemetry.state_report import StateReport, StatsReport
from device.telemetry.stats import Stats, StatsFile, Tally, TimedRecognizer, stats_payload


def wake(t: float = 0.0) -> list:
    return [Wake(t, "openwakeword", "hey_jarvis", 0.9), StateChanged(t, "listening", "idle")]


def session() -> list:
    """A wake nobody followed, a push-to-talk refusal, an order, a read-back nobody confirmed, an undo."""
    return [
        *wake(), Timeout(5.0, during="listening"), StateChanged(5.0, "idle", "listening"),
        StateChanged(6.0, "listening", "idle"), TranscriptEvent(8.0, "order bananas", 0.9), IntentEvent(8.0, NONE),
        Rejected(8.0, "not-in-catalog", "bananas"),
        *wake(10.0), IntentEvent(12.0, NONE), Prompt(12.0, "two milk, 2.30 euros", 2.3, "EUR"),
        Confirmed(15.0, "button"), Queued(15.0, "o-1"), Published(15.1, "o-1"), Status(15.2, "o-1", "accepted"),
        *wake(40.0), IntentEvent(42.0, NONE), Prompt(42.0, "one coffee", 6.49, "EUR"), Timeout(57.0),
        Rejected(60.0, "some-new-reason"), Cancelled(61.0, "button", order_id="o-1"), Cancelled(62.0, "long-press"),
        Error(63.0, "internal error"), Status(64.0, "o-1", "shipped"),
    ]


def test_the_fold_counts_each_kind_of_event_and_nothing_it_should_not():
    tally = Tally()
    moved = [tally.observe(e) for e in session()]
    c = tally.to_dict()
    assert (c["wakes"], c["false_wakes"], c["no_speech"], c["push_to_talk"]) == (3, 1, 1, 1)
    assert (c["requests"], c["readbacks"], c["confirmations"], c["timeouts"]) == (3, 2, 1, 1)
    assert (c["refusals"], c["refusals_by_reason"]) == (2, {"not-in-catalog": 1, "other": 1})
    assert (c["cancellations"], c["undos"], c["errors"]) == (2, 1, 1)
    assert (c["orders_queued"], c["orders_published"], c["store_accepted"], c["store_rejected"]) == (1, 1, 1, 0)
    assert not moved[-1]  # "shipped" is no counter
    assert not tally.observe(TranscriptEvent(0.0, "anything", 1.0))
    assert "bananas" not in json.dumps(c) and "milk" not in json.dumps(c)


def test_decode_times_give_a_mean_and_a_timed_recognizer_reports_each_run():
    class Fake:
        name = "fake"

        def recognize(self, audio: bytes):
            return "heard"

        def set_grammar(self, grammar):
            return ["warned"]

    ticks = iter([1.0, 1.05, 2.0, 2.15])
    stats = Stats("fake")
    timed = TimedRecognizer(Fake(), stats.decoded, clock=lambda: next(ticks))
    assert timed.name == "fake" and timed.set_grammar(None) == ["warned"]
    assert timed.recognize(b"") == "heard" and timed.recognize(b"") == "heard"
    assert stats.boot.counts["decodes"] == 2 and stats.boot.mean_decode_ms == 100.0
    assert Tally().mean_decode_ms is None


def test_since_install_survives_a_restart_and_a_bad_file_starts_again(tmp_path):
    file = StatsFile(tmp_path / "stats.json")
    first = Stats("pocketsphinx", file.load(), booted_at="2026-11-22T13:00:00Z")
    for event in session():
        first.observe(event)
    first.decoded(40.0)
    file.save(first.saved())
    second = Stats("vosk", file.load(), booted_at="2026-11-23T08:00:00Z")
    second.observe(Wake(0.0, "openwakeword", "hey_jarvis", 0.9))
    assert second.install.counts["wakes"] == 4 and second.boot.counts["wakes"] == 1
    assert second.install.counts["decodes"] == 1 and second.install.mean_decode_ms == 40.0
    assert second.installed_at == "2026-11-22T13:00:00Z" and second.booted_at == "2026-11-23T08:00:00Z"
    assert second.last_order_status == "accepted"
    (tmp_path / "stats.json").write_text('{"counters": {"wakes": -3, "refusals_by_reason": {"x": 2}}')
    assert file.load() == {}
    (tmp_path / "stats.json").write_text('{"counters": {"wakes": -3, "errors": "7", "refusals_by_reason": {"x": 2}}}')
    odd = Tally(file.load()["counters"])
    assert odd.counts["wakes"] == 0 and odd.counts["errors"] == 0 and odd.by_reason == {}


def test_the_payload_follows_its_schema():
    stats = Stats("pocketsphinx", booted_at="2026-11-22T13:00:00Z", monotonic=lambda: 0.0)
    for event in session():
        stats.observe(event)
    payload = stats_payload(stats, "kitchen-01", "1.0.0", "2026-11-22T14:00:00Z", 0, 10_000)
    assert schemas.problem(payload, schemas.STATS) is None
    assert payload["since_boot"] == payload["since_install"] and "decode_ms_total" not in payload["since_boot"]
    assert payload["last_order_status"] == "accepted" and payload["recognizer"] == "pocketsphinx"
    assert schemas.problem({**payload, "since_boot": {"wakes": "3"}}, schemas.STATS) is not None


class Publisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict, bool]] = []

    def publish(self, topic: str, payload: dict, retain: bool = False) -> int:
        self.sent.append((topic, payload, retain))
        return len(self.sent)


def test_published_retained_when_the_counters_moved_again_after_a_reconnect_and_copied_to_mirrors(tmp_path):
    publisher, topics = Publisher(), Topics("reorder/v1", "hall")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    now = lambda: datetime(2026, 11, 22, 13, 0, tzinfo=timezone.utc)  # noqa: E731
    try:
        delivery = Delivery(outbox, publisher, topics)
        stats = Stats("pocketsphinx")
        report = StatsReport(stats, delivery, topics.stats, "hall", now, lambda: 123, StatsFile(tmp_path / "s.json"))
        state = StateReport(delivery, topics.state, now)
        copies: list[tuple[str, dict]] = []
        state.attach(stats=report, mirror=lambda t, p: copies.append((t, p)))
        report.publish()
        assert publisher.sent == [] and (tmp_path / "s.json").exists()  # offline: saved, not published
        assert [t for t, _ in copies] == [topics.stats]
        delivery.connected = True
        state.publish(muted=False)
        assert [(t, r) for t, _, r in publisher.sent] == [(topics.state, True), (topics.stats, True)]
        report.publish()
        assert len(publisher.sent) == 2  # nothing moved
        stats.observe(Wake(0.0, "openwakeword", "hey_jarvis", 0.9))
        report.publish()
        assert publisher.sent[-1][1]["since_boot"]["wakes"] == 1 and publisher.sent[-1][1]["outbox_free_bytes"] == 123
        state.connection_changed()
        state.publish(muted=True)
        assert [t for t, _, _ in publisher.sent[-2:]] == [topics.state, topics.stats]  # again after a reconnect
        assert [t for t, _ in copies].count(topics.state) == 2
        assert json.loads((tmp_path / "s.json").read_text())["counters"]["wakes"] == 1
    finally:
        outbox.close()


def test_the_store_backend_logs_one_line_per_device_when_its_counters_move(tmp_path, caplog):
    import logging

    from device.store import StoreBackend

    store = StoreBackend("mqtt://127.0.0.1:1", tmp_path / "store.db")
    stats = Stats("pocketsphinx", booted_at="2026-11-22T13:00:00Z", monotonic=lambda: 0.0)
    try:
        caplog.set_level(logging.INFO, logger="device.store.backend")
        for event in session():
            stats.observe(event)
            payload = stats_payload(stats, "kitchen-01", "1.0.0", "2026-11-22T14:00:00Z", 0, 10_000)
            store._dispatch("reorder/v1/devices/kitchen-01/stats", json.dumps(payload).encode())
        store._dispatch("reorder/v1/devices/kitchen-01/stats", json.dumps({**payload, "at": "later"}).encode())
        store._dispatch("reorder/v1/devices/hall/stats", b'{"schema": "reorder.stats/1"}')
    finally:
        store.stop()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("device kitchen-01: ")]
    tally = Tally()
    moving = sum(1 for e in session() if tally.observe(e))
    assert len(lines) == moving  # a line each time the counters moved, none for the same counters again
    assert "3 wakes (1 false)" in lines[-1] and "2 refused (not-in-catalog 1, other 1)" in lines[-1]
    assert "store 1 accepted" in lines[-1] and "bananas" not in " ".join(lines)
    assert any("stats of hall are invalid" in r.getMessage() for r in caplog.records)
