"""scripts/lock's check that one lock serves Bookworm and Trixie: every pinned version has an aarch64 wheel for
Python 3.11 and 3.13, and 3.13 needs nothing the lock lacks. uv is replaced by recorded answers (no network)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.support import load_script

ROOT = Path(__file__).resolve().parents[1]


lock = load_script(ROOT / "scripts" / "lock", "lock_script")

# What uv 0.13 says when a pinned version has no wheel for the target (recorded from real runs).
NO_ABI = ("error: No solution found when resolving dependencies\n  cause: Because onnxruntime==1.16.0 has no wheels "
          "with a matching Python ABI tag (e.g., `cp313`) and you require onnxruntime==1.16.0, we can conclude that "
          "your requirements are unsatisfiable.\n\nhint: You require CPython 3.13 (`cp313`), but we only found wheels "
          "for `onnxruntime` (v1.16.0) with the following Python ABI tags: `cp38`, `cp39`, `cp310`, `cp311`\n")
NO_WHEEL = ("error: No solution found when resolving dependencies\n  cause: Because numpy==1.26.0 has no usable wheels "
            "and you require numpy==1.26.0, we can conclude that your requirements are unsatisfiable.\n")
LOCKED = {"onnxruntime": "1.16.0", "numpy": "1.26.0", "text2num": "3.1.0"}


def test_the_supported_pythons_are_bookworms_and_trixies() -> None:
    assert lock.PYTHONS == ("3.11", "3.13") and lock.PLATFORM.startswith("aarch64-manylinux_2_")


def test_a_missing_wheel_is_one_line_naming_the_package_and_the_python() -> None:
    (line,) = lock.judge("3.13", None, 1, "", NO_ABI, LOCKED)
    assert line.startswith("lock: onnxruntime==1.16.0 has no wheel for Python 3.13 aarch64;") and "\n" not in line
    (line,) = lock.judge("3.11", "vosk", 1, "", NO_WHEEL, LOCKED)
    assert "numpy==1.26.0 has no wheel for Python 3.11 aarch64 with [vosk]" in line


def test_another_failure_and_a_package_the_lock_lacks_are_problems_too() -> None:
    (line,) = lock.judge("3.13", None, 2, "", "error: something else\n", LOCKED)
    assert line == "lock: the locked versions do not resolve for Python 3.13 aarch64: error: something else"
    resolved = "numpy==1.26.0\ntyping-extensions==4.16.0\ntext2num==3.1.0\n"
    assert lock.judge("3.13", None, 0, resolved, "", LOCKED) == [
        "lock: Python 3.13 aarch64 also needs typing-extensions, which no lock file pins; run scripts/lock"]
    assert lock.judge("3.13", None, 0, "numpy==1.26.0\n", "", LOCKED) == []


def test_check_pythons_asks_uv_for_each_python_and_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_run(cmd, **kw):
        python = cmd[cmd.index("--python-version") + 1]
        calls.append((python, cmd[cmd.index("--extra") + 1] if "--extra" in cmd else None,
                      cmd[cmd.index("--python-platform") + 1], "--only-binary" in cmd))
        if python == "3.13" and "--extra" not in cmd:
            return subprocess.CompletedProcess(cmd, 1, "", NO_ABI)
        return subprocess.CompletedProcess(cmd, 0, "onnxruntime==1.16.0\n", "")

    monkeypatch.setattr(lock, "uv", lambda: ["uv"])
    monkeypatch.setattr(lock.subprocess, "run", fake_run)
    problems = lock.check_pythons({Path("device.txt"): "onnxruntime==1.16.0 \\\n    --hash=sha256:00\n"})
    assert problems == [
        "lock: onnxruntime==1.16.0 has no wheel for Python 3.13 aarch64; pin a version that has one in pyproject.toml, "
        "then run scripts/lock"]
    assert {(p, e) for p, e, _, _ in calls} == {(p, e) for p in ("3.11", "3.13") for e in (None, *lock.EXTRAS)}
    assert all(platform == lock.PLATFORM and binary for _, _, platform, binary in calls)


def test_lock_fails_and_writes_nothing_on_a_problem(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    target = tmp_path / "device.txt"
    monkeypatch.setattr(lock, "ROOT", tmp_path)
    monkeypatch.setattr(lock, "lock", lambda upgrade=False: {target: "x==1\n"})
    monkeypatch.setattr(lock, "check_pythons", lambda files: ["lock: x==1 has no wheel for Python 3.13 aarch64; ..."])
    assert lock.main([]) == 1 and not target.exists()
    assert lock.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "x==1 has no wheel for Python 3.13" in err and "nothing written" in err


def test_every_lock_file_says_it_serves_bookworm_and_trixie() -> None:
    for path in sorted((ROOT / "requirements").glob("device*.txt")):
        assert "Bookworm and Trixie 64-bit (aarch64, Python 3.11 and 3.13)" in path.read_text().splitlines()[0], path
