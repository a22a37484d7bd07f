"""Adapters: the only modules that import third-party audio, speech, GPIO and MQTT libraries."""
