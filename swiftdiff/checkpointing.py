"""Checkpointing: Swift's ``withRecomputationInPullbacks(_:)``.

The body's intermediates are not kept for the backward pass; the body runs again when the pullback
runs. What makes the recomputation exact, and why each piece is needed:

* Outer tapes are paused during the forward run (``tf.custom_gradient`` alone lets them record it,
  which keeps every activation alive in eager mode).
* Keras state (``SeedGenerator`` seeds behind Dropout and ``keras.random``, BatchNorm's moving
  statistics, any ``keras.Variable`` assigned in the body) is captured with a ``keras.StatelessScope``:
  the forward run's updates are applied once, afterwards; the recomputation reads the values the
  forward run saw and its own updates are dropped. Same random numbers, state updated once.
* ``tf.random.Generator``s reachable from the body (its arguments, closure, globals it names, and
  layers among them) are rewound to their forward-time state for the recomputation and restored.
* In graphs (``tf.function``, XLA) the recomputation takes its inputs through a data dependency on
  the incoming cotangent, so that common-subexpression elimination cannot merge it back into the
  forward pass (which would keep the activations and save nothing).
* Op-seeded stateful random ops (``tf.random.uniform(seed=...)``) cannot be replayed: a
  ``RecomputationWarning`` says so when the body uses them.
"""

from __future__ import annotations

import contextlib
import functools
import warnings

import keras
import tensorflow as tf

from . import _nest
from ._custom_vjp import call_with_vjp
from ._platform_internals import add_op_callback, get_stateless_scope, remove_op_callback
from ._points import describe, lazy_parameter_names
from .diagnostics import RecomputationWarning

_UNREPLAYABLE_RANDOM_OPS = frozenset({
    "RandomUniform", "RandomUniformInt", "RandomStandardNormal", "TruncatedNormal",
    "RandomShuffle", "Multinomial", "RandomGamma", "RandomPoisson", "RandomPoissonV2",
    "ParameterizedTruncatedNormal",
})


class _StateScope(keras.StatelessScope):
    """A ``StatelessScope`` that remembers which variables were assigned and honours an outer scope."""

    def __init__(self, state_mapping=()):
        super().__init__(state_mapping=list(state_mapping))
        outer = get_stateless_scope()
        if outer is not None:
            self.state_mapping = {**outer.state_mapping, **self.state_mapping}
        self.assigned = {}

    def add_update(self, update):
        super().add_update(update)
        self.assigned[id(update[0])] = update[0]


@contextlib.contextmanager
def _unreplayable_random_ops(found: list):
    def callback(op_type, inputs, attrs, outputs, op_name=None, graph=None):
        if op_type in _UNREPLAYABLE_RANDOM_OPS:
            found.append(op_type)
        return None

    add_op_callback(callback)
    try:
        yield
    finally:
        remove_op_callback(callback)


def _visit_generators(value, depth, found: dict):
    # Module-level, not a recursive closure: that would be a reference cycle holding the arguments
    # (activations) until Python's cyclic GC runs.
    if isinstance(value, tf.random.Generator):
        found[id(value)] = value
    elif depth <= 0:
        return
    elif isinstance(value, (keras.layers.Layer, tf.Module)):
        for attribute in list(vars(value).values()):
            _visit_generators(attribute, depth - 1, found)
    elif isinstance(value, (list, tuple, dict)):
        for item in (value.values() if isinstance(value, dict) else value):
            _visit_generators(item, depth - 1, found)


def _find_generators(body, args) -> list:
    """``tf.random.Generator``s the body can reach: arguments, closure, named globals, layers."""
    function = getattr(body, "__func__", body)
    code, namespace = getattr(function, "__code__", None), getattr(function, "__globals__", {})
    roots = [args, getattr(body, "__self__", None)]
    for cell in getattr(function, "__closure__", None) or ():
        try:
            roots.append(cell.cell_contents)
        except ValueError:  # an empty cell
            pass
    roots += [namespace.get(name) for name in (code.co_names if code is not None else ())]
    found: dict = {}
    for root in roots:
        _visit_generators(root, 3, found)
    return list(found.values())


@contextlib.contextmanager
def _rewound(generators, states):
    """Generators set to ``states`` for the duration, then put back where they were."""
    current = [generator.state.read_value() for generator in generators]
    for generator, state in zip(generators, states):
        generator.state.assign(state)
    try:
        yield
    finally:
        for generator, state in zip(generators, current):
            generator.state.assign(state)


def _after_cotangents(inputs: list, cotangents: list) -> list:
    """``inputs``, made to depend on the cotangents (graphs only; see the module docstring)."""
    if tf.executing_eagerly() or not inputs or not cotangents:
        return inputs
    probe = tf.reshape(cotangents[0], [-1])[:1]
    blocked = tf.math.reduce_any(tf.math.is_nan(tf.cast(probe, tf.float32)))
    # Equal to the input unless the cotangent holds NaN (then the gradient is NaN anyway): a value
    # no compiler can prove equal to the input, so the recomputation stays a recomputation.
    # (XLA's own XlaOptimizationBarrier was measured too: on the CPU it is expanded early and the
    # recomputation merged back, 1.13 of plain memory against 0.33 with this dependency.)
    return [tf.where(blocked, x * tf.cast(tf.reduce_sum(probe), x.dtype), x) for x in inputs]


def _recomputing_vjp(body, name):
    def vjp(call_args, inputs, rebuild):
        generators = _find_generators(body, call_args)
        generator_states = [generator.state.read_value() for generator in generators]
        unreplayable: list = []
        with _unreplayable_random_ops(unreplayable), _StateScope() as scope:
            value = body(*call_args)
        if unreplayable:
            warnings.warn(
                f"{name}: the body uses {sorted(set(unreplayable))}, op-seeded stateful random ops "
                f"whose numbers cannot be replayed, so the recomputation in the pullback draws "
                f"different ones. Use keras.random with a keras.random.SeedGenerator, or a "
                f"tf.random.Generator.", RecomputationWarning, stacklevel=5)
        assigned = list(scope.assigned.values())
        before = [(variable, tf.convert_to_tensor(variable)) for variable in assigned]
        for variable in assigned:  # the forward pass's state updates, applied exactly once
            variable.assign(scope.get_current_value(variable))
        value = _nest.map_leaves(tf.convert_to_tensor, value)

        def pullback(cotangents, variables):
            recompute_inputs = _after_cotangents(inputs, cotangents)
            with _StateScope(before), _rewound(generators, generator_states):
                with tf.GradientTape(watch_accessed_variables=False) as tape:
                    tape.watch(recompute_inputs)
                    tape.watch(variables)
                    recomputed = body(*rebuild(recompute_inputs))
                gradients = tape.gradient(_nest.flatten(recomputed), recompute_inputs + variables,
                                          output_gradients=cotangents)
            return gradients[:len(inputs)], gradients[len(inputs):]

        return value, pullback

    return vjp


def with_recomputation_in_pullbacks(body):
    """Swift ``withRecomputationInPullbacks(_:)``: checkpointing.

    Returns a function computing the same values as ``body``; when it is differentiated, ``body``'s
    intermediates are not kept and ``body`` runs again inside the pullback. Works in eager mode,
    ``tf.function`` and XLA, for bodies that use layers (variables), randomness drawn through Keras
    (``SeedGenerator``, ``keras.random``, Dropout) or a ``tf.random.Generator`` (the recomputation
    sees the same numbers), and Keras state updates such as BatchNorm statistics (applied once).
    Gradients reach the body's arguments and every trainable variable it reads.

    Not replayable: TensorFlow's op-seeded stateful random ops (``tf.random.uniform(seed=...)``);
    a ``RecomputationWarning`` is emitted when the body uses them. Assignments to plain
    ``tf.Variable``s (not ``keras.Variable``) inside the body run again on recomputation.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> layer = sd.with_recomputation_in_pullbacks(lambda x: tf.tanh(x) * 2.0)
        >>> round(float(sd.gradient(at=0.5, of=layer)), 6)
        1.572896
    """
    if not callable(body):
        raise TypeError(f"sd.with_recomputation_in_pullbacks: body must be a function, got {describe(body)}")
    name = f"sd.with_recomputation_in_pullbacks({getattr(body, '__name__', 'body')})"
    vjp = _recomputing_vjp(body, name)

    @functools.wraps(body)
    def recomputed(*args):
        return call_with_vjp(vjp, args, name=name, names=lazy_parameter_names(body, len(args)),
                             differentiable=set(range(len(args))), record_forward=False, raw=True)

    return recomputed
