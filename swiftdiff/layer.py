"""S4TF's ``Layer`` protocol on Keras 3: ``sd.Layer``, ``applied_for_backpropagation``, ``sequenced``."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import keras

from .operators import value_with_pullback


class AppliedForBackpropagation(NamedTuple):
    """Swift's ``(output, backpropagator)``: ``backpropagator(dy) -> (layer_tangent, input_tangent)``.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> result = sd.Dense(input_size=2, output_size=1).applied_for_backpropagation(tf.ones([1, 2]))
        >>> d_layer, d_input = result.backpropagator(tf.ones([1, 1]))
        >>> tuple(result.output.shape), d_layer.bias.numpy().tolist()
        ((1, 1), [1.0])
    """
    output: Any
    backpropagator: Callable


def _check_layer(layer, operator: str):
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(f"{operator}: expected a Keras layer, got {type(layer).__name__}")


def applied_for_backpropagation(layer, x, *, training=None) -> AppliedForBackpropagation:
    """Swift ``layer.appliedForBackpropagation(to: x)`` for any Keras layer.

    Returns ``(output, backpropagator)``; ``backpropagator(dy)`` returns ``(layer_tangent,
    input_tangent)``, the layer's tangent being a ``TangentVector``. ``training`` is passed to the
    layer (Swift's learning phase).

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> dense = sd.Dense(input_size=2, output_size=1)
        >>> y, backprop = sd.applied_for_backpropagation(dense, tf.ones([3, 2]))
        >>> d_layer, d_input = backprop(tf.ones([3, 1]))
        >>> d_layer.bias.numpy().tolist(), d_input.shape
        ([3.0], TensorShape([3, 2]))
    """
    _check_layer(layer, "sd.applied_for_backpropagation")

    def apply(layer, x):
        return layer(x) if training is None else layer(x, training=training)

    value, pullback = value_with_pullback(at=(layer, x), of=apply)
    return AppliedForBackpropagation(value, pullback)


def sequenced(x, *, through, training=None):
    """Swift ``x.sequenced(through: l1, l2, ...)``: applies the layers in order.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.sequenced(tf.ones([1, 4, 4, 1]), through=(sd.MaxPool2D(pool_size=(2, 2)), sd.Flatten())).shape
        TensorShape([1, 4])
    """
    layers = through if isinstance(through, (list, tuple)) else (through,)
    for index, layer in enumerate(layers):
        if not callable(layer):
            raise TypeError(f"sd.sequenced: through[{index}] is {type(layer).__name__}, not a layer")
        x = layer(x) if training is None or not isinstance(layer, keras.layers.Layer) \
            else layer(x, training=training)
    return x


def discarding_activations(layer):
    """Swift ``layer.discardingActivations()``: the layer wrapped in ``ActivationDiscarding``.

    Example::

        >>> import swiftdiff as sd
        >>> type(sd.discarding_activations(sd.Dense(input_size=2, output_size=2))).__name__
        'ActivationDiscarding'
    """
    from .activation_discarding import ActivationDiscarding
    return ActivationDiscarding(layer)


class LayerMethods:
    """Swift's ``Layer`` extension methods, for any Keras layer or model class that mixes them in."""

    def applied_for_backpropagation(self, x, *, training=None) -> AppliedForBackpropagation:
        """Swift ``appliedForBackpropagation(to:)``; see ``sd.applied_for_backpropagation``."""
        return applied_for_backpropagation(self, x, training=training)

    appliedForBackpropagation = applied_for_backpropagation

    def discarding_activations(self):
        """Swift ``discardingActivations()``; see ``sd.discarding_activations``."""
        return discarding_activations(self)

    discardingActivations = discarding_activations


class Layer(LayerMethods, keras.layers.Layer):
    """Swift ``protocol Layer``: a ``keras.layers.Layer`` whose subclasses define ``call``.

    Example (the tutorial's XOR network)::

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

    def __call__(self, *args, **kwargs):
        # Inputs are checked here, before Keras' __call__, whose error handling would wrap our
        # one-line message in a multi-line "Exception encountered when calling ..." report.
        if args:
            self._check_input(args[0])
        return super().__call__(*args, **kwargs)

    def _check_input(self, input):
        """Raises a short ValueError when ``input`` cannot be this layer's input (override)."""
        return None  # a statement, not just a docstring: autograph cannot convert an empty body

    def build(self, input_shape=None):
        # Swift layers hold their parameters from construction, and Keras sublayers build on their
        # first call. Defining build stops Keras from "building by running" call() symbolically
        # first, which would run user code (and its prints) one extra time.
        self.built = True
