"""docs/: every picture and table that mirrors code is what the code holds, and every link lands.

The generated blocks (state diagram, transition table, wiring, Home Assistant page) must equal what
scripts/docs writes; the wiring's pins are checked against GpioSettings and the state diagram against
TRANSITIONS on their own too, so a wrong generator cannot pass by agreeing with itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from device.config import GpioSettings
from device.contract import schemas
from device.contract.topics import Topics
from device.states import TRANSITIONS, mermaid
from device.telemetry.discovery import discovery_messages
from tests.support import load_script

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


DOCS_SCRIPT = load_script(ROOT / "scripts" / "docs", "docs_script")


def block(page: str, name: str) -> str:
    """The text between <!-- name --> and <!-- /name --> in docs/page."""
    found = re.search(rf"<!-- {name} -->\n(.*?)<!-- /{name} -->", (DOCS / page).read_text(encoding="utf-8"), re.S)
    assert found, f"docs/{page} has no <!-- {name} --> block"
    return found.group(1)


@pytest.mark.parametrize("name", DOCS_SCRIPT.BLOCKS)
def test_each_generated_block_is_what_the_code_gives(name):
    page, make = DOCS_SCRIPT.BLOCKS[name]
    assert block(page.name, name) == make(), f"docs/{page.name} <!-- {name} --> is stale: run scripts/docs"


def test_the_state_diagram_draws_every_move_of_the_table_and_no_other():
    drawn = block("architecture.md", "states")
    assert drawn == "```mermaid\n" + mermaid() + "```\n"
    moves = set(re.findall(r"^    (\w+) --> (\w+):", drawn, re.M))
    table = {(a.value.replace("-", "_"), b.value.replace("-", "_")) for a, b in TRANSITIONS}
    assert moves == table and len(table) == len(TRANSITIONS)


def test_the_wiring_diagram_draws_the_default_pins():
    drawn = block("installer.md", "wiring-diagram")
    bcm_of = {node: int(bcm) for node, bcm in re.findall(r'(p\d+)\["pin \d+ · BCM (\d+)"\]', drawn)}
    header = dict(re.findall(r'p(\d+)\["pin (\d+) ·', drawn))
    assert header and all(a == b for a, b in header.items()), "a node's name is not its physical pin"
    g = GpioSettings()
    button = re.findall(r"^    button --- (p\d+)$", drawn, re.M)
    assert [bcm_of[n] for n in button if n in bcm_of] == [g.confirm_button]
    assert f"confirm_button = {g.confirm_button}" in drawn and f"mute_button = {g.mute_button}" in drawn
    for colour in ("red", "green", "blue"):
        node = re.search(rf'led ---\|"{colour} = (\d+),[^|]*\| (p\d+)', drawn)
        assert node, colour
        assert int(node.group(1)) == getattr(g, colour) == bcm_of[node.group(2)], colour
    assert f"active_high = {str(g.active_high).lower()}" in drawn and f"led = {g.led}" in drawn
    used = {g.confirm_button, g.red, g.green, g.blue}
    assert not used & {18, 19, 20, 21}, "a default pin collides with the I²S microphone's"


def test_the_schema_files_are_the_codes():
    assert schemas.main(["--check", str(DOCS / "schemas")]) == 0
    for stem, schema in schemas.SCHEMAS.items():
        written = json.loads((DOCS / "schemas" / f"{stem}.schema.json").read_text(encoding="utf-8"))
        assert {k: v for k, v in written.items() if not k.startswith("$") and k not in ("title", "description")} \
            == json.loads(json.dumps(schema)), stem
    listed = set(re.findall(r"\(schemas/([\w-]+)\.schema\.json\)", (DOCS / "mqtt.md").read_text()))
    assert listed == set(schemas.SCHEMAS)


def test_the_home_assistant_page_lists_every_discovery_entity():
    page = block("mqtt.md", "home-assistant")
    names = {c["name"] for mute in (False, True) for _, c in discovery_messages(Topics("reorder/v1", "x"),
                                                                                 mute_command=mute)}
    rows = {row.split("|")[2].strip().split(" (with")[0] for row in page.splitlines() if row.startswith("| ")}
    assert names <= rows and len(page.splitlines()) >= len(names)


def test_the_topic_table_and_the_sequences_name_the_devices_own_topics():
    text = (DOCS / "mqtt.md").read_text(encoding="utf-8")
    topics = Topics("reorder/v1", "{id}")
    real = {getattr(topics, name) for name in ("orders", "order_status", "cancel", "catalog", "state", "stats", "mute")}
    table = set(re.findall(r"^\| `(reorder/v1/devices/\{id\}/[\w-]+)`", text, re.M))
    assert table == real
    messages = re.findall(r"^\s+(\w+)--?>>(\w+): ([\w-]+) ", text, re.M)  # between two parties: on the wire
    said = {word for sender, receiver, word in messages if sender != receiver}
    leaves = {t.rsplit("/", 1)[1] for t in real}
    assert {"orders", "order-status", "cancel", "catalog", "state"} <= said
    assert said <= leaves | {"PUBACK", "CONNECT", "every"}


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


PAGES = sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_relative_link_lands(page):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        landing = (page.parent / path).resolve() if path else page
        assert landing.exists(), f"{page.name}: {target} does not exist"
        if anchor and landing.suffix == ".md":
            assert anchor in _anchors(landing), f"{page.name}: no heading #{anchor} in {landing.name}"


def test_the_architecture_tree_names_every_part_of_the_package():
    tree = block("architecture.md", "tree")
    device = ROOT / "device"
    parts = {p.name for p in device.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    parts |= {p.name for p in device.glob("*.py")}
    parts |= {p.name for p in (device / "adapters").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    missing = {p for p in parts if not re.search(rf"\b{re.escape(p)}/?\s", tree)}
    assert not missing, f"docs/architecture.md's tree lacks {sorted(missing)}"
