"""systemd's side of a Type=notify service: the notification socket (sd_notify) and the journal's log lines.

Both are the documented wire formats, in the standard library only:
- sd_notify(3): one datagram such as b"READY=1" to the AF_UNIX socket named by $NOTIFY_SOCKET (a path,
  or "@name" for the abstract namespace);
- sd-daemon(3): a line on stdout/stderr that starts with "<N>" is filed by journald at syslog priority N
  (3 error, 4 warning, 6 info, 7 debug); journald stamps the time itself. $JOURNAL_STREAM names the
  stream ("device:inode") when it is connected to the journal.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TextIO

log = logging.getLogger(__name__)

PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))
"""Python logging level (at least) -> syslog priority: critical, error, warning, info; below: 7, debug."""


def priority(level: int) -> int:
    """The syslog priority journald files a record of this logging level at."""
    return next((p for threshold, p in PRIORITIES if level >= threshold), 7)


class Notifier:
    """Sends sd_notify states (READY=1, WATCHDOG=1, STOPPING=1); does nothing outside a notify service."""

    def __init__(self, address: str | None = None) -> None:
        address = os.environ.get("NOTIFY_SOCKET", "") if address is None else address
        self._address = ""
        self._socket: socket.socket | None = None
        if address.startswith("@"):  # the abstract namespace: a leading NUL byte on the wire
            address = "\0" + address[1:]
        if address.startswith(("/", "\0")):
            self._address = address
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        """Whether systemd gave a socket to notify."""
        return self._socket is not None

    def notify(self, state: str) -> bool:
        """Send one state line; False when not under systemd or the socket refused it (never raises)."""
        if self._socket is None:
            return False
        try:
            self._socket.sendto(state.encode("utf-8"), self._address)
        except OSError as exc:  # systemd gone or the socket full: the service goes on, as with libsystemd
            log.debug("sd_notify %s to %r failed: %s", state, self._address, exc)
            return False
        return True

    def close(self) -> None:
        """Close the socket (idempotent)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def journal_stream(stream: TextIO) -> bool:
    """Whether `stream` is the journal's stream systemd connected ($JOURNAL_STREAM = "device:inode")."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    if not expected:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # no file descriptor (pytest's capture, StringIO)
        return False
    return expected == f"{st.st_dev}:{st.st_ino}"


class JournalFormatter(logging.Formatter):
    """"<4>device.loop: message": journald files it at that priority and adds its own time stamp."""

    def __init__(self, fmt: str = "%(name)s: %(message)s") -> None:
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        """The record as journal lines, each prefixed with its priority (a traceback stays at it)."""
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines() or [""])


def log_handler(stream: TextIO, fmt: str) -> logging.Handler:
    """A handler on `stream`: journal lines under systemd, else `fmt` (which may carry its own time stamp)."""
    handler = logging.StreamHandler(stream)
    if journal_stream(stream):
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter(fmt))
    return handler
