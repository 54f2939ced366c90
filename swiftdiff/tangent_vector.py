"""``TangentVector``: the tangent of a Keras layer (Swift's synthesized ``Model.TangentVector``)."""

from __future__ import annotations

import numbers

import keras
import tensorflow as tf

from ._values import variable_key


class TangentVector:
    """The tangent (gradient, update direction) of a layer: Swift's ``Model.TangentVector``.

    It mirrors the layer: ``grads.layer1.weight`` is the tangent of ``model.layer1.weight``.
    Iterating yields one tensor per variable in the order of ``model.trainable_variables``, so
    ``zip(grads, model.trainable_variables)`` feeds any Keras optimizer. Supports ``+``, ``-``,
    unary ``-``, multiplication by a scalar, ``scaled(by=)`` and ``TangentVector.zeros_like(model)``.
    It is a pure value: a ``tf.nest`` node (so it leaves a ``tf.function`` and nests like a tuple),
    holding the layer only to name its components.

    Args:
        layer: the Keras layer (or model) this is a tangent of.
        values: one tensor per trainable variable, in the order of ``layer.trainable_variables``.

    Raises:
        ValueError: the number of values differs from the number of trainable variables.

    Examples:
        >>> import keras, tensorflow as tf, swiftdiff as sd
        >>> layer = keras.layers.Dense(2)
        >>> layer.build((None, 3))
        >>> g = sd.gradient(at=layer, of=lambda l: tf.reduce_sum(l(tf.ones([1, 3]))))
        >>> g.kernel.shape, g.bias.numpy().tolist()
        (TensorShape([3, 2]), [1.0, 1.0])
    """

    __slots__ = ("_layer", "_variables", "_values")

    def __init__(self, layer, values):
        variables = list(layer.trainable_variables)
        values = list(values)
        if len(values) != len(variables):
            raise ValueError(
                f"TangentVector: {type(layer).__name__} has {len(variables)} trainable variables "
                f"but {len(values)} tangents were given"
            )
        self._layer = layer
        self._variables = variables
        self._values = [
            tf.convert_to_tensor(v, dtype=var.dtype) for v, var in zip(values, variables, strict=True)
        ]

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def zeros_like(cls, layer) -> TangentVector:
        """Swift ``Model.TangentVector.zero``: zeros shaped like each trainable variable.

        Args:
            layer: a Keras layer or model.

        Returns:
            The zero tangent of ``layer``.

        Raises:
            TypeError: ``layer`` is not a Keras layer.
        """
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(f"TangentVector.zeros_like: expected a Keras layer, got {type(layer).__name__}")
        return cls(layer, [tf.zeros(v.shape, v.dtype) for v in layer.trainable_variables])

    # -- structure ------------------------------------------------------------------------------
    @property
    def layer(self):
        """The layer this is a tangent of."""
        return self._layer

    def tangent_for(self, variable):
        """The tangent of one of the layer's trainable variables.

        Args:
            variable: a trainable variable of the layer (``keras.Variable`` or ``tf.Variable``).

        Returns:
            Its component of this tangent.

        Raises:
            KeyError: ``variable`` is not a trainable variable of the layer.
        """
        key = variable_key(variable)
        for candidate, value in zip(self._variables, self._values, strict=True):
            if variable_key(candidate) == key:
                return value
        raise KeyError(
            f"TangentVector: {getattr(variable, 'name', variable)!r} is not a trainable "
            f"variable of {type(self._layer).__name__}"
        )

    def _view(self, attribute):
        if isinstance(attribute, keras.layers.Layer):
            return TangentVector(attribute, [self.tangent_for(v) for v in attribute.trainable_variables])
        if isinstance(attribute, (keras.Variable, tf.Variable)):
            return self.tangent_for(attribute)
        if (
            isinstance(attribute, (list, tuple))
            and attribute
            and all(isinstance(item, (keras.layers.Layer, keras.Variable, tf.Variable)) for item in attribute)
        ):
            return [self._view(item) for item in attribute]
        raise AttributeError

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            attribute = getattr(self._layer, name)
            return self._view(attribute)
        except AttributeError:
            raise AttributeError(
                f"TangentVector of {type(self._layer).__name__} has no component {name!r} "
                f"(components mirror the layer's sublayers and trainable variables)"
            ) from None

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        parts = ", ".join(
            f"{v.path if hasattr(v, 'path') else v.name}: {list(t.shape)}"
            for v, t in zip(self._variables, self._values, strict=True)
        )
        return f"TangentVector({type(self._layer).__name__}; {parts})"

    # -- tf.nest (so a TangentVector can leave a tf.function) -----------------------------------
    def __tf_flatten__(self):
        return _Structure(self._layer), tuple(self._values)

    @classmethod
    def __tf_unflatten__(cls, metadata, components):
        result = object.__new__(cls)
        result._layer = metadata.layer
        result._variables = list(metadata.layer.trainable_variables)
        result._values = list(components)
        return result

    # -- vector space ---------------------------------------------------------------------------
    def _like(self, values) -> TangentVector:
        result = object.__new__(TangentVector)
        result._layer = self._layer
        result._variables = self._variables
        result._values = list(values)
        return result

    def _check_same(self, other, operation):
        if not isinstance(other, TangentVector):
            raise TypeError(
                f"TangentVector {operation}: expected another TangentVector, got {type(other).__name__}"
            )
        mine = [variable_key(v) for v in self._variables]
        theirs = [variable_key(v) for v in other._variables]
        if mine != theirs:
            raise ValueError(
                f"TangentVector {operation}: the tangents belong to different layers "
                f"({type(self._layer).__name__} with {len(mine)} variables vs "
                f"{type(other._layer).__name__} with {len(theirs)} variables)"
            )

    def __add__(self, other):
        self._check_same(other, "+")
        return self._like(a + b for a, b in zip(self._values, other._values, strict=True))

    def __sub__(self, other):
        self._check_same(other, "-")
        return self._like(a - b for a, b in zip(self._values, other._values, strict=True))

    def __neg__(self):
        return self._like(-a for a in self._values)

    def scaled(self, by) -> TangentVector:
        """Swift ``scaled(by:)``: every component multiplied by the scalar ``by``.

        Args:
            by: a scalar (a Python number or a rank-0 tensor).

        Returns:
            A new ``TangentVector``.

        Raises:
            TypeError: ``by`` is not a scalar.
        """
        if isinstance(by, TangentVector) or (hasattr(by, "shape") and len(by.shape) > 0):
            raise TypeError("TangentVector.scaled: `by` must be a scalar")
        if not isinstance(by, (numbers.Number, tf.Tensor, tf.Variable)) and not hasattr(by, "dtype"):
            raise TypeError(f"TangentVector.scaled: `by` must be a scalar, got {type(by).__name__}")
        return self._like(a * tf.cast(by, a.dtype) for a in self._values)

    def __mul__(self, scalar):
        if isinstance(scalar, TangentVector):
            return NotImplemented
        return self.scaled(by=scalar)

    __rmul__ = __mul__


class _Structure:
    """Hashable metadata for ``tf.nest``: two tangents of the same layer share a structure."""

    __slots__ = ("layer",)

    def __init__(self, layer):
        self.layer = layer

    def __eq__(self, other):
        return isinstance(other, _Structure) and other.layer is self.layer

    def __hash__(self):
        return id(self.layer)
