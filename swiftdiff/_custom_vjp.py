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
* ``call_with_derivatives(call, functions)``, the adapter for derivatives users write
  (``@derivative(of=)``, ``differentiable_function`` through ``call_with_vjp``): a registered
  pullback, a registered differential (``sd.ValueWithDifferential``), or both. It checks what they
  return against the arguments, in the user's terms. Reverse mode runs the pullback (the
  differential's transpose when none is registered). Forward mode, which the operators compute by
  transposing the reverse pass, differentiates each pullback with respect to its cotangent: when a
  tape may do that, the pullback's result is linked to its cotangent through an explicit derivative
  (``_linear_map``), which is the registered differential itself when there is one (so forward mode
  calls it, and forward-over-reverse Hessian-vector products use it), else TensorFlow's derivative
  of the pullback, refused when the pullback depends on its cotangent in a way TensorFlow cannot see.

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

import numpy as np
import tensorflow as tf

from . import _context, _nest
from ._platform_internals import VariableWatcher, could_possibly_record, record_operation, stop_recording
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
from .tangent_vector import TangentVector


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

    def tangents_from(self, inputs: list, by_variable: dict) -> list:
        """One tangent per slot, shaped like its argument: a tensor leaf's from ``inputs`` (one per
        input, None for zeros), a variable's from ``{variable key: tensor}`` (missing: zeros), a
        layer's a ``TangentVector`` of its variables' tangents, a static leaf's None."""
        iterator = iter(zip(inputs, self.inputs, strict=True))

        def of_variable(variable):
            given = by_variable.get(variable_key(variable))
            return tf.zeros(variable.shape, variable.dtype) if given is None else given

        tangents = []
        for entry in self.slots:
            leaves: list = []
            for leaf, kind in zip(_nest.flatten(entry.value), entry.kinds, strict=True):
                if kind == TENSOR:
                    given, point = next(iterator)
                    leaves.append(tf.zeros_like(point) if given is None else given)
                elif kind == VARIABLE:
                    leaves.append(of_variable(leaf))
                elif kind == LAYER:
                    leaves.append(TangentVector(leaf, [of_variable(v) for v in leaf.trainable_variables]))
                else:
                    leaves.append(None)
            tangents.append(_nest.pack_like(entry.value, leaves))
        return tangents

    def slot_variables(self) -> list:
        """The variables the slots hold: variable arguments and the trainable variables of layers."""
        found = []
        for entry in self.slots:
            for leaf, kind in zip(_nest.flatten(entry.value), entry.kinds, strict=True):
                if kind == VARIABLE:
                    found.append(leaf)
                elif kind == LAYER:
                    found.extend(leaf.trainable_variables)
        return found

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


def split_vjp_result(result, name: str):
    """``(value, pullback)`` from what a user's derivative returned, checked (the pullback slot holds
    the differential when it returned ``sd.ValueWithDifferential``)."""
    value, pullback, differential = _derived(result, name)
    return value, pullback if pullback is not None else differential


def _derived(result, name: str) -> tuple:
    """``(value, pullback, differential)`` from what a user's derivative returned, checked: one of
    the last two is None. Returning ``sd.ValueWithDifferential`` makes it a differential (a JVP), as
    in Swift; a plain pair or ``sd.ValueWithPullback`` a pullback."""
    if not (isinstance(result, tuple) and len(result) == 2 and callable(result[1])):
        raise TypeError(
            f"{name} must return (value, pullback) or sd.ValueWithDifferential(value, differential) "
            f"with a callable second element, got {describe(result)}"
        )
    value = _nest.map_leaves(lambda leaf: convert_floating(leaf, "the value it returned", name), result[0])
    if isinstance(result, ValueWithDifferential):
        return value, None, result.differential
    return value, result[1], None


PULLBACK, DIFFERENTIAL = "pullback", "differential"


class _Derivatives:
    """The derivative functions of one call and what they returned, each called at most once, when
    first needed: ``functions`` holds ``(function, label, kind it is expected to return)``, the one
    whose value the call returns first. At most one pullback and one differential."""

    def __init__(self, functions: list, args: tuple, kwargs: dict):
        self._pending = list(functions)
        self._args, self._kwargs = args, kwargs
        self.found: dict = {}  # kind -> (pullback or differential, label)
        self.value = self._take()

    def _take(self):
        function, label, _ = self._pending.pop(0)
        value, pullback, differential = _derived(function(*self._args, **self._kwargs), label)
        kind = PULLBACK if pullback is not None else DIFFERENTIAL
        if kind in self.found:
            raise TypeError(
                f"{label} and {self.found[kind][1]} both return a {kind}; register one pullback and at "
                f"most one differential. (A derivative whose code does not name sd.ValueWithDifferential "
                f"is taken for a pullback when it is registered: annotate it -> sd.ValueWithDifferential.)"
            )
        self.found[kind] = (pullback if pullback is not None else differential, label)
        return value

    def get(self, kind: str):
        """``(the pullback or differential, its label)``, or None when none is registered."""
        while kind not in self.found and self._pending:
            self._take()
        return self.found.get(kind)

    def may_have(self, kind: str) -> bool:
        return kind in self.found or any(expected == kind for _, _, expected in self._pending)


def call_with_derivatives(call: BoundCall, functions: list):
    """Runs the call with its registered derivatives: ``functions`` holds ``(function, label, kind)``
    for one or two derivative functions (``kind``: the ``PULLBACK`` or ``DIFFERENTIAL`` each is
    expected to return; what it returns decides).

    Reverse mode uses the pullback (the differential's transpose when there is none). Forward mode,
    which transposes the pullback, differentiates it with respect to its cotangent: that derivative
    is the registered differential itself when there is one (so forward mode calls it), else
    TensorFlow's derivative of the pullback, checked (``_linear_map``). Under a forward-mode operator
    the differential's function is called first (its value is the call's), otherwise the pullback's.
    """

    def forward(inputs):
        args, kwargs = call.rebuild(inputs)
        first = DIFFERENTIAL if _context.forward_mode() else PULLBACK
        ordered = sorted(functions, key=lambda entry: entry[2] != first)
        derived = _Derivatives(ordered, args, kwargs)
        value = derived.value

        def backward(cotangents, variables):
            return _backward(call, derived, value, list(cotangents), variables)

        return value, backward

    return custom_gradient_call(forward, call.inputs)


def call_with_vjp(vjp: Callable, call: BoundCall, *, name: str):
    """Calls ``vjp(*args, **kwargs) -> (value, pullback)`` (or a differential) and returns ``value``
    with that derivative; what the pullback returns is checked against the call's tangent slots."""
    return call_with_derivatives(call, [(vjp, name, PULLBACK)])


def _backward(call: BoundCall, derived: _Derivatives, value, cotangents: list, variables: list):
    """The call's input and variable gradients for ``cotangents``."""
    count = len(call.inputs)

    def pull(cotangent_leaves: list) -> list:
        pullback, label = _pullback_of(derived, call, value)
        tangents = pullback(_nest.pack_like(value, cotangent_leaves))
        input_grads, by_variable = call.check_tangents(tangents, label)
        return list(input_grads) + [by_variable.get(variable_key(v)) for v in variables]

    if not could_possibly_record():  # nothing will differentiate the pullback
        grads = pull(cotangents)
    elif not derived.may_have(DIFFERENTIAL):
        label = _pullback_of(derived, call, value)[1]
        grads = _linear_map(
            pull,
            cotangents,
            message=f"{label}: the pullback depends on its cotangent through something TensorFlow cannot "
            f"differentiate (NumPy, Python numbers, an operation without a gradient), so forward mode "
            f"and higher-order derivatives through it cannot be found; write it with TensorFlow "
            f"operations, or register a differential (sd.ValueWithDifferential) for forward mode",
        )
    else:
        differential, differential_label = derived.get(DIFFERENTIAL)
        owned = {variable_key(v) for v in call.slot_variables()}
        transposing = _context.transposing()

        def pull_every_slot(cotangent_leaves: list) -> list:
            # Zeros, not None, where the pullback gives none: the differential sees every tangent.
            # Under forward mode's transposition the cotangents are zero (linear in zeros), so the
            # pullback's result is zero: it need not run (only its derivative, the differential,
            # is used).
            grads = [None] * (count + len(variables)) if transposing else pull(cotangent_leaves)
            for index, (grad, point) in enumerate(zip(grads[:count], call.inputs, strict=True)):
                if grad is None:
                    grads[index] = tf.zeros_like(point)
            for index, variable in enumerate(variables, start=count):
                if grads[index] is None and variable_key(variable) in owned:
                    grads[index] = tf.zeros(variable.shape, variable.dtype)
            return grads

        def transpose(upstreams: list) -> list:
            return _through_differential(differential, differential_label, call, value, variables, upstreams)

        grads = _linear_map(pull_every_slot, cotangents, message="", transpose=transpose)
    return grads[:count], grads[count:]


def _pullback_of(derived: _Derivatives, call: BoundCall, value) -> tuple:
    """``(pullback, label)``: the registered pullback, else the registered differential's transpose."""
    registered = derived.get(PULLBACK)
    if registered is not None:
        return registered
    differential, label = derived.found[DIFFERENTIAL]
    return _transposed(differential, call, value, label), label


def _through_differential(differential, label, call: BoundCall, value, variables, upstreams: list) -> list:
    """``differential`` applied to tangents given as ``upstreams`` (one per input, then one per
    variable, None for none): one tangent per leaf of ``value``."""
    count = len(call.inputs)
    given = [index for index, upstream in enumerate(upstreams) if upstream is not None]

    def apply(arguments: list) -> list:
        full: list = [None] * len(upstreams)
        for index, argument in zip(given, arguments, strict=True):
            full[index] = argument
        by_variable = {
            variable_key(variable): tangent
            for variable, tangent in zip(variables, full[count:], strict=True)
            if tangent is not None
        }
        return _differential_leaves(differential, call.tangents_from(full[:count], by_variable), value, label)

    return _linear_map(
        apply,
        [upstreams[index] for index in given],
        message=f"{label}: the differential depends on its tangents through something TensorFlow cannot "
        f"differentiate (NumPy, Python numbers, an operation without a gradient), so higher-order "
        f"derivatives through it cannot be found; write it with TensorFlow operations",
    )


def _differential_leaves(differential: Callable, tangents: list, value, name: str) -> list:
    """What ``differential(*tangents)`` returns, one checked tensor per leaf of ``value``."""
    out = differential(*tangents)
    try:
        leaves = _nest.flatten_up_to(value, out)
    except ValueError as error:
        raise ValueError(f"{name}: what the differential returned: {error}") from None
    return [  # the value's leaves are tensors already (_derived converted them)
        conform(leaf, reference.dtype, reference.shape, "what the differential returned", "the value", name)
        for leaf, reference in zip(leaves, _nest.flatten(value), strict=True)
    ]


def _transposed(differential: Callable, call: BoundCall, value, name: str) -> Callable:
    """The pullback of a registered differential: the transpose of the linear map, found by
    differentiating it at zero tangents (one per tangent slot; a layer's is a ``TangentVector``, a
    leaf without a tangent gets None).

    Written by hand because TensorFlow has no transpose of a Python function. Exact because a
    differential is linear in its tangents; a differential whose result depends on its tangents in a
    way TensorFlow cannot see is refused rather than transposed to zero."""

    def pullback(cotangent):
        tangents = call.tangents_from([None] * len(call.inputs), {})
        watched = [leaf for leaf in _nest.flatten(tangents) if leaf is not None]
        with tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
            tape.watch(watched)
            out_leaves = _differential_leaves(differential, tangents, value, name)
        grads = tape.gradient(out_leaves, watched, output_gradients=_nest.flatten(cotangent))
        checks = _hidden_dependence(
            tape,
            out_leaves,
            watched,
            grads,
            lambda arguments: _differential_leaves(
                differential, _nest.pack_like(tangents, _with_nones(tangents, arguments)), value, name
            ),
            f"{name}: the differential depends on its tangents through something TensorFlow cannot "
            f"differentiate (NumPy, Python numbers, an operation without a gradient), so its transpose, "
            f"which reverse mode uses, cannot be found; write it with TensorFlow operations, or register "
            f"a pullback too",
        )
        grads = iter(_dense(grads, watched, checks))
        pulled = [_nest.map_leaves(lambda leaf: None if leaf is None else next(grads), t) for t in tangents]
        return pulled[0] if len(pulled) == 1 else tuple(pulled)

    return pullback


def _with_nones(template, tensors: list) -> list:
    """The leaves of ``template`` with its non-None leaves replaced, in order, by ``tensors``."""
    iterator = iter(tensors)
    return [None if leaf is None else next(iterator) for leaf in _nest.flatten(template)]


# ---------------------------------------------------------------------------------------------
# Linear maps whose derivative may be taken: pullbacks and differentials users wrote
# ---------------------------------------------------------------------------------------------


def _linear_map(apply: Callable, arguments: list, *, message: str, transpose: Callable | None = None) -> list:
    """``apply(arguments)``: tensors (or None) linear in ``arguments``, with their derivative with
    respect to ``arguments`` made explicit for whatever differentiates them (forward mode's
    transposition, a second-order derivative).

    That derivative is ``transpose(upstreams)`` (one upstream per result, None for a None result;
    one tangent per argument) when given, else TensorFlow's derivative of ``apply``; then a result
    that depends on the arguments in a way TensorFlow cannot see is refused with ``message`` at once
    (whether or not its derivative is taken later: a zero in its place would be silent). How the
    results depend on anything else (the point, through the values a pullback closes over) is left
    to TensorFlow. When no tape is recording, nothing can differentiate the results: ``apply`` as is.
    """
    if not could_possibly_record():
        return apply(arguments)
    cut = [tf.stop_gradient(argument) for argument in arguments]
    tape = None if transpose is not None else tf.GradientTape(persistent=True, watch_accessed_variables=False)
    with tape or contextlib.nullcontext():
        if tape is not None:
            tape.watch(cut)
        results = list(apply(cut))
    present = [index for index, result in enumerate(results) if result is not None]
    outputs = [results[index] for index in present]
    if not outputs:
        return results
    checked = outputs
    if tape is not None:
        checks = _hidden_dependence(
            tape,
            outputs,
            cut,
            tape.gradient(outputs, cut),
            lambda args: [apply(args)[index] for index in present],
            message,
        )
        if checks:
            with tf.control_dependencies(checks):
                checked = [tf.identity(output) for output in outputs]

    def derivative(upstreams: list) -> list:
        if transpose is not None:
            full: list = [None] * len(results)
            for index, upstream in zip(present, upstreams, strict=True):
                full[index] = upstream
            return transpose(full)
        assert tape is not None
        return _dense(tape.gradient(outputs, cut, output_gradients=upstreams), cut)

    linked = _link(checked, arguments, derivative)
    for index, result in zip(present, linked, strict=True):
        results[index] = result
    return results


def _link(outputs: list, arguments: list, derivative: Callable) -> list:
    """``outputs`` unchanged, made to depend on ``arguments`` through ``derivative(upstreams) -> one
    gradient per argument`` (and on whatever they depend on already, as they do)."""
    count = len(outputs)

    def forward(inputs):
        def backward(cotangents, variables):
            return [*cotangents, *derivative(list(cotangents))], [None] * len(variables)

        return [tf.identity(x) for x in inputs[:count]], backward

    return list(custom_gradient_call(forward, [*outputs, *arguments]))


def _hidden_dependence(
    tape, outputs: list, sources: list, grads: list, apply: Callable, message: str
) -> list:
    """Checks that no output depends on the sources where TensorFlow sees no connection: an output
    the tape does not connect to any source (``grads``: the gradients of all outputs, None where
    unconnected) must not change when the sources do (evaluated at a shifted point, ``apply``).
    Raises ``TypeError(message)`` in eager mode; in graphs, returns the assertions to run."""
    hidden = _unconnected(tape, outputs, sources, grads)
    return _hidden_dependence_checks(apply, sources, outputs, hidden, message) if hidden else []


def _dense(grads: list, sources: list, checks: list | None = None) -> list:
    """``grads`` with zeros for None, run after ``checks``."""
    dense = [
        tf.zeros_like(source) if grad is None else densify(grad)
        for grad, source in zip(grads, sources, strict=True)
    ]
    if checks:
        with tf.control_dependencies(checks):
            dense = [tf.identity(grad) for grad in dense]
    return dense


def _unconnected(tape, outputs: list, sources: list, grads: list) -> list:
    """The indices of ``outputs`` that no source reaches on ``tape`` (``grads``: of all of them)."""
    if all(grad is None for grad in grads):
        return list(range(len(outputs)))
    if len(outputs) == 1:
        return []
    return [
        index
        for index, output in enumerate(outputs)
        if all(grad is None for grad in tape.gradient(output, sources))
    ]


def _hidden_dependence_checks(apply: Callable, sources: list, outputs: list, hidden: list, message: str):
    """Raises (eager) or returns an assertion (graphs) that the ``hidden`` outputs are unchanged
    when ``sources`` are shifted by a fixed pseudo-random step."""
    with stop_recording():
        shifted = [source + _step_like(source) for source in sources]
        probe = apply(shifted)
    pairs = [(outputs[index], probe[index]) for index in hidden if probe[index] is not None]
    if tf.executing_eagerly():
        for before, after in pairs:
            if not np.array_equal(before.numpy(), tf.convert_to_tensor(after).numpy(), equal_nan=True):
                raise TypeError(message)
        return []
    same = [tf.reduce_all(_same(before, tf.convert_to_tensor(after))) for before, after in pairs]
    if not same:
        return []
    return [tf.debugging.Assert(tf.reduce_all(tf.stack(same)), [message])]


def _same(a, b):
    if a.dtype.is_complex:
        return tf.equal(a, b)
    return tf.logical_or(tf.equal(a, b), tf.logical_and(tf.math.is_nan(a), tf.math.is_nan(b)))


def _step_like(tensor):
    """A fixed pseudo-random tensor shaped like ``tensor`` (a generic direction: a linear map that
    is not zero almost surely changes along it)."""
    dtype = tensor.dtype
    real = dtype.real_dtype if dtype.is_complex else dtype
    compute = real if real in (tf.float32, tf.float64) else tf.float32
    step = tf.random.stateless_normal(tf.shape(tensor), seed=[20240611, 14], dtype=compute)
    return tf.cast(step, dtype)
