"""Pure pipeline stages, in the order audio flows: audio source → wake word → endpointer →
recogniser → intent → confirmation → outbox → delivery. None of them imports a third-party
audio, GPIO or MQTT library; the adapters package does."""
