"""Small stand-ins at the stages' seams, shared by the unit tests: a publisher that records what it is given,
a speaker that takes a fixed time. Real adapters are tested against real libraries elsewhere."""

from __future__ import annotations


class Publisher:
    """A publisher (stages.delivery.Publisher) that takes every message, ids from 1, and keeps (topic, payload)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def publish(self, topic: str, payload: dict, retain: bool = False) -> int:
        self.sent.append((topic, payload))
        return len(self.sent)


class Speaker:
    """A speaker (stages.voice.Speaker): words take `say_seconds`, sounds `cue_seconds`; keeps what it played."""

    def __init__(self, say_seconds: float = 2.0, cue_seconds: float = 0.5) -> None:
        self.say_seconds, self.cue_seconds = say_seconds, cue_seconds
        self.said: list[str] = []

    def say(self, text: str, locale: str) -> float:
        self.said.append(f"{locale}:{text}")
        return self.say_seconds

    def cue(self, name: str) -> float:
        self.said.append(f"cue:{name}")
        return self.cue_seconds
