"""Run one recording through a device built in-process (real engines, mock pins, a real broker)."""

from __future__ import annotations

import json
from pathlib import Path

from device import config
from device.adapters.audio.wav_source import WavSource
from device.app import build
from device.runner import PressPlan, run_replay


def run(tmp_path: Path, broker_url: str, wav: Path, catalogue: dict | None, *, engine: str, device_id: str,
        locale: str = "en-US", presses=(0.2,), actions=(), device_actions=(), recognizer=None) -> list[dict]:
    """The events of `wav` replayed with push-to-talk at 0.2 s (by default); the catalogue from a file when given,
    else from the broker. `device_actions` are (seconds, callable(device)) pairs, run like `actions`;
    `recognizer` other [recognizer] settings."""
    data = {"device": {"id": device_id, "locale": locale}, "gpio": {"pin_factory": "mock"},
            "mqtt": {"broker": broker_url}, "recognizer": {"engine": engine, **(recognizer or {})},
            "storage": {"outbox": str(tmp_path / "outbox.sqlite3"), "catalog_cache": str(tmp_path / "cache.json")}}
    if catalogue is not None:
        path = tmp_path / "catalog.json"
        path.write_text(json.dumps(catalogue), encoding="utf-8")
        data["storage"]["catalog"] = str(path)
    events: list[dict] = []
    device = build(config.from_mapping(data, "test"), WavSource(wav), lambda e: events.append(e.to_dict()),
                   play_audio=False)
    try:
        bound = [(t, lambda f=f: f(device)) for t, f in device_actions]
        run_replay(device, PressPlan(short=list(presses)), actions=[*actions, *bound])
    finally:
        device.close()
    return events


def of(events: list[dict], name: str) -> list[dict]:
    """The events of one kind."""
    return [e for e in events if e["event"] == name]
