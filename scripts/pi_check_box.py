"""pi-check's work inside an arm64 root file system: mounts, chroot commands, a memory cap, and the steps.

Used by scripts/pi-check (see its docstring); the pure helpers here are tested without QEMU.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZERO_2W_MEMTOTAL_KB = 427_000  # what a Pi Zero 2 W's /proc/meminfo says: 512 MB less the GPU's and kernel's share
DEVICE_ID = "pi-check-01"
EXPECTED = {"en-US": [{"sku": "COFFEE-500G", "quantity": 1}, {"sku": "MILK-1L", "quantity": 2}],
            "fr-FR": [{"sku": "COFFEE-500G", "quantity": 1}, {"sku": "PASTA-500G", "quantity": 1}]}
PRESS_AT = 12.0  # seconds of the padded recording: after the read-back of either sample
PAD_S = 14.0
CPUINFO_CORE = """processor\t: {n}
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

"""




class CheckError(Exception):
    """A one-line reason the check cannot run or a step failed."""


def cpuinfo(cores: int = 4) -> str:
    """A Pi 4's arm64 /proc/cpuinfo (Cortex-A72): QEMU before 8 shows the host's, and onnxruntime crashes on it."""
    return "".join(CPUINFO_CORE.format(n=n) for n in range(cores))


def meminfo(host_text: str, total_kb: int) -> str:
    """The host's /proc/meminfo with MemTotal (and MemAvailable, MemFree at most) set to a board's."""
    out = []
    for line in host_text.splitlines():
        key = line.split(":")[0]
        if key in ("MemTotal", "MemAvailable", "MemFree"):
            value = total_kb if key == "MemTotal" else min(int(line.split()[1]), total_kb - 60_000)
            line = f"{key + ':':<16}{value:>8} kB"
        out.append(line)
    return "\n".join(out) + "\n"


def pad_wav(src: Path, dst: Path, seconds: float) -> None:
    """Copy a WAV and append silence, so the press comes after the read-back while the audio still runs."""
    with wave.open(str(src), "rb") as r:
        params, frames = r.getparams(), r.readframes(r.getnframes())
    with wave.open(str(dst), "wb") as w:
        w.setparams(params)
        w.writeframes(frames + b"\0" * int(seconds * params.framerate) * params.sampwidth * params.nchannels)


def without_section(toml: str, name: str) -> str:
    """A TOML text without one [name] table (its header and keys), so that the device takes its defaults."""
    return re.sub(rf"(?ms)^\[{re.escape(name)}\]\n.*?(?=^\[|\Z)", "", toml)


def judge_replay(stdout: str, order_line: str, expected: list[dict]) -> str | None:
    """None when the replay read back the expected items, was pressed and the order reached the broker."""
    events = []
    for line in stdout.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    names = [e.get("event") for e in events]
    prompt = next((e for e in events if e.get("event") == "prompt"), None)
    if prompt is None:
        heard = next((e.get("text") for e in events if e.get("event") == "transcript"), None)
        return f"no read-back (transcript {heard!r}; events {', '.join(map(str, names[-6:]))})"
    if prompt.get("items") != expected:
        return f"read back {prompt.get('items')} instead of {expected}"
    for needed in ("confirmed", "queued", "published"):
        if needed not in names:
            return f"no {needed!r} event after the press"
    topic, _, payload = order_line.strip().partition(" ")
    try:
        order = json.loads(payload)
    except ValueError:
        return f"the subscriber got no order ({order_line.strip()[:80] or 'nothing'})"
    got = [{"sku": i.get("sku"), "quantity": i.get("quantity")} for i in order.get("items", [])]
    if topic != f"reorder/v1/devices/{DEVICE_ID}/orders" or got != expected:
        return f"the broker got {got} on {topic}"
    return None


def judge_doctor(output: str) -> str | None:
    """None when the doctor answered one line per check (a mark first), no traceback, and its models passed."""
    if "Traceback" in output:
        return "the doctor crashed (a traceback)"
    lines = [line for line in output.splitlines() if line.strip()]
    marks = ("✓ ", "! ", "✗ ", "OK ", "WARN ", "FAIL ", "doctor: ")
    odd = [line for line in lines if not line.startswith(marks)]
    if not lines or odd:
        return f"unexpected doctor output: {(odd or ['nothing'])[0][:100]}"
    models = [line for line in lines if line.startswith(("✗ ", "FAIL "))
              and re.search(r"model|recogni|wake", line.split(":")[0].lower())]
    return f"doctor: {models[0][:160]}" if models else None


def run(cmd: Sequence[str], log: list[dict], what: str, timeout: float = 3600, **kw) -> subprocess.CompletedProcess:
    """Run a host command, keep (the end of) its output in the log, and time it."""
    start = time.monotonic()
    try:
        done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=False, **kw)
    except subprocess.TimeoutExpired as exc:
        done = subprocess.CompletedProcess(exc.cmd, 124, _text(exc.stdout), _text(exc.stderr) + "\ntimed out")
    log.append({"step": what, "seconds": round(time.monotonic() - start, 1), "returncode": done.returncode,
                "stdout": done.stdout[-20000:], "stderr": done.stderr[-20000:]})
    return done


def _text(data: bytes | str | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


def memory_cgroup() -> tuple[Path, str] | None:
    """The memory cgroup root and its version ("v2" or "v1"), or None when there is none."""
    v2 = Path("/sys/fs/cgroup")
    if (v2 / "cgroup.controllers").is_file() and "memory" in (v2 / "cgroup.controllers").read_text().split():
        return v2, "v2"
    v1 = Path("/sys/fs/cgroup/memory")
    return (v1, "v1") if (v1 / "memory.limit_in_bytes").is_file() else None


def capped(cmd: Sequence[str], cap_mb: int, log: list[dict], what: str, timeout: float = 3600,
           **kw) -> tuple[subprocess.CompletedProcess, dict]:
    """Run cmd in a memory cgroup capped at cap_mb (0: no cap); returns it and its peak memory in MB."""
    wrapper = [sys.executable, "-c", "import resource, subprocess, sys\n"
               "code = subprocess.call(sys.argv[1:])\n"
               "print(f'pi-check peak rss kb {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}', "
               "file=sys.stderr)\nsys.exit(code)", *cmd]
    if cap_mb == 0:
        done = run(wrapper, log, what, timeout, **kw)
        return done, {"peak_rss_mb": _peak_rss(done.stderr)}
    found = memory_cgroup()
    if found is None:
        raise CheckError("no memory cgroup to cap the replay (cgroup v1 memory or v2 with memory); "
                         "give --memory-cap 0 to run without the cap")
    base, version = found
    group = base / f"reorder-pi-check-{os.getpid()}"
    group.mkdir()
    try:
        limit = str(cap_mb * 1024 * 1024)
        (group / ("memory.max" if version == "v2" else "memory.limit_in_bytes")).write_text(limit)
        if version == "v2" and (group / "memory.swap.max").exists():
            (group / "memory.swap.max").write_text("0")
        elif (group / "memory.memsw.limit_in_bytes").exists():
            (group / "memory.memsw.limit_in_bytes").write_text(limit)
        procs = str(group / "cgroup.procs")
        done = run(wrapper, log, what, timeout, preexec_fn=lambda: Path(procs).write_text(str(os.getpid())), **kw)
        peak_file = group / ("memory.peak" if version == "v2" else "memory.max_usage_in_bytes")
        peak = int(peak_file.read_text()) // (1024 * 1024) if peak_file.exists() else None
        return done, {"cap_mb": cap_mb, "cgroup": version, "cgroup_peak_mb": peak,
                      "peak_rss_mb": _peak_rss(done.stderr)}
    finally:
        for _ in range(20):
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.5)


def _peak_rss(stderr: str) -> int | None:
    match = re.search(r"pi-check peak rss kb (\d+)", stderr)
    return int(match.group(1)) // 1024 if match else None


class Chroot:
    """A fresh copy of a cached root file system, with /proc, /sys, /dev and the host's network and pip set-up."""

    def __init__(self, tar: Path, qemu_major: int, log: list[dict], keep: bool = False) -> None:
        self.tar, self.qemu_major, self.log, self.keep = tar, qemu_major, log, keep
        self.root = Path(tempfile.mkdtemp(prefix=f"reorder-pi-check-{tar.stem}-", dir="/var/tmp"))
        self.files = Path(tempfile.mkdtemp(prefix="reorder-pi-check-files-", dir="/var/tmp"))  # bind-mounted files
        self.mounts: list[Path] = []
        self.env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
                    "LANG": "C.UTF-8", "QEMU_CPU": "cortex-a72", "SYSTEMD_OFFLINE": "1",
                    "DEBIAN_FRONTEND": "noninteractive"}
        for key in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_INDEX_URL", "http_proxy", "https_proxy", "no_proxy",
                    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
            if os.environ.get(key):
                self.env[key] = os.environ[key]

    def __enter__(self) -> Chroot:
        try:
            done = run(["tar", "-xf", str(self.tar), "-C", str(self.root)], self.log, "unpack")
            if done.returncode != 0:
                raise CheckError(f"cannot unpack {self.tar}: {done.stderr.strip()[:200]}")
            self._mount(["-t", "proc", "proc"], "proc")
            self._mount(["-t", "sysfs", "sys"], "sys")
            self._mount(["--rbind", "/dev"], "dev")
            if self.qemu_major < 8:  # QEMU 7 shows the host's x86 cpuinfo, on which onnxruntime crashes
                self.bind_text("proc/cpuinfo", cpuinfo())
            self._host_config()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for target in reversed(self.mounts):
            if subprocess.run(["umount", "-R", str(target)], capture_output=True, check=False).returncode != 0:
                subprocess.run(["umount", "-R", "-l", str(target)], capture_output=True, check=False)
        self.mounts.clear()
        shutil.rmtree(self.files, ignore_errors=True)
        if not self.keep and not any(p.is_mount() for p in (self.root / "proc", self.root / "sys", self.root / "dev")):
            shutil.rmtree(self.root, ignore_errors=True)
        elif self.keep:
            print(f"pi-check: kept {self.root}", file=sys.stderr)

    def _mount(self, args: list[str], rel: str) -> None:
        target = self.root / rel
        if not target.exists():
            target.mkdir(parents=True)
        done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise CheckError(f"mount {rel}: {done.stderr.strip()}")
        self.mounts.append(target)
        if rel == "dev":
            subprocess.run(["mount", "--make-rslave", str(target)], capture_output=True, check=False)

    def bind_text(self, rel: str, text: str) -> Path:
        """Bind-mount a file with this text over ROOT/rel (e.g. proc/cpuinfo); returns the mount point."""
        source = self.files / rel.replace("/", "-")
        source.write_text(text)
        self._mount(["--bind", str(source)], rel)
        return self.root / rel

    def unbind(self, target: Path) -> None:
        """Undo one bind_text."""
        subprocess.run(["umount", str(target)], capture_output=True, check=False)
        self.mounts.remove(target)

    def _host_config(self) -> None:
        """The host's resolver, pip configuration and CA certificates, so that pip reaches the registries."""
        etc = self.root / "etc"
        resolv = etc / "resolv.conf"
        if resolv.is_symlink() or resolv.exists():
            resolv.unlink()
        shutil.copyfile("/etc/resolv.conf", resolv)
        if Path("/etc/pip.conf").is_file():
            shutil.copyfile("/etc/pip.conf", etc / "pip.conf")
        if Path("/etc/xdg/pip").is_dir():
            shutil.copytree("/etc/xdg/pip", etc / "xdg" / "pip", dirs_exist_ok=True)
        local = Path("/usr/local/share/ca-certificates")
        if local.is_dir():  # kept by the chroot's own update-ca-certificates when apt runs it
            shutil.copytree(local, self.root / local.relative_to("/"), dirs_exist_ok=True)
        for bundle in {"/etc/ssl/certs/ca-certificates.crt", os.environ.get("PIP_CERT", "")} - {""}:
            if Path(bundle).is_file():
                (self.root / bundle.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(bundle, self.root / bundle.lstrip("/"))

    def os_release(self) -> str:
        """PRETTY_NAME of the root file system."""
        text = (self.root / "etc" / "os-release").read_text()
        match = re.search(r'^PRETTY_NAME="?([^"\n]*)', text, re.MULTILINE)
        return match.group(1) if match else "?"

    def command(self, *cmd: str, env: dict[str, str] | None = None) -> list[str]:
        """A command line that runs cmd inside, with a clean environment."""
        merged = {**self.env, **(env or {})}
        return ["chroot", str(self.root), "/usr/bin/env", "-i", *[f"{k}={v}" for k, v in merged.items()], *cmd]

    def run(self, *cmd: str, what: str, timeout: float = 3600, env: dict[str, str] | None = None):
        """Run cmd inside; returns the CompletedProcess (logged)."""
        return run(self.command(*cmd, env=env), self.log, what, timeout)
