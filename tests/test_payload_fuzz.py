"""Bad input from the network and from config files: generated catalogue, order-status and config payloads.

Each generated payload is either accepted or rejected out loud (an error of the project's family,
or a log line saying it was ignored); nothing crashes, the loop keeps turning, and the outbox
holds exactly what it held before (only a valid answer about one of its own orders may change
that order's status). The catalogue and status payloads go through the MQTT adapter's decoding
(`decode_message`, as paho's thread does) and the real loop, with only the ears and voice faked.

REORDER_FUZZ_EXAMPLES sets the examples per test (CI: a few hundred in all; scripts/fault-cycle:
over 10,000), REORDER_FUZZ_STATS a JSON file that receives the accepted/rejected counts.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from device import config
from device.adapters.network.mqtt import MqttLink, decode_message
from device.app import build_loop
from device.audio.source import SILENT_FRAME
from device.contract import schemas
from device.contract.catalogue import Catalogue
from device.contract.topics import Topics
from device.errors import CatalogueError, ReorderError
from device.fakes import RecordingPublisher
from device.language.parser import normalise
from device.loop import State
from device.orders.delivery import Delivery
from device.orders.outbox import Outbox
from tests.delivery_harness import CATALOG, _Deaf, _NoRecognizer, _Quiet, random_order, settings_for

EXAMPLES = int(os.environ.get("REORDER_FUZZ_EXAMPLES", "100"))
STATS: Counter = Counter()
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module", autouse=True)
def write_stats():
    yield
    path = os.environ.get("REORDER_FUZZ_STATS")
    if path:
        Path(path).write_text(json.dumps(dict(STATS), indent=1, sort_keys=True))


# -- generated values -------------------------------------------------------------------------------
SCALARS = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=20))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                          max_size=4), max_leaves=10)
NAMES = st.one_of(st.text(max_size=30), st.sampled_from(["milk", "  ", "", "lait entier", "é" * 3, "a\nb", "\x00"]))
PRICES = st.one_of(*[st.floats(0, 1000).map(lambda x: round(x, 2))] * 3, st.floats(allow_nan=True, allow_infinity=True),
                   st.integers(-5, 10**20), st.just("1.15"), SCALARS)


def maybe(valid: st.SearchStrategy, rate: int = 4) -> st.SearchStrategy:
    """Mostly a valid value, sometimes anything."""
    return st.one_of(*([valid] * rate), JSON)


def with_holes(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """A mapping with some keys dropped and some unknown keys added."""
    return st.tuples(strategy, st.sets(st.text(max_size=12), max_size=2), st.dictionaries(st.text(max_size=8), JSON,
                                                                                         max_size=2)) \
        .map(lambda t: {**{k: v for k, v in t[0].items() if k not in t[1]}, **t[2]}
             if isinstance(t[0], dict) else t[0])


ITEM = with_holes(st.fixed_dictionaries({
    "sku": maybe(st.text(min_size=0, max_size=12)),
    "names": maybe(st.dictionaries(st.sampled_from(["en", "fr", "de", ""]) | st.text(max_size=3),
                                   st.lists(NAMES, max_size=3) | JSON, max_size=3)),
    "unit_price": PRICES,
    "max_quantity": maybe(st.integers(1, 20) | st.integers(-3, 2**40)),
}))
VALID_ITEM = st.fixed_dictionaries({
    "sku": st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=12),
    "names": st.dictionaries(st.sampled_from(["en", "fr"]), st.lists(st.text(min_size=1, max_size=20), min_size=1,
                                                                     max_size=3), min_size=1),
    "unit_price": st.floats(0, 1000).map(lambda x: round(x, 2)),
    "max_quantity": st.integers(1, 50),
})
VALID_CATALOGUES = st.fixed_dictionaries({
    "schema": st.just("reorder.catalog/1"),
    "version": st.integers(0, 2**31),
    "currency": st.sampled_from(["EUR", "USD", "GBP"]),
    "items": st.lists(VALID_ITEM, max_size=8, unique_by=lambda i: i["sku"]),
})
CATALOGUES = st.one_of(
    VALID_CATALOGUES,  # well formed, odd names and prices included
    JSON,
    with_holes(st.fixed_dictionaries({
        "schema": maybe(st.just("reorder.catalog/1"), rate=8),
        "version": maybe(st.integers(-2, 2**64)),
        "currency": maybe(st.sampled_from(["EUR", "USD", "eur", "EURO", ""]) | st.text(max_size=4)),
        "items": maybe(st.lists(ITEM | VALID_ITEM, max_size=6)),
    })),
)


# -- a loop with real outbox, delivery, catalogue and intent parts ------------------------------------
class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    """A Loop on a real outbox holding three orders: one unsent, one sent, one sent and answered."""
    folder = tmp_path_factory.mktemp("fuzz")
    s = settings_for("mqtt://127.0.0.1:1883", folder / "outbox.sqlite3")
    outbox = Outbox(folder / "outbox.sqlite3")
    catalogue = Catalogue.load(CATALOG)
    topics = Topics(s.mqtt.topic_prefix, s.device.id)
    events: list[Any] = []
    quiet = _Quiet()
    loop = build_loop(s, wake=_Deaf(), endpointer=None, recognizer=_NoRecognizer(),  # type: ignore[arg-type]
                      delivery=Delivery(outbox, RecordingPublisher(), topics), light=quiet, speaker=quiet,
                      emit=events.append, catalogue=catalogue, inbox=queue.SimpleQueue())
    orders = [random_order(catalogue, s.device.id) for _ in range(3)]
    for order in orders:
        outbox.add(order)
    outbox.mark_sent(orders[1]["order_id"])
    outbox.mark_sent(orders[2]["order_id"])
    outbox.record_status(orders[2]["order_id"], "accepted")
    records = Records()
    logging.getLogger("device").addHandler(records)
    yield loop, events, records, [o["order_id"] for o in orders], catalogue
    logging.getLogger("device").removeHandler(records)
    outbox.close()


def rows(path: Path) -> dict[str, tuple]:
    db = sqlite3.connect(path)
    try:
        return {r[0]: r[1:] for r in db.execute("SELECT order_id, payload, sent_at, status, reason, withdrawn "
                                                  "FROM orders")}
    finally:
        db.close()


def deliver(device, topic: str, raw: bytes) -> tuple[list, list[logging.LogRecord]]:
    """Decode one broker message as the MQTT adapter does, post it to the loop if valid and turn the
    loop once; the events and log records it caused."""
    loop, events, records, _, _ = device
    for _ in range(100):  # a failed example may have left the red light on: let it pass
        if loop.state is not State.ERROR:
            break
        loop.step(SILENT_FRAME)
    events.clear()
    records.records.clear()
    item = decode_message(loop.topics, topic, raw)
    if item is not None:
        loop.post(item)
    loop.step(SILENT_FRAME)
    assert loop.inbox.empty()
    crashes = [e for e in events if e.name == "error"]
    assert not crashes, f"the loop failed on {raw[:200]!r}: {crashes}"
    assert loop.state is not State.ERROR
    return list(events), list(records.records)


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()  # NaN and Infinity come out as Python writes them


class NotJson(ValueError):
    pass


def _refuse(name: str) -> None:
    raise NotJson(name)


def strict_json(raw: bytes) -> Any:
    """What JSON itself allows: Python's NaN and Infinity are not JSON, anywhere in a payload."""
    return json.loads(raw, parse_constant=_refuse)


def ignored_out_loud(records: list[logging.LogRecord]) -> bool:
    return any(r.levelno >= logging.WARNING and "ignored" in r.getMessage() for r in records)


# -- catalogues -------------------------------------------------------------------------------------
@FUZZ
@given(payload=CATALOGUES)
@example(payload=json.loads(CATALOG.read_text()))
@example(payload={"schema": "reorder.catalog/1", "version": 2, "currency": "EUR", "items": []})
@example(payload={"schema": "reorder.catalog/1", "version": 3, "currency": "EUR", "items": [], "note": math.nan})
def test_catalogue_payloads_are_accepted_or_rejected_out_loud(device, payload):
    loop, _, _, _, base = device
    path = loop.outbox.path
    before_rows, before = rows(path), loop.catalogue
    try:
        expected: Catalogue | None = Catalogue.from_payload(strict_json(encode(payload)), source="fuzz")
    except NotJson:
        expected = None
    except CatalogueError as exc:
        assert str(exc) and "\n" not in str(exc)
        expected = None
    if expected is not None:  # a known bug, pinned below: names that are only punctuation
        assume(all(normalise(n, "en") for item in expected.items for n in item.names_for("en")))
    _, records = deliver(device, loop.topics.catalog, encode(payload))
    if expected is None:
        STATS["catalogue rejected"] += 1
        assert loop.catalogue == before, "a rejected catalogue replaced the current one"
        assert ignored_out_loud(records), "a rejected catalogue left no log line"
    else:
        STATS["catalogue accepted"] += 1
        assert loop.catalogue == expected
        loop.set_catalogue(base)
    assert rows(path) == before_rows


# -- order-status answers ---------------------------------------------------------------------------
def statuses(known: list[str]) -> st.SearchStrategy:
    return st.one_of(
        st.fixed_dictionaries({  # well formed, about one of the outbox's orders
            "schema": st.just("reorder.order-status/1"), "order_id": st.sampled_from(known),
            "status": st.sampled_from(["accepted", "rejected", "duplicate", "cancelled", "shipped"]),
        }, optional={"reason": st.text(max_size=30), "eta": st.text(max_size=30), "extra": JSON}),
        JSON,
        with_holes(st.fixed_dictionaries({
            "schema": maybe(st.just("reorder.order-status/1"), rate=8),
            "order_id": maybe(st.sampled_from(known) | st.text(max_size=40) | st.uuids().map(str), rate=6),
            "status": maybe(st.sampled_from(["accepted", "rejected", "duplicate", "cancelled", "shipped"]), rate=6),
        }, optional={"reason": maybe(st.text(max_size=30)), "eta": maybe(st.text(max_size=30))})),
    )


KNOWN = ["order-a", "order-b", "order-c"]  # replaced by the fixture's ids inside the test


@FUZZ
@given(payload=statuses(KNOWN))
@example(payload={"schema": "reorder.order-status/1", "order_id": "order-b", "status": "accepted"})
@example(payload={"schema": "reorder.order-status/1", "order_id": "order-a", "status": "shipped", "eta": "soon"})
@example(payload={"schema": "reorder.order-status/1", "order_id": "order-c", "status": "accepted", "extra": math.inf})
def test_order_status_payloads_are_applied_or_ignored_out_loud(device, payload):
    loop, _, _, ids, _ = device
    if isinstance(payload, dict) and payload.get("order_id") in KNOWN:  # one of the outbox's own orders
        payload = {**payload, "order_id": ids[KNOWN.index(payload["order_id"])]}
    path = loop.outbox.path
    before = rows(path)
    events, records = deliver(device, loop.topics.order_status, encode(payload))
    after = rows(path)
    try:
        decoded = strict_json(encode(payload))
    except NotJson:  # NaN or Infinity somewhere, even in a field the device does not read
        decoded = None
    valid = decoded is not None and schemas.problem(decoded, schemas.ORDER_STATUS) is None
    if valid and decoded["order_id"] in before:
        STATS["status applied"] += 1
        order_id = decoded["order_id"]
        assert [e.name for e in events if e.name == "status"] == ["status"]
        first_answer = before[order_id][2] if decoded["status"] == "duplicate" else None
        assert after[order_id][2] == (first_answer or decoded["status"])  # a duplicate keeps the first answer
        assert after[order_id][:2] == before[order_id][:2]  # payload and sent_at untouched
        if decoded["status"] not in ("cancelled", "rejected"):  # the store's answer may withdraw it
            assert after[order_id][4] == before[order_id][4]
        assert {k: v for k, v in after.items() if k != order_id} == \
            {k: v for k, v in before.items() if k != order_id}
    else:
        STATS["status ignored"] += 1
        assert not [e for e in events if e.name == "status"]
        assert ignored_out_loud(records), "an ignored order-status left no log line"
        assert after == before


@FUZZ
@given(raw=st.binary(max_size=200) | st.sampled_from([b"", b"null", b"[]", b"{", b"\xff\xfe", b"1e999999",
                                                      b"[" * 500 + b"]" * 500]),
       leaf=st.sampled_from(["catalog", "order-status"]))
def test_bytes_that_are_not_json_are_ignored_out_loud(device, raw, leaf):
    loop, _, _, _, _ = device
    try:
        decoded = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        decoded = None
    assume(decoded is None or not isinstance(decoded, dict))
    before, catalogue = rows(loop.outbox.path), loop.catalogue
    _, records = deliver(device, f"{loop.topics.prefix}/devices/{loop.topics.device_id}/{leaf}", raw)
    STATS["raw bytes ignored"] += 1
    assert ignored_out_loud(records), f"{raw[:50]!r} on {leaf} left no log line"
    assert rows(loop.outbox.path) == before and loop.catalogue == catalogue


# -- config files -----------------------------------------------------------------------------------
VALUES = {
    bool: st.booleans(),
    int: st.integers(-5, 5000) | st.integers(-2**70, 2**70),
    float: st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10, 1000),
    str: st.text(max_size=30) | st.sampled_from(["mqtt://127.0.0.1:1883", "mqtts://broker.example:8883",
                                                 "mqtt://host:99999", "mqtt://:1", "reorder/v1",
                                                 "a/#", "en-US", "fr-FR", "mock", "openwakeword", "/nonexistent"]),
}


def _value_for(section: str, key: str) -> st.SearchStrategy:
    hint = config._HINTS[section][key]
    choices = getattr(hint, "__args__", None)
    if getattr(hint, "__origin__", None) is not None and choices:  # Literal
        return maybe(st.sampled_from(choices), rate=3)
    return maybe(VALUES.get(hint, JSON), rate=3)


SECTION = st.sampled_from(sorted(config.SECTIONS)).flatmap(
    lambda name: st.tuples(st.just(name), st.lists(
        st.sampled_from(sorted(config._HINTS[name])).flatmap(
            lambda key: st.tuples(st.just(key), _value_for(name, key))),
        max_size=4, unique_by=lambda kv: kv[0]).map(dict)))
CONFIGS = st.one_of(
    st.lists(SECTION, max_size=4).map(dict),
    st.dictionaries(st.text(max_size=10), JSON, max_size=3),
    st.lists(SECTION, max_size=3).map(dict).flatmap(
        lambda d: st.dictionaries(st.sampled_from(sorted(config.SECTIONS)), st.dictionaries(st.text(max_size=8), JSON,
                                                                                          max_size=2), max_size=1)
        .map(lambda extra: {**d, **extra})),
)


@FUZZ
@given(data=CONFIGS)
@example(data={})
@example(data={"mqtt": {"keepalive_seconds": float("nan")}})
def test_config_mappings_are_accepted_or_refused_with_one_line(data):
    try:
        s = config.from_mapping(data, "fuzz.toml")
    except ReorderError as exc:
        STATS["config refused"] += 1
        message = str(exc)
        assert message.strip() and "fuzz.toml" in message, message
        # one line, unless the culprit's own name has a line break (config quotes names as given)
        assert "\n" not in message or "\n" in repr(data).replace("\\n", "\n"), message
        return
    STATS["config accepted"] += 1
    for value in (s.confirmation.max_order_total, *map(s.wake.threshold_of, s.wake.words()),
                  s.recognizer.min_confidence):
        assert not math.isnan(value), "NaN accepted as a setting"
    try:  # what the device does next with an accepted config: build its MQTT link
        MqttLink(s.mqtt, s.device.id, lambda item: None)
    except ReorderError as exc:
        assert str(exc) and "\n" not in str(exc)


# -- found by these tests and fixed -----------------------------------------------------------------------
def test_deeply_nested_json_is_ignored_out_loud(device):
    loop = device[0]
    deliver(device, loop.topics.catalog, b"[" * 100_000 + b"]" * 100_000)


def test_a_catalogue_name_of_punctuation_only_is_taken_or_refused_out_loud(device):
    loop, _, records, _, base = device
    odd = {"schema": "reorder.catalog/1", "version": 99, "currency": "EUR",
           "items": [{"sku": "X-1", "names": {"en": ["-"]}, "unit_price": 1.0, "max_quantity": 2}]}
    try:
        deliver(device, loop.topics.catalog, encode(odd))
    finally:
        loop.set_catalogue(base)


@pytest.mark.parametrize("price", [float("nan"), float("inf")])
def test_catalogue_prices_must_be_finite(price):
    payload = {"schema": "reorder.catalog/1", "version": 1, "currency": "EUR",
               "items": [{"sku": "MILK-1L", "names": {"en": ["milk"]}, "unit_price": price, "max_quantity": 2}]}
    with pytest.raises(CatalogueError):
        Catalogue.from_json(json.dumps(payload))


def test_a_broker_url_urlsplit_cannot_read_is_a_config_error():
    with pytest.raises(ReorderError):
        config.from_mapping({"mqtt": {"broker": "mqtt://[::1"}}, "fuzz.toml")


@pytest.mark.parametrize("section,key", [("confirmation", "voice_max_total"), ("wake", "threshold")])
def test_config_floats_must_be_numbers(section, key):
    with pytest.raises(ReorderError):
        config.from_mapping({section: {key: float("nan")}}, "fuzz.toml")
