"""Packaging: one version, the SPDX licence, a core without the demo/bench/test tools, a build without warnings."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from device import __version__, firmware

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_version_has_one_source_shown_by_the_command():
    project = PROJECT["project"]
    assert "version" not in project and project["dynamic"] == ["version"]
    assert PROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "device.__version__"}
    done = subprocess.run([sys.executable, "-m", "device", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"reorder {firmware()}" and firmware().startswith(__version__)
    assert f"## [{__version__}]" in (ROOT / "CHANGELOG.md").read_text()


def test_the_core_holds_no_demo_bench_test_or_optional_engine_package():
    core = _names(PROJECT["project"]["dependencies"])
    for tool in ("openwakeword", "scipy", "scikit-learn", "rich", "amqtt", "sdnotify", "pvporcupine", "vosk", "onnx",
                 "pytest", "psycopg", "ctranslate2"):
        assert tool not in core, f"{tool} is in the core"
    extras = PROJECT["project"]["optional-dependencies"]
    assert {"french", "porcupine", "vosk", "prepare", "store", "demo", "bench", "test"} <= set(extras)


def test_ctranslate2_is_the_french_extra_which_the_tests_bring():
    """CTranslate2 (146 MB) runs Whisper's encoder for fr-FR only: an en-US device does not carry it."""
    extras = PROJECT["project"]["optional-dependencies"]
    assert _names(extras["french"]) == {"ctranslate2"}
    assert "french" in re.search(r"reorder-speaker\[([^\]]*)\]", extras["test"][0]).group(1).split(",")
    locks = ROOT / "requirements"
    assert "\nctranslate2==" not in (locks / "device.txt").read_text()
    assert "\nctranslate2==" in (locks / "device-french.txt").read_text()


def _source_copy(tmp_path: Path) -> Path:
    """The files a build reads, copied: an in-tree build would leave build/ behind in the checkout."""
    source = tmp_path / "src"
    shutil.copytree(ROOT / "device", source / "device", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE", "NOTICE.md"):
        if (ROOT / name).exists():
            shutil.copyfile(ROOT / name, source / name)
    return source


def test_the_editable_install_of_scripts_dev_warns_of_nothing(tmp_path):
    """setuptools warns about its import finder in a flat layout; package-dir makes it a plain .pth."""
    source = _source_copy(tmp_path)
    done = subprocess.run([sys.executable, "-W", "always", "-c",
                           "import setuptools.build_meta as b; print(b.build_editable('out'))"],
                          capture_output=True, text=True, check=False, cwd=source, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    warned = re.findall(r"\S+\.py:\d+: \w+: .*", done.stdout + done.stderr)  # Python's "file.py:1: Category: text"
    assert not warned, warned
    assert (source / "out" / done.stdout.strip().splitlines()[-1]).is_file()


def test_the_wheel_builds_without_a_warning_and_declares_the_spdx_licence(tmp_path):
    assert PROJECT["project"]["license"] == "Apache-2.0"
    source = _source_copy(tmp_path)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "-v", "-w", str(tmp_path), str(source)], capture_output=True, text=True, check=False,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    build_output = "\n".join(line for line in (done.stdout + done.stderr).splitlines()
                             if "Location 'file:" not in line  # this machine's pip.conf, not the project
                             and "byte-compiling is disabled" not in line)  # PYTHONDONTWRITEBYTECODE here
    assert not re.search(r"(?i)deprecat|SetuptoolsWarning|warning:", build_output), build_output[-3000:]
    (wheel,) = tmp_path.glob("reorder_speaker-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(f"reorder_speaker-{__version__}.dist-info/METADATA").decode()
    assert f"Version: {__version__}\n" in meta and "License-Expression: Apache-2.0\n" in meta
