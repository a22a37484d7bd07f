"""The doctor's counters line: what the device has been doing, from its retained stats or its counters file.

The retained `stats` on the broker (the last run's, since boot and since install) is the fuller
picture; without a broker, the since-install counters the device keeps next to its outbox. Many
wakes nobody followed warns: the wake word fires on the room's noise or TV.
"""

from __future__ import annotations

import time

from device.config import Settings
from device.contract import schemas
from device.contract.inputs import Message
from device.contract.topics import Topics
from device.doctor.result import Result, passed, warned
from device.telemetry.stats import StatsFile, counts_line, summary

STATS_TIMEOUT = 3.0
"""Seconds to wait for the retained stats after subscribing."""
FALSE_WAKES_WARN = (10, 0.5)
"""At least this many wakes, and more than this share of them false, warns."""


def _retained(settings: Settings, timeout: float) -> dict | None:
    from device.doctor.network import BrokerProblem, _next, connect

    topic = Topics(settings.mqtt.topic_prefix, settings.device.id).stats
    try:
        link, inbox = connect(settings, (topic,), timeout)
    except BrokerProblem:
        return None
    try:
        message = _next(inbox, (Message,), time.monotonic() + timeout)
    finally:
        link.stop()
    if not isinstance(message, Message):
        return None
    try:
        payload = schemas.loads(message.payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if schemas.problem(payload, schemas.STATS) is None else None


def check_counters(settings: Settings, ask_broker: bool = True, timeout: float = STATS_TIMEOUT) -> Result:
    """The device's counters in one line; warns on many false wakes."""
    name = "counters"
    file = StatsFile(settings.storage.outbox_path().with_name("stats.json"))
    stats = _retained(settings, timeout) if ask_broker else None
    if stats is not None:
        detail, install = f"last run: {summary(stats)} (at {stats['at']})", stats["since_install"]
    else:
        saved = file.load()
        counters = saved.get("counters")
        install = {k: v for k, v in counters.items() if k != "decode_ms_total"} if isinstance(counters, dict) else None
        if install is None or schemas.problem(install, schemas.STATS["properties"]["since_install"]):
            return passed(name, f"none yet (the device writes {file.path} after its first request)")
        detail = f"since install ({saved.get('installed_at', '?')}): {counts_line(install)}"
    wakes, false = install["wakes"], install["false_wakes"]
    least, share = FALSE_WAKES_WARN
    if wakes >= least and false > share * wakes:
        return warned(name, f"{detail}; {false} of {wakes} wakes were followed by no speech",
                      "the wake word fires on noise or the TV: raise [wake] threshold or move the speaker")
    return passed(name, detail)
