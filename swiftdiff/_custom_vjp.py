"""The one place where a user-supplied VJP becomes a TensorFlow gradient (``tf.custom_gradient``).

``differentiable_function``, ``@derivative(of=)`` and checkpointing all end here. What this adds
to ``tf.custom_gradient``: points may be nests, variables and Keras layers (their trainable
variables are wired through ``custom_gradient``'s ``variables``), non-differentiable arguments
(ints, strings, ``wrt=`` exclusions) pass through untouched, keyword arguments never reach
``custom_gradient`` (which rejects them in graph mode), and whatever the user's pullback returns is
checked against the arguments so that a wrong tangent is reported in the user's terms.
"""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from . import _nest
from ._points import conform, convert_floating, describe, is_floating, underlying_variable
from ._platform_internals import stop_recording
from .tangent_vector import TangentVector

_STATIC, _TENSOR, _VARIABLE, _LAYER = "static", "tensor", "variable", "layer"


def _classify(leaf):
    if isinstance(leaf, keras.layers.Layer):
        return _LAYER
    if isinstance(leaf, (tf.Variable, keras.Variable)):
        return _VARIABLE if is_floating(leaf.dtype) else _STATIC
    if isinstance(leaf, (tf.Tensor, float)) or (hasattr(leaf, "dtype") and hasattr(leaf, "shape")):
        dtype = getattr(leaf, "dtype", tf.float32)
        try:
            return _TENSOR if is_floating(dtype) else _STATIC
        except TypeError:
            return _STATIC
    return _STATIC


class _Arguments:
    """The arguments of one call, split into tensor inputs and everything that passes through."""

    def __init__(self, args: tuple, differentiable: set):
        self.args = args
        self.differentiable = differentiable
        self.kinds: list = []
        self.inputs: list = []
        for index, arg in enumerate(args):
            if index not in differentiable:
                self.kinds.append(None)
                continue
            kinds = []
            for leaf in _nest.flatten(arg):
                kind = _classify(leaf)
                kinds.append(kind)
                if kind == _TENSOR:
                    self.inputs.append(tf.convert_to_tensor(leaf))
            self.kinds.append(kinds)

    def rebuild(self, inputs) -> tuple:
        """The arguments with their tensor leaves replaced by ``inputs``."""
        iterator = iter(inputs)
        rebuilt = []
        for arg, kinds in zip(self.args, self.kinds):
            if kinds is None:
                rebuilt.append(arg)
                continue
            leaves = [next(iterator) if kind == _TENSOR else leaf
                      for leaf, kind in zip(_nest.flatten(arg), kinds)]
            rebuilt.append(_nest.pack_like(arg, leaves))
        return tuple(rebuilt)


def _split_vjp_result(result, name: str):
    if not (isinstance(result, tuple) and len(result) == 2 and callable(result[1])):
        raise TypeError(f"{name} must return (value, pullback) with a callable pullback, "
                        f"got {describe(result)}")
    value, pullback = result
    value = _nest.map_leaves(lambda leaf: convert_floating(leaf, "the value it returned", name), value)
    return value, pullback


def _check_tangents(tangents, arguments: _Arguments, names: list, name: str):
    """Splits the user's tangents into input gradients and ``{variable id: gradient}``."""
    positions = sorted(arguments.differentiable)
    if (len(positions) == 1 and isinstance(tangents, (tuple, list))
            and not _nest.is_container(arguments.args[positions[0]])):
        raise ValueError(f"{name}: the pullback returned {len(tangents)} tangents but the function has "
                         f"1 differentiable argument; return its tangent bare")
    if len(positions) == 1:
        tangents = (tangents,)
    elif not isinstance(tangents, (tuple, list)) or len(tangents) != len(positions):
        count = len(tangents) if isinstance(tangents, (tuple, list)) else 1
        raise ValueError(f"{name}: the pullback returned {count} tangent(s) but the function has "
                         f"{len(positions)} differentiable arguments; return one tangent per argument, "
                         f"in order")
    input_grads, variable_grads = [], {}
    for position, tangent in zip(positions, tangents):
        arg, kinds, what = arguments.args[position], arguments.kinds[position], names[position]
        arg_leaves = _nest.flatten(arg)
        if tangent is None:
            tangent_leaves = [None] * len(arg_leaves)
        elif len(arg_leaves) == 1 and not _nest.is_container(arg):
            tangent_leaves = [tangent]
        else:
            tangent_leaves = _nest.flatten(tangent)
            if len(tangent_leaves) != len(arg_leaves):
                raise ValueError(f"{name}: the tangent for {what} has {len(tangent_leaves)} components "
                                 f"but the argument has {len(arg_leaves)}")
        for leaf, kind, grad in zip(arg_leaves, kinds, tangent_leaves):
            if kind == _STATIC:
                continue
            if kind == _LAYER:
                if grad is None:
                    continue
                if not isinstance(grad, TangentVector) or grad.layer is not leaf:
                    raise TypeError(f"{name}: the tangent for {what} (a {type(leaf).__name__} layer) "
                                    f"must be its TangentVector, got {describe(grad)}")
                for variable, value in zip(leaf.trainable_variables, grad):
                    variable_grads[id(underlying_variable(variable))] = value
                continue
            reference = leaf if kind == _VARIABLE else tf.convert_to_tensor(leaf)
            checked = None if grad is None else conform(grad, reference.dtype, reference.shape,
                                                        f"the tangent for {what}", "the argument", name)
            if kind == _VARIABLE:
                variable_grads[id(underlying_variable(leaf))] = checked
            else:
                input_grads.append(checked)
    return input_grads, variable_grads


def call_with_vjp(vjp, args: tuple, *, name: str, names: list, differentiable: set,
                  record_forward: bool = True, raw: bool = False):
    """Calls ``vjp(*args) -> (value, pullback)`` and returns ``value`` with ``pullback`` as its derivative.

    * ``differentiable``: positions of the arguments to differentiate (Swift's ``wrt:``).
    * ``record_forward=False``: outer tapes do not record the forward computation (checkpointing;
      only the pullback's recomputation is recorded, so higher-order derivatives stay correct).
    * ``raw=True`` (internal): ``vjp(args, inputs, rebuild)`` returns ``(value, pullback)`` where
      ``pullback(cotangents, variables)`` returns ``(input_gradients, variable_gradients)``.
    """
    arguments = _Arguments(args, differentiable)
    structure = {}

    @tf.custom_gradient
    def operation(*inputs):
        call_args = arguments.rebuild(inputs)
        recording = contextlib.nullcontext() if record_forward else stop_recording()
        with recording:
            if raw:
                value, pullback = vjp(call_args, list(inputs), arguments.rebuild)
            else:
                value, pullback = _split_vjp_result(vjp(*call_args), name)
        flat_value = _nest.flatten(value)
        structure["value"] = value

        def gradient(*cotangents, variables=None):
            if raw:
                input_grads, variable_grads = pullback(list(cotangents), list(variables or []))
            else:
                input_grads, by_variable = _check_tangents(
                    pullback(_nest.pack_like(value, list(cotangents))), arguments, names, name)
                variable_grads = [by_variable.get(id(v)) for v in (variables or [])]
            if variables is None:
                return input_grads
            return input_grads, variable_grads

        return (flat_value[0] if len(flat_value) == 1 else flat_value), gradient

    outputs = operation(*arguments.inputs)
    outputs = [outputs] if not isinstance(outputs, (list, tuple)) else list(outputs)
    return _nest.pack_like(structure["value"], outputs)
