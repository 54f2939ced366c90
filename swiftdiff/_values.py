"""What a value is to swiftdiff: the one leaf classification, variable accessor and input checks.

Every module that looks at user values imports this one (it imports no other swiftdiff module but
the nest walker and the platform internals), so each decision is made once, with one rule:

* ``classify(leaf)``: ``TENSOR`` (a floating tensor-like value, Python floats included),
  ``VARIABLE`` (a floating ``tf.Variable``/``keras.Variable``), ``LAYER`` (a Keras layer,
  differentiated through its trainable variables) or ``STATIC`` (everything else: ints, bools,
  strings, ``None``, non-floating tensors, plain objects). A ``STATIC`` leaf is never
  differentiated and never has a tangent slot, like a non-``Differentiable`` Swift value.
* ``variable_handle(v)`` / ``variable_key(v)``: the ``tf.Variable`` a tape watches, and its identity.
* ``convert_floating`` / ``conform``: what users hand in and hand back, checked where it enters.
* ``resolve_function``: the ``of=`` / ``in_=`` argument of every operator-like function.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ._platform_internals import keras_variable_handle

TENSOR, VARIABLE, LAYER, STATIC = "tensor", "variable", "layer", "static"


def is_floating(dtype) -> bool:
    """Whether ``dtype`` is differentiable (floating or complex)."""
    dtype = tf.as_dtype(dtype)
    return dtype.is_floating or dtype.is_complex


def describe(value) -> str:
    """A short description of ``value`` for error messages (``int 3``, ``Tensor of dtype int32``)."""
    if isinstance(value, (bool, int, float, str)):
        return f"{type(value).__name__} {value!r}"
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        return f"{type(value).__name__} of dtype {getattr(dtype, 'name', dtype)}"
    return type(value).__name__


def classify(leaf) -> str:
    """The kind of one leaf of a value: ``TENSOR``, ``VARIABLE``, ``LAYER`` or ``STATIC``."""
    if isinstance(leaf, tf.Tensor):
        return TENSOR if is_floating(leaf.dtype) else STATIC
    if isinstance(leaf, keras.layers.Layer):
        return LAYER
    if isinstance(leaf, (tf.Variable, keras.Variable)):
        return VARIABLE if is_floating(leaf.dtype) else STATIC
    if isinstance(leaf, (bool, np.bool_)):
        return STATIC
    if isinstance(leaf, (float, np.floating)):
        return TENSOR
    if hasattr(leaf, "dtype") and hasattr(leaf, "shape"):  # numpy arrays, tensor-likes
        try:
            return TENSOR if is_floating(leaf.dtype) else STATIC
        except TypeError:
            return STATIC
    return STATIC


def variable_handle(variable) -> tf.Variable:
    """The ``tf.Variable`` a tape can watch: the variable itself, or the one a ``keras.Variable`` wraps."""
    if isinstance(variable, tf.Variable):
        return variable
    handle = keras_variable_handle(variable)
    if handle is None:
        raise TypeError(f"not a variable: {variable!r}")
    return handle


def variable_key(variable) -> int:
    """Identity of a variable, the same for a ``keras.Variable`` and the ``tf.Variable`` it wraps."""
    handle = keras_variable_handle(variable)
    return id(handle if handle is not None else variable)


def convert_floating(value, what: str | LazyText, operator: str) -> tf.Tensor:
    """``value`` as a floating tensor, or a ``TypeError`` naming ``what``."""
    if isinstance(value, tf.Tensor):
        tensor = value
    elif isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise TypeError(
            f"{operator}: {what} is {describe(value)}, which is not differentiable "
            f"(expected a floating value); block it with sd.without_derivative"
        )
    elif isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{operator}: {what} is {describe(value)}, which is not differentiable; "
            f"use a floating value such as {float(value)!r}"
        )
    else:
        try:
            tensor = tf.convert_to_tensor(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"{operator}: {what} is {describe(value)}, which is not differentiable "
                f"(expected a floating tensor, a variable, a Keras layer or a nest of those)"
            ) from None
    if not is_floating(tensor.dtype):
        raise TypeError(
            f"{operator}: {what} has dtype {tensor.dtype.name}, which is not differentiable; "
            f"cast it to a floating dtype or block it with sd.without_derivative"
        )
    return tensor


def shape_text(shape) -> str:
    """A shape for messages: ``[2, 3]`` or ``unknown``."""
    shape = tf.TensorShape(shape)
    return "unknown" if shape.rank is None else str(shape.as_list())


def densify(cotangent):
    """A dense tensor for a cotangent TensorFlow may hand over as ``tf.IndexedSlices`` (``tf.gather``)."""
    if isinstance(cotangent, tf.IndexedSlices):
        return tf.convert_to_tensor(cotangent)
    return cotangent


def conform(value, dtype, shape, what, reference: str, operator: str) -> tf.Tensor:
    """``value`` as a tensor of ``dtype`` whose shape fits ``shape``, or a short error.

    The one check for everything users hand back to us — cotangents, tangents, what a registered
    pullback or a ``with_derivative`` hook returns: a Python number is converted, a tensor of another
    dtype is a TypeError (never a silent cast), a shape that does not fit is a ValueError.
    """
    if hasattr(value, "__tf_flatten__") and not isinstance(value, (tf.Tensor, tf.Variable)):
        raise TypeError(f"{operator}: {what} is a {type(value).__name__}, expected a tensor")
    value = densify(value)
    given = getattr(value, "dtype", None)
    if given is not None and not isinstance(value, (int, float)):
        try:
            given = tf.as_dtype(given)
        except TypeError:
            given = None
        if given is not None and given != dtype:
            raise TypeError(
                f"{operator}: {what} has dtype {given.name} but {reference} has dtype "
                f"{tf.as_dtype(dtype).name}"
            )
    try:
        tensor = tf.convert_to_tensor(value, dtype=dtype)
    except (TypeError, ValueError):
        raise TypeError(
            f"{operator}: {what} is {describe(value)}, which cannot be a {tf.as_dtype(dtype).name} tensor"
        ) from None
    if not tensor.shape.is_compatible_with(shape):
        raise ValueError(
            f"{operator}: {what} has shape {shape_text(tensor.shape)} but {reference} "
            f"has shape {shape_text(shape)}"
        )
    return tensor


def given_function(operator: str, of, in_):
    """Whichever of ``of=`` and ``in_=`` (Swift's tutorial-era label) was given, or None."""
    if of is not None and in_ is not None:
        raise TypeError(f"{operator}: pass the function once, as of= or in_=, not both")
    return of if of is not None else in_


def resolve_function(
    operator: str, of, in_, *, what: str = "the function to differentiate", label: str = "of="
) -> Callable:
    """The function given as ``of=`` or ``in_=``, checked: present and callable."""
    function = given_function(operator, of, in_)
    if function is None:
        raise TypeError(f"{operator}: missing {what}; pass {label}f (or in_=f)")
    if not callable(function):
        raise TypeError(f"{operator}: {label} must be a function, got {describe(function)}")
    return function


class LazyText:
    """Text computed only when a message is actually formatted (argument names cost a signature
    inspection, which would otherwise be paid on every operator call)."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], Any]):
        self._make = make

    def __str__(self) -> str:
        return str(self._make())

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def positional_names(function, count: int) -> list[str]:
    """``argument 'x'`` (or ``argument #i``) for the first ``count`` positional arguments."""
    try:
        params = [
            p
            for p in inspect.signature(function).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
    except (TypeError, ValueError):
        params = []
    names = []
    for index in range(count):
        if index < len(params) and params[index].kind != inspect.Parameter.VAR_POSITIONAL:
            names.append(f"argument {params[index].name!r}")
        else:
            names.append(f"argument #{index}")
    return names
