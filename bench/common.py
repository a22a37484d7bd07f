"""What every benchmark shares: its section of BENCHMARKS.md, the machine/date/command line, RSS, CPU in turns."""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "BENCHMARKS.md"
BLOCK = 25
"""Frames (2 s of audio) per turn when several engines are timed on the same audio."""


def write_section(name: str, text: str, path: Path = BENCHMARKS) -> None:
    """Replace section `name` (between <!-- bench:NAME:start/end --> markers), or append it; written atomically."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if start in old and end in old and old.index(start) < old.index(end):
        new = old[:old.index(start)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(path)


def publish(name: str, text: str, write: bool) -> None:
    """Print a section's text, and write it as section `name` of BENCHMARKS.md when `write` (no --no-write)."""
    print(text)
    if write:
        write_section(name, text)


def logger(prog: str) -> Callable[[str], None]:
    """A progress printer to stderr, each line prefixed with the benchmark's name and the time."""
    return lambda text: print(f"[{prog} {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def command(section: str, argv: Sequence[str] | None = None) -> str:
    """The command that measured a section, as BENCHMARKS.md shows it."""
    return " ".join(["python -m bench", section, *(sys.argv[1:] if argv is None else argv)])


def now() -> str:
    """The date and time of a measurement, UTC."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def version(dist: str) -> str:
    """An installed distribution's version, or "not installed"."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def tool_version(*cmd: str) -> str:
    """The line of a tool's output that names its version (mosquitto -h), else its first line (postgres --version)."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        return f"{cmd[0]} not found"
    lines = [line.split("  ")[0].strip() for line in out if line.strip()]  # espeak-ng: "... 1.51  Data at: ..."
    return next((line for line in lines if "version" in line.lower()), lines[0] if lines else cmd[0])


def machine(*dists: str, tools: Sequence[Sequence[str]] = ()) -> str:
    """One line: CPU, cores, architecture, kernel, Python, then the versions of `dists` and `tools`."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith(("model name", "Model", "Hardware")))
    parts = [f"{d} {version(d)}" for d in dists] + [tool_version(*t) for t in tools]
    return (f"{cpu}, {os.cpu_count()} cores ({platform.machine()}, Linux {platform.release()}), Python "
            f"{platform.python_version()}" + (f"; {', '.join(parts)}" if parts else ""))


def code_version() -> str:
    """The commit measured, and any uncommitted changes to the device package."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT)
        return done.stdout.rstrip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "an unknown commit (not a git checkout)"
    changed = ", ".join(line[3:] for line in git("status", "--porcelain", "--untracked-files=no", "--",
                                                 "device").splitlines())
    return f"commit {commit}" + (f" with uncommitted changes to {changed}" if changed else "")


def peak_rss_mb() -> float:
    """This process image's own peak RSS (VmHWM, which starts afresh at exec; getrusage's ru_maxrss would carry
    the parent's peak over into a child across fork + exec)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))


def percentile(values: Sequence[float | None], q: float) -> float | None:
    """The q-th percentile (nearest rank) of the values that are not None; None for none."""
    ordered = sorted(v for v in values if v is not None)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else None


def timed_interleaved(frames: list[bytes], runners: dict) -> dict[str, float]:
    """Main-thread CPU seconds each runner spends on the same frames, taking turns every BLOCK frames."""
    cpu = {name: 0.0 for name in runners}
    for start in range(0, len(frames), BLOCK):
        block = frames[start:start + BLOCK]
        for name, run in runners.items():
            t = time.thread_time()
            for frame in block:
                run(frame)
            cpu[name] += time.thread_time() - t
    return cpu


def table(header: str, rows: Iterable[Sequence[object]]) -> list[str]:
    """A Markdown table: `header` is "name | name | ...", a name ending in ":" right-aligned; then one row per cells."""
    names = [name.strip() for name in header.split("|")]
    return [("| " + " | ".join(name.removesuffix(":") for name in names) + " |").replace("|  |", "| |"),
            "|" + "|".join("---:" if name.endswith(":") else "---" for name in names) + "|",
            *("| " + " | ".join(map(str, row)) + " |" for row in rows)]
