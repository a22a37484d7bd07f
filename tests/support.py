"""What the tests and the benchmarks (bench/) share: a real Mosquitto, a subscriber that records what it
hears, and a real PostgreSQL server (initdb + pg_ctl on a free loopback port in a temp dir).

PostgreSQL refuses to run as root, and CI runs as root: then the cluster belongs to the `postgres`
system user (made by Debian's package) and every pg_ctl runs through `runuser`. The data folder is
a fresh temp dir outside pytest's 0700 folders, removed by `remove()`.
"""

from __future__ import annotations

import glob
import importlib.machinery
import importlib.util
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import paho.mqtt.client as mqtt


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Mosquitto:
    """A real Mosquitto broker process owned by a test."""

    workdir: Path
    port: int = field(default_factory=free_port)
    extra_config: str = ""
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> "Mosquitto":
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            # As root Mosquitto drops to the `mosquitto` user, which cannot write its persistence
            # file into pytest's 0700 folders; `user root` keeps it (ignored when not root).
            "user root\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "autosave_on_changes true\n"
            "autosave_interval 1\n"
            "log_dest stderr\n"
            + self.extra_config
        )
        self.log = open(self.workdir / "mosquitto.log", "ab")
        self.process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=self.log, stderr=self.log)
        wait_for_port(self.port)
        return self

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            (self.process.kill if kill else self.process.terminate)()
            self.process.wait(timeout=10)
        self.process = None


class Recorder:
    """What a test's MQTT client receives, recorded; subclasses make `self.client` and set `on_message`."""

    client: mqtt.Client

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict]] = []
        self._cond = threading.Condition()

    def _on_message(self, client, userdata, msg) -> None:
        with self._cond:
            self.messages.append((msg.topic, json.loads(msg.payload)))
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, dict]]:
        """Wait until `count` messages arrived (or the timeout); returns what arrived."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Subscriber(Recorder):
    """A paho client that records every message on the topics it subscribed to."""

    def __init__(self, port: int, *topics: str) -> None:
        super().__init__()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
        subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe([(t, 1) for t in topics])
        assert subscribed.wait(5), "subscription was not acknowledged"



def binaries() -> Path | None:
    """The folder of initdb and pg_ctl (Debian: /usr/lib/postgresql/<version>/bin), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


@dataclass
class Postgres:
    """One PostgreSQL cluster owned by a test or a benchmark; `url` is its `postgres` database."""

    fsync: bool = True
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            raise FileNotFoundError("PostgreSQL is not installed: apt-get install postgresql (see .ci/run)")
        self.bin = bin_dir
        self.owner = "postgres" if os.geteuid() == 0 else None
        self.dir = Path(tempfile.mkdtemp(prefix="reorder-pg-"))
        self.data = self.dir / "data"
        if self.owner:
            entry = pwd.getpwnam(self.owner)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self._as_owner("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                       "--no-instructions", "--no-sync")
        settings = {
            "listen_addresses": "'127.0.0.1'", "port": str(self.port), "unix_socket_directories": f"'{self.dir}'",
            "fsync": "on" if self.fsync else "off", "max_connections": "50", "shared_buffers": "32MB",
            "logging_collector": "off",
        }
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_of(self, database: str) -> str:
        """The URL of another database of this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.owner:
            command = ["runuser", "-u", self.owner, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.dir)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> Postgres:
        """Start the server and wait until it accepts connections."""
        self._as_owner("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-t", "60", "start")
        wait_for_port(self.port)
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` (roll back open transactions), `immediate` (a crash: no shutdown)."""
        self._as_owner("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop (in `mode`) and start again."""
        self.stop(mode)
        self.start()

    def remove(self) -> None:
        """Stop the server if it runs and delete its folder."""
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except RuntimeError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def pids(self) -> list[int]:
        """The server's processes: the postmaster and every process it forked (one per connection)."""
        try:
            main = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == main:
                    children.append(int(stat.parent.name))
            except (OSError, ValueError, IndexError):
                pass
        return [main, *children]

    def log(self) -> str:
        """The server's log so far."""
        path = self.dir / "server.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def load_script(path: Path, name: str) -> ModuleType:
    """A script without a .py suffix (scripts/lock, scripts/docs, ...) loaded as the module `name`."""
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    loader.exec_module(module)
    return module
