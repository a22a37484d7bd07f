"""An offline voice re-order speaker: wake word, recognition and understanding on the device."""

__version__ = "0.1.0"
