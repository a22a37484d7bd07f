"""Mosquitto password-file and ACL entries for reorder devices (Python standard library only).

Shared by scripts/provision (one device) and scripts/broker-accounts (many devices).

The password line is what ``mosquitto_passwd`` (Mosquitto 2.x) writes by default::

    USER:$7$ITERATIONS$BASE64(SALT)$BASE64(PBKDF2-HMAC-SHA512(PASSWORD, SALT, ITERATIONS, 64 bytes))

with a 12-byte random salt and 101 iterations, standard base64 with padding. The tests check
it against the real ``mosquitto_passwd`` and a real broker.

A device may publish to its ``orders``, ``cancel``, ``state`` and ``stats`` topics and its own
Home Assistant discovery configs (``homeassistant/+/{id}/+/config``), and subscribe to its
``order-status``, ``catalog`` and ``mute`` topics, nothing else (CONTRACT §2, README "Home
Assistant").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import tempfile
from pathlib import Path

ITERATIONS = 101
"""PBKDF2 iterations Mosquitto 2.x uses for new passwords."""
SALT_BYTES = 12
"""Salt length Mosquitto 2.x uses for new passwords."""
DEVICE_WRITES = ("orders", "cancel", "state", "stats")
"""Leaves of {prefix}/devices/{id}/ a device publishes to."""
DEVICE_READS = ("order-status", "catalog", "mute")
"""Leaves of {prefix}/devices/{id}/ a device subscribes to (mute: Home Assistant's switch, ON/OFF only)."""
DISCOVERY_PREFIX = "homeassistant"
"""Home Assistant's default discovery prefix."""

_USERNAME = re.compile(r"[^\s:#]{1,64}")


def check_username(username: str) -> str:
    """Return `username` if Mosquitto files can hold it (no spaces, ':' or '#'), else raise ValueError."""
    if not _USERNAME.fullmatch(username):
        raise ValueError(f"broker username {username!r} must be 1-64 characters without spaces, ':' or '#'")
    return username


def hash_password(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The ``$7$...`` hash of `password` (a fresh random salt unless one is given)."""
    if not password:
        raise ValueError("the broker password must not be empty")
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """True when `password` matches a ``$7$`` hash (as in a Mosquitto password file)."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt, expected = base64.b64decode(parts[3], validate=True), base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, int(parts[2]), len(expected))
    return hmac.compare_digest(digest, expected)


def password_line(username: str, password: str, salt: bytes | None = None) -> str:
    """One password-file line, without the newline."""
    return f"{check_username(username)}:{hash_password(password, salt)}"


def acl_block(username: str, device_id: str, prefix: str = "reorder/v1",
              discovery_prefix: str = DISCOVERY_PREFIX) -> str:
    """The ACL lines of one device (a comment, ``user``, then its topics), ending with a newline."""
    check_username(username)
    base = f"{prefix}/devices/{device_id}"
    lines = [f"# reorder device {device_id}", f"user {username}"]
    lines += [f"topic write {base}/{leaf}" for leaf in DEVICE_WRITES]
    lines.append(f"topic write {discovery_prefix}/+/{device_id}/+/config")
    lines += [f"topic read {base}/{leaf}" for leaf in DEVICE_READS]
    return "\n".join(lines) + "\n"


def home_assistant_block(username: str, prefix: str = "reorder/v1", discovery_prefix: str = DISCOVERY_PREFIX) -> str:
    """The ACL lines of a Home Assistant account: read every device's state and counters, write mute
    commands and its own discovery namespace. No order, cancel, order-status or catalog topic."""
    check_username(username)
    d = f"{prefix}/devices"
    return (f"# Home Assistant: state and counters of every device, their mute switch; never an order\n"
            f"user {username}\ntopic read {d}/+/state\ntopic read {d}/+/stats\ntopic write {d}/+/mute\n"
            f"topic readwrite {discovery_prefix}/#\n")


def _write_atomically(path: Path, text: str, mode: int) -> None:
    """Replace `path` with `text` via a temporary file in the same folder (keeps an existing file's mode)."""
    if path.exists():
        mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def upsert_password(path: Path, line: str) -> bool:
    """Add `line` to a password file, replacing the same user's line; True if a line was replaced."""
    user = line.split(":", 1)[0]
    old = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept = [entry for entry in old if entry.split(":", 1)[0] != user]
    _write_atomically(path, "\n".join([*kept, line]) + "\n", 0o600)
    return len(kept) != len(old)


def upsert_acl(path: Path, block: str) -> bool:
    """Add a device's ACL block to an ACL file, replacing that user's earlier block; True if replaced.

    A block is a ``user NAME`` line and the ``topic`` lines right after it (and our comment line
    just before it, if there).
    """
    user_line = next(line for line in block.splitlines() if line.startswith("user "))
    comment = block.splitlines()[0] if block.startswith("#") else None
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    out: list[str] = []
    replaced = False
    i = 0
    while i < len(lines):
        if lines[i].strip() == user_line:
            replaced = True
            if out and comment is not None and out[-1].strip() == comment:
                out.pop()
            i += 1
            while i < len(lines) and lines[i].lstrip().startswith("topic "):
                i += 1
            while i < len(lines) and not lines[i].strip() and (not out or not out[-1].strip()):
                i += 1  # do not leave a double blank line behind
            continue
        out.append(lines[i])
        i += 1
    while out and not out[-1].strip():
        out.pop()
    text = ("\n".join(out) + "\n\n" if out else "") + block
    _write_atomically(path, text, 0o644)
    return replaced
