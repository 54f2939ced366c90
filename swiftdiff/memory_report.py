"""``sd.memory_report``: what a model keeps for backpropagation, layer by layer, and what a
checkpointing plan keeps.

How the bytes are found, not guessed: each layer call is traced once (a ``tf.function`` graph of
its forward pass and its gradient, never run) with the report's batch size, and the tensors of the
forward pass that the gradient's ops read are what the layer keeps: its input for a convolution's
filter gradient, its output for a ReLU, the mask for a Dropout, BatchNorm's input. A tensor read by
several layers' gradients is counted once. The forward work of each call (for the planner) is
counted from the same graph: ``2·m·k`` for matrix products and convolutions, one per output element
for everything else.

A predicted peak adds, at each call backpropagation reaches, that call's working set, also read
from the traced graph: the gradient's ops are run in order on paper (``_backward_peak``: each
output allocated, freed after its last reader, elementwise ops writing into an input that dies
with them, as TensorFlow's kernels do), which gives the incoming and outgoing cotangents, the
temporaries (a Keras BatchNormalization's backward pass holds four of its input's size at once)
and the weight gradients; plus the cotangents pending for tensors read later (a residual
shortcut). Two constants come from measurement, with TensorFlow's allocator (the profiler's
allocation events of ResNet50, DenseNet121, MobileNetV2 and a Transformer encoder in ``fit``):
``WEIGHT_COPIES`` and ``ALLOCATOR_ROUNDING``. Weight gradients are not accumulated: TensorFlow
applies each weight's update as soon as its gradient exists (measured in ``fit``, with and
without XLA: 8 Dense layers of 4 MiB of weights peak at 12 MiB, not 32).
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


# An optimizer's update of a weight that a pending gradient op still reads writes a copy
# (TensorFlow's copy-on-write), and two inter-op threads go through two calls at once: at a call,
# up to this many extra copies of its weights and the next call's. Measured: ResNet50's plans peak
# while stage 5's 9 MiB kernels are updated, 31 MiB of moved weights alive at the peak.
WEIGHT_COPIES = 2
# TensorFlow's BFC allocator rounds each request up and does not split a free chunk smaller than
# twice the request: the bytes it counts were 1.00-1.13 of the bytes requested at the measured peaks
# (a 16 MiB tensor in a 27 MiB chunk at worst).
ALLOCATOR_ROUNDING = 1.05
# Ops whose output is their input's buffer (no allocation), and elementwise ops whose kernels write
# into an input of the same size that no later op reads (TensorFlow's buffer forwarding).
_ALIASES = frozenset(
    {"Identity", "Reshape", "ExpandDims", "Squeeze", "StopGradient", "Snapshot", "EnsureShape"}
)
_IN_PLACE = frozenset(
    {
        "Mul", "AddV2", "Add", "Sub", "RealDiv", "Neg", "ReluGrad", "Relu6Grad", "EluGrad", "SeluGrad",
        "TanhGrad", "SigmoidGrad", "Square", "Sqrt", "Rsqrt", "Exp", "Log", "Maximum", "Minimum",
        "SelectV2", "Select", "AddN", "SquaredDifference", "Reciprocal", "SoftplusGrad", "SoftsignGrad",
        "LeakyReluGrad", "DivNoNan", "MulNoNan", "BiasAdd", "Tanh", "Sigmoid", "Relu", "Erf", "Pow",
        "Sign", "Abs",
    }
)  # fmt: skip
_NO_BUFFER = frozenset(
    {"Shape", "ShapeN", "Size", "Rank", "Const", "ReadVariableOp", "NoOp", "BroadcastGradientArgs"}
)


def _backward_peak(backward: list, results: list) -> int:
    """The most bytes ``backward``'s ops (a call's gradient, in the order traced) hold at once,
    run in that order: each op's outputs are allocated (or written into a dying input, see
    ``_IN_PLACE``) and freed after their last reader; ``results`` (the gradients) stay. Tensors of
    the forward pass are not counted (what is kept is counted apart)."""
    ours = {id(op) for op in backward}
    readers: dict = {}
    for op in backward:
        for tensor in op.inputs:
            if id(tensor.op) in ours:
                readers[tensor.ref()] = readers.get(tensor.ref(), 0) + 1
    for result in results:
        for tensor in (result.values, result.indices) if isinstance(result, tf.IndexedSlices) else (result,):
            if tensor is not None:
                readers[tensor.ref()] = readers.get(tensor.ref(), 0) + 1  # never freed
    buffer_of: dict = {}
    size: list = []
    references: list = []
    current = peak = 0
    for op in backward:
        for output in op.outputs:
            count = readers.get(output.ref(), 0)
            if not count or op.type in _NO_BUFFER:
                continue
            buffer = None
            if op.type in _ALIASES and op.inputs and op.inputs[0].ref() in buffer_of:
                buffer = buffer_of[op.inputs[0].ref()]
            elif op.type in _IN_PLACE:
                for tensor in op.inputs:
                    candidate = buffer_of.get(tensor.ref())
                    if (
                        candidate is not None
                        and references[candidate] == 1
                        and size[candidate] == _size(output)
                        and tensor.dtype == output.dtype
                    ):
                        buffer = candidate
                        break
            if buffer is None:
                buffer = len(size)
                size.append(_size(output))
                references.append(0)
                current += size[buffer]
            buffer_of[output.ref()] = buffer
            references[buffer] += count
        peak = max(peak, current)
        for tensor in op.inputs:
            buffer = buffer_of.get(tensor.ref())
            if buffer is not None:
                references[buffer] -= 1
                if references[buffer] == 0:
                    current -= size[buffer]
    return peak


def _size(tensor) -> int:
    """``_bytes`` of a traced tensor; 0 for a handle or a shape the trace does not know."""
    if tensor.dtype in (tf.resource, tf.variant) or not tensor.shape.is_fully_defined():
        return 0
    return _bytes(tuple(tensor.shape), tensor.dtype)


@dataclasses.dataclass(frozen=True)
class LayerRow:
    """One line of the report: a layer call. ``kept_bytes``: what its gradient reads from the
    forward pass that no earlier call's gradient reads (a tensor read by several is counted once,
    at the first)."""

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
        lines.append(
            "(activations kept for backpropagation and a working set: cotangents, temporaries, weight "
            "gradients, copies of weights being updated; not the weights themselves)"
        )
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
        self.backward_peak: list = []  # per call, the most its backward pass allocates at once
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

        # A model input gets no gradient in training (fit does not ask for it): not watched.
        model_inputs = set(self.graph.inputs)

        def probe(*xs):
            values = dict(zip(call.inputs, xs, strict=True))
            watched = [
                x
                for x, key in zip(xs, call.inputs, strict=True)
                if x.dtype.is_floating and key not in model_inputs
            ]
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
            found["weight_gradients"], found["gradients"] = grads[len(watched) :], grads
            forward = graph.get_operations()[:mark]
            found["forward"], found["backward"] = forward, graph.get_operations()[mark:]
            found["xs"], found["outputs"] = list(xs), outputs
            return 0

        tf.function(probe, autograph=False).get_concrete_function(*specs)
        self.backward_peak.append(_backward_peak(found["backward"], found["gradients"]))
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

    def kept_bytes(self) -> list:
        """Bytes kept for backpropagation per call: what its gradient reads inside it, and each
        model tensor some gradient reads, counted at the first call whose gradient reads it (model
        inputs are not counted: they are alive anyway)."""
        kept = list(self.internal)
        for key, positions in self._readers().items():
            kept[positions[0]] += self.bytes_of(key)
        return kept

    def _readers(self) -> dict:
        """For each model tensor (not a model input) some gradient reads, the calls whose gradients
        read it, in order."""
        model_inputs = set(self.graph.inputs)
        readers: dict = {}
        for position, (inputs, outputs) in enumerate(zip(self.reads_inputs, self.reads_outputs, strict=True)):
            for key in sorted(inputs | outputs):
                if key not in model_inputs:
                    readers.setdefault(key, []).append(position)
        return readers

    def chain(self) -> _planner.Chain:
        """The planner's view: bytes kept per call, boundaries and who reads them, working sets,
        work; in the allocator's bytes (``ALLOCATOR_ROUNDING``)."""
        points = self.graph.cut_points()
        reading = self._readers()
        readers = {}
        for point in points:
            positions = reading.get(self.graph.carried(point), [])
            readers[point] = (
                positions[0] if positions else None,
                next((p for p in positions if p >= point), None),
            )
        weights = self._gradient_bytes()
        pending = self._pending_cotangents()
        working = [
            self.backward_peak[p] + pending[p] + WEIGHT_COPIES * sum(weights[p : p + 2])
            for p in range(len(self.graph.calls))
        ]

        def allocated(count):
            return int(math.ceil(count * ALLOCATOR_ROUNDING))

        return _planner.Chain(
            kept=tuple(allocated(k) for k in self.kept_bytes()),
            boundary={point: allocated(self.bytes_of(self.graph.carried(point))) for point in points},
            flops=tuple(self.flops),
            points=tuple(points),
            working=tuple(allocated(w) for w in working),
            readers=readers,
        )

    def _pending_cotangents(self) -> list:
        """Per call, the bytes of the cotangents backpropagation holds for tensors made before the
        call and read after it (a residual block's shortcut while its main branch is gone through)."""
        made, last_read = {}, {}
        for position, call in enumerate(self.graph.calls):
            for key in call.outputs:
                made[key] = position
            for key in call.inputs:
                last_read[key] = position
        pending = [0] * len(self.graph.calls)
        for key, position in made.items():
            if tf.as_dtype(self.dtypes[key]).is_floating:
                for between in range(position + 1, last_read.get(key, -1)):
                    pending[between] += self.bytes_of(key)
        return pending

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
    kept = analysis.kept_bytes()
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
                kept[position],
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
        >>> # kept: ReLU's output; the peak adds the first call's working set (its cotangent,
        >>> # its weight gradients, copies of weights being updated), in the allocator's bytes
        >>> [row.kept_bytes for row in report.rows], report.plain_peak_bytes
        ([2048, 0], 6259)
    """
    plan = getattr(model, "checkpointing_plan", None)  # a model made by sd.checkpointed
    if plan is not None:
        model = model.model
    graph = model_graph(model, "sd.memory_report")
    analysis = Analysis(graph, _batch_of(model, inputs))
    return report_for(graph, analysis, plan)
