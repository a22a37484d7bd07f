"""The reference store backend (CONTRACT §3): orders in over MQTT, each applied once, answers out."""

from device.store.backend import StoreBackend
from device.store.db import OrderBook

__all__ = ["OrderBook", "StoreBackend"]
