"""adapters.mqtt.decode_message: broker bytes become the loop's typed inputs, or a log line and nothing."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from device.adapters.network.mqtt import decode_message
from device.contract.catalogue import Catalogue
from device.contract.inputs import CatalogueArrived, OrderStatus
from device.contract.topics import Topics

CATALOG = Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json"
TOPICS = Topics("reorder/v1", "hall")


def test_a_valid_catalogue_arrives_as_a_catalogue():
    item = decode_message(TOPICS, TOPICS.catalog, CATALOG.read_bytes())
    assert item == CatalogueArrived(Catalogue.load(CATALOG))


@pytest.mark.parametrize("payload,expected", [
    ({"schema": "reorder.order-status/1", "order_id": "o-1", "status": "accepted"}, OrderStatus("o-1", "accepted")),
    ({"schema": "reorder.order-status/1", "order_id": "o-1", "status": "rejected", "reason": "out-of-stock"},
     OrderStatus("o-1", "rejected", "out-of-stock")),
])
def test_a_valid_order_status_arrives_typed(payload, expected):
    assert decode_message(TOPICS, TOPICS.order_status, json.dumps(payload).encode()) == expected


@pytest.mark.parametrize("topic,raw,logged", [
    (TOPICS.catalog, b"{not json", "not JSON"),
    (TOPICS.catalog, b'{"schema": "reorder.catalog/1", "version": NaN}', "not JSON"),
    (TOPICS.catalog, b"\xff\xfe", "not JSON"),
    (TOPICS.catalog, b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    (TOPICS.catalog, json.dumps({"schema": "reorder.catalog/1", "version": "x"}).encode(), "catalogue"),
    (TOPICS.order_status, json.dumps({"schema": "reorder.order-status/1", "order_id": "o-1"}).encode(),
     "order-status"),
    (TOPICS.order_status, b'{"schema": "reorder.order-status/1", "order_id": "o", "status": "accepted", "x": Infinity}',
     "not JSON"),
    ("reorder/v1/devices/other/catalog", CATALOG.read_bytes(), "not a topic of this device"),
])
def test_a_bad_message_goes_no_further_and_says_so(topic, raw, logged, caplog):
    with caplog.at_level(logging.WARNING, logger="device.adapters.network.mqtt"):
        assert decode_message(TOPICS, topic, raw) is None
    [record] = caplog.records
    assert "ignored" in record.getMessage() and logged in record.getMessage() and "\n" not in record.getMessage()
