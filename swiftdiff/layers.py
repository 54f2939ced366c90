"""S4TF's layers on Keras 3: ``Dense``, ``Conv2D``, ``MaxPool2D``, ``AvgPool2D``, ``Flatten``,
``Dropout``, ``BatchNorm``.

Swift's labels, variable names (``weight``/``bias``, ``filter``/``bias``), defaults and
initializers (Glorot uniform, zero bias). Layers whose sizes are given create their variables at
construction, as in Swift, so optimizers and gradients work before any forward pass. All are
ordinary Keras layers: Sequential/functional models, ``fit``, ``.keras`` saving (registered, no
``custom_objects`` needed) and ``tf.distribute``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from . import activations
from .layer import Layer

_register = keras.saving.register_keras_serializable(package="swiftdiff")


def _activation(activation, layer: str):
    if activation is None:
        return activations.identity
    if isinstance(activation, (str, dict)):
        return keras.saving.deserialize_keras_object(activation) if isinstance(activation, dict) \
            else getattr(activations, activation, None) or keras.activations.get(activation)
    if not callable(activation):
        raise TypeError(f"sd.{layer}: activation= must be a function such as sd.relu, got "
                        f"{type(activation).__name__}")
    return activation


def _shape(value):
    """The static shape of a tensor-like input as a list (None where it is unknown)."""
    shape = getattr(value, "shape", None)
    if shape is None:
        return None
    try:
        shape = tf.TensorShape(shape)
    except (TypeError, ValueError):
        return None
    return None if shape.rank is None else shape.as_list()


def _positive_int(value, label: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"sd.{layer}: {label}= must be a positive integer, got {value!r}")
    return value


def _pair(value, label: str, layer: str) -> tuple:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) and v > 0 for v in value):
        raise ValueError(f"sd.{layer}: {label}= must be two positive integers, got {value!r}")
    return value


def _padding(value, layer: str) -> str:
    padding = str(getattr(value, "name", value)).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"sd.{layer}: padding= must be 'valid' or 'same', got {value!r}")
    return padding


@_register
class Dense(Layer):
    """Swift ``Dense(inputSize:outputSize:activation:)``: ``activation(input @ weight + bias)``.

    Variables ``weight`` [input_size, output_size] (Glorot uniform) and ``bias`` [output_size] (zeros).

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> dense = sd.Dense(input_size=3, output_size=2, activation=sd.relu)
        >>> tuple(dense(tf.ones([4, 3])).shape), tuple(dense.weight.shape)
        ((4, 2), (3, 2))
    """

    def __init__(self, input_size, output_size, activation=activations.identity, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.input_size = _positive_int(input_size, "input_size", "Dense")
        self.output_size = _positive_int(output_size, "output_size", "Dense")
        self.activation = _activation(activation, "Dense")
        self.use_bias = bool(use_bias)
        self.weight = self.add_weight(shape=(self.input_size, self.output_size),
                                      initializer="glorot_uniform", name="weight")
        self.bias = self.add_weight(shape=(self.output_size,), initializer="zeros", name="bias") \
            if self.use_bias else None
        self.built = True

    def build(self, input_shape=None):
        pass  # variables exist since construction

    def _check_input(self, input):
        shape = _shape(input)
        if shape is not None and shape and shape[-1] is not None and shape[-1] != self.input_size:
            raise ValueError(f"sd.Dense: expected inputs with {self.input_size} features, got shape {shape}")

    def call(self, input):
        y = keras.ops.matmul(input, self.weight)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_size,)

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size, "output_size": self.output_size,
                "activation": keras.saving.serialize_keras_object(self.activation),
                "use_bias": self.use_bias}


@_register
class Conv2D(Layer):
    """Swift ``Conv2D(filterShape:strides:padding:activation:)``, NHWC.

    Variables ``filter`` [h, w, in, out] (Glorot uniform) and ``bias`` [out] (zeros).

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> conv = sd.Conv2D(filter_shape=(5, 5, 3, 6))
        >>> conv(tf.ones([10, 16, 16, 3])).shape
        TensorShape([10, 12, 12, 6])
    """

    def __init__(self, filter_shape, strides=(1, 1), padding="valid", dilations=(1, 1),
                 activation=activations.identity, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        filter_shape = tuple(filter_shape)
        if len(filter_shape) != 4:
            raise ValueError(f"sd.Conv2D: filter_shape= must be (height, width, input channels, output "
                             f"channels), got {filter_shape!r}")
        self.filter_shape = tuple(_positive_int(v, "filter_shape", "Conv2D") for v in filter_shape)
        self.strides = _pair(strides, "strides", "Conv2D")
        self.padding = _padding(padding, "Conv2D")
        self.dilations = _pair(dilations, "dilations", "Conv2D")
        self.activation = _activation(activation, "Conv2D")
        self.use_bias = bool(use_bias)
        self.filter = self.add_weight(shape=self.filter_shape, initializer="glorot_uniform", name="filter")
        self.bias = self.add_weight(shape=(self.filter_shape[-1],), initializer="zeros", name="bias") \
            if self.use_bias else None
        self.built = True

    def build(self, input_shape=None):
        pass

    def _check_input(self, input):
        shape = _shape(input)
        if shape is not None and len(shape) != 4:
            raise ValueError(f"sd.Conv2D: expected NHWC inputs of rank 4, got shape {shape}")
        if shape is not None and shape[-1] is not None and shape[-1] != self.filter_shape[2]:
            raise ValueError(f"sd.Conv2D: expected {self.filter_shape[2]} input channels, got shape {shape}")

    def call(self, input):
        y = keras.ops.conv(input, self.filter, strides=self.strides, padding=self.padding,
                           dilation_rate=self.dilations)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return keras.layers.Conv2D(self.filter_shape[-1], self.filter_shape[:2], strides=self.strides,
                                   padding=self.padding, dilation_rate=self.dilations
                                   ).compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "filter_shape": self.filter_shape, "strides": self.strides,
                "padding": self.padding, "dilations": self.dilations,
                "activation": keras.saving.serialize_keras_object(self.activation),
                "use_bias": self.use_bias}


class _Pool2D(Layer):
    _swift = "Pool2D"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size", self._swift)
        self.strides = _pair(strides if strides is not None else self.pool_size, "strides", self._swift)
        self.padding = _padding(padding, self._swift)
        self.built = True

    def build(self, input_shape=None):
        pass

    def _pool(self, input):
        raise NotImplementedError

    def _check_input(self, input):
        shape = _shape(input)
        if shape is not None and len(shape) != 4:
            raise ValueError(f"sd.{self._swift}: expected NHWC inputs of rank 4, got shape {shape}")

    def call(self, input):
        return self._pool(input)

    def compute_output_shape(self, input_shape):
        return keras.layers.MaxPooling2D(self.pool_size, self.strides, self.padding
                                         ).compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding}


@_register
class MaxPool2D(_Pool2D):
    """Swift ``MaxPool2D(poolSize:strides:padding:)``; ``strides`` defaults to ``pool_size``.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.MaxPool2D(pool_size=(2, 2), strides=(2, 2))(tf.ones([1, 12, 12, 6])).shape
        TensorShape([1, 6, 6, 6])
    """
    _swift = "MaxPool2D"

    def _pool(self, input):
        return keras.ops.max_pool(input, self.pool_size, self.strides, self.padding)


@_register
class AvgPool2D(_Pool2D):
    """Swift ``AvgPool2D(poolSize:strides:padding:)``; ``strides`` defaults to ``pool_size``.

    Example::

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

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.Flatten()(tf.ones([10, 6, 6, 6])).shape
        TensorShape([10, 216])
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True

    def build(self, input_shape=None):
        pass

    def call(self, input):
        input = tf.convert_to_tensor(input)
        return tf.reshape(input, [tf.shape(input)[0], -1])

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(tf.reduce_prod(rest)) if rest else 1
        return (input_shape[0], size)


@_register
class Dropout(Layer):
    """Swift ``Dropout(probability:)``: zeroes inputs with ``probability`` while training.

    Kept values are scaled by ``1 / (1 - probability)``; at inference the layer is the identity.
    The mask is drawn from the layer's ``keras.random.SeedGenerator`` (``seed=`` fixes it), so
    checkpointing replays it exactly.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> drop = sd.Dropout(probability=0.5, seed=1)
        >>> sorted(set(drop(tf.ones([100]), training=True).numpy().tolist()))
        [0.0, 2.0]
    """

    def __init__(self, probability, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) \
                or not 0 <= probability < 1:
            raise ValueError(f"sd.Dropout: probability= must be in [0, 1), got {probability!r}")
        self.probability = float(probability)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def build(self, input_shape=None):
        pass

    def call(self, input, training=None):
        input = tf.convert_to_tensor(input)
        if not training or self.probability == 0:
            return input
        return keras.random.dropout(input, self.probability, seed=self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "probability": self.probability, "seed": self.seed}


@_register
class BatchNorm(Layer):
    """Swift ``BatchNorm(featureCount:axis:momentum:epsilon:)``.

    Trainable ``offset`` (zeros) and ``scale`` (ones); non-trainable ``running_mean`` and
    ``running_variance``. Training normalizes with the batch statistics and updates the running
    ones as ``running = running * momentum + batch * (1 - momentum)``; inference uses the running
    statistics.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> bn = sd.BatchNorm(feature_count=2)
        >>> y = bn(tf.constant([[1.0, 2.0], [3.0, 6.0]]), training=True)
        >>> [round(v, 3) for v in bn.running_mean.numpy().tolist()]
        [0.02, 0.04]
    """

    def __init__(self, feature_count, axis=-1, momentum=0.99, epsilon=0.001, **kwargs):
        super().__init__(**kwargs)
        self.feature_count = _positive_int(feature_count, "feature_count", "BatchNorm")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"sd.BatchNorm: axis= must be an integer, got {axis!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"sd.BatchNorm: momentum= must be in [0, 1], got {momentum!r}")
        if not epsilon > 0:
            raise ValueError(f"sd.BatchNorm: epsilon= must be positive, got {epsilon!r}")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        shape = (self.feature_count,)
        self.offset = self.add_weight(shape=shape, initializer="zeros", name="offset")
        self.scale = self.add_weight(shape=shape, initializer="ones", name="scale")
        self.running_mean = self.add_weight(shape=shape, initializer="zeros", name="running_mean",
                                            trainable=False)
        self.running_variance = self.add_weight(shape=shape, initializer="ones",
                                                name="running_variance", trainable=False)
        self.built = True

    def build(self, input_shape=None):
        pass

    def _broadcast_shape(self, rank):
        axis = self.axis % rank
        return [self.feature_count if i == axis else 1 for i in range(rank)], axis

    def _check_input(self, input):
        shape = _shape(input)
        if shape is None:
            return
        if not -len(shape) <= self.axis < len(shape):
            raise ValueError(f"sd.BatchNorm: axis={self.axis} is out of range for inputs of shape {shape}")
        size = shape[self.axis]
        if size is not None and size != self.feature_count:
            raise ValueError(f"sd.BatchNorm: expected {self.feature_count} features on axis {self.axis}, "
                             f"got shape {shape}")

    def call(self, input, training=None):
        input = tf.convert_to_tensor(input)
        rank = input.shape.rank
        shape, axis = self._broadcast_shape(rank)
        reduce_axes = [i for i in range(rank) if i != axis]
        if training:
            mean, variance = tf.nn.moments(input, axes=reduce_axes)
            decay = 1.0 - self.momentum
            self.running_mean.assign(self.running_mean * self.momentum + mean * decay)
            self.running_variance.assign(self.running_variance * self.momentum + variance * decay)
        else:
            mean, variance = tf.convert_to_tensor(self.running_mean), tf.convert_to_tensor(self.running_variance)
        inv = tf.math.rsqrt(tf.reshape(variance, shape) + self.epsilon) * tf.reshape(self.scale, shape)
        return (input - tf.reshape(mean, shape)) * inv + tf.reshape(self.offset, shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "feature_count": self.feature_count, "axis": self.axis,
                "momentum": self.momentum, "epsilon": self.epsilon}
