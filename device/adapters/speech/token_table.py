"""A decoder's token table: its embedding lookups and its output projection, in float32 or int8.

Whisper ties the two: the table [512, V] embeds a token (a column) and projects the last hidden
state onto every token (x @ table). As float32 it is 106 MB, the largest part of the French loop;
as int8 with one scale per token it is 27 MB and is turned back into float32 a block of tokens at
a time when the projection needs it (BENCHMARKS.md, "Real French speech": the cost and whether
any transcript changed).
"""

from __future__ import annotations

import numpy as np


class TokenTable:
    """The token table [512, V]: embedding lookups (its columns) and the output projection (x @ table),
    as float32, or as int8 with one scale per token (a quarter of the memory)."""

    BLOCK = 4096  # tokens turned back into float32 at a time (8 MB)

    def __init__(self, table: np.ndarray, quantise: bool) -> None:
        """`table` [512, V], float32 or float16; quantised a block of tokens at a time (no whole float32 copy)."""
        self.scale: np.ndarray | None = None
        if not quantise:
            self.weights = table.astype(np.float32, copy=False)
            return
        self.scale = np.empty(table.shape[1], dtype=np.float32)
        self.weights = np.empty(table.shape, dtype=np.int8)
        for a in range(0, table.shape[1], self.BLOCK):
            block = table[:, a:a + self.BLOCK].astype(np.float32)
            scale = np.maximum(np.abs(block).max(axis=0), 1e-8) / 127.0
            self.scale[a:a + self.BLOCK] = scale
            self.weights[:, a:a + self.BLOCK] = np.round(block / scale)

    def rows(self, tokens: np.ndarray) -> np.ndarray:
        """Embeddings of token ids [...] -> [..., 512] float32."""
        if self.scale is None:
            return self.weights.T[tokens].astype(np.float32)
        return self.weights.T[tokens].astype(np.float32) * self.scale[tokens][..., None]

    def project(self, x: np.ndarray) -> np.ndarray:
        """Logits x [B, 512] @ table -> [B, V]."""
        if self.scale is None:
            return x @ self.weights
        out = np.empty((x.shape[0], self.weights.shape[1]), dtype=np.float32)
        for a in range(0, self.weights.shape[1], self.BLOCK):
            out[:, a:a + self.BLOCK] = x @ self.weights[:, a:a + self.BLOCK].astype(np.float32)
        out *= self.scale
        return out
