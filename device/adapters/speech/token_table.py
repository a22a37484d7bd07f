"""A decoder's token table and its other matrices: lookups and products, in float32 or int8.

Whisper ties its embedding and output projection: the table [V, 512] embeds a token (a row) and
projects the last hidden state onto every token (one score per row). As float32 it is 106 MB, the
largest part of the French loop; as int8 with one scale per row it is 27 MB. A layer's matrix is
the same shape of thing, one row per output ([out, in], as the model file stores it). An int8
matrix is turned back into float32 a block of rows at a time when a product needs it (BENCHMARKS.md,
"Real French speech" and "Whisper's decoder matrices in int8": what it costs and which decisions moved).
"""

from __future__ import annotations

import numpy as np


class TokenTable:
    """A matrix [out, in] (a token table: one row per token), as float32, or as int8 with one scale per row
    (a quarter of the memory). `project(x)` is x @ matrix.T, `rows(ids)` looks rows up."""

    BLOCK_VALUES = 1 << 17
    """Values turned back into float32 at a time (512 KB: stays in the cache for its product)."""

    def __init__(self, matrix: np.ndarray, quantise: bool) -> None:
        """`matrix` [out, in], float32 or float16; quantised a block of rows at a time (no whole float32 copy)."""
        self.scale: np.ndarray | None = None
        self.block = max(1, self.BLOCK_VALUES // matrix.shape[1])
        if not quantise:
            self.weights = np.ascontiguousarray(matrix, dtype=np.float32)
            return
        self.scale = np.empty(matrix.shape[0], dtype=np.float32)
        self.weights = np.empty(matrix.shape, dtype=np.int8)
        for a in range(0, matrix.shape[0], self.block):
            block = matrix[a:a + self.block].astype(np.float32)
            scale = np.maximum(np.abs(block).max(axis=1), 1e-8) / 127.0
            self.scale[a:a + self.block] = scale
            self.weights[a:a + self.block] = np.round(block / scale[:, None])

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Rows of ids [...] -> [..., in] float32 (a token's embedding)."""
        if self.scale is None:
            return self.weights[ids]
        return self.weights[ids].astype(np.float32) * self.scale[ids][..., None]

    def project(self, x: np.ndarray) -> np.ndarray:
        """x [..., in] @ matrix.T -> [..., out] (a token table's logits)."""
        flat = x.reshape(-1, x.shape[-1]).T  # [in, B]: matrix @ flat is BLAS's faster shape for a few rows
        if self.scale is None:
            return (self.weights @ flat).T.reshape(*x.shape[:-1], -1)
        out = np.empty((self.weights.shape[0], flat.shape[1]), dtype=np.float32)
        for a in range(0, self.weights.shape[0], self.block):
            np.matmul(self.weights[a:a + self.block].astype(np.float32), flat, out=out[a:a + self.block])
        out *= self.scale[:, None]
        return out.T.reshape(*x.shape[:-1], -1)
