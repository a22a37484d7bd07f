"""A confirmed order: its payload, its life after the press, the outbox on disk and delivery to the broker."""
