"""Read named weights out of a CTranslate2 `model.bin` (the binary format of CTranslate2 >= 2, numpy only).

The file is a header (format version, spec name, spec revision), then for each variable its name,
shape, dtype and raw bytes, then a list of aliases (a name that reuses another variable's bytes).
The file is memory-mapped and only the variables asked for are copied out, so reading the decoder
of a 145 MB model does not hold the whole file in memory.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.errors import ModelError

# CTranslate2's DataType enum (include/ctranslate2/types.h).
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class FormatError(ModelError, ValueError):
    """The file is not a CTranslate2 model.bin this reader understands (or it is cut short)."""


@dataclass(frozen=True)
class Variable:
    """Where one variable's bytes are in the file."""

    shape: tuple[int, ...]
    dtype: type
    offset: int
    nbytes: int


class _Cursor:
    """Sequential little-endian reads over a buffer."""

    def __init__(self, buf: mmap.mmap) -> None:
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> int:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise FormatError("the file ends in the middle of a header")
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return int(value)

    def string(self) -> str:
        length = self.take("<H")
        raw = self.buf[self.pos:self.pos + length]
        if len(raw) != length:
            raise FormatError("the file ends in the middle of a name")
        self.pos += length
        return raw.rstrip(b"\0").decode("utf-8", "replace")


def read_index(buf: mmap.mmap) -> tuple[str, dict[str, Variable]]:
    """The spec name and every variable (aliases resolved) of a model.bin held in `buf`."""
    cur = _Cursor(buf)
    version = cur.take("<I")
    if not 2 <= version <= 6:
        raise FormatError(f"unknown model.bin format version {version}")
    spec = cur.string()
    cur.take("<I")  # spec revision
    variables: dict[str, Variable] = {}
    for _ in range(cur.take("<I")):
        name = cur.string()
        shape = tuple(cur.take("<I") for _ in range(cur.take("<B")))
        if version >= 4:
            code = cur.take("<B")
            if code not in DTYPES:
                raise FormatError(f"variable {name} has an unknown dtype code {code}")
            dtype = DTYPES[code]
        else:
            dtype = {1: np.int8, 2: np.float16, 4: np.float32}.get(cur.take("<B"), np.float32)
        nbytes = cur.take("<I")
        if cur.pos + nbytes > len(buf):
            raise FormatError(f"the file is cut short inside variable {name}")
        if int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize != nbytes:
            raise FormatError(f"variable {name}: shape {shape} does not match its {nbytes} bytes")
        variables[name] = Variable(shape, dtype, cur.pos, nbytes)
        cur.pos += nbytes
    if version >= 3 and cur.pos < len(buf):
        for _ in range(cur.take("<I")):
            alias, target = cur.string(), cur.string()
            if target in variables:
                variables[alias] = variables[target]
    return spec, variables


def load_variables(path: Path, wanted: Callable[[str], bool],
                   dtype: type = np.float32) -> tuple[str, dict[str, np.ndarray]]:
    """The spec name and a copy (as `dtype`) of each variable whose name `wanted` accepts; scalars as-is.

    Variables are read one at a time (not through the mapping), so memory peaks at the result plus one
    variable; an alias shares its target's array."""
    with open(path, "rb") as f:
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            spec, index = read_index(buf)
        out: dict[str, np.ndarray] = {}
        by_offset: dict[int, np.ndarray] = {}
        for name, var in index.items():
            if not wanted(name):
                continue
            if var.offset not in by_offset:
                f.seek(var.offset)
                raw: np.ndarray = np.fromfile(f, dtype=var.dtype, count=var.nbytes // np.dtype(var.dtype).itemsize)
                raw = raw.reshape(var.shape)
                by_offset[var.offset] = raw.astype(dtype) if np.issubdtype(var.dtype, np.floating) else raw
            out[name] = by_offset[var.offset]
    return spec, out


def _name(text: str) -> bytes:
    raw = text.encode("utf-8") + b"\0"
    return struct.pack("<H", len(raw)) + raw


def write_encoder_only(src: Path, dst: Path) -> None:
    """Write a copy of a Whisper model.bin that CTranslate2 loads with (almost) no decoder, to run its encoder.

    CTranslate2 insists on a decoder with at least one layer and an embedding table, so the copy keeps
    decoder layer 0 and an all-zero embedding of width 8; `Whisper.encode` never touches them, and the
    int8 model in memory shrinks from the whole model to the encoder. Its `generate()` must not be used."""
    codes = {np.dtype(t): code for code, t in DTYPES.items()}
    with open(src, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        spec, index = read_index(buf)
        keep = [n for n in index if n != "decoder/projection/weight"
                and (not n.startswith("decoder/layer_") or n.startswith("decoder/layer_0/"))]
        partial = dst.with_name(dst.name + ".partial")
        with open(partial, "wb") as out:
            out.write(struct.pack("<I", 6) + _name(spec) + struct.pack("<II", 3, len(keep)))
            for name in keep:
                var = index[name]
                shape, data = var.shape, buf[var.offset:var.offset + var.nbytes]
                if name == "decoder/embeddings/weight":
                    shape = (var.shape[0], 8)
                    data = bytes(var.shape[0] * 8 * np.dtype(var.dtype).itemsize)
                out.write(_name(name) + struct.pack("<B", len(shape)) + struct.pack(f"<{len(shape)}I", *shape)
                          + struct.pack("<BI", codes[np.dtype(var.dtype)], len(data)) + data)
            out.write(struct.pack("<I", 1) + _name("decoder/projection/weight") + _name("decoder/embeddings/weight"))
    partial.replace(dst)


def names(path: Path) -> Iterable[str]:
    """Every variable name in a model.bin (for checks and tests)."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        return list(read_index(buf)[1])
