"""The one place where a derivative written in Python becomes a TensorFlow gradient.

Two layers:

* ``custom_gradient_call(forward, inputs)``, the core, on ``tf.custom_gradient``: ``forward(inputs)``
  returns ``(value, backward)`` and ``backward(cotangents, variables)`` returns the gradients of the
  inputs and of the variables the forward pass read. Cotangents reach ``backward`` dense (never
  ``tf.IndexedSlices``). ``record_forward=False`` hides the forward computation from outer tapes
  (checkpointing: only the recomputation is recorded, so higher-order derivatives stay correct).
  Checkpointing and ``with_derivative`` use it directly. In eager mode it records the call on the
  tapes itself, as ``tf.custom_gradient`` does but without keeping the outputs alive until the
  backward pass.
* ``call_with_vjp(vjp, call, name=)``, the adapter for derivatives users write
  (``@derivative(of=)``, ``differentiable_function``): splits ``vjp``'s ``(value, pullback)`` and
  checks what the pullback returns against the arguments, in the user's terms.

``BoundCall`` decides, with one rule, which arguments have a tangent slot: arguments are bound to
the function's signature with defaults applied, and a parameter has a slot when its value holds a
floating leaf (a tensor, a Python float, a variable, a layer) and ``wrt=`` does not exclude it.
Keyword arguments never reach ``tf.custom_gradient`` (which rejects them in graph mode): every
floating leaf travels as a positional tensor input and the call is rebuilt around it.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from . import _nest
from ._platform_internals import VariableWatcher, record_operation, stop_recording
from ._values import (
    LAYER,
    STATIC,
    TENSOR,
    VARIABLE,
    classify,
    conform,
    convert_floating,
    densify,
    describe,
    variable_key,
)
from .operators import ValueWithDifferential


def custom_gradient_call(forward: Callable, inputs: list, *, record_forward: bool = True):
    """Runs ``forward(inputs) -> (value, backward)``, ``backward`` being its derivative; returns the value."""
    if tf.executing_eagerly():
        return _eager_custom_gradient_call(forward, inputs, record_forward)
    structure: dict = {}

    @tf.custom_gradient
    def operation(*inputs):
        with contextlib.nullcontext() if record_forward else stop_recording():
            value, backward = forward(list(inputs))
        flat_value = [tf.convert_to_tensor(leaf) for leaf in _nest.flatten(value)]
        structure["value"] = value

        def gradient(*cotangents, variables=None):
            dense = _dense_cotangents(cotangents, flat_value)
            input_grads, variable_grads = backward(dense, list(variables or []))
            return list(input_grads) if variables is None else (list(input_grads), list(variable_grads))

        return (flat_value[0] if len(flat_value) == 1 else flat_value), gradient

    outputs = operation(*inputs)
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    return _nest.pack_like(structure["value"], outputs)


def _dense_cotangents(cotangents, outputs: list) -> list:
    """The cotangents as dense tensors, zeros for a missing one; ``outputs`` holds, per output, the
    tensor or its ``(shape, dtype)`` (what the eager path keeps instead of the tensor)."""
    return [
        densify(cotangent)
        if cotangent is not None
        else tf.zeros(*output)
        if isinstance(output, tuple)
        else tf.zeros_like(output)
        for cotangent, output in zip(cotangents, outputs, strict=True)
    ]


def _eager_custom_gradient_call(forward: Callable, inputs: list, record_forward: bool):
    """``custom_gradient_call`` in eager mode: what ``tf.custom_gradient`` does there, except that the
    gradient function keeps no output alive (``tf.custom_gradient``'s holds the call's result until
    the tape is released: a checkpointed block's output, which nothing else may need, stayed alive
    through the backward pass). A missing cotangent's zeros come from the output's shape and dtype.
    """
    with VariableWatcher() as watcher, contextlib.nullcontext() if record_forward else stop_recording():
        value, backward = forward(list(inputs))
    flat_value = [tf.convert_to_tensor(leaf) for leaf in _nest.flatten(value)]
    # The variables the forward pass read that are not inputs, each once, in the order first read.
    read = {id(v): v for v in watcher.watched_variables() if all(v is not x for x in inputs)}
    variables = list(read.values())
    outputs = [tf.identity(leaf) for leaf in flat_value]
    zeros = [
        (leaf.shape, leaf.dtype) if leaf.dtype.is_floating or leaf.dtype.is_complex else leaf
        for leaf in flat_value
    ]
    del flat_value

    def gradient(*cotangents):
        dense = _dense_cotangents(cotangents, zeros)
        input_grads, variable_grads = backward(dense, list(variables))
        return list(input_grads) + list(variable_grads)

    recorded = [tf.convert_to_tensor(x) for x in [*inputs, *variables]]
    record_operation("swiftdiff_custom_gradient", outputs, recorded, gradient)
    return _nest.pack_like(value, outputs)


class _Entry:
    """One argument of a call: its label, where it goes back, its value and its leaves' kinds."""

    __slots__ = ("label", "key", "value", "kinds", "slot")

    def __init__(self, label: str, key: tuple, value: Any, slot_allowed: bool):
        self.label, self.key, self.value = label, key, value
        self.kinds = [classify(leaf) for leaf in _nest.flatten(value)]
        self.slot = slot_allowed and any(kind != STATIC for kind in self.kinds)


class BoundCall:
    """The arguments of one call of a differentiable function, bound to its signature.

    ``inputs`` are the floating tensor leaves of the arguments that have a tangent slot, in
    signature order; ``rebuild(inputs)`` returns ``(args, kwargs)`` with those leaves replaced.
    """

    def __init__(
        self, signature: inspect.Signature | None, args: tuple, kwargs: dict, wrt: frozenset | None = None
    ):
        self._signature = signature
        self._arguments = None
        entries = []
        if signature is not None:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            self._arguments = dict(bound.arguments)
            position = 0
            for name, value in bound.arguments.items():
                kind = signature.parameters[name].kind
                if kind == inspect.Parameter.VAR_POSITIONAL:
                    for index, item in enumerate(value):
                        entries.append(
                            _Entry(
                                f"argument #{position}",
                                ("var", name, index),
                                item,
                                wrt is None or position in wrt,
                            )
                        )
                        position += 1
                elif kind == inspect.Parameter.VAR_KEYWORD:
                    for key, item in value.items():
                        entries.append(
                            _Entry(f"argument {key!r}", ("kw", name, key), item, wrt is None or key in wrt)
                        )
                elif kind == inspect.Parameter.KEYWORD_ONLY:
                    entries.append(
                        _Entry(f"argument {name!r}", ("arg", name), value, wrt is None or name in wrt)
                    )
                else:
                    entries.append(
                        _Entry(
                            f"argument {name!r}",
                            ("arg", name),
                            value,
                            wrt is None or name in wrt or position in wrt,
                        )
                    )
                    position += 1
        else:
            entries = [
                _Entry(f"argument #{index}", ("pos", index), value, wrt is None or index in wrt)
                for index, value in enumerate(args)
            ]
            entries += [
                _Entry(f"argument {key!r}", ("key", key), value, wrt is None or key in wrt)
                for key, value in kwargs.items()
            ]
        self.entries = entries
        self.slots = [entry for entry in entries if entry.slot]
        self.inputs = [
            tf.convert_to_tensor(leaf)
            for entry in self.slots
            for leaf, kind in zip(_nest.flatten(entry.value), entry.kinds, strict=True)
            if kind == TENSOR
        ]

    def rebuild(self, inputs: list) -> tuple[tuple, dict]:
        """``(args, kwargs)`` of the call with the slots' tensor leaves replaced by ``inputs``."""
        iterator = iter(inputs)
        values = {}
        for entry in self.slots:
            leaves = [
                next(iterator) if kind == TENSOR else leaf
                for leaf, kind in zip(_nest.flatten(entry.value), entry.kinds, strict=True)
            ]
            values[entry.key] = _nest.pack_like(entry.value, leaves)
        if self._signature is None:
            args = tuple(
                values.get(entry.key, entry.value) for entry in self.entries if entry.key[0] == "pos"
            )
            kwargs = {
                entry.key[1]: values.get(entry.key, entry.value)
                for entry in self.entries
                if entry.key[0] == "key"
            }
            return args, kwargs
        assert self._arguments is not None  # bound whenever there is a signature
        arguments = dict(self._arguments)
        for entry in self.entries:
            if entry.key not in values:
                continue
            value = values[entry.key]
            if entry.key[0] == "arg":
                arguments[entry.key[1]] = value
            elif entry.key[0] == "var":
                items = list(arguments[entry.key[1]])
                items[entry.key[2]] = value
                arguments[entry.key[1]] = tuple(items)
            else:
                arguments[entry.key[1]] = {**arguments[entry.key[1]], entry.key[2]: value}
        bound = inspect.BoundArguments(self._signature, arguments)
        return bound.args, bound.kwargs

    def check_tangents(self, tangents, name: str) -> tuple[list, dict]:
        """The user's tangents, one per slot, as input gradients and ``{variable key: gradient}``."""
        slots = self.slots
        labels = ", ".join(entry.label for entry in slots) or "none"
        if len(slots) == 1:
            if isinstance(tangents, (tuple, list)) and not _nest.is_container(slots[0].value):
                raise ValueError(
                    f"{name}: the pullback returned {len(tangents)} tangents but the function has "
                    f"1 differentiable argument ({labels}); return its tangent bare"
                )
            tangents = (tangents,)
        elif not isinstance(tangents, (tuple, list)) or len(tangents) != len(slots):
            count = len(tangents) if isinstance(tangents, (tuple, list)) else 1
            raise ValueError(
                f"{name}: the pullback returned {count} tangent(s) but the function has "
                f"{len(slots)} differentiable arguments ({labels}); return one tangent per "
                f"argument, in order"
            )
        input_grads: list = []
        variable_grads: dict = {}
        for entry, tangent in zip(slots, tangents, strict=True):
            paths_and_leaves = list(_nest.flatten_with_paths(entry.value))
            if tangent is None:
                grads = [None] * len(paths_and_leaves)
            elif not _nest.is_container(entry.value):
                grads = [tangent]
            else:
                try:
                    grads = _nest.flatten_up_to(entry.value, tangent)
                except ValueError as error:
                    raise ValueError(f"{name}: the tangent for {entry.label}: {error}") from None
            for (path, leaf), kind, grad in zip(paths_and_leaves, entry.kinds, grads, strict=True):
                what = f"the tangent for {entry.label}{path}"
                if kind == STATIC:
                    continue
                if kind == LAYER:
                    if grad is None:
                        continue
                    if getattr(grad, "layer", None) is not leaf or not hasattr(grad, "__tf_flatten__"):
                        raise TypeError(
                            f"{name}: {what} (a {type(leaf).__name__} layer) must be its "
                            f"TangentVector, got {describe(grad)}"
                        )
                    for variable, value in zip(leaf.trainable_variables, grad, strict=True):
                        variable_grads[variable_key(variable)] = value
                    continue
                reference = leaf if kind == VARIABLE else tf.convert_to_tensor(leaf)
                checked = (
                    None
                    if grad is None
                    else conform(grad, reference.dtype, reference.shape, what, "the argument", name)
                )
                if kind == VARIABLE:
                    variable_grads[variable_key(leaf)] = checked
                else:
                    input_grads.append(checked)
        return input_grads, variable_grads


def signature_of(function) -> inspect.Signature | None:
    """``function``'s signature, or None when Python cannot tell (some builtins)."""
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):
        return None


def split_vjp_result(result, name: str, call: BoundCall | None = None):
    """``(value, pullback)`` from what a user's derivative returned, checked.

    A derivative returning ``sd.ValueWithDifferential(value, differential)`` is a JVP, as in
    Swift; with ``call`` given, its pullback is the differential's transpose."""
    if not (isinstance(result, tuple) and len(result) == 2 and callable(result[1])):
        raise TypeError(
            f"{name} must return (value, pullback) or sd.ValueWithDifferential(value, differential) "
            f"with a callable second element, got {describe(result)}"
        )
    value, pullback = result
    value = _nest.map_leaves(lambda leaf: convert_floating(leaf, "the value it returned", name), value)
    if isinstance(result, ValueWithDifferential) and call is not None:
        pullback = _transposed(result.differential, call, value, name)
    return value, pullback


def _transposed(differential: Callable, call: BoundCall, value, name: str) -> Callable:
    """The pullback of a registered differential: the transpose of the linear map, found by
    differentiating it at zero tangents (one per tangent slot; a leaf without a tangent gets None).

    Written by hand because TensorFlow has no transpose of a Python function; forward mode, which
    this library computes by transposing pullbacks, gets the differential back exactly (a linear
    map's transpose of transpose), so the registered JVP serves both modes."""

    def zero(leaf, kind):
        if kind == LAYER:
            raise TypeError(
                f"{name}: a differential (sd.ValueWithDifferential) cannot yet be registered for a "
                f"function of a layer; register a pullback"
            )
        if kind == STATIC:
            return None
        return (
            tf.zeros(leaf.shape, leaf.dtype)
            if kind == VARIABLE
            else tf.zeros_like(tf.convert_to_tensor(leaf))
        )

    def pullback(cotangent):
        tangents = []
        for entry in call.slots:
            leaves = [
                zero(leaf, kind) for leaf, kind in zip(_nest.flatten(entry.value), entry.kinds, strict=True)
            ]
            tangents.append(_nest.pack_like(entry.value, leaves))
        watched = [leaf for leaf in _nest.flatten(tangents) if leaf is not None]
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(watched)
            out = differential(*tangents)
        try:
            out_leaves = _nest.flatten_up_to(value, out)
        except ValueError as error:
            raise ValueError(f"{name}: what the differential returned: {error}") from None
        out_leaves = [  # the value's leaves are tensors already (split_vjp_result converted them)
            conform(
                leaf, reference.dtype, reference.shape, "what the differential returned", "the value", name
            )
            for leaf, reference in zip(out_leaves, _nest.flatten(value), strict=True)
        ]
        grads = iter(
            tape.gradient(
                out_leaves,
                watched,
                output_gradients=_nest.flatten(cotangent),
                unconnected_gradients=tf.UnconnectedGradients.ZERO,
            )
        )
        pulled = [_nest.map_leaves(lambda leaf: None if leaf is None else next(grads), t) for t in tangents]
        return pulled[0] if len(pulled) == 1 else tuple(pulled)

    return pullback


def call_with_vjp(vjp: Callable, call: BoundCall, *, name: str):
    """Calls ``vjp(*args, **kwargs) -> (value, pullback)`` and returns ``value`` with ``pullback``
    as its derivative; what the pullback returns is checked against the call's tangent slots."""

    def forward(inputs):
        args, kwargs = call.rebuild(inputs)
        value, pullback = split_vjp_result(vjp(*args, **kwargs), name, call)

        def backward(cotangents, variables):
            tangents = pullback(_nest.pack_like(value, cotangents))
            input_grads, by_variable = call.check_tangents(tangents, name)
            return input_grads, [by_variable.get(variable_key(variable)) for variable in variables]

        return value, backward

    return custom_gradient_call(forward, call.inputs)
