"""The tutorial's two networks as ordinary Keras models: ``MLP`` (section 4) and ``CNN`` (section 6)."""

from __future__ import annotations

from typing import Any

import keras

from .activation_discarding import ActivationDiscarding
from .activations import relu
from .layer import LayerMethods
from .layers import Conv2D, Dense, Flatten, MaxPool2D

_register = keras.saving.register_keras_serializable(package="swiftdiff")


@_register
class MLP(LayerMethods, keras.Model):
    """The tutorial's Swift ``struct MLP: Layer`` (section 4): ``Dense(2→10, relu)``, ``Dense(10→1, relu)``.

    Args:
        **kwargs: Passed to ``keras.Model`` (``name=``, ...).

    Attributes:
        layer1: ``Dense(input_size=2, output_size=10, activation=sd.relu)``.
        layer2: ``Dense(input_size=10, output_size=1, activation=sd.relu)``.

    Input shape:
        ``[batch, 2]``.

    Output shape:
        ``[batch, 1]``.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> model = sd.models.MLP()
        >>> tuple(model(tf.ones([4, 2])).shape), tuple(model.layer1.weight.shape)
        ((4, 1), (2, 10))
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.layer1 = Dense(input_size=2, output_size=10, activation=relu)
        self.layer2 = Dense(input_size=10, output_size=1, activation=relu)
        self.built = True

    def call(self, input):
        return self.layer2(self.layer1(input))


@_register
class CNN(LayerMethods, keras.Model):
    """The tutorial's Swift ``struct CNN: Layer`` (section 6), for 16×16×3 inputs.

    ``Conv2D(5×5×3×6)`` wrapped in ``ActivationDiscarding``, ``MaxPool2D(2×2)``, ``Flatten``,
    ``Dense(216→10)``.

    Args:
        discard_activations: Whether to wrap the convolution in ``ActivationDiscarding``;
            ``False`` leaves it plain.
        **kwargs: Passed to ``keras.Model`` (``name=``, ...).

    Attributes:
        conv: The convolution (wrapped or plain).
        max_pool: ``MaxPool2D(pool_size=(2, 2), strides=(2, 2))``.
        flatten: ``Flatten()``.
        dense: ``Dense(input_size=216, output_size=10)``.

    Input shape:
        ``[batch, 16, 16, 3]``.

    Output shape:
        ``[batch, 10]``.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.models.CNN()(tf.ones([10, 16, 16, 3])).shape
        TensorShape([10, 10])
    """

    def __init__(self, discard_activations: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.discard_activations = bool(discard_activations)
        conv = Conv2D(filter_shape=(5, 5, 3, 6))
        self.conv = ActivationDiscarding(conv) if self.discard_activations else conv
        self.max_pool = MaxPool2D(pool_size=(2, 2), strides=(2, 2))
        self.flatten = Flatten()
        self.dense = Dense(input_size=36 * 6, output_size=10)
        self.built = True

    def call(self, input, training=None):
        return self.dense(self.flatten(self.max_pool(self.conv(input, training=training))))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "discard_activations": self.discard_activations}
