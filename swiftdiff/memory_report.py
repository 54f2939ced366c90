"""``sd.memory_report``: what a model keeps for backpropagation, layer by layer, and what a
checkpointing plan keeps.

How the bytes are found, not guessed: each layer call is traced once (a ``tf.function`` graph of
its forward pass and its gradient, never run) with the report's batch size, and the tensors of the
forward pass that the gradient's ops read are what the layer keeps: its input for a convolution's
filter gradient, its output for a ReLU, the mask for a Dropout, BatchNorm's input. A tensor read by
several layers' gradients is counted once. The forward work of each call (for the planner) is
counted from the same graph: ``2·m·k`` for matrix products and convolutions, one per output element
for everything else. A predicted peak adds, at each call backpropagation reaches, the weight
gradients computed so far (an optimizer applies them all at the end of the step) and a working set
of cotangents (``_planner.WORKING_TENSORS`` times the call's largest output or kept internal
tensor, e.g. attention scores), calibrated against the live-tensor peak TensorFlow's allocator
measures (benchmarks/whole_models.py).
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf

from . import _planner
from ._model_graph import ModelGraph, model_graph
from ._values import variable_handle

_NOT_ACTIVATIONS = frozenset({"ReadVariableOp", "Const", "VarHandleOp", "Shape", "ShapeN", "Size", "Rank"})
_PRODUCTS = frozenset(
    {"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Conv2D", "Conv3D", "Conv1D"}
)


@dataclasses.dataclass(frozen=True)
class LayerRow:
    """One line of the report: a layer call."""

    name: str
    kind: str
    output_shape: tuple
    kept_bytes: int
    flops: int
    segment: int | None
    checkpointed: bool | None


@dataclasses.dataclass
class MemoryReport:
    """What ``sd.memory_report`` returns (beyond S4TF).

    Attributes:
        rows: a ``LayerRow`` per layer call, in the order the model runs them.
        plain_peak_bytes: the predicted peak bytes of a training step of the model without
            checkpointing, beyond the weights: activations kept for backpropagation, weight
            gradients, cotangents (what ``get_memory_info``'s peak counts over a step).
        peak_bytes: the same for the plan (the model's own when it has none).
        cut_points: positions (row indices) after which one tensor carries everything.
        notes: sentences about the model (no cut point, a plan's segments).

    Examples:
        >>> import keras, swiftdiff as sd
        >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="tanh")])
        >>> report = sd.memory_report(model, (4, 8))
        >>> report.rows[0].output_shape, report.rows[0].kept_bytes  # tanh's output: 4*16 float32
        ((4, 16), 256)
    """

    rows: list
    plain_peak_bytes: int
    peak_bytes: int
    cut_points: list
    notes: list

    def __str__(self) -> str:
        header = f"{'Layer (type)':<44}{'Output shape':<24}{'Kept for backprop':>18}{'Segment':>10}"
        lines = [header, "=" * len(header)]
        for row in self.rows:
            segment = "" if row.segment is None else f"{row.segment}{'' if row.checkpointed else ' (kept)'}"
            lines.append(
                f"{(row.name + ' (' + row.kind + ')')[:43]:<44}{str(row.output_shape)[:23]:<24}"
                f"{_human(row.kept_bytes):>18}{segment:>10}"
            )
        lines.append("=" * len(header))
        lines.append(f"Predicted peak of a training step, plain: {_human(self.plain_peak_bytes)}")
        lines.append(f"Predicted peak of a training step, plan:  {_human(self.peak_bytes)}")
        lines.append("(activations kept for backpropagation, weight gradients, cotangents; not the weights)")
        lines += self.notes
        return "\n".join(lines)


def _human(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.2f} {unit}"
        count /= 1024
    return str(count)


def _with_batch(spec, batch: int) -> tuple:
    shape = tuple(spec.shape)
    if shape and shape[0] is None:
        shape = (batch, *shape[1:])
    return shape


def _bytes(shape, dtype) -> int:
    if any(d is None for d in shape):
        raise ValueError(f"sd.memory_report: a tensor of shape {shape} has unknown dimensions")
    return int(np.prod(shape, dtype=np.int64)) * tf.as_dtype(dtype).size


class Analysis:
    """Per call: bytes of internal tensors kept, which input and output keys its gradient reads,
    its forward work, and the shapes of everything, for one batch size."""

    def __init__(self, graph: ModelGraph, batch: int):
        self.graph, self.batch = graph, batch
        self.shapes = {key: _with_batch(spec, batch) for key, spec in graph.specs.items()}
        self.dtypes = {key: spec.dtype for key, spec in graph.specs.items()}
        self.internal: list = []
        self.largest_internal: list = []  # per call, its largest tensor kept inside (attention scores)
        self.sparse_gradient_bytes: list = []  # per call, variable id -> bytes of its IndexedSlices
        self.reads_inputs: list = []
        self.reads_outputs: list = []
        self.flops: list = []
        for call in graph.calls:
            internal, inputs, outputs, flops = self._trace(call)
            self.internal.append(internal)
            self.reads_inputs.append(inputs)
            self.reads_outputs.append(outputs)
            self.flops.append(flops)

    def _trace(self, call):
        specs = [tf.TensorSpec(self.shapes[key], self.dtypes[key]) for key in call.inputs]
        found: dict = {}

        def probe(*xs):
            values = dict(zip(call.inputs, xs, strict=True))
            watched = [x for x in xs if x.dtype.is_floating]
            with tf.GradientTape() as tape:
                tape.watch(watched)
                outputs = keras.tree.flatten(call.run(values, training=True))
            graph = tf.compat.v1.get_default_graph()
            mark = len(graph.get_operations())
            # Under a tf.distribute strategy's scope (cross-replica context) a mirrored variable
            # cannot be watched; its first replica's component reads and differentiates the same.
            strategy = tf.distribute.get_strategy()
            targets = watched + [
                strategy.experimental_local_results(variable_handle(v))[0] for v in call.trainable_variables
            ]
            floating = [o for o in outputs if o.dtype.is_floating]
            grads = tape.gradient(floating, targets, output_gradients=[tf.ones_like(o) for o in floating])
            found["weight_gradients"] = grads[len(watched) :]
            forward = graph.get_operations()[:mark]
            found["forward"], found["backward"] = forward, graph.get_operations()[mark:]
            found["xs"], found["outputs"] = list(xs), outputs
            return 0

        tf.function(probe, autograph=False).get_concrete_function(*specs)
        forward_ops = {id(op) for op in found["forward"]}
        read: dict = {}
        for op in found["backward"]:
            for tensor in op.inputs:
                if (
                    id(tensor.op) in forward_ops
                    and tensor.op.type not in _NOT_ACTIVATIONS
                    and not _read_from_a_variable(tensor)
                ):
                    read[tensor.ref()] = tensor
        xs = {x.ref(): key for x, key in zip(found["xs"], call.inputs, strict=True)}
        outs = {o.ref(): key for o, key in zip(found["outputs"], call.outputs, strict=True)}
        reads_inputs = {xs[ref] for ref in read if ref in xs}
        reads_outputs = {outs[ref] for ref in read if ref in outs}
        internal_sizes = [
            _bytes(tuple(t.shape), t.dtype)
            for ref, t in read.items()
            if ref not in xs and ref not in outs and t.op.type != "Placeholder" and t.dtype != tf.resource
        ]
        self.largest_internal.append(max(internal_sizes, default=0))
        # A gather's gradient (an Embedding's) is IndexedSlices: the rows the batch read and their
        # indices, not the whole table; Keras' optimizers apply it sparsely.
        self.sparse_gradient_bytes.append(
            {
                id(variable): _bytes(tuple(grad.values.shape), grad.values.dtype)
                + _bytes(tuple(grad.indices.shape), grad.indices.dtype)
                for variable, grad in zip(call.trainable_variables, found["weight_gradients"], strict=True)
                if isinstance(grad, tf.IndexedSlices) and grad.values.shape.is_fully_defined()
            }
        )
        flops = sum(
            _flops(op) for op in found["forward"] if not (op.outputs and _read_from_a_variable(op.outputs[0]))
        )
        return sum(internal_sizes), reads_inputs, reads_outputs, flops

    def bytes_of(self, key: int) -> int:
        """Bytes of the model tensor ``key`` at this batch size."""
        return _bytes(self.shapes[key], self.dtypes[key])

    def chain(self) -> _planner.Chain:
        """The planner's view: bytes kept per call (shared tensors once), boundaries, work."""
        model_inputs = set(self.graph.inputs)
        kept_keys = set()
        for inputs, outputs in zip(self.reads_inputs, self.reads_outputs, strict=True):
            kept_keys |= inputs | outputs
        kept = []
        for position, call in enumerate(self.graph.calls):
            own = sum(
                self.bytes_of(key) for key in call.outputs if key in kept_keys and key not in model_inputs
            )
            kept.append(self.internal[position] + own)
        boundary = {}
        points = self.graph.cut_points()
        for point in points:
            boundary[point] = self.bytes_of(self.graph.carried(point))
        # The working set scales with the largest tensor a call's backward pass goes through: its
        # largest output, or a larger one inside it (MultiHeadAttention's scores are 8x its output
        # in the benchmark's Transformer; their cotangents are that size too).
        largest = tuple(
            max([self.bytes_of(key) for key in call.outputs] + [self.largest_internal[position]])
            for position, call in enumerate(self.graph.calls)
        )
        return _planner.Chain(
            kept=tuple(kept),
            boundary=boundary,
            flops=tuple(self.flops),
            points=tuple(points),
            largest=largest,
            gradients=self._gradient_bytes(),
        )

    def _gradient_bytes(self) -> tuple:
        """Bytes of the weight gradients each call's backward pass produces: every trainable
        variable once, at the last call that reads it (backpropagation reaches it first); a sparse
        gradient (IndexedSlices) at every call that makes one, at its own size (TensorFlow
        concatenates the slices of several calls)."""
        last_call: dict = {}
        gradients = [0] * len(self.graph.calls)
        for position, call in enumerate(self.graph.calls):
            sparse = self.sparse_gradient_bytes[position]
            for variable in call.trainable_variables:
                if id(variable) in sparse:
                    gradients[position] += sparse[id(variable)]
                else:
                    last_call[id(variable)] = (position, variable)
        for position, variable in last_call.values():
            gradients[position] += _bytes(tuple(variable.shape), variable.dtype)
        return tuple(gradients)


def _read_from_a_variable(tensor) -> bool:
    """Whether ``tensor`` is a variable's value, passed on by Identity or Cast ops: a weight, not an
    activation (a mirrored variable under a tf.distribute strategy is read as ReadVariableOp ->
    Identity; a mixed-precision layer casts its kernel)."""
    op = tensor.op
    while op.type in ("Identity", "Cast") and op.inputs:
        op = op.inputs[0].op
    return op.type in ("ReadVariableOp", "VarHandleOp")


def _flops(op) -> int:
    outputs = [t for t in op.outputs if t.shape.is_fully_defined()]
    size = sum(int(np.prod(t.shape.as_list(), dtype=np.int64)) for t in outputs)
    try:
        if op.type in _PRODUCTS and op.inputs[1].shape.is_fully_defined():
            kernel = op.inputs[1].shape.as_list()
            contracted = (
                int(np.prod(kernel[:-1], dtype=np.int64))
                if op.type.startswith("Conv")
                else kernel[-1]
                if op.get_attr("adj_y" if "BatchMatMul" in op.type else "transpose_b")
                else kernel[-2]
            )
            return 2 * size * contracted
        if op.type == "DepthwiseConv2dNative":
            kernel = op.inputs[1].shape.as_list()
            return 2 * size * kernel[0] * kernel[1]
        if op.type == "Einsum":
            equation = op.get_attr("equation").decode()
            operands, result = equation.split("->")
            letters: dict = {}
            for operand, tensor in zip(operands.split(","), op.inputs, strict=True):
                for letter, dim in zip(operand, tensor.shape.as_list(), strict=False):
                    letters[letter] = dim
            contracted = math.prod(d or 1 for letter, d in letters.items() if letter not in result)
            return 2 * size * contracted
    except (ValueError, TypeError, IndexError):
        pass
    return size


def _batch_of(model, inputs) -> int:
    """The batch size of ``inputs``: a batch (a tensor, array or nest of them) or shape(s)."""
    leaves = keras.tree.flatten(inputs) if not _is_shape(inputs) else [inputs]
    if leaves and all(_is_shape(leaf) for leaf in leaves):
        shapes = [tuple(leaf) for leaf in leaves]
    else:
        try:
            shapes = [tuple(np.shape(leaf)) for leaf in leaves]
        except Exception as error:  # noqa: BLE001 - turned into the named error below
            raise TypeError(
                f"sd.memory_report: inputs must be a batch or shapes, got {type(inputs).__name__}"
            ) from error
    if len(shapes) != len(model.inputs):
        raise ValueError(
            f"sd.memory_report: inputs has {len(shapes)} tensors or shapes; "
            f"the model takes {len(model.inputs)}"
        )
    batch = None
    for shape, spec in zip(shapes, model.inputs, strict=True):
        expected = tuple(spec.shape)
        if len(shape) != len(expected) or any(
            e is not None and s != e for s, e in zip(shape, expected, strict=True)
        ):
            raise ValueError(
                f"sd.memory_report: inputs of shape {shape} do not match the model's input {expected}"
            )
        batch = shape[0] if batch is None else batch
    if not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError("sd.memory_report: inputs must include the batch size")
    return int(batch)


def _is_shape(value) -> bool:
    return isinstance(value, (tuple, list, tf.TensorShape)) and all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in value
    )


def report_for(graph: ModelGraph, analysis: Analysis, plan=None) -> MemoryReport:
    """The report of ``graph`` with ``plan`` (a list of ``_planner.Segment``; ``None``: plain)."""
    chain = analysis.chain()
    plain_peak, _ = _planner.figures(chain, [_planner.Segment(0, chain.length, False)])
    peak = _planner.figures(chain, plan)[0] if plan else plain_peak
    segment_of: dict = {}
    for index, segment in enumerate(plan or []):
        for position in range(segment.start, segment.stop):
            segment_of[position] = (index, segment.checkpointed)
    rows = []
    for position, call in enumerate(graph.calls):
        index, checkpointed = segment_of.get(position, (None, None))
        shape = (
            tuple(analysis.shapes[call.outputs[0]])
            if len(call.outputs) == 1
            else tuple(tuple(analysis.shapes[key]) for key in call.outputs)
        )
        rows.append(
            LayerRow(
                call.layer.name,
                type(call.layer).__name__,
                shape,
                chain.kept[position],
                analysis.flops[position],
                index,
                checkpointed,
            )
        )
    notes = []
    if not chain.points:
        notes.append(
            "No cut point: no single tensor carries everything between two parts of this model, so a "
            "plan has one segment (checkpointing it whole saves nothing)."
        )
    if plan:
        recomputed = sum(s.checkpointed for s in plan)
        notes.append(f"Plan: {len(plan)} segments, {recomputed} recomputed in backpropagation.")
    return MemoryReport(rows, int(plain_peak), int(peak), list(chain.points), notes)


def memory_report(model, inputs) -> MemoryReport:
    """What a Keras model keeps for backpropagation, layer by layer (beyond S4TF).

    For each layer call: its output shape, the bytes its gradient needs kept from the forward pass
    (found by tracing the call's gradient, see the module docstring), and for a model made by
    ``sd.checkpointed`` its segment; then the predicted peak bytes of a training step for the plain
    model and for the plan. ``print(report)`` shows the table.

    Args:
        model: a functional or Sequential Keras model, or one made by ``sd.checkpointed``.
        inputs: a batch (tensor, array, or a nest of them as the model takes), or its shape(s)
            including the batch size.

    Returns:
        A ``MemoryReport``.

    Raises:
        TypeError: ``model`` is not a Keras model, or its graph cannot be read.
        ValueError: ``inputs`` do not match the model's inputs.

    Examples:
        >>> import keras, swiftdiff as sd
        >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
        ...                           keras.layers.Dense(1)])
        >>> report = sd.memory_report(model, (32, 8))
        >>> # kept: ReLU's output; the peak adds the weight gradients (644 bytes) and
        >>> # backpropagation's working set (3 x 2048 bytes)
        >>> [row.kept_bytes for row in report.rows], report.plain_peak_bytes
        ([2048, 0], 8836)
    """
    plan = getattr(model, "checkpointing_plan", None)  # a model made by sd.checkpointed
    if plan is not None:
        model = model.model
    graph = model_graph(model, "sd.memory_report")
    analysis = Analysis(graph, _batch_of(model, inputs))
    return report_for(graph, analysis, plan)
