"""S4TF's ``Layer`` protocol on Keras 3: ``sd.Layer``, ``applied_for_backpropagation``, ``sequenced``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import keras

from .activation_discarding import ActivationDiscarding
from .operators import value_with_pullback

#: What ``sequenced(through=)`` accepts: one layer (or function) or a sequence of them.
Layers = Callable[..., Any] | Sequence[Callable[..., Any]]


class AppliedForBackpropagation(NamedTuple):
    """Swift's ``(output, backpropagator)``, returned by ``applied_for_backpropagation``.

    Attributes:
        output: The layer's output.
        backpropagator: ``backpropagator(dy) -> (layer_tangent, input_tangent)``, the layer's
            tangent being a ``TangentVector``.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> result = sd.Dense(input_size=2, output_size=1).applied_for_backpropagation(tf.ones([1, 2]))
        >>> d_layer, d_input = result.backpropagator(tf.ones([1, 1]))
        >>> tuple(result.output.shape), d_layer.bias.numpy().tolist()
        ((1, 1), [1.0])
    """

    output: Any
    backpropagator: Callable[[Any], tuple[Any, Any]]


def applied_for_backpropagation(
    layer: keras.layers.Layer, x: Any, *, training: bool | None = None
) -> AppliedForBackpropagation:
    """Swift ``layer.appliedForBackpropagation(to: x)``: the output and its backpropagator.

    Works for any Keras layer, ``sd.Layer`` or not.

    Args:
        layer: The Keras layer (or model) to apply.
        x: The input.
        training: Passed to the layer as ``training=`` (Swift's learning phase); ``None`` passes
            nothing, so Keras' own default applies.

    Returns:
        ``(output, backpropagator)``; ``backpropagator(dy)`` returns ``(layer_tangent,
        input_tangent)``, the layer's tangent being a ``TangentVector``.

    Raises:
        TypeError: ``layer`` is not a Keras layer.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> dense = sd.Dense(input_size=2, output_size=1)
        >>> y, backprop = sd.applied_for_backpropagation(dense, tf.ones([3, 2]))
        >>> d_layer, d_input = backprop(tf.ones([3, 1]))
        >>> d_layer.bias.numpy().tolist(), d_input.shape
        ([3.0], TensorShape([3, 2]))
    """
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(f"sd.applied_for_backpropagation: expected a Keras layer, got {type(layer).__name__}")

    def apply(layer, x):
        return layer(x) if training is None else layer(x, training=training)

    value, pullback = value_with_pullback(at=(layer, x), of=apply)
    return AppliedForBackpropagation(value, pullback)


def sequenced(x: Any, *, through: Layers, training: bool | None = None) -> Any:
    """Swift ``x.sequenced(through: l1, l2, ...)``: applies the layers in order.

    Args:
        x: The input of the first layer.
        through: A layer, or a list or tuple of layers; plain functions are accepted too.
        training: Passed as ``training=`` to each Keras layer (not to plain functions); ``None``
            passes nothing.

    Returns:
        The output of the last layer.

    Raises:
        TypeError: An element of ``through`` is not callable (the message names its index).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.sequenced(tf.ones([1, 4, 4, 1]), through=(sd.MaxPool2D(pool_size=(2, 2)), sd.Flatten())).shape
        TensorShape([1, 4])
    """
    layers = through if isinstance(through, (list, tuple)) else (through,)
    for index, layer in enumerate(layers):
        if not callable(layer):
            raise TypeError(f"sd.sequenced: through[{index}] is {type(layer).__name__}, not a layer")
        x = (
            layer(x)
            if training is None or not isinstance(layer, keras.layers.Layer)
            else layer(x, training=training)
        )
    return x


def discarding_activations(layer: keras.layers.Layer) -> keras.layers.Layer:
    """Swift ``layer.discardingActivations()``: the layer wrapped in ``ActivationDiscarding``.

    Args:
        layer: The Keras layer whose activations are recomputed in backpropagation.

    Returns:
        ``sd.ActivationDiscarding(layer)``.

    Raises:
        TypeError: ``layer`` is not a Keras layer.

    Examples:
        >>> import swiftdiff as sd
        >>> type(sd.discarding_activations(sd.Dense(input_size=2, output_size=2))).__name__
        'ActivationDiscarding'
    """

    return ActivationDiscarding(layer)


class LayerMethods:
    """Swift's ``Layer`` extension methods, for any Keras layer or model class that mixes them in.

    ``sd.Layer`` and the models of ``sd.models`` mix them in; mix them into a ``keras.Model``
    subclass to give it the same methods.

    Examples:
        >>> import keras, tensorflow as tf, swiftdiff as sd
        >>> class Model(sd.layer.LayerMethods, keras.Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.dense = sd.Dense(input_size=2, output_size=1)
        ...     def call(self, x):
        ...         return self.dense(x)
        >>> tuple(Model().applied_for_backpropagation(tf.ones([3, 2])).output.shape)
        (3, 1)
    """

    def applied_for_backpropagation(
        self, x: Any, *, training: bool | None = None
    ) -> AppliedForBackpropagation:
        """Swift ``appliedForBackpropagation(to:)``; see ``sd.applied_for_backpropagation``."""
        return applied_for_backpropagation(self, x, training=training)

    appliedForBackpropagation = applied_for_backpropagation

    def discarding_activations(self) -> keras.layers.Layer:
        """Swift ``discardingActivations()``; see ``sd.discarding_activations``."""
        return discarding_activations(self)

    discardingActivations = discarding_activations


class Layer(LayerMethods, keras.layers.Layer):
    """Swift ``protocol Layer``: a ``keras.layers.Layer`` whose subclasses define ``call``.

    Subclasses create their sublayers and variables in ``__init__``, as Swift layers do, and
    declare what inputs they accept with ``self.input_spec = keras.InputSpec(...)``, which Keras
    checks before ``call`` runs.

    Examples:
        The tutorial's XOR network:

        >>> import tensorflow as tf, swiftdiff as sd
        >>> class MLP(sd.Layer):
        ...     def __init__(self, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.layer1 = sd.Dense(input_size=2, output_size=10, activation=sd.relu)
        ...         self.layer2 = sd.Dense(input_size=10, output_size=1, activation=sd.relu)
        ...     def call(self, input):
        ...         return self.layer2(self.layer1(input))
        >>> model = MLP()
        >>> grads = sd.gradient(at=model, of=lambda m: tf.reduce_mean(m(tf.ones([4, 2]))))
        >>> grads.layer1.weight.shape
        TensorShape([2, 10])
    """

    def build(self, input_shape: Any = None) -> None:
        """Marks the layer built: its parameters exist since construction, as in Swift.

        Defined, rather than inherited, because a Keras layer without its own ``build`` is built
        by running ``call`` symbolically before the first real call, which would run user code
        (and its prints) one extra time. Sublayers build on their own first call.

        Args:
            input_shape: The input shape Keras passes; unused.
        """
        self.built = True
