"""Checkpointing: Swift's ``withRecomputationInPullbacks(_:)``.

The body's intermediates are not kept for the backward pass; the body runs again when the pullback
runs. What makes the recomputation exact, and why each piece is needed:

* Outer tapes are paused during the forward run (``tf.custom_gradient`` alone lets them record it,
  which keeps every activation alive in eager mode).
* Keras state (``SeedGenerator`` seeds behind Dropout and ``keras.random``, BatchNorm's moving
  statistics, any ``keras.Variable`` assigned in the body) is captured with a ``keras.StatelessScope``:
  the forward run's updates are applied once, afterwards; the recomputation reads the values the
  forward run saw and its own updates are dropped. Same random numbers, state updated once.
* ``tf.random.Generator``s the body draws from, however it reaches them, are seen by an op callback
  during the forward run (each draw is a ``RngReadAndSkip`` op whose output is the state before the
  draw); the recomputation runs with each rewound to that state, and the state is put back after.
* In graphs (``tf.function``, XLA) the recomputation takes its inputs through a data dependency on
  the incoming cotangent, so that common-subexpression elimination cannot merge it back into the
  forward pass (which would keep the activations and save nothing). And every read of a variable
  (the recomputation's, the forward run's read of state it then updates) reaches the later write of
  that variable through data, not only through the control edge that Grappler may remove.
* Op-seeded stateful random ops (``tf.random.uniform(seed=...)``), ``Generator.binomial`` and random
  draws inside an already-traced ``tf.function`` called by the body cannot be replayed: a
  ``RecomputationWarning`` says so when the body uses them.
* Arguments are bound to the body's signature: keyword arguments work, and only arguments holding
  floating values are differentiated (a boolean mask or an int passes through).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

import keras
import tensorflow as tf

from . import _context, _nest, _platform_internals
from ._custom_vjp import BoundCall, custom_gradient_call, signature_of
from ._platform_internals import (
    add_op_callback,
    function_definition,
    get_keras_mask,
    get_stateless_scope,
    remove_op_callback,
    set_keras_mask,
)
from ._values import describe, variable_handle
from .diagnostics import RecomputationWarning, warn
from .learning_phase import Context, with_learning_phase

# Op-seeded stateful random ops, and the generator ops whose draw cannot be rewound (their outputs
# do not carry the generator's state before the draw).
_UNREPLAYABLE_RANDOM_OPS = frozenset(
    {
        "RandomUniform",
        "RandomUniformInt",
        "RandomStandardNormal",
        "TruncatedNormal",
        "RandomShuffle",
        "Multinomial",
        "RandomGamma",
        "RandomPoisson",
        "RandomPoissonV2",
        "ParameterizedTruncatedNormal",
        "StatefulRandomBinomial",
        "NonDeterministicInts",
        "RngSkip",
        "StatefulUniform",
        "StatefulUniformInt",
        "StatefulUniformFullInt",
        "StatefulStandardNormal",
        "StatefulStandardNormalV2",
        "StatefulTruncatedNormal",
    }
)
# Every draw from a tf.random.Generator (normal, uniform, truncated_normal, make_seeds, split, skip)
# goes through RngReadAndSkip, whose output is the generator's state *before* the draw.
_GENERATOR_DRAW = "RngReadAndSkip"
_FUNCTION_CALLS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})


class _StateScope(keras.StatelessScope):
    """A ``StatelessScope`` that remembers which variables were assigned and honours an outer scope."""

    state_mapping: dict  # set by keras.StatelessScope.__init__

    def __init__(self, state_mapping=()):
        super().__init__(state_mapping=list(state_mapping))
        outer = get_stateless_scope()
        if outer is not None:
            self.state_mapping = {**outer.state_mapping, **self.state_mapping}
        self.assigned: dict = {}

    def add_update(self, update):
        super().add_update(update)
        self.assigned[id(update[0])] = update[0]


class _RandomnessSeen:
    """The random ops a body runs, seen by an op callback: what must be replayed and what cannot.

    Generators are found by what runs, not by where they are stored: the first draw from each
    generator (its state resource) records the state before the draw, wherever the generator was
    reached (an argument, a closure, a global, an attribute, a helper function). Only ops of the
    body's own graph (or eager ops in eager mode) count: ops traced into a nested ``tf.function`` run
    later as one call, which is examined as a whole.
    """

    def __init__(self):
        self.generator_states: dict = {}  # id(resource handle) -> (handle, state before the first draw)
        self.unreplayable: list = []
        self._graph = None if tf.executing_eagerly() else tf.compat.v1.get_default_graph()
        self._first_op = len(self._graph.get_operations()) if self._graph is not None else 0

    def callback(self, op_type, inputs, attrs, outputs, op_name=None, graph=None):
        if isinstance(op_type, bytes):  # eager ops report their type as bytes
            op_type = op_type.decode()
        if graph is not self._graph:
            return outputs  # traced into a nested function: seen through its call op instead
        if op_type == _GENERATOR_DRAW:
            handle = inputs[0]
            if id(handle) not in self.generator_states:
                self.generator_states[id(handle)] = (handle, outputs[0])
        elif op_type in _UNREPLAYABLE_RANDOM_OPS:
            self.unreplayable.append(op_type)
        elif graph is None and op_type.startswith("__inference") and _draws_random(op_type, None):
            self.unreplayable.append("random draws inside a tf.function called by the body")
        return outputs  # not None: TensorFlow hands what a callback returns to the next one

    def _calls_in_graph(self) -> None:
        """Function-call ops the body added to its graph (op callbacks do not report them)."""
        if self._graph is None:
            return
        for op in self._graph.get_operations()[self._first_op :]:
            if op.type in _FUNCTION_CALLS and _draws_random(op.get_attr("f").name, self._graph):
                self.unreplayable.append("random draws inside a tf.function called by the body")

    @contextlib.contextmanager
    def watching(self):
        add_op_callback(self.callback)
        try:
            yield self
        finally:
            remove_op_callback(self.callback)
        self._calls_in_graph()


def _draws_random(name: str, graph, depth: int = 0) -> bool:
    """Whether the traced function ``name`` (or one it calls) runs a random op; never raises."""
    if depth > 8:
        return False
    try:
        definition = function_definition(name, graph)
    except Exception:  # noqa: BLE001 - a probe for a warning must never break the user's call
        return False
    if definition is None:
        return False
    random_ops = _UNREPLAYABLE_RANDOM_OPS | {_GENERATOR_DRAW}
    for node in definition.node_def:
        if node.op in random_ops:
            return True
        inner = (
            node.attr["f"].func.name
            if node.op in _FUNCTION_CALLS
            else (node.op if node.op.startswith("__inference") else None)
        )
        if inner and _draws_random(inner, graph, depth + 1):
            return True
    return False


# Ops that read a variable without being stateful ops. See _exactly_after for why they matter.
_VARIABLE_READS = frozenset({"ReadVariableOp", "ResourceGather", "ResourceGatherNd"})


def _exactly_after(tensors: list, probes: list) -> list:
    """``tensors``, each made to depend on every tensor in ``probes`` by data, its value unchanged.

    Graphs only (eager ops run in program order). Two things need it:

    * Common-subexpression elimination must not merge a recomputation back into the forward pass
      (which would keep the activations and save nothing): the recomputation's inputs are made to
      depend on the incoming cotangent. (XLA's own XlaOptimizationBarrier was measured too: on the
      CPU it is expanded early and the recomputation merged back, 1.13 of plain memory against 0.33
      with this dependency.)
    * A variable read must happen before a later write of the same variable. In a ``tf.function``
      that order is only a control edge from the read (automatic control dependencies), and
      Grappler's dependency optimizer removes control edges that start at a read
      (``ReadVariableOp`` is not a stateful op). Measured in Keras' ``fit`` before this: the
      recomputation read the kernel after SGD had updated it in about one step in six with one
      inter-op thread, a wrong gradient with no error. A data edge is never removed.

    The dependency never changes a value: ``offset`` is +0 whatever the probes hold (0·|p| is +0 for
    a finite ``p``, and the other branch is 0 when ``p`` is NaN or infinite), and ``x - (+0)``,
    ``x | 0`` and ``x or False`` are ``x`` exactly for every ``x`` (-0, infinities and NaN included).
    But no compiler can prove ``offset`` is zero without knowing the probes. The offset has no
    gradient: differentiating through it (forward mode, higher order) must not see it, or a NaN
    tangent would reach every input through ``0 * NaN``. ``None`` stays ``None``; a tensor of
    another dtype (a string) is returned as it is.
    """
    probes = [p for p in probes if p.dtype.is_floating or p.dtype.is_integer or p.dtype.is_bool]
    if tf.executing_eagerly() or not tensors or not probes:
        return tensors
    first_elements = [tf.cast(tf.reduce_sum(tf.reshape(p, [-1])[:1]), tf.float32) for p in probes]
    magnitude = tf.add_n([tf.abs(element) for element in first_elements])
    finite = tf.math.is_finite(magnitude)
    offset = tf.stop_gradient(tf.where(finite, magnitude * 0.0, tf.zeros_like(magnitude)))

    def after(x):
        if x is None:
            return None
        if isinstance(x, tf.IndexedSlices):
            return tf.IndexedSlices(after(x.values), x.indices, x.dense_shape)
        if x.dtype.is_floating or x.dtype.is_complex:
            return x - tf.cast(offset, x.dtype)
        if x.dtype.is_integer:
            return tf.bitwise.bitwise_or(x, tf.cast(offset, x.dtype))
        if x.dtype.is_bool:
            return tf.logical_or(x, tf.cast(offset, tf.bool))
        return x

    return [after(x) for x in tensors]


@contextlib.contextmanager
def _variable_reads_into(reads: list):
    """Collects, into ``reads``, the values read from variables by ops created in the current graph."""
    if tf.executing_eagerly():
        yield
        return
    this_graph = tf.compat.v1.get_default_graph()

    def callback(op_type, inputs, attrs, outputs, op_name=None, graph=None):
        if graph is this_graph and op_type in _VARIABLE_READS and outputs:
            reads.append(outputs[0])
        return outputs  # not None: TensorFlow hands what a callback returns to the next one

    add_op_callback(callback)
    try:
        yield
    finally:
        remove_op_callback(callback)


@contextlib.contextmanager
def _rewound(generator_states: list, after: list):
    """Generators set to their state before the forward run's draws, then put back; the rewinding
    waits for ``after`` (the incoming cotangents: see ``_recomputing_forward``'s ``backward``)."""
    current = [tf.raw_ops.ReadVariableOp(resource=handle, dtype=tf.int64) for handle, _ in generator_states]
    for (handle, before), now in zip(generator_states, current, strict=True):
        # RngReadAndSkip pads the state it returns to three int64s; the variable may hold fewer. The
        # rewinding write depends on the read of the current state by data (see _exactly_after).
        (rewind,) = _exactly_after([before[: tf.size(now)]], [now, *after])
        tf.raw_ops.AssignVariableOp(resource=handle, value=rewind)
    try:
        yield
    finally:
        for (handle, _), now in zip(generator_states, current, strict=True):
            tf.raw_ops.AssignVariableOp(resource=handle, value=now)


def _value_before(variable, body_reads: list) -> tuple:
    """``(value, ordered)``: what the recomputation must see of ``variable``, a ``keras.Variable``
    the forward run assigned: its value before that run.

    In a graph it is the body's own read when there is one (in ``body_reads``): the recomputation
    then sees what the forward run saw, whatever order the runtime picks, and the read reaches the
    update by data when the update was computed from it (BatchNorm's statistics, a seed). Otherwise
    it is a read made here, which the caller must order before the update (``ordered`` is False).
    Inside an outer checkpoint's scope the value is that scope's.
    """
    outer = get_stateless_scope()
    scoped = outer.get_current_value(variable) if outer is not None else None
    if scoped is not None:
        return scoped, True
    underlying = variable_handle(variable)  # the tf.Variable
    value = tf.raw_ops.ReadVariableOp(resource=underlying.handle, dtype=underlying.dtype)
    if tf.executing_eagerly():
        return value, True  # eager ops run in program order
    resource = value.op.inputs[0].name  # the handle as this graph captured it
    for read in body_reads:
        if read.op.type == "ReadVariableOp" and read.op.inputs[0].name == resource:
            return read, True
    return value, False


def _each_its_own(tensors: list) -> list:
    """``tensors`` with every repeat of a tensor object replaced by a copy: the same tensor passed
    twice is two arguments of the body (the rule ``_points`` applies to points), and a tape
    watching one tensor twice would give each the sum."""
    seen: set = set()
    distinct = []
    for x in tensors:
        distinct.append(tf.identity(x) if id(x) in seen else x)
        seen.add(id(x))
    return distinct


def _recording_into(created: list):
    """A variable creator that records every variable created through it."""

    def creator(next_creator, **kwargs):
        variable = next_creator(**kwargs)
        created.append(variable)
        return variable

    return creator


def _with_keras_masks_of(originals: list, replacements: list) -> list:
    """``replacements``, each carrying its original's Keras mask (a tensor attribute that the new
    tensors of the recomputation would otherwise lack: an LSTM would then ignore the padding)."""
    for original, replacement in zip(originals, replacements, strict=True):
        mask = get_keras_mask(original)
        if mask is not None and replacement is not original:
            set_keras_mask(replacement, mask)
    return replacements


def _recomputing_forward(body, name: str, call: BoundCall):
    """The core's ``forward`` for a checkpointed call: run once, recompute in the pullback."""

    def forward(inputs):
        seen = _RandomnessSeen()
        # A layer called without training= follows the learning phase: recompute in the forward's.
        phase = Context.local.learning_phase
        # Hooks (sd.with_derivative) in the body belong to the differentiation this run is part of;
        # the recomputation re-creates them for it, whichever pass runs it.
        owner = _context.hook_owner()
        args, kwargs = call.rebuild(inputs)
        created: list = []
        # Outermost: a Keras variable created inside the StatelessScope becomes a tf.Variable only
        # when the scope closes.
        forward_reads: list = []
        with (
            tf.variable_creator_scope(_recording_into(created)),
            seen.watching(),
            _variable_reads_into(forward_reads),
            _StateScope() as scope,
        ):
            value = body(*args, **kwargs)
        if created and tf.executing_eagerly():
            # Created inside the StatelessScope, they were read as their initial values, not as
            # variables: no gradient could reach them. Refuse rather than return None gradients.
            raise ValueError(
                f"{name}: the body created variables {[v.name for v in created]} (a layer built in its "
                f"first call); a checkpointed body must not create variables in eager mode. Build the "
                f"layer first (layer.build(input_shape), or call it once), or use sd.ActivationDiscarding, "
                f"which does."
            )
        if seen.unreplayable:
            warn(
                f"{name}: the body uses {sorted(set(seen.unreplayable))}, random ops whose numbers "
                f"cannot be replayed, so the recomputation in the pullback draws different ones and "
                f"the gradient does not match the forward pass. Use keras.random with a "
                f"keras.random.SeedGenerator, or tf.random.Generator draws made in the body itself.",
                RecomputationWarning,
            )
        generator_states = list(seen.generator_states.values())
        assigned = list(scope.assigned.values())
        before = []
        for variable in assigned:  # the forward pass's state updates, applied exactly once
            value_before, read_by_body = _value_before(variable, forward_reads)
            update = scope.get_current_value(variable)
            if not read_by_body:  # a read of our own: ordered before the update by data
                (update,) = _exactly_after([update], [value_before])
            variable.assign(update)
            before.append((variable, value_before))
        value = _nest.map_leaves(tf.convert_to_tensor, value)

        def backward(cotangents, variables):
            # After the cotangents, so that the recomputation stays one (see _exactly_after): the
            # first floating one (an integer output's is a constant zero, known before anything).
            incoming = [c for c in cotangents if c is not None and c.dtype.is_floating][:1] or cotangents[:1]
            recompute_inputs = _with_keras_masks_of(inputs, _each_its_own(_exactly_after(inputs, incoming)))
            # The state the recomputation reads (seeds, above all) waits for the cotangents too. A
            # random draw does not depend on the inputs: without this, a graph runs every checkpoint's
            # redrawn dropout masks as soon as backpropagation starts, and they all stay alive until
            # their segment is reached (measured: 25 of a 6-layer Transformer's 125 MiB peak).
            replayed = _exactly_after([value for _, value in before], incoming)
            reads: list = []
            with (
                _StateScope(zip([variable for variable, _ in before], replayed, strict=True)),
                _rewound(generator_states, incoming),
                with_learning_phase(phase),
                _context.owning(owner),
            ):
                with tf.GradientTape(watch_accessed_variables=False) as tape, _variable_reads_into(reads):
                    tape.watch(recompute_inputs)
                    tape.watch(variables)
                    recompute_args, recompute_kwargs = call.rebuild(recompute_inputs)
                    recomputed = body(*recompute_args, **recompute_kwargs)
                gradients = tape.gradient(
                    _nest.flatten(recomputed), recompute_inputs + variables, output_gradients=cotangents
                )
            # A variable's update (an optimizer's) depends on its gradient; making every variable's
            # gradient depend on the recomputation's reads orders those reads before the update.
            return gradients[: len(inputs)], _exactly_after(gradients[len(inputs) :], reads)

        return value, backward

    return forward


def with_recomputation_in_pullbacks(body: Callable) -> Callable:
    """Swift ``withRecomputationInPullbacks(_:)``: checkpointing.

    When the returned function is differentiated, ``body``'s intermediates are not kept and
    ``body`` runs again inside the pullback. Works in eager mode, ``tf.function`` and XLA, for bodies
    that use layers (variables), randomness drawn through Keras (``SeedGenerator``,
    ``keras.random``, Dropout) or from a ``tf.random.Generator`` however the body reaches it (the
    recomputation sees the same numbers), and Keras state updates such as BatchNorm statistics
    (applied once). Gradients reach the body's floating arguments (positional and keyword) and every
    trainable variable it reads; arguments holding no floating value (a boolean mask, an int) pass
    through.

    Not replayable, and a ``RecomputationWarning`` says so: TensorFlow's op-seeded stateful random
    ops (``tf.random.uniform(seed=...)``), ``Generator.binomial``, and random draws inside an
    already-traced ``tf.function`` that the body calls. Assignments to plain ``tf.Variable``s (not
    ``keras.Variable``) inside the body run again on recomputation.

    Args:
        body: the function to checkpoint.

    Returns:
        A function computing the same values as ``body``.

    Raises:
        TypeError: ``body`` is not callable.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> layer = sd.with_recomputation_in_pullbacks(lambda x: tf.tanh(x) * 2.0)
        >>> round(float(sd.gradient(at=0.5, of=layer)), 6)
        1.572896
    """
    if not callable(body):
        raise TypeError(f"sd.with_recomputation_in_pullbacks: body must be a function, got {describe(body)}")
    name = f"sd.with_recomputation_in_pullbacks({getattr(body, '__name__', 'body')})"
    signature = signature_of(body)

    @functools.wraps(body)
    def recomputed(*args, **kwargs):
        if not _platform_internals.verified:
            _platform_internals.verify()  # deferred from import: see _platform_internals
        try:
            call = BoundCall(signature, args, kwargs)
        except TypeError:
            return body(*args, **kwargs)  # Python's own error for a call that does not fit body
        return custom_gradient_call(_recomputing_forward(body, name, call), call.inputs, record_forward=False)

    return recomputed
