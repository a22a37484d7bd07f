"""Adapters facing the network: the MQTT connection and the household broker mirror."""
