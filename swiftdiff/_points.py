"""Differentiation points: checking what users hand in and turning tape gradients into tangents.

A point is a floating tensor-like value, a ``tf.Variable``/``keras.Variable``, a Keras layer
(differentiated with respect to its trainable variables), or a nest of those.
"""

from __future__ import annotations

import inspect
import warnings

import keras
import numpy as np
import tensorflow as tf

from . import _nest
from .diagnostics import ZeroDerivativeWarning
from .tangent_vector import TangentVector

TENSOR, VARIABLE, LAYER, STATIC = "tensor", "variable", "layer", "static"


def underlying_variable(variable):
    """The ``tf.Variable`` a tape can watch (a ``keras.Variable`` wraps one)."""
    if isinstance(variable, tf.Variable):
        return variable
    inner = getattr(variable, "_value", None)  # keras.Variable on the TensorFlow backend
    if isinstance(inner, tf.Variable):
        return inner
    raise TypeError(f"not a variable: {variable!r}")


def is_floating(dtype) -> bool:
    dtype = tf.as_dtype(dtype)
    return dtype.is_floating or dtype.is_complex


def describe(value) -> str:
    if isinstance(value, (bool, int, float, str)):
        return f"{type(value).__name__} {value!r}"
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        return f"{type(value).__name__} of dtype {getattr(dtype, 'name', dtype)}"
    return type(value).__name__


def convert_floating(value, what: str, operator: str):
    """``value`` as a floating tensor, or a TypeError naming ``what``."""
    if isinstance(value, tf.Tensor):
        tensor = value
    elif isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise TypeError(f"{operator}: {what} is {describe(value)}, which is not differentiable "
                        f"(expected a floating value); block it with sd.without_derivative")
    elif isinstance(value, (int, np.integer)):
        raise TypeError(f"{operator}: {what} is {describe(value)}, which is not differentiable; "
                        f"pass a floating value such as {float(value)!r}")
    else:
        try:
            tensor = tf.convert_to_tensor(value)
        except (TypeError, ValueError):
            raise TypeError(f"{operator}: {what} is {describe(value)}, which is not differentiable "
                            f"(expected a floating tensor, a variable, a Keras layer or a nest of those)"
                            ) from None
    if not is_floating(tensor.dtype):
        raise TypeError(f"{operator}: {what} has dtype {tensor.dtype.name}, which is not differentiable; "
                        f"cast it to a floating dtype or block it with sd.without_derivative")
    return tensor


def _shape_text(shape) -> str:
    shape = tf.TensorShape(shape)
    return "unknown" if shape.rank is None else str(shape.as_list())


def conform(value, dtype, shape, what, reference: str, operator: str):
    """``value`` as a tensor of ``dtype`` whose shape fits ``shape``, or a short error.

    The one check for everything users hand back to us — cotangents, tangents, what a registered
    pullback or a ``with_derivative`` hook returns: a Python number is converted, a tensor of another
    dtype is a TypeError (never a silent cast), a shape that does not fit is a ValueError.
    """
    if isinstance(value, TangentVector):
        raise TypeError(f"{operator}: {what} is a TangentVector, expected a tensor")
    given = getattr(value, "dtype", None)
    if given is not None and not isinstance(value, (int, float)):
        try:
            given = tf.as_dtype(given)
        except TypeError:
            given = None
        if given is not None and given != dtype:
            raise TypeError(f"{operator}: {what} has dtype {given.name} but {reference} has dtype "
                            f"{tf.as_dtype(dtype).name}")
    try:
        tensor = tf.convert_to_tensor(value, dtype=dtype)
    except (TypeError, ValueError):
        raise TypeError(f"{operator}: {what} is {describe(value)}, which cannot be a "
                        f"{tf.as_dtype(dtype).name} tensor") from None
    if not tensor.shape.is_compatible_with(shape):
        raise ValueError(f"{operator}: {what} has shape {_shape_text(tensor.shape)} but {reference} "
                         f"has shape {_shape_text(shape)}")
    return tensor


def parameter_names(function, count: int) -> list[str]:
    """Names for the positional arguments of ``function`` (for messages)."""
    try:
        params = [p for p in inspect.signature(function).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        params = []
    names = []
    for index in range(count):
        if index < len(params) and params[index].kind != inspect.Parameter.VAR_POSITIONAL:
            names.append(f"argument {params[index].name!r}")
        else:
            names.append(f"argument #{index}")
    return names


class LazyText:
    """Text computed only when an error message is actually formatted (argument names cost a
    signature inspection, which would otherwise be paid on every operator call)."""

    __slots__ = ("_make",)

    def __init__(self, make):
        self._make = make

    def __str__(self):
        return str(self._make())

    def __format__(self, spec):
        return format(str(self), spec)


def lazy_parameter_names(function, count: int) -> list:
    """``parameter_names`` whose entries are computed on first use."""
    cache = []

    def names():
        if not cache:
            cache.extend(parameter_names(function, count))
        return cache

    return [LazyText(lambda index=index: names()[index]) for index in range(count)]


class Leaf:
    __slots__ = ("kind", "path", "value", "sources")

    def __init__(self, kind, path, value, sources):
        self.kind, self.path, self.value, self.sources = kind, path, value, sources


class Points:
    """The points of one operator call: what ``f`` receives and what the tape differentiates."""

    def __init__(self, points: tuple, function, operator: str):
        self._function = function
        self._names = None
        self.templates = points
        self.leaves: list[list[Leaf]] = []
        args = []
        for index, point in enumerate(points):
            if isinstance(point, tf.Tensor) and is_floating(point.dtype):  # the common case, fast
                leaves = [Leaf(TENSOR, "", point, [point])]
                args.append(point)
            else:
                leaves = [self._leaf(path, value, LazyText(lambda i=index, path=path: f"{self.names[i]}{path}"),
                                     operator)
                          for path, value in _nest.flatten_with_paths(point)]
                args.append(_nest.pack_like(point, [leaf.value for leaf in leaves]))
            self.leaves.append(leaves)
        self.args = tuple(args)
        self.sources = [source for leaves in self.leaves for leaf in leaves for source in leaf.sources]

    @property
    def names(self) -> list:
        """``argument 'x'`` for each point (for messages; computed on first use)."""
        if self._names is None:
            self._names = parameter_names(self._function, len(self.templates))
        return self._names

    @staticmethod
    def _leaf(path, value, what, operator) -> Leaf:
        if path and _is_non_differentiable(value):
            # Inside a nest, discrete fields (a step count, a name) ride along like Swift's
            # @noDerivative stored properties: passed through unchanged, tangent None.
            return Leaf(STATIC, path, value, [])
        if isinstance(value, keras.layers.Layer):
            return Leaf(LAYER, path, value, [underlying_variable(v) for v in value.trainable_variables])
        if isinstance(value, (tf.Variable, keras.Variable)):
            if not is_floating(value.dtype):
                raise TypeError(f"{operator}: {what} is a variable of dtype {tf.as_dtype(value.dtype).name}, "
                                f"which is not differentiable")
            return Leaf(VARIABLE, path, value, [underlying_variable(value)])
        tensor = convert_floating(value, what, operator)
        return Leaf(TENSOR, path, tensor, [tensor])

    def tangents(self, gradients: list, *, warn: bool, bare: bool):
        """Tangents shaped like the points, zeros (never None) where the result does not depend."""
        if bare and len(gradients) == 1 and gradients[0] is not None and self.leaves[0][0].kind == TENSOR \
                and not isinstance(gradients[0], tf.IndexedSlices) and not _nest.is_container(self.templates[0]):
            return gradients[0]  # one tensor point with a gradient: the common case, fast
        iterator = iter(gradients)
        result = []
        for point, leaves, name in zip(self.templates, self.leaves, self.names):
            values = []
            for leaf in leaves:
                grads = [next(iterator) for _ in leaf.sources]
                if leaf.sources and all(g is None for g in grads) and warn:
                    warnings.warn(
                        f"the result does not depend on {name}{leaf.path}: its tangent is zero. "
                        f"Wrap the value in sd.without_derivative if that is intended.",
                        ZeroDerivativeWarning, stacklevel=4)
                grads = [_dense_or_zeros(g, s) for g, s in zip(grads, leaf.sources)]
                if leaf.kind == STATIC:
                    values.append(None)
                elif leaf.kind == LAYER:
                    values.append(TangentVector(leaf.value, grads))
                else:
                    values.append(grads[0])
            result.append(_nest.pack_like(point, values))
        return result[0] if bare else tuple(result)


def _is_non_differentiable(value) -> bool:
    if isinstance(value, (bool, int, str, bytes, np.bool_, np.integer)) or value is None:
        return True
    dtype = getattr(value, "dtype", None)
    if dtype is None or isinstance(value, keras.layers.Layer):
        return False
    try:
        return not is_floating(dtype)
    except TypeError:
        return False


def _dense_or_zeros(gradient, source):
    if gradient is None:
        return tf.zeros_like(source) if isinstance(source, tf.Tensor) else tf.zeros(source.shape, source.dtype)
    if isinstance(gradient, tf.IndexedSlices):
        return tf.convert_to_tensor(gradient)
    return gradient


def flatten_tangent(tangent) -> list:
    """Leaves of a tangent, with ``TangentVector``s expanded into their components."""
    out = []
    for leaf in _nest.flatten(tangent):
        if leaf is None:
            continue
        if isinstance(leaf, TangentVector):
            out.extend(leaf)
        else:
            out.append(leaf)
    return out
