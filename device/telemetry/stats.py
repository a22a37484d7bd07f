"""Fleet counters: a fold over the loop's events, since boot and since install — never a word heard.

What is counted (each a whole number unless said):

    wakes            wake words detected           push_to_talk  listening started by a press
    requests         requests decoded (an intent)  no_speech     listening ended with nobody speaking
    false_wakes      wakes followed by no speech (an estimate of wakes nobody meant)
    refusals         requests refused; refusals_by_reason {reason: n}, reasons as in CONTRACT §4
    readbacks        items and total read back     confirmations orders confirmed (button or voice)
    cancellations    read-backs cancelled or orders undone; undos: of those, orders undone
    timeouts         read-backs nobody confirmed in time
    orders_queued    orders on disk                orders_published  orders the broker acknowledged
    store_accepted / store_rejected / store_duplicate / store_cancelled   the store's answers
    errors           error events
    decodes, decode_ms_total   recogniser runs and the wall-clock milliseconds the loop waited for them (mean =
                     total / decodes; a recognition started early (recognition.early) counts what was left)

Only event names and fixed reason words are read: a transcript, an intent's items, a read-back's
text never reach a counter, and a reason the device does not know is counted as "other".
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.events import (
    Cancelled,
    Confirmed,
    Error,
    Event,
    IntentEvent,
    Prompt,
    Published,
    Queued,
    Rejected,
    StateChanged,
    Status,
    Timeout,
    Wake,
)
from device.recognition.protocol import Recognition

log = logging.getLogger(__name__)

COUNTERS = ("wakes", "push_to_talk", "requests", "no_speech", "false_wakes", "refusals", "readbacks",
            "confirmations", "cancellations", "undos", "timeouts", "orders_queued", "orders_published",
            "store_accepted", "store_rejected", "store_duplicate", "store_cancelled", "errors", "decodes")
REASONS = ("over-max-quantity", "not-in-catalog", "low-confidence", "daily-limit", "over-total-cap", "repeat-guard",
           "outbox-full", "no-catalog", "no-usual")
"""Refusal reasons counted by name (CONTRACT §4); any other is counted as "other"."""
STORE_ANSWERS = ("accepted", "rejected", "duplicate", "cancelled")


class Tally:
    """One set of counters: a fold over events (observe) and recogniser timings (decoded)."""

    def __init__(self, saved: dict[str, Any] | None = None) -> None:
        saved = saved or {}
        self.counts: dict[str, int] = {name: _whole(saved.get(name)) for name in COUNTERS}
        by_reason = saved.get("refusals_by_reason")
        self.by_reason: dict[str, int] = {
            r: _whole(n) for r, n in (by_reason.items() if isinstance(by_reason, dict) else ())
            if r in REASONS or r == "other"}
        total = saved.get("decode_ms_total")
        self.decode_ms_total = float(total) if isinstance(total, (int, float)) and total >= 0 else 0.0
        self._woke = False
        self._listening_after_wake = False

    def observe(self, event: Event) -> bool:
        """Count one event; True when a counter moved."""
        c = self.counts
        if isinstance(event, Wake):
            self._woke = True
            c["wakes"] += 1
        elif isinstance(event, StateChanged):
            if event.state != "listening":
                return False
            self._listening_after_wake, self._woke = self._woke, False
            if self._listening_after_wake:
                return False
            c["push_to_talk"] += 1
        elif isinstance(event, IntentEvent):
            self._listening_after_wake = False
            c["requests"] += 1
        elif isinstance(event, Timeout):
            if event.during == "listening":
                c["no_speech"] += 1
                if self._listening_after_wake:
                    c["false_wakes"] += 1
                self._listening_after_wake = False
            else:
                c["timeouts"] += 1
        elif isinstance(event, Rejected):
            c["refusals"] += 1
            reason = event.reason if event.reason in REASONS else "other"
            self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
        elif isinstance(event, Prompt):
            c["readbacks"] += 1
        elif isinstance(event, Confirmed):
            c["confirmations"] += 1
        elif isinstance(event, Cancelled):
            c["cancellations"] += 1
            if event.order_id:
                c["undos"] += 1
        elif isinstance(event, Queued):
            c["orders_queued"] += 1
        elif isinstance(event, Published):
            c["orders_published"] += 1
        elif isinstance(event, Status):
            if event.status not in STORE_ANSWERS:
                return False
            c[f"store_{event.status}"] += 1
        elif isinstance(event, Error):
            c["errors"] += 1
        else:
            return False
        return True

    def decoded(self, milliseconds: float) -> None:
        """One recogniser run took this long (wall clock)."""
        self.counts["decodes"] += 1
        self.decode_ms_total += max(0.0, milliseconds)

    @property
    def mean_decode_ms(self) -> float | None:
        """Mean recogniser time per request, or None before the first."""
        n = self.counts["decodes"]
        return round(self.decode_ms_total / n, 1) if n else None

    def to_dict(self) -> dict[str, Any]:
        """The counters as published (and saved: with decode_ms_total)."""
        return {**self.counts, "refusals_by_reason": dict(sorted(self.by_reason.items())),
                "mean_decode_ms": self.mean_decode_ms, "decode_ms_total": round(self.decode_ms_total, 1)}


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


class Stats:
    """Counters since boot and since install; `version` grows with every change (publish and save compare it)."""

    def __init__(self, engine: str, installed: dict[str, Any] | None = None,
                 booted_at: str = "", monotonic: Callable[[], float] = time.monotonic) -> None:
        installed = installed or {}
        self.engine = engine
        self.boot = Tally()
        self.install = Tally(installed.get("counters") if isinstance(installed.get("counters"), dict) else None)
        self.installed_at = installed.get("installed_at") if isinstance(installed.get("installed_at"), str) \
            else booted_at
        self.booted_at = booted_at
        self.last_order_status: str | None = installed.get("last_order_status") \
            if installed.get("last_order_status") in STORE_ANSWERS else None
        self._monotonic = monotonic
        self._started = monotonic()
        self.version = 1

    def observe(self, event: Event) -> None:
        """Fold one event into both tallies."""
        moved = self.boot.observe(event)
        self.install.observe(event)
        if isinstance(event, Status) and event.status in STORE_ANSWERS:
            self.last_order_status = event.status
        if moved:
            self.version += 1

    def decoded(self, milliseconds: float) -> None:
        """One recogniser run took this long."""
        self.boot.decoded(milliseconds)
        self.install.decoded(milliseconds)
        self.version += 1

    def uptime_seconds(self) -> int:
        """Seconds since this process started counting."""
        return int(self._monotonic() - self._started)

    def saved(self) -> dict[str, Any]:
        """What the stats file keeps between boots."""
        return {"schema": "reorder.stats-file/1", "installed_at": self.installed_at,
                "last_order_status": self.last_order_status, "counters": self.install.to_dict()}


def stats_payload(stats: Stats, device_id: str, firmware: str, at: str, outbox_depth: int,
                  outbox_free_bytes: int | None) -> dict[str, Any]:
    """The retained `reorder.stats/1` message."""
    def public(tally: Tally) -> dict[str, Any]:
        out = tally.to_dict()
        del out["decode_ms_total"]
        return out

    return {"schema": "reorder.stats/1", "device_id": device_id, "firmware": firmware, "at": at,
            "booted_at": stats.booted_at, "installed_at": stats.installed_at, "uptime_seconds": stats.uptime_seconds(),
            "recognizer": stats.engine, "outbox_depth": outbox_depth, "outbox_free_bytes": outbox_free_bytes,
            "last_order_status": stats.last_order_status, "since_boot": public(stats.boot),
            "since_install": public(stats.install)}


class StatsFile:
    """The since-install counters on disk (JSON, replaced atomically); a bad file starts again, logged."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any]:
        """The saved counters, or {} when there are none (or they cannot be read)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("counters file %s ignored (%s); counting since install starts again", self.path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def save(self, data: dict[str, Any]) -> None:
        """Write the counters (a failure is logged: counters never stop the device)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, separators=(",", ":"))
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("counters file %s not written (%s)", self.path, exc)


class TimedRecognizer:
    """A recogniser whose every run is timed into `on_decode(milliseconds)` (wall clock: a cost, not audio time)."""

    def __init__(self, inner: Any, on_decode: Callable[[float], None],
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.inner, self._on_decode, self._clock = inner, on_decode, clock
        self.name: str = getattr(inner, "name", type(inner).__name__)

    def set_grammar(self, grammar: Any) -> list[str]:
        """As the wrapped recogniser."""
        return self.inner.set_grammar(grammar)

    def recognize(self, audio: bytes) -> Recognition:
        """As the wrapped recogniser, timed."""
        start = self._clock()
        try:
            return self.inner.recognize(audio)
        finally:
            self._on_decode((self._clock() - start) * 1000.0)

    def __getattr__(self, name: str) -> Any:  # anything else the wrapped recogniser offers
        return getattr(self.inner, name)


def _size(n: int | None) -> str:
    if n is None:
        return "? free"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit} free"
    return f"{n} B free"


def _span(seconds: int) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds // 60} min"


def counts_line(c: dict[str, Any]) -> str:
    """One period's counters in words: "4 wakes (1 false), 3 requests, 1 refused (over-max-quantity 1), ..."."""
    refused = f"{c['refusals']} refused"
    if c.get("refusals_by_reason"):
        refused += " (" + ", ".join(f"{r} {n}" for r, n in c["refusals_by_reason"].items()) + ")"
    return (f"{c['wakes']} wakes ({c['false_wakes']} false), {c['push_to_talk']} presses to talk, "
            f"{c['requests']} requests, {refused}, {c['readbacks']} read back, {c['confirmations']} confirmed, "
            f"{c['timeouts']} timed out, {c['cancellations']} cancelled; store {c['store_accepted']} accepted, "
            f"{c['store_rejected']} rejected")


def summary(payload: dict[str, Any]) -> str:
    """A `reorder.stats/1` message in one line (the store backend's log, the doctor)."""
    boot = payload["since_boot"]
    mean = boot.get("mean_decode_ms")
    decode = f"{mean:.0f} ms per request" if isinstance(mean, (int, float)) else "no request yet"
    return (f"{payload['recognizer']} {decode}, up {_span(payload['uptime_seconds'])}, outbox "
            f"{payload['outbox_depth']} waiting, {_size(payload['outbox_free_bytes'])}; since boot "
            f"{counts_line(boot)}; since install {payload['since_install']['wakes']} wakes, "
            f"{payload['since_install']['store_accepted']} orders accepted")
