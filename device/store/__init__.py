"""The reference store backend (CONTRACT §3): orders in over MQTT, each applied once, answers out."""

from .backend import StoreBackend
from .db import OrderBook

__all__ = ["OrderBook", "StoreBackend"]
