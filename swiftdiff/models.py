"""The tutorial's two networks as ordinary Keras models: ``MLP`` (section 4) and ``CNN`` (section 6)."""

from __future__ import annotations

import keras

from .activation_discarding import ActivationDiscarding
from .activations import relu
from .layer import LayerMethods
from .layers import Conv2D, Dense, Flatten, MaxPool2D

_register = keras.saving.register_keras_serializable(package="swiftdiff")


@_register
class MLP(LayerMethods, keras.Model):
    """The XOR network of section 4: ``Dense(2→10, relu)``, ``Dense(10→1, relu)``.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> model = sd.models.MLP()
        >>> tuple(model(tf.ones([4, 2])).shape), tuple(model.layer1.weight.shape)
        ((4, 1), (2, 10))
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.layer1 = Dense(input_size=2, output_size=10, activation=relu)
        self.layer2 = Dense(input_size=10, output_size=1, activation=relu)
        self.built = True

    def call(self, input):
        return self.layer2(self.layer1(input))


@_register
class CNN(LayerMethods, keras.Model):
    """The network of section 6: ``Conv2D(5×5×3×6)`` wrapped in ``ActivationDiscarding``,
    ``MaxPool2D(2×2)``, ``Flatten``, ``Dense(216→10)``, for 16×16×3 inputs.

    ``CNN(discard_activations=False)`` leaves the convolution plain.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.models.CNN()(tf.ones([10, 16, 16, 3])).shape
        TensorShape([10, 10])
    """

    def __init__(self, discard_activations=True, **kwargs):
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

    def get_config(self):
        return {**super().get_config(), "discard_activations": self.discard_activations}
