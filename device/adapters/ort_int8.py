"""A float32 matrix product `x @ w` run by onnxruntime with `w` quantised to int8 (per output column).

One tiny ONNX graph per matrix (com.microsoft DynamicQuantizeMatMul: the input is quantised on the
fly, the weight once, here). onnxruntime's weight pre-packing is kept on: without it the product is
several times slower; the memory arena is off. One thread.
"""

from __future__ import annotations

import numpy as np


class Int8MatMul:
    """`x @ w` for x [..., in] with w [in, out] held as int8 by onnxruntime."""

    __array_ufunc__ = None  # so that `x @ this` comes to __rmatmul__

    def __init__(self, w: np.ndarray, threads: int = 1, scale: np.ndarray | None = None) -> None:
        """`w`: float32 [in, out]; or int8 already quantised, with its per-column `scale` [out]."""
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        if scale is None:
            scale, q = quantise_columns(w)
        else:
            q = w
        self.shape = w.shape
        node = helper.make_node("DynamicQuantizeMatMul", ["x", "w", "s"], ["y"], domain="com.microsoft")
        graph = helper.make_graph(
            [node], "matmul", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", w.shape[0]])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", w.shape[1]])],
            initializer=[numpy_helper.from_array(q, "w"), numpy_helper.from_array(scale, "s")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                        helper.make_opsetid("com.microsoft", 1)])
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads
        options.enable_cpu_mem_arena = False
        blob = model.SerializeToString()
        del model, graph, q
        self._session = ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])

    def __rmatmul__(self, x: np.ndarray) -> np.ndarray:
        lead = x.shape[:-1]
        flat = np.ascontiguousarray(x.reshape(-1, self.shape[0]), dtype=np.float32)
        return self._session.run(None, {"x": flat})[0].reshape(*lead, self.shape[1])


def quantise_columns(w: np.ndarray, block: int = 8192, limit: int = 63) -> tuple[np.ndarray, np.ndarray]:
    """(scale [out], int8 [in, out]) with `w ≈ q * scale`, per column, a block of columns at a time
    (no float32 copy of the whole matrix). Values in ±63, not ±127: on x86 onnxruntime multiplies
    uint8 inputs by int8 weights in pairs summed into int16 (AVX2), which saturates with full-range
    weights — measured here, ±127 gave a larger error than ±63 on an input with one large value."""
    scale = np.empty(w.shape[1], dtype=np.float32)
    q = np.empty(w.shape, dtype=np.int8)
    for j in range(0, w.shape[1], block):
        part = w[:, j:j + block]
        s = (np.abs(part).max(axis=0) / float(limit)).astype(np.float32)
        s[s == 0] = 1.0
        scale[j:j + block] = s
        q[:, j:j + block] = np.clip(np.round(part / s), -limit, limit)
    return scale, q
