"""S4TF's activation functions: ``relu``, ``sigmoid``, ``tanh``, ``softmax``, ``identity``.

Registered with Keras so that layers using them save and load without ``custom_objects``.
"""

import keras
import tensorflow as tf

_register = keras.saving.register_keras_serializable(package="swiftdiff")


@_register
def relu(x):
    """Swift ``relu(_:)``: ``max(0, x)``.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.relu(tf.constant([-1.0, 2.0])).numpy().tolist()
        [0.0, 2.0]
    """
    return tf.nn.relu(x)


@_register
def sigmoid(x):
    """Swift ``sigmoid(_:)``: ``1 / (1 + exp(-x))``.

    Example::

        >>> import swiftdiff as sd
        >>> float(sd.sigmoid(0.0))
        0.5
    """
    return tf.sigmoid(x)


@_register
def tanh(x):
    """Swift ``tanh(_:)``.

    Example::

        >>> import swiftdiff as sd
        >>> float(sd.tanh(0.0))
        0.0
    """
    return tf.tanh(x)


@_register
def softmax(x):
    """Swift ``softmax(_:)``: along the last axis.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.softmax(tf.constant([0.0, 0.0])).numpy().tolist()
        [0.5, 0.5]
    """
    return tf.nn.softmax(x, axis=-1)


@_register
def identity(x):
    """Swift ``identity(_:)``: the default activation of ``Dense`` and ``Conv2D``.

    Example::

        >>> import swiftdiff as sd
        >>> float(sd.identity(3.0))
        3.0
    """
    return tf.convert_to_tensor(x)
