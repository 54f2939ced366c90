"""Differentiation points: what an operator's ``at=`` holds, and tape gradients turned into tangents.

A point is a floating tensor-like value, a ``tf.Variable``/``keras.Variable``, a Keras layer
(differentiated with respect to its trainable variables), or a nest of those. Every point is its
own value, as in Swift: the same tensor object passed twice is watched as two copies, so each gets
its own tangent; the same variable or layer twice cannot be told apart from itself and is refused.
"""

from __future__ import annotations

import tensorflow as tf

from . import _nest
from ._values import (
    LAYER,
    STATIC,
    TENSOR,
    LazyText,
    classify,
    convert_floating,
    positional_names,
    variable_handle,
)
from .diagnostics import ZeroDerivativeWarning, warn
from .tangent_vector import TangentVector


class Leaf:
    """One leaf of a point: its kind, path inside the point, value, and the tensors a tape watches."""

    __slots__ = ("kind", "path", "value", "sources")

    def __init__(self, kind, path, value, sources):
        self.kind, self.path, self.value, self.sources = kind, path, value, sources


class Points:
    """The points of one operator call: what ``f`` receives and what the tape differentiates."""

    def __init__(self, points: tuple, function, operator: str):
        self._function = function
        self._names: list[str] | None = None
        self.templates = points
        self.leaves: list[list[Leaf]] = []
        seen: dict = {}  # id of a watched tensor or variable -> where it appeared
        args = []
        for index, point in enumerate(points):
            if isinstance(point, tf.Tensor) and point.dtype.is_floating and id(point) not in seen:
                seen[id(point)] = index  # the common case, fast: one fresh floating tensor
                leaves = [Leaf(TENSOR, "", point, [point])]
                args.append(point)
            else:
                leaves = [
                    self._leaf(index, path, value, operator, seen)
                    for path, value in _nest.flatten_with_paths(point)
                ]
                args.append(_nest.pack_like(point, [leaf.value for leaf in leaves]))
            self.leaves.append(leaves)
        self.args = tuple(args)
        self.sources = [source for leaves in self.leaves for leaf in leaves for source in leaf.sources]

    @property
    def names(self) -> list[str]:
        """``argument 'x'`` for each point (for messages; computed on first use)."""
        if self._names is None:
            self._names = positional_names(self._function, len(self.templates))
        return self._names

    def _where(self, place) -> str:
        index, path = place if isinstance(place, tuple) else (place, "")
        return f"{self.names[index]}{path}"

    def _leaf(self, index, path, value, operator, seen: dict) -> Leaf:
        what = LazyText(lambda: f"{self.names[index]}{path}")
        kind = classify(value)
        if kind == STATIC:
            if path:
                # Inside a nest, discrete fields (a step count, a name) ride along like Swift's
                # @noDerivative stored properties: passed through unchanged, tangent None.
                return Leaf(STATIC, path, value, [])
            convert_floating(value, what, operator)  # raises the TypeError that names the point
        if kind == TENSOR:
            tensor = convert_floating(value, what, operator)
            if id(tensor) in seen:
                # The same tensor object at two places: each place is its own value (Swift
                # semantics), so this one is watched as a copy; the tape would sum otherwise.
                tensor = tf.identity(tensor)
            seen[id(tensor)] = (index, path)
            return Leaf(TENSOR, path, tensor, [tensor])
        if kind == LAYER and not value.built and not value.trainable_variables:
            raise ValueError(
                f"{operator}: {what} is a {type(value).__name__} layer that is not built yet, "
                f"so it has no variables to differentiate; build it (layer.build(input_shape)) "
                f"or call it once before differentiating with respect to it"
            )
        variables = value.trainable_variables if kind == LAYER else [value]
        handles = [variable_handle(v) for v in variables]
        for handle in handles:
            if id(handle) in seen:
                raise ValueError(
                    f"{operator}: {what} holds the variable {handle.name!r}, which "
                    f"{self._where(seen[id(handle)])} holds too; a variable cannot be told apart from "
                    f"itself, so its tangent would be the sum of both. Pass it once"
                )
        for handle in handles:
            seen[id(handle)] = (index, path)
        return Leaf(kind, path, value, handles)

    def expected_tangents(self, index: int) -> list:
        """The watched tensors and variables of point ``index`` (what its tangent must match)."""
        return [source for leaf in self.leaves[index] for source in leaf.sources]

    def tangents(self, gradients: list, *, warn_zero: bool, bare: bool):
        """Tangents shaped like the points, zeros (never None) where the result does not depend."""
        if (
            bare
            and len(gradients) == 1
            and gradients[0] is not None
            and self.leaves[0][0].kind == TENSOR
            and not isinstance(gradients[0], tf.IndexedSlices)
            and not _nest.is_container(self.templates[0])
        ):
            return gradients[0]  # one tensor point with a gradient: the common case, fast
        iterator = iter(gradients)
        result = []
        for point, leaves, name in zip(self.templates, self.leaves, self.names, strict=True):
            values: list = []
            for leaf in leaves:
                grads = [next(iterator) for _ in leaf.sources]
                if leaf.sources and all(g is None for g in grads) and warn_zero:
                    warn(
                        f"the result does not depend on {name}{leaf.path}: its tangent is zero. "
                        f"Wrap the value in sd.without_derivative if that is intended.",
                        ZeroDerivativeWarning,
                    )
                grads = [_dense_or_zeros(g, s) for g, s in zip(grads, leaf.sources, strict=True)]
                if leaf.kind == STATIC:
                    values.append(None)
                elif leaf.kind == LAYER:
                    values.append(TangentVector(leaf.value, grads))
                else:
                    values.append(grads[0])
            result.append(_nest.pack_like(point, values))
        return result[0] if bare else tuple(result)


def _dense_or_zeros(gradient, source):
    if gradient is None:
        return (
            tf.zeros_like(source) if isinstance(source, tf.Tensor) else tf.zeros(source.shape, source.dtype)
        )
    if isinstance(gradient, tf.IndexedSlices):
        return tf.convert_to_tensor(gradient)
    return gradient
