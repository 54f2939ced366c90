"""S4TF's layers on Keras 3: ``Dense``, ``Conv2D``, ``MaxPool2D``, ``AvgPool2D``, ``Flatten``,
``Dropout``, ``BatchNorm``.

Swift's labels, variable names (``weight``/``bias``, ``filter``/``bias``), defaults and
initializers (Glorot uniform, zero bias). Layers whose sizes are given create their variables at
construction, as in Swift, so optimizers and gradients work before any forward pass. All are
ordinary Keras layers: inputs checked by their ``keras.InputSpec``, Sequential/functional models,
``fit``, ``.keras`` saving (registered, no ``custom_objects`` needed) and ``tf.distribute``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf

from . import activations
from .layer import Layer
from .learning_phase import training_flag

_register = keras.saving.register_keras_serializable(package="swiftdiff")

#: An activation as layers accept it: a function (``sd.relu``), a Keras name, a serialized
#: function (from ``get_config``) or ``None`` for the identity.
Activation = Callable[[Any], Any] | str | dict | None
#: A static shape as Keras hands it to ``compute_output_shape``, ``None`` where unknown.
Shape = Sequence[int | None]


def _activation(activation: Activation, layer: str) -> Callable[[Any], Any]:
    if activation is None:
        return activations.identity
    if isinstance(activation, dict):
        return keras.saving.deserialize_keras_object(activation)
    if isinstance(activation, str):
        return getattr(activations, activation, None) or keras.activations.get(activation)
    if not callable(activation):
        raise TypeError(
            f"sd.{layer}: activation= must be a function such as sd.relu, got {type(activation).__name__}"
        )
    return activation


def _positive_int(value: Any, label: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"sd.{layer}: {label}= must be a positive integer, got {value!r}")
    return value


def _pair(value: Any, label: str, layer: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) and v > 0 for v in value):
        raise ValueError(f"sd.{layer}: {label}= must be two positive integers, got {value!r}")
    return value


def _padding(value: Any, layer: str) -> str:
    padding = str(getattr(value, "name", value)).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"sd.{layer}: padding= must be 'valid' or 'same', got {value!r}")
    return padding


def _windowed_shape(
    input_shape: Shape,
    window: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    padding: str,
    channels: int | None,
    layer: str,
) -> tuple[int | None, ...]:
    """The NHWC output shape of a window (a filter or a pool) slid over inputs of ``input_shape``.

    Per spatial axis: ``floor((size - 1) / stride) + 1`` with ``same`` padding, and
    ``floor((size - span) / stride) + 1`` with ``valid`` padding, where the window spans
    ``dilation * (window - 1) + 1`` inputs; an unknown size stays unknown.
    """
    batch, height, width, _ = input_shape
    spatial: list[int | None] = []
    for size, extent, stride, dilation in zip((height, width), window, strides, dilations, strict=True):
        if size is None:
            spatial.append(None)
            continue
        span = dilation * (extent - 1) + 1
        if padding == "same":
            spatial.append((size - 1) // stride + 1)
        elif size < span:
            raise ValueError(
                f"sd.{layer}: inputs of shape {list(input_shape)} are smaller than its "
                f"{window[0]}x{window[1]} window with padding 'valid'"
            )
        else:
            spatial.append((size - span) // stride + 1)
    return (batch, *spatial, channels)


@_register
class Dense(Layer):
    """Swift ``Dense(inputSize:outputSize:activation:)``: ``activation(input @ weight + bias)``.

    Args:
        input_size: The number of input features (the last axis of the input).
        output_size: The number of output features.
        activation: A function such as ``sd.relu`` (or a Keras activation name); the identity by
            default.
        use_bias: Whether to add ``bias``.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        weight: ``[input_size, output_size]``, Glorot uniform.
        bias: ``[output_size]``, zeros (``None`` without ``use_bias``).

    Input shape:
        ``[..., input_size]`` (rank 1 or more).

    Output shape:
        ``[..., output_size]``.

    Raises:
        ValueError: A size is not a positive integer; at call, the input's last axis is not
            ``input_size`` (Keras' ``InputSpec`` check).
        TypeError: ``activation`` is not a function.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> dense = sd.Dense(input_size=3, output_size=2, activation=sd.relu)
        >>> tuple(dense(tf.ones([4, 3])).shape), tuple(dense.weight.shape)
        ((4, 2), (3, 2))
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        activation: Activation = activations.identity,
        use_bias: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.input_size = _positive_int(input_size, "input_size", "Dense")
        self.output_size = _positive_int(output_size, "output_size", "Dense")
        self.activation = _activation(activation, "Dense")
        self.use_bias = bool(use_bias)
        self.input_spec = keras.InputSpec(min_ndim=1, axes={-1: self.input_size})
        self.weight = self.add_weight(
            shape=(self.input_size, self.output_size), initializer="glorot_uniform", name="weight"
        )
        self.bias = (
            self.add_weight(shape=(self.output_size,), initializer="zeros", name="bias")
            if self.use_bias
            else None
        )
        self.built = True

    def call(self, input):
        y = keras.ops.matmul(input, self.weight)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.output_size)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "input_size": self.input_size,
            "output_size": self.output_size,
            "activation": keras.saving.serialize_keras_object(self.activation),
            "use_bias": self.use_bias,
        }


@_register
class Conv2D(Layer):
    """Swift ``Conv2D(filterShape:strides:padding:dilations:activation:)``, NHWC.

    Args:
        filter_shape: ``(height, width, input channels, output channels)``.
        strides: The step of the filter along height and width (an integer for both).
        padding: ``"valid"`` (no padding) or ``"same"`` (output size ``ceil(input / stride)``).
        dilations: The dilation of the filter along height and width (an integer for both).
        activation: A function such as ``sd.relu`` (or a Keras activation name); the identity by
            default.
        use_bias: Whether to add ``bias``.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        filter: ``filter_shape``, Glorot uniform.
        bias: ``[output channels]``, zeros (``None`` without ``use_bias``).

    Input shape:
        ``[batch, height, width, input channels]``.

    Output shape:
        ``[batch, new height, new width, output channels]``.

    Raises:
        ValueError: An argument is malformed; at call, the input is not of rank 4 or has the wrong
            number of channels (Keras' ``InputSpec`` check).
        TypeError: ``activation`` is not a function.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> conv = sd.Conv2D(filter_shape=(5, 5, 3, 6))
        >>> conv(tf.ones([10, 16, 16, 3])).shape
        TensorShape([10, 12, 12, 6])
    """

    def __init__(
        self,
        filter_shape: Sequence[int],
        strides: int | Sequence[int] = (1, 1),
        padding: str = "valid",
        dilations: int | Sequence[int] = (1, 1),
        activation: Activation = activations.identity,
        use_bias: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        filter_shape = tuple(filter_shape)
        if len(filter_shape) != 4:
            raise ValueError(
                f"sd.Conv2D: filter_shape= must be (height, width, input channels, output "
                f"channels), got {filter_shape!r}"
            )
        self.filter_shape = tuple(_positive_int(v, "filter_shape", "Conv2D") for v in filter_shape)
        self.strides = _pair(strides, "strides", "Conv2D")
        self.padding = _padding(padding, "Conv2D")
        self.dilations = _pair(dilations, "dilations", "Conv2D")
        self.activation = _activation(activation, "Conv2D")
        self.use_bias = bool(use_bias)
        self.input_spec = keras.InputSpec(ndim=4, axes={-1: self.filter_shape[2]})
        self.filter = self.add_weight(shape=self.filter_shape, initializer="glorot_uniform", name="filter")
        self.bias = (
            self.add_weight(shape=(self.filter_shape[-1],), initializer="zeros", name="bias")
            if self.use_bias
            else None
        )
        self.built = True

    def call(self, input):
        y = keras.ops.conv(
            input, self.filter, strides=self.strides, padding=self.padding, dilation_rate=self.dilations
        )
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        return _windowed_shape(
            input_shape,
            self.filter_shape[:2],
            self.strides,
            self.dilations,
            self.padding,
            self.filter_shape[-1],
            "Conv2D",
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filter_shape": self.filter_shape,
            "strides": self.strides,
            "padding": self.padding,
            "dilations": self.dilations,
            "activation": keras.saving.serialize_keras_object(self.activation),
            "use_bias": self.use_bias,
        }


class _Pool2D(Layer):
    """What ``MaxPool2D`` and ``AvgPool2D`` share; subclasses define ``_swift`` and ``_pool``."""

    _swift = "Pool2D"

    def __init__(
        self,
        pool_size: int | Sequence[int] = (2, 2),
        strides: int | Sequence[int] | None = None,
        padding: str = "valid",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size", self._swift)
        self.strides = _pair(strides if strides is not None else self.pool_size, "strides", self._swift)
        self.padding = _padding(padding, self._swift)
        self.input_spec = keras.InputSpec(ndim=4)
        self.built = True

    def _pool(self, input):
        raise NotImplementedError

    def call(self, input):
        return self._pool(input)

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        return _windowed_shape(
            input_shape, self.pool_size, self.strides, (1, 1), self.padding, input_shape[-1], self._swift
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
        }


@_register
class MaxPool2D(_Pool2D):
    """Swift ``MaxPool2D(poolSize:strides:padding:)``: the maximum of each window, NHWC.

    Args:
        pool_size: The window's height and width (an integer for both).
        strides: The step of the window (an integer for both); ``pool_size`` by default.
        padding: ``"valid"`` (no padding) or ``"same"`` (output size ``ceil(input / stride)``).
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, height, width, channels]``.

    Output shape:
        ``[batch, new height, new width, channels]``.

    Raises:
        ValueError: An argument is malformed; at call, the input is not of rank 4 (Keras'
            ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.MaxPool2D(pool_size=(2, 2), strides=(2, 2))(tf.ones([1, 12, 12, 6])).shape
        TensorShape([1, 6, 6, 6])
    """

    _swift = "MaxPool2D"

    def _pool(self, input):
        return keras.ops.max_pool(input, self.pool_size, self.strides, self.padding)


@_register
class AvgPool2D(_Pool2D):
    """Swift ``AvgPool2D(poolSize:strides:padding:)``: the mean of each window, NHWC.

    Args:
        pool_size: The window's height and width (an integer for both).
        strides: The step of the window (an integer for both); ``pool_size`` by default.
        padding: ``"valid"`` (no padding) or ``"same"`` (output size ``ceil(input / stride)``).
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, height, width, channels]``.

    Output shape:
        ``[batch, new height, new width, channels]``.

    Raises:
        ValueError: An argument is malformed; at call, the input is not of rank 4 (Keras'
            ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> float(sd.AvgPool2D(pool_size=(2, 2))(tf.reshape(tf.range(4.0), [1, 2, 2, 1]))[0, 0, 0, 0])
        1.5
    """

    _swift = "AvgPool2D"

    def _pool(self, input):
        return keras.ops.average_pool(input, self.pool_size, self.strides, self.padding)


@_register
class Flatten(Layer):
    """Swift ``Flatten()``: ``[batch, ...] -> [batch, features]``.

    Args:
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, ...]``.

    Output shape:
        ``[batch, product of the other sizes]``.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.Flatten()(tf.ones([10, 6, 6, 6])).shape
        TensorShape([10, 216])
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.built = True

    def call(self, input):
        input = tf.convert_to_tensor(input)
        return tf.reshape(input, [tf.shape(input)[0], -1])

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        rest = [size for size in input_shape[1:] if size is not None]
        return (input_shape[0], math.prod(rest) if len(rest) == len(input_shape) - 1 else None)


@_register
class Dropout(Layer):
    """Swift ``Dropout(probability:)``: zeroes inputs with ``probability`` while training.

    Kept values are scaled by ``1 / (1 - probability)``; at inference the layer is the identity.
    The mask is drawn from the layer's ``keras.random.SeedGenerator`` (``seed=`` fixes it), so
    checkpointing replays it exactly.

    Args:
        probability: The probability of zeroing each input, in ``[0, 1)``.
        seed: The seed of the layer's ``keras.random.SeedGenerator``; ``None`` for a random one.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        Any.

    Output shape:
        The input's.

    Raises:
        ValueError: ``probability`` is not a number in ``[0, 1)``.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> drop = sd.Dropout(probability=0.5, seed=1)
        >>> sorted(set(drop(tf.ones([100]), training=True).numpy().tolist()))
        [0.0, 2.0]
    """

    def __init__(self, probability: float, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if (
            isinstance(probability, bool)
            or not isinstance(probability, (int, float))
            or not 0 <= probability < 1
        ):
            raise ValueError(f"sd.Dropout: probability= must be in [0, 1), got {probability!r}")
        self.probability = float(probability)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def call(self, input, training=None):
        input = tf.convert_to_tensor(input)
        if not training_flag(training) or self.probability == 0:
            return input
        return keras.random.dropout(input, self.probability, seed=self.seed_generator)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "probability": self.probability, "seed": self.seed}


@_register
class BatchNorm(Layer):
    """Swift ``BatchNorm(featureCount:axis:momentum:epsilon:)``: batch normalization.

    Training normalizes with the batch statistics and updates the running ones as
    ``running = running * momentum + batch * (1 - momentum)``; inference uses the running
    statistics.

    Args:
        feature_count: The size of the feature axis.
        axis: The feature axis (negative counts from the end).
        momentum: The weight of the old running statistics in each update, in ``[0, 1]``.
        epsilon: Added to the variance before its square root; positive.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        offset: ``[feature_count]``, trainable, zeros.
        scale: ``[feature_count]``, trainable, ones.
        running_mean: ``[feature_count]``, not trainable, zeros.
        running_variance: ``[feature_count]``, not trainable, ones.

    Input shape:
        Any, with ``feature_count`` entries on ``axis``.

    Output shape:
        The input's.

    Raises:
        ValueError: An argument is out of range; at call, the input has too few axes or not
            ``feature_count`` entries on ``axis`` (Keras' ``InputSpec`` check).
        TypeError: ``axis`` is not an integer.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> bn = sd.BatchNorm(feature_count=2)
        >>> y = bn(tf.constant([[1.0, 2.0], [3.0, 6.0]]), training=True)
        >>> [round(v, 3) for v in bn.running_mean.numpy().tolist()]
        [0.02, 0.04]
    """

    def __init__(
        self,
        feature_count: int,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 0.001,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.feature_count = _positive_int(feature_count, "feature_count", "BatchNorm")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"sd.BatchNorm: axis= must be an integer, got {axis!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"sd.BatchNorm: momentum= must be in [0, 1], got {momentum!r}")
        if not epsilon > 0:
            raise ValueError(f"sd.BatchNorm: epsilon= must be positive, got {epsilon!r}")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.input_spec = keras.InputSpec(
            min_ndim=axis + 1 if axis >= 0 else -axis, axes={axis: self.feature_count}
        )
        shape = (self.feature_count,)
        self.offset = self.add_weight(shape=shape, initializer="zeros", name="offset")
        self.scale = self.add_weight(shape=shape, initializer="ones", name="scale")
        self.running_mean = self.add_weight(
            shape=shape, initializer="zeros", name="running_mean", trainable=False
        )
        self.running_variance = self.add_weight(
            shape=shape, initializer="ones", name="running_variance", trainable=False
        )
        self.built = True

    def call(self, input, training=None):
        input = tf.convert_to_tensor(input)
        rank = input.shape.rank
        axis = self.axis % rank
        shape = [self.feature_count if i == axis else 1 for i in range(rank)]
        reduce_axes = [i for i in range(rank) if i != axis]
        if training_flag(training):
            mean, variance = tf.nn.moments(input, axes=reduce_axes)
            decay = 1.0 - self.momentum
            self.running_mean.assign(self.running_mean * self.momentum + mean * decay)
            self.running_variance.assign(self.running_variance * self.momentum + variance * decay)
        else:
            mean = tf.convert_to_tensor(self.running_mean)
            variance = tf.convert_to_tensor(self.running_variance)
        inv = tf.math.rsqrt(tf.reshape(variance, shape) + self.epsilon) * tf.reshape(self.scale, shape)
        return (input - tf.reshape(mean, shape)) * inv + tf.reshape(self.offset, shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "feature_count": self.feature_count,
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
        }
