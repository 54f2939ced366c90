"""S4TF's activation functions: ``relu``, ``sigmoid``, ``tanh``, ``softmax``, ``identity``.

Registered with Keras so that layers using them save and load without ``custom_objects``.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

_register = keras.saving.register_keras_serializable(package="swiftdiff")


@_register
def relu(x: Any) -> tf.Tensor:
    """Swift ``relu(_:)``: ``max(0, x)``, elementwise.

    Args:
        x: A floating tensor (or a value convertible to one).

    Returns:
        A tensor of the same shape and dtype.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.relu(tf.constant([-1.0, 2.0])).numpy().tolist()
        [0.0, 2.0]
    """
    return tf.nn.relu(x)


@_register
def sigmoid(x: Any) -> tf.Tensor:
    """Swift ``sigmoid(_:)``: ``1 / (1 + exp(-x))``, elementwise.

    Args:
        x: A floating tensor (or a value convertible to one).

    Returns:
        A tensor of the same shape and dtype.

    Examples:
        >>> import swiftdiff as sd
        >>> float(sd.sigmoid(0.0))
        0.5
    """
    return tf.sigmoid(x)


@_register
def tanh(x: Any) -> tf.Tensor:
    """Swift ``tanh(_:)``: the hyperbolic tangent, elementwise.

    Args:
        x: A floating tensor (or a value convertible to one).

    Returns:
        A tensor of the same shape and dtype.

    Examples:
        >>> import swiftdiff as sd
        >>> float(sd.tanh(0.0))
        0.0
    """
    return tf.tanh(x)


@_register
def softmax(x: Any) -> tf.Tensor:
    """Swift ``softmax(_:)``: ``exp(x) / sum(exp(x))`` along the last axis.

    Args:
        x: A floating tensor (or a value convertible to one).

    Returns:
        A tensor of the same shape and dtype whose last axis sums to 1.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.softmax(tf.constant([0.0, 0.0])).numpy().tolist()
        [0.5, 0.5]
    """
    return tf.nn.softmax(x, axis=-1)


@_register
def identity(x: Any) -> tf.Tensor:
    """Swift ``identity(_:)``: ``x`` itself, the default activation of ``Dense`` and ``Conv2D``.

    Args:
        x: A tensor (or a value convertible to one).

    Returns:
        ``x`` as a tensor.

    Examples:
        >>> import swiftdiff as sd
        >>> float(sd.identity(3.0))
        3.0
    """
    return tf.convert_to_tensor(x)
