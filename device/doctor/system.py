"""Doctor checks of the machine: the config file, the clock, the outbox file and the GPIO pins."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from device.config import Settings, load
from device.doctor.result import Result, failed, from_error, in_config, passed, warned
from device.errors import ConfigError, OutboxError
from device.orders.outbox import Outbox

log = logging.getLogger(__name__)

MIN_YEAR = 2024
"""A clock before this year has never been set (no RTC, no NTP yet)."""
AS_SERVICE_USER = "run the doctor as the service's user (sudo -u reorder reorder doctor --config FILE)"


def load_config(path: str | Path | None) -> tuple[Result, Settings | None]:
    """The config check and, when it passes, the settings the other checks use."""
    name = "config"
    try:
        settings = load(path)
    except ConfigError as exc:
        return from_error(name, exc, "fix it (template: firmware_config/device.example.toml)"), None
    detail = f"{settings.source} is valid" if settings.source != "built-in defaults" else \
        "no config file: using the built-in defaults (give --config or install /etc/reorder/device.toml)"
    return passed(name, f"{detail}; device {settings.device.id}, {settings.device.locale}"), settings


def check_config(path: str | Path | None) -> Result:
    """The config file (or $REORDER_CONFIG, /etc/reorder/device.toml, defaults) loads and validates."""
    return load_config(path)[0]


def ntp_synchronised(timeout: float = 3.0) -> bool | None:
    """systemd's NTPSynchronized (True/False), or None when timedatectl cannot tell (no systemd)."""
    binary = shutil.which("timedatectl")
    if not binary:
        return None
    try:
        out = subprocess.run([binary, "show", "-p", "NTPSynchronized", "--value"], capture_output=True, text=True,
                             timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    if out.returncode != 0 or value not in ("yes", "no"):
        return None
    return value == "yes"


def check_clock(settings: Settings, now: datetime | None = None,
                ntp: Callable[[], bool | None] = ntp_synchronised) -> Result:
    """The clock is after MIN_YEAR and, where timedatectl says, NTP-synchronised (a failure with mqtts://)."""
    name = "clock"
    now = now or datetime.now(timezone.utc)
    shown = now.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    fix = "connect the network and enable NTP (sudo timedatectl set-ntp true)"
    if now.year < MIN_YEAR:
        return failed(name, f"system time is {shown}, which was never set", f"{fix}; TLS and order times need it")
    synced = ntp()
    if synced is None:
        return passed(name, f"{shown} (NTP status unknown: timedatectl is not available)")
    if synced:
        return passed(name, f"{shown}, NTP synchronised")
    if settings.mqtt.broker.startswith("mqtts://"):
        return failed(name, f"{shown} but not NTP-synchronised: TLS certificates may be refused", fix)
    return warned(name, f"{shown} but not NTP-synchronised (order times may be off)", fix)


def check_outbox(settings: Settings) -> Result:
    """The outbox opens and is writable; reports how many orders wait to be sent."""
    name = "outbox"
    st = settings.storage
    path = st.outbox_path()
    existed = path.exists()
    try:
        box = Outbox(path, st.outbox_capacity)
    except OutboxError as exc:
        return from_error(name, exc, AS_SERVICE_USER)
    try:
        depth, recovered = box.depth(), box.recovered_from
    finally:
        box.close()
    for where in (path, path.parent):  # SQLite's WAL needs the folder writable too
        if not os.access(where, os.W_OK):
            return failed(name, f"{where} is not writable", f"{AS_SERVICE_USER}, or fix its owner and mode")
    unsent = f"{depth} unsent order{'s' if depth != 1 else ''}"
    if depth >= st.outbox_capacity:
        return failed(name, f"{path} is full ({unsent}); new orders are refused",
                      "fix the broker connection (see the broker line): they are sent once it is reachable")
    if recovered is not None:
        return warned(name, f"{path} was corrupt: moved to {recovered} and a new one started ({unsent})",
                      "its orders were not sent; inspect it with sqlite3")
    created = "" if existed else " (created)"
    return passed(name, f"{path}{created}: {unsent}" + (", sent when the broker is reachable" if depth else ""))


def check_gpio(settings: Settings) -> Result:
    """The pin factory starts and the configured button and LED pins can be claimed (then released)."""
    name = "GPIO"
    from device.adapters.hardware.gpio import GpioPanel, default_pin_factory, make_pin_factory

    g = settings.gpio
    try:
        if g.pin_factory:
            factory = make_pin_factory(g.pin_factory)
        else:
            factory, why = default_pin_factory()
            if factory is None:
                return failed(name, f"no GPIO pin factory works here ({why})",
                              "on a Pi: sudo apt-get install python3-lgpio; elsewhere set [gpio] pin_factory = "
                              "\"mock\"")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                GpioPanel(g, lambda _item: None, pin_factory=factory).close()
        finally:
            if g.pin_factory and factory is not None:  # ours to close; gpiozero's default is shared
                factory.close()
    except ConfigError as exc:
        return from_error(name, exc, f"check [gpio] {in_config(settings)}")
    except Exception as exc:  # a pin library's own error (e.g. lgpio's "GPIO busy") that gpiozero lets through
        log.debug("GPIO check failed", exc_info=True)
        return failed(name, f"the pins cannot be claimed ({type(exc).__name__}: {exc})",
                      f"stop what holds them (sudo systemctl stop reorder), or check [gpio] {in_config(settings)}")
    pins = [f"confirm {g.confirm_button}"]
    if g.mute_button:
        pins.append(f"mute {g.mute_button}")
    leds = "/".join(str(p) for p in (g.red, g.green, g.blue) if p)
    if leds:
        pins.append(f"{g.led} LED {leds}")
    return passed(name, f"{type(factory).__name__}: pins {', '.join(pins)} claimed and released")
