"""Moonshine's decoder as one lean token step, and its cross-attention cache computed with the encoder.

The exported decoder (`decoder_model_merged`) runs its 8 layers through an `If` of two 1,400-node branches, most
of the nodes working out shapes, rotary angles and masks again on every call; the cross-attention keys are
transposed and scaled again on every call too. A constrained search makes 15–40 decoder calls a request, 8–16 ms
each at 1–7 hypotheses on one core here: most of what a household waits for. This step rebuilds the with-cache
branch for what the search asks of it, one new token per hypothesis (6–13 ms a call, 15–22% less; BENCHMARKS.md,
"Issue 23: Moonshine's decoder as one lean token step"):

- every computation with weights (embedding lookup, layer norms, projections, the MLP, the final norm and the
  output projection) is the original branch's own nodes, copied as they are (int8 or fp32 alike), so
  onnxruntime fuses them into the same kernels;
- self-attention for one token needs no mask; the rotary angles come from the token's position (one input),
  rotate-every-two as a constant ±1 matrix (exact: one non-zero term per column);
- the cross-attention keys arrive transposed and scaled, computed once per request by the encoder graph
  (`with_cross_cache`), from the original branch's own key and value projections;
- the output is the log-softmax over the 32,000 text tokens (the ids above are unused).

The same log-probabilities as the merged decoder to float rounding (1e-5), as long as onnxruntime keeps the
export's order of operations (adapters.moonshine.UNFUSED): tests/test_moonshine.py decodes with both.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from device.adapters.speech.moonshine import HEAD_DIM, HEADS, TEXT_VOCAB

LAYER = "/model/decoder/layers.{}"
INV_FREQ = "/model/decoder/rotary_emb/Cast_1_output_0"


def scale() -> np.ndarray:
    """sqrt(1 / sqrt(head_dim)), as the export computes it (each of query and key is scaled by it)."""
    return np.sqrt(np.float32(1.0) / np.sqrt(np.float32(HEAD_DIM))).astype(np.float32).reshape(1)


class _Copier:
    """Copies the nodes a tensor of the exported graph is computed from, renaming, into a new node list."""

    def __init__(self, nodes: list, initializers: dict, inputs: set[str], prefix: str) -> None:
        self.made = {o: n for n in nodes for o in n.output}
        self.initializers, self.allowed_inputs, self.prefix = initializers, inputs, prefix
        self.memo: dict[str, str] = {"": ""}
        self.nodes: list = []
        self.used: dict[str, object] = {}

    def tensor(self, name: str) -> str:
        """The new graph's name for the exported graph's tensor `name`, copying what computes it."""
        if name in self.memo:
            return self.memo[name]
        if name in self.initializers:  # renamed with the prefix too: the graph it joins may use the same names
            tensor = type(self.initializers[name])()
            tensor.CopyFrom(self.initializers[name])
            tensor.name = self.prefix + name
            self.used[tensor.name] = tensor
            self.memo[name] = tensor.name
            return tensor.name
        if name in self.allowed_inputs:
            self.memo[name] = name
            return name
        node = self.made.get(name)
        if node is None:
            raise ValueError(f"the Moonshine decoder's {name!r} depends on an input this step does not have")
        copy = type(node)()
        copy.CopyFrom(node)
        del copy.input[:]
        copy.input.extend(self.tensor(i) for i in node.input)
        del copy.output[:]
        copy.output.extend(self.prefix + o for o in node.output)
        copy.name = self.prefix + node.name
        for o in node.output:
            self.memo[o] = self.prefix + o
        self.nodes.append(copy)
        return self.memo[name]


def _branches(merged) -> tuple[list, list, dict]:
    """(the with-cache branch's nodes, the no-cache branch's, every initializer by name) of the merged decoder."""
    top = [n for n in merged.graph.node if n.op_type != "If"]
    branch = next(n for n in merged.graph.node if n.op_type == "If")
    graphs = {a.name: a.g for a in branch.attribute}
    inits = {t.name: t for t in merged.graph.initializer}
    for g in graphs.values():
        inits.update({t.name: t for t in g.initializer})
    return top + list(graphs["then_branch"].node), top + list(graphs["else_branch"].node), inits


def _constant(copier: _Copier, name: str) -> np.ndarray:
    from onnx import numpy_helper

    if name in copier.initializers:
        return numpy_helper.to_array(copier.initializers[name])
    node = copier.made[name]
    return numpy_helper.to_array(next(a.t for a in node.attribute if a.name == "value"))


def lean_step(merged):
    """The one-token decoder step (see the module docstring) from the prepared merged decoder."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, _, inits = _branches(merged)
    layers = sum(1 for i in merged.graph.input if i.name.endswith(".decoder.key"))
    inputs = {"input_ids", "position"} | {f"past_key_values.{k}.decoder.{kv}" for k in range(layers)
                                          for kv in ("key", "value")}
    c = _Copier(nodes, inits, inputs, "")
    extra: dict[str, object] = {}
    count = [0]

    def const(name: str, value: np.ndarray) -> str:
        extra[name] = numpy_helper.from_array(np.asarray(value), name)
        return name

    def op(kind: str, ins: list[str], out: str = "", **attrs) -> str:
        count[0] += 1
        out = out or f"step/{kind}_{count[0]}"
        c.nodes.append(helper.make_node(kind, ins, [out], name=out, **attrs))
        return out

    rot = int(_constant(c, c.made[f"{LAYER.format(0)}/self_attn/Slice_output_0"].input[2])[0])
    inv_freq = _constant(c, INV_FREQ).reshape(-1).astype(np.float32)
    rotation = np.zeros((HEAD_DIM, HEAD_DIM), np.float32)  # rotate every two: (x0, x1) → (-x1, x0)
    for i in range(rot // 2):
        rotation[2 * i + 1, 2 * i], rotation[2 * i, 2 * i + 1] = -1.0, 1.0
    const("step/rotation", rotation)
    const("step/scale", scale())
    const("step/inv_freq", np.repeat(inv_freq, 2))  # interleaved, as the export's Concat + Reshape lay them
    const("step/ones", np.ones(HEAD_DIM - rot, np.float32))
    const("step/zeros", np.zeros(HEAD_DIM - rot, np.float32))
    const("step/heads", np.array([0, HEADS, 1, HEAD_DIM], np.int64))  # [b, 1, 416] → [b, 8, 1, 52]: one token
    const("step/model", np.array([0, 1, HEADS * HEAD_DIM], np.int64))
    angle = op("Mul", [op("Cast", ["position"], to=TensorProto.FLOAT), "step/inv_freq"])
    cos = op("Reshape", [op("Concat", [op("Cos", [angle]), "step/ones"], axis=0), const("step/b", np.array(
        [1, 1, 1, HEAD_DIM], np.int64))])
    sin = op("Reshape", [op("Concat", [op("Sin", [angle]), "step/zeros"], axis=0), "step/b"])

    def rotary(t: str) -> str:
        return op("Add", [op("Mul", [t, cos]), op("Mul", [op("MatMul", [t, "step/rotation"]), sin])])

    outputs = []
    for k in range(layers):
        p = LAYER.format(k)
        q, key, value = (op("Reshape", [c.tensor(f"{p}/self_attn/{w}/MatMul_output_0"), "step/heads"])
                         for w in ("q_proj", "k_proj", "v_proj"))
        present_k = op("Concat", [f"past_key_values.{k}.decoder.key", rotary(key)], f"present.{k}.decoder.key", axis=2)
        present_v = op("Concat", [f"past_key_values.{k}.decoder.value", value], f"present.{k}.decoder.value", axis=2)
        outputs += [present_k, present_v]
        keys = op("Mul", [op("Transpose", [present_k], perm=[0, 1, 3, 2]), "step/scale"])
        weights = op("Softmax", [op("MatMul", [op("Mul", [rotary(q), "step/scale"]), keys])], axis=-1)
        c.memo[f"{p}/self_attn/Reshape_5_output_0"] = op("Reshape", [op("MatMul", [weights, present_v]), "step/model"])
        cq = op("Reshape", [c.tensor(f"{p}/encoder_attn/q_proj/MatMul_output_0"), "step/heads"])
        cross = op("Softmax", [op("MatMul", [op("Mul", [cq, "step/scale"]), f"cross.{k}.keyT"])], axis=-1)
        c.memo[f"{p}/encoder_attn/Reshape_1_output_0"] = op("Reshape", [op("MatMul", [cross, f"cross.{k}.value"]),
                                                                         "step/model"])
    text = op("Slice", [c.tensor("logits"), const("step/0", np.array([0], np.int64)),
                        const("step/text", np.array([TEXT_VOCAB], np.int64)), const("step/last", np.array([-1]))])
    op("LogSoftmax", [text], "logprobs", axis=-1)
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    graph_inputs = [helper.make_tensor_value_info("input_ids", i64, ["batch", 1]),
                    helper.make_tensor_value_info("position", i64, [1])]
    for k in range(layers):
        graph_inputs += [helper.make_tensor_value_info(f"past_key_values.{k}.decoder.{kv}", f32,
                                                       ["batch", HEADS, "past", HEAD_DIM]) for kv in ("key", "value")]
        graph_inputs += [helper.make_tensor_value_info(f"cross.{k}.keyT", f32, [1, HEADS, HEAD_DIM, "frames"]),
                         helper.make_tensor_value_info(f"cross.{k}.value", f32, [1, HEADS, "frames", HEAD_DIM])]
    graph_outputs = [helper.make_tensor_value_info("logprobs", f32, ["batch", 1, TEXT_VOCAB])]
    graph_outputs += [helper.make_tensor_value_info(o, f32, ["batch", HEADS, "length", HEAD_DIM]) for o in outputs]
    graph = helper.make_graph(c.nodes, "moonshine_decoder_step", graph_inputs, graph_outputs,
                              [*c.used.values(), *extra.values()])
    return _model(graph, merged)


def with_cross_cache(encoder, merged):
    """The encoder graph with the decoder's cross-attention keys (transposed, scaled) and values as its outputs,
    computed by the no-cache branch's own projections of its output."""
    from onnx import TensorProto, helper, numpy_helper

    _, nodes, inits = _branches(merged)
    hidden = encoder.graph.output[0].name
    c = _Copier(nodes, inits, set(), "cross/")
    c.memo["encoder_hidden_states"] = hidden
    layers = sum(1 for i in merged.graph.input if i.name.endswith(".decoder.key"))
    extra = {n: numpy_helper.from_array(v, n) for n, v in (
        ("cross/split", np.array([0, -1, HEADS, HEAD_DIM], np.int64)), ("cross/scale", scale()))}
    outputs = []
    for k in range(layers):
        p = LAYER.format(k)
        for w, perm in (("k_proj", [0, 2, 3, 1]), ("v_proj", [0, 2, 1, 3])):
            split = f"cross/{k}/{w}/split"
            c.nodes.append(helper.make_node("Reshape", [c.tensor(f"{p}/encoder_attn/{w}/MatMul_output_0"),
                                                        "cross/split"], [split]))
            name = f"cross.{k}.keyT" if w == "k_proj" else f"cross.{k}.value"
            moved = name if w == "v_proj" else f"{name}/unscaled"
            c.nodes.append(helper.make_node("Transpose", [split], [moved], perm=perm))
            if w == "k_proj":
                c.nodes.append(helper.make_node("Mul", [moved, "cross/scale"], [name]))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    g = encoder.graph
    graph = helper.make_graph(list(g.node) + c.nodes, "moonshine_encoder", list(g.input), outputs,
                              list(g.initializer) + list(c.used.values()) + list(extra.values()))
    return _model(graph, encoder)


def _model(graph, like):
    from onnx import helper

    model = helper.make_model(graph, opset_imports=list(like.opset_import))
    model.ir_version = like.ir_version
    return model


def rebuild(encoder_path, decoder_path, load: Callable, save: Callable) -> None:
    """Rewrite the prepared encoder.onnx and decoder.onnx in place as the encoder with the cross-attention
    cache and the lean decoder step; a graph laid out otherwise than moonshine-cpp 0.1.4's is a ModelError."""
    from device.errors import ModelError

    merged, encoder = load(decoder_path), load(encoder_path)
    try:
        encoder, step = with_cross_cache(encoder, merged), lean_step(merged)
    except (ValueError, KeyError, IndexError, StopIteration) as exc:
        raise ModelError(f"the Moonshine decoder in {decoder_path} is not laid out as moonshine-cpp 0.1.4 exports it "
                         f"({type(exc).__name__}: {str(exc)[:120]}); prepare from moonshine-cpp==0.1.4") from None
    save(encoder, encoder_path)
    save(step, decoder_path)
