"""The house reads top-down: stages never import the loop, the adapters or the composition root."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STAGES = sorted((Path(__file__).resolve().parents[1] / "device" / "stages").glob("*.py"))
ABOVE = {"loop", "adapters", "app", "runner", "__main__", "doctor", "demo"}


def imported(path: Path) -> set[str]:
    """First component below `device` of every relative or absolute device import in `path`."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            parts = (node.module or "").split(".")
            if node.level == 2 or (node.level == 0 and parts[0] == "device"):
                rest = parts[1:] if node.level == 0 else parts
                names |= {rest[0]} if rest and rest[0] else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("device.")}
    return names


@pytest.mark.parametrize("path", STAGES, ids=[p.name for p in STAGES])
def test_a_stage_imports_nothing_above_it(path):
    assert not imported(path) & ABOVE, f"{path.name} imports {imported(path) & ABOVE}"


def test_the_check_sees_a_back_edge(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from ..loop import State\nfrom ..adapters.mqtt import decode_message\n")
    assert imported(bad) & ABOVE == {"loop", "adapters"}
