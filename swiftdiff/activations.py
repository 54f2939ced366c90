"""S4TF's activation functions (swift-apis ``Operators/Math.swift``, final release).

``relu``, ``sigmoid``, ``tanh``, ``softmax``, ``identity``, and the rest: ``log_softmax``,
``log_sigmoid``, ``elu``, ``selu``, ``leaky_relu``, ``relu6``, ``gelu``, ``swish``, ``softplus``,
``softsign``, ``hard_sigmoid``, ``hard_swish``, ``mish``. Each is one TensorFlow op, or S4TF's
formula written with a few, so gradients, ``tf.function`` and XLA come from TensorFlow.

Every one is registered with Keras under ``swiftdiff>name``: passed as ``activation=`` to an sd layer or
a Keras layer, it saves into a ``.keras`` file as itself and loads back without ``custom_objects``
(never as Keras' function of the same name, which for ``gelu`` computes something else).
"""

from __future__ import annotations

import numbers
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ._values import describe

_register = keras.saving.register_keras_serializable(package="swiftdiff")


def _floating_tensor(value: Any, function: str, label: str = "x") -> tf.Tensor:
    """``value`` as a floating tensor, or a short ``TypeError`` naming ``sd.function`` and ``label``.

    Tensors, variables and NumPy arrays keep their dtype (float64 stays float64); Python numbers and
    lists become float32, as everywhere in swiftdiff.
    """
    if value is None or isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"sd.{function}: {label} must be a floating tensor, got {describe(value)}")
    try:
        if hasattr(value, "dtype"):
            tensor = tf.convert_to_tensor(value)
        else:
            tensor = tf.convert_to_tensor(value, dtype_hint=tf.float32)
    except (TypeError, ValueError):
        raise TypeError(f"sd.{function}: {label} must be a floating tensor, got {describe(value)}") from None
    if not tensor.dtype.is_floating:
        raise TypeError(f"sd.{function}: {label} must be floating, got dtype {tensor.dtype.name}")
    return tensor


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
def softmax(x: Any, along_axis: int = -1) -> tf.Tensor:
    """Swift ``softmax(_:)`` and ``softmax(_:alongAxis:)``: ``exp(x) / sum(exp(x))`` along an axis.

    Args:
        x: A floating tensor (or a value convertible to one).
        along_axis: The axis to normalize along (Swift's ``alongAxis:``); the last by default.

    Returns:
        A tensor of the same shape and dtype that sums to 1 along ``along_axis``.

    Raises:
        TypeError: ``along_axis`` is not an integer.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.softmax(tf.constant([0.0, 0.0])).numpy().tolist()
        [0.5, 0.5]
        >>> sd.softmax(tf.zeros([2, 3]), along_axis=0).numpy()[:, 0].tolist()
        [0.5, 0.5]
    """
    if isinstance(along_axis, bool) or not isinstance(along_axis, numbers.Integral):
        raise TypeError(f"sd.softmax: along_axis= must be an integer, got {describe(along_axis)}")
    return tf.nn.softmax(x, axis=int(along_axis))


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


@_register
def log_softmax(x: Any) -> tf.Tensor:
    """Swift ``logSoftmax(_:)``: ``x - log(sum(exp(x)))`` along the last axis, computed stably.

    Args:
        x: A floating tensor of rank at least 1 (Python numbers and lists become float32).

    Returns:
        A tensor of the same shape and dtype; ``exp`` of its last axis sums to 1.

    Raises:
        TypeError: ``x`` is not floating.
        ValueError: ``x`` is a scalar (there is no last axis).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> [round(v, 4) for v in sd.log_softmax(tf.constant([0.0, 0.0])).numpy().tolist()]
        [-0.6931, -0.6931]
    """
    x = _floating_tensor(x, "log_softmax")
    if x.shape.rank == 0:
        raise ValueError("sd.log_softmax: x is a scalar; it needs a last axis to normalize over")
    return tf.nn.log_softmax(x, axis=-1)


@_register
def log_sigmoid(x: Any) -> tf.Tensor:
    """Swift ``logSigmoid(_:)``: ``log(sigmoid(x))``, computed stably as ``-softplus(-x)``.

    Args:
        x: A floating tensor (Python numbers and lists become float32).

    Returns:
        A tensor of the same shape and dtype.

    Raises:
        TypeError: ``x`` is not floating.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> [round(v, 4) for v in sd.log_sigmoid(tf.constant([0.0, -100.0])).numpy().tolist()]
        [-0.6931, -100.0]
    """
    return -tf.math.softplus(-_floating_tensor(x, "log_sigmoid"))


@_register
def elu(x: Any) -> tf.Tensor:
    """Swift ``elu(_:)``: ``exp(x) - 1`` where ``x < 0``, ``x`` elsewhere (alpha 1, as in S4TF).

    Args:
        x: A floating tensor (Python numbers and lists become float32).

    Returns:
        A tensor of the same shape and dtype.

    Raises:
        TypeError: ``x`` is not floating.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> [round(v, 4) for v in sd.elu(tf.constant([-1.0, 2.0])).numpy().tolist()]
        [-0.6321, 2.0]
    """
    return tf.nn.elu(_floating_tensor(x, "elu"))


@_register
def selu(x: Any) -> tf.Tensor:
    """Swift ``selu(_:)``: ``scale * alpha * (exp(x) - 1)`` where ``x < 0``, ``scale * x`` elsewhere.

    ``alpha ≈ 1.6733`` and ``scale ≈ 1.0507``, the self-normalizing constants of Klambauer et al. (2017).

    Args:
        x: A floating tensor (Python numbers and lists become float32).

    Returns:
        A tensor of the same shape and dtype.

    Raises:
        TypeError: ``x`` is not floating.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> [round(v, 4) for v in sd.selu(tf.constant([-1.0, 2.0])).numpy().tolist()]
        [-1.1113, 2.1014]
    """
    return tf.nn.selu(_floating_tensor(x, "selu"))


@_register
def leaky_relu(x: Any, alpha: float = 0.2) -> tf.Tensor:
    """Swift ``leakyRelu(_:alpha:)``: ``x`` where ``x > 0``, ``alpha * x`` elsewhere.

    As an ``activation=``, the default ``alpha=0.2`` (S4TF's) is used.

    Args:
        x: A floating tensor (Python numbers and lists become float32).
        alpha: The slope for negative inputs, a Python number (Swift's ``Double``), not differentiated.

    Returns:
        A tensor of the same shape and dtype.

    Raises:
        TypeError: ``x`` is not floating, or ``alpha`` is not a real number.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> [round(v, 4) for v in sd.leaky_relu(tf.constant([-1.0, 2.0])).numpy().tolist()]
        [-0.2, 2.0]
        >>> [round(v, 4) for v in sd.leaky_relu(tf.constant([-1.0, 2.0]), alpha=0.01).numpy().tolist()]
        [-0.01, 2.0]
    """
    x = _floating_tensor(x, "leaky_relu")
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"sd.leaky_relu: alpha= must be a real number, got {describe(alpha)}")
    if x.dtype == tf.float64:
        # TensorFlow's LeakyRelu op holds alpha as a float32 attribute, which would round it.
        return tf.where(x > 0, x, x * tf.constant(float(alpha), tf.float64))
    return tf.nn.leaky_relu(x, alpha=float(alpha))


@_register
def relu6(x: Any) -> tf.Tensor:
    """Swift ``relu6(_:)``: ``min(max(0, x), 6)``, elementwise.

    Args:
        x: A floating tensor (Python numbers and lists become float32).

    Returns:
        A tensor of the same shape and dtype.

    Raises:
        TypeError: ``x`` is not floating.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.relu6(tf.constant([-1.0, 3.0, 8.0])).numpy().tolist()
        [0.0, 3.0, 6.0]
    """
    return tf.nn.relu6(_floating_tensor(x, "relu6"))


@_register
def gelu(x: Any) -> tf.Tensor:
    """Swift ``gelu(_:)``: S4TF's tanh approximation ``0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))``.

    Not the exact ``x Φ(x)`` (Keras' ``gelu`` default). Written out with S4TF's constants, √(2/π) rounded
    to ``0.7978845608`` as S4TF rounds it, so float64 results agree with S4TF's to the last digits
    (``tf.nn.gelu(approximate=True)``'s unrounded constant differs by up to 1e-7 relative in the tail).

    Args:
        x: A floating tensor (Python numbers and lists become float32).

    Returns:
        A tensor of the same shape and dtype.

    Raises:
        TypeError: ``x`` is not floating.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> [round(v, 4) for v in sd.gelu(tf.constant([-1.0, 0.0, 1.0])).numpy().tolist()]
        [-0.1588, 0.0, 0.8412]
    """
    x = _floating_tensor(x, "gelu")
    approximate_erf = tf.tanh(0.7978845608 * (x + 0.044715 * tf.pow(x, 3)))
    return x * (0.5 * (1 + approximate_erf))


@_register
def swish(x: Any) -> tf.Tensor:
    """Swift ``swish(_:)``: ``x * sigmoid(x)``, elementwise.

    Its gradient recomputes ``sigmoid(x)`` instead of keeping it, as S4TF's custom derivative does
    (``tf.nn.silu``).

    Args:
        x: A floating tensor (Python numbers and lists become float32).

    Returns:
        A tensor of the same shape and dtype.

    Raises:
        TypeError: ``x`` is not floating.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> [round(v, 4) for v in sd.swish(tf.constant([-1.0, 0.0, 1.0])).numpy().tolist()]
        [-0.2689, 0.0, 0.7311]
    """
    return tf.nn.silu(_floating_tensor(x, "swish"))


@_register
def softplus(x: Any) -> tf.Tensor:
    """Swift ``softplus(_:)``: ``log(exp(x) + 1)``, elementwise, computed stably.

    Args:
        x: A floating tensor (Python numbers and lists become float32).

    Returns:
        A tensor of the same shape and dtype.

    Raises:
        TypeError: ``x`` is not floating.

    Examples:
        >>> import swiftdiff as sd
        >>> round(float(sd.softplus(0.0)), 6)
        0.693147
    """
    return tf.math.softplus(_floating_tensor(x, "softplus"))


@_register
def softsign(x: Any) -> tf.Tensor:
    """Swift ``softsign(_:)``: ``x / (abs(x) + 1)``, elementwise.

    Args:
        x: A floating tensor (Python numbers and lists become float32).

    Returns:
        A tensor of the same shape and dtype.

    Raises:
        TypeError: ``x`` is not floating.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.softsign(tf.constant([-3.0, 1.0])).numpy().tolist()
        [-0.75, 0.5]
    """
    x = _floating_tensor(x, "softsign")
    # Written out rather than tf.nn.softsign: TensorFlow registers no gradient for SoftsignGrad, so the
    # op has no forward-mode or second derivative.
    return x / (tf.abs(x) + 1)


def _hard_sigmoid(x: tf.Tensor) -> tf.Tensor:
    return tf.nn.relu6(x + 3) / 6


@_register
def hard_sigmoid(x: Any) -> tf.Tensor:
    """Swift ``hardSigmoid(_:)``: ``relu6(x + 3) / 6``, the final release's formula (MobileNetV3).

    swift-apis added it as ``hsigmoid`` in March 2020 and renamed it ``hardSigmoid`` the next day; its
    formula has been this one throughout, unlike Keras 2's ``clip(0.2 x + 0.5, 0, 1)``.

    Args:
        x: A floating tensor (Python numbers and lists become float32).

    Returns:
        A tensor of the same shape and dtype, in ``[0, 1]``.

    Raises:
        TypeError: ``x`` is not floating.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.hard_sigmoid(tf.constant([-4.0, 0.0, 1.5, 4.0])).numpy().tolist()
        [0.0, 0.5, 0.75, 1.0]
    """
    return _hard_sigmoid(_floating_tensor(x, "hard_sigmoid"))


@_register
def hard_swish(x: Any) -> tf.Tensor:
    """Swift ``hardSwish(_:)``: ``x * relu6(x + 3) / 6``, elementwise (MobileNetV3).

    Args:
        x: A floating tensor (Python numbers and lists become float32).

    Returns:
        A tensor of the same shape and dtype.

    Raises:
        TypeError: ``x`` is not floating.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.hard_swish(tf.constant([-4.0, 1.5, 4.0])).numpy().tolist()
        [-0.0, 1.125, 4.0]
    """
    x = _floating_tensor(x, "hard_swish")
    return x * _hard_sigmoid(x)


@_register
def mish(x: Any) -> tf.Tensor:
    """Swift ``mish(_:)``: ``x * tanh(softplus(x))``, elementwise.

    Args:
        x: A floating tensor (Python numbers and lists become float32).

    Returns:
        A tensor of the same shape and dtype.

    Raises:
        TypeError: ``x`` is not floating.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> [round(v, 4) for v in sd.mish(tf.constant([-1.0, 0.0, 1.0])).numpy().tolist()]
        [-0.3034, 0.0, 0.8651]
    """
    x = _floating_tensor(x, "mish")
    return x * tf.tanh(tf.math.softplus(x))
