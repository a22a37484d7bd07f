"""A real PostgreSQL server for tests and benchmarks: initdb + pg_ctl on a free loopback port in a temp dir.

PostgreSQL refuses to run as root, and CI runs as root: then the cluster belongs to the `postgres`
system user (made by Debian's package) and every pg_ctl runs through `runuser`. The data folder is
a fresh temp dir outside pytest's 0700 folders, removed by `remove()`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port, wait_for_port


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
