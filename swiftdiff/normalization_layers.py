"""S4TF's normalization layers beyond ``BatchNorm``: ``LayerNorm``, ``GroupNorm``, ``InstanceNorm``.

Swift's labels, defaults and variables (``offset``, zeros, and ``scale``, ones, of shape
``[feature_count]``), and its formulas: moments are the biased (population) mean and variance, and
``epsilon`` is added to the variance before its reciprocal square root. None of the three keeps running
statistics, so they behave the same in training and inference. Each is built either from its sizes
(Swift's ``init(featureCount:…)``) or from given ``offset`` and ``scale`` tensors (Swift's
``init(offset:scale:…)``); either way the variables exist from construction. Under a mixed-precision
policy (``dtype="mixed_float16"``) they normalize in float32, their variables' dtype, and cast the
output to the compute dtype, as Keras' normalization layers do: float16 moments would overflow.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from .layer import Layer
from .layers import Shape, _normalizing_dtype, _positive_int, _register


def _axis(axis: Any, layer: str) -> int:
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"sd.{layer}: axis= must be an integer, got {axis!r}")
    return axis


def _epsilon(epsilon: Any, layer: str) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
        raise ValueError(f"sd.{layer}: epsilon= must be a positive number, got {epsilon!r}")
    return float(epsilon)


def _given_parameters(
    feature_count: Any, offset: Any, scale: Any, layer: str, kwargs: dict[str, Any]
) -> tuple[int, Any, Any]:
    """``(feature_count, offset, scale)`` from either the size or the two given tensors.

    Given tensors set the layer's dtype (unless ``dtype=`` says otherwise), as Swift's
    ``Tensor<Scalar>`` arguments fix the layer's ``Scalar``.
    """
    if offset is None and scale is None:
        if feature_count is None:
            raise TypeError(f"sd.{layer}: pass feature_count= (or offset= and scale=)")
        return _positive_int(feature_count, "feature_count", layer), None, None
    if offset is None or scale is None:
        raise TypeError(f"sd.{layer}: offset= and scale= go together; pass both or neither")
    if feature_count is not None:
        raise TypeError(f"sd.{layer}: pass feature_count= or offset= and scale=, not both")
    offset, scale = tf.convert_to_tensor(offset), tf.convert_to_tensor(scale)
    if offset.shape.rank != 1 or offset.shape != scale.shape or not offset.dtype.is_floating:
        raise ValueError(
            f"sd.{layer}: offset= and scale= must be floating rank-1 tensors of the same shape, got "
            f"{offset.dtype.name}{offset.shape.as_list()} and {scale.dtype.name}{scale.shape.as_list()}"
        )
    kwargs.setdefault("dtype", offset.dtype.name)
    return _positive_int(offset.shape[0], "feature_count", layer), offset, scale


def _offset_and_scale(layer: Layer, feature_count: int, offset: Any, scale: Any) -> None:
    """Creates ``layer.offset`` (zeros) and ``layer.scale`` (ones), or the given values.

    Neither the variables nor the layer's inputs are autocast: under mixed precision the layer
    normalizes in float32 (see ``_normalizing_dtype``) and casts its output itself.
    """
    layer.autocast = False
    layer.offset = layer.add_weight(
        shape=(feature_count,), initializer="zeros", name="offset", autocast=False
    )
    layer.scale = layer.add_weight(shape=(feature_count,), initializer="ones", name="scale", autocast=False)
    if offset is not None:
        layer.offset.assign(tf.cast(offset, layer.offset.dtype))
        layer.scale.assign(tf.cast(scale, layer.scale.dtype))


def _broadcast_shape(rank: int, sizes: dict[int, int]) -> list[int]:
    return [sizes.get(i, 1) for i in range(rank)]


@_register
class LayerNorm(Layer):
    """Swift ``LayerNorm(featureCount:axis:epsilon:)``: normalizes each example along one axis.

    ``(input - mean) * rsqrt(variance + epsilon) * scale + offset``, the moments taken along ``axis``
    alone (for each position of every other axis), ``offset`` and ``scale`` broadcast along
    ``axis``. As in Swift, ``axis`` has no default.

    Args:
        feature_count: The size of ``axis``; or pass ``offset=`` and ``scale=`` instead.
        axis: The axis normalized over (negative counts from the end); required, as in Swift.
        epsilon: Added to the variance before its square root; positive.
        offset: Swift's ``init(offset:scale:axis:epsilon:)``: the initial ``offset``, rank 1; the layer
            takes its dtype unless ``dtype=`` says otherwise, not a global mixed-precision policy's: the
            tensors' dtype is the caller's choice.
        scale: The initial ``scale``, of ``offset``'s shape.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        offset: ``[feature_count]``, zeros (Swift's beta).
        scale: ``[feature_count]``, ones (Swift's gamma).

    Input shape:
        Any, with ``feature_count`` entries on ``axis``.

    Output shape:
        The input's.

    Raises:
        TypeError: ``axis`` is missing or not an integer; neither or both of ``feature_count`` and
            ``offset``/``scale`` are given.
        ValueError: ``feature_count`` or ``epsilon`` is not positive; ``offset`` and ``scale`` are not
            floating rank-1 tensors of one shape; at call, the input has too few axes or not
            ``feature_count`` entries on ``axis`` (Keras' ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> norm = sd.LayerNorm(feature_count=3, axis=-1)
        >>> [round(v, 3) for v in norm(tf.constant([[1.0, 2.0, 3.0]]))[0].numpy().tolist()]
        [-1.224, 0.0, 1.224]
    """

    def __init__(
        self,
        feature_count: int | None = None,
        axis: int | None = None,
        epsilon: float = 0.001,
        offset: Any = None,
        scale: Any = None,
        **kwargs: Any,
    ):
        if axis is None:
            raise TypeError("sd.LayerNorm: axis= is required (Swift's LayerNorm has no default axis)")
        axis = _axis(axis, "LayerNorm")
        epsilon = _epsilon(epsilon, "LayerNorm")
        feature_count, offset, scale = _given_parameters(feature_count, offset, scale, "LayerNorm", kwargs)
        super().__init__(**kwargs)
        self.feature_count, self.axis, self.epsilon = feature_count, axis, epsilon
        self.input_spec = keras.InputSpec(
            min_ndim=self.axis + 1 if self.axis >= 0 else -self.axis, axes={self.axis: feature_count}
        )
        _offset_and_scale(self, feature_count, offset, scale)
        self.built = True

    def call(self, input):
        input = tf.cast(input, _normalizing_dtype(self))
        rank = input.shape.rank
        axis = self.axis % rank
        shape = _broadcast_shape(rank, {axis: self.feature_count})
        offset, scale = (tf.reshape(tf.cast(v, input.dtype), shape) for v in (self.offset, self.scale))
        mean, variance = tf.nn.moments(input, axes=[axis], keepdims=True)
        inv = tf.math.rsqrt(variance + tf.cast(self.epsilon, input.dtype)) * scale
        return tf.cast((input - mean) * inv + offset, self.compute_dtype)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "feature_count": self.feature_count,
            "axis": self.axis,
            "epsilon": self.epsilon,
        }


@_register
class GroupNorm(Layer):
    """Swift ``GroupNorm(featureCount:groupCount:axis:epsilon:)``: normalizes groups of features.

    The ``feature_count`` features on ``axis`` are split into ``group_count`` consecutive groups; each
    example's moments are taken per group, over the group's features and every axis but the batch
    axis (0) and ``axis``. Then ``input * inv + (offset - mean * inv)`` with
    ``inv = scale * rsqrt(variance + epsilon)``, ``offset`` and ``scale`` per feature.

    Args:
        feature_count: The size of ``axis``, a multiple of ``group_count``; or pass ``offset=`` and
            ``scale=`` instead.
        group_count: The number of groups; required, as in Swift.
        axis: The feature axis (negative counts from the end); not the batch axis.
        epsilon: Added to the variance before its square root; positive.
        offset: Swift's ``init(offset:scale:groupCount:axis:epsilon:)``: the initial ``offset``; the
            layer takes its dtype unless ``dtype=`` says otherwise, not a global mixed-precision
            policy's: the tensors' dtype is the caller's choice.
        scale: The initial ``scale``, of ``offset``'s shape.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        offset: ``[feature_count]``, zeros.
        scale: ``[feature_count]``, ones.

    Input shape:
        ``[batch, ...]``, with ``feature_count`` entries on ``axis``.

    Output shape:
        The input's.

    Raises:
        TypeError: ``axis`` is not an integer; ``group_count`` is missing; neither or both of
            ``feature_count`` and ``offset``/``scale`` are given.
        ValueError: ``axis`` is the batch axis 0; ``feature_count`` is not a multiple of
            ``group_count``; a size or ``epsilon`` is not positive; ``offset``/``scale`` are
            malformed; at call, the input has too few axes (``axis`` would be its batch axis) or not
            ``feature_count`` entries on ``axis`` (Keras' ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> norm = sd.GroupNorm(feature_count=4, group_count=2)
        >>> [round(v, 3) for v in norm(tf.constant([[1.0, 3.0, 0.0, 10.0]]))[0].numpy().tolist()]
        [-1.0, 1.0, -1.0, 1.0]
    """

    _swift = "GroupNorm"
    #: InstanceNorm's groups are its features.
    _one_feature_per_group = False

    def __init__(
        self,
        feature_count: int | None = None,
        group_count: int | None = None,
        axis: int = -1,
        epsilon: float = 0.001,
        offset: Any = None,
        scale: Any = None,
        **kwargs: Any,
    ):
        layer = self._swift
        axis = _axis(axis, layer)
        if axis == 0:
            raise ValueError(f"sd.{layer}: axis= cannot be the batch axis 0")
        epsilon = _epsilon(epsilon, layer)
        feature_count, offset, scale = _given_parameters(feature_count, offset, scale, layer, kwargs)
        if self._one_feature_per_group:
            group_count = feature_count
        elif group_count is None:
            raise TypeError(f"sd.{layer}: group_count= is required")
        group_count = _positive_int(group_count, "group_count", layer)
        if feature_count % group_count:
            raise ValueError(
                f"sd.{layer}: feature_count= ({feature_count}) must be a multiple of group_count= "
                f"({group_count})"
            )
        super().__init__(**kwargs)
        self.feature_count, self.group_count = feature_count, group_count
        self.axis, self.epsilon = axis, epsilon
        # A negative axis needs one more input axis than it counts, so that it is not the batch axis.
        self.input_spec = keras.InputSpec(
            min_ndim=max(self.axis + 1, 2) if self.axis > 0 else 1 - self.axis,
            axes={self.axis: feature_count},
        )
        _offset_and_scale(self, feature_count, offset, scale)
        self.built = True

    def call(self, input):
        input = tf.cast(input, _normalizing_dtype(self))
        rank = input.shape.rank
        axis = self.axis % rank
        groups, per_group = self.group_count, self.feature_count // self.group_count
        shape = tf.shape(input)
        grouped = tf.reshape(input, tf.concat([shape[:axis], [groups, per_group], shape[axis + 1 :]], 0))
        reduce_axes = [i for i in range(1, rank + 1) if i != axis]
        mean, variance = tf.nn.moments(grouped, axes=reduce_axes, keepdims=True)
        parameter_shape = _broadcast_shape(rank + 1, {axis: groups, axis + 1: per_group})
        offset, scale = (
            tf.reshape(tf.cast(v, input.dtype), parameter_shape) for v in (self.offset, self.scale)
        )
        inv = scale * tf.math.rsqrt(variance + tf.cast(self.epsilon, input.dtype))
        normalized = grouped * inv + (offset - mean * inv)
        return tf.cast(tf.reshape(normalized, shape), self.compute_dtype)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "feature_count": self.feature_count,
            "group_count": self.group_count,
            "axis": self.axis,
            "epsilon": self.epsilon,
        }


@_register
class InstanceNorm(GroupNorm):
    """Swift ``InstanceNorm(featureCount:axis:epsilon:)``: ``GroupNorm`` with one feature per group.

    Each example's every feature is normalized over all the other non-batch axes (the spatial ones
    for images), as Swift's ``InstanceNorm``, which delegates to ``GroupNorm(featureCount:
    groupCount: featureCount, …)``.

    Args:
        feature_count: The size of ``axis``; or pass ``offset=`` and ``scale=`` instead.
        axis: The feature axis (negative counts from the end); not the batch axis.
        epsilon: Added to the variance before its square root; positive.
        offset: Swift's ``init(offset:scale:axis:epsilon:)``: the initial ``offset``; the layer takes
            its dtype unless ``dtype=`` says otherwise, not a global mixed-precision policy's: the
            tensors' dtype is the caller's choice.
        scale: The initial ``scale``, of ``offset``'s shape.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        offset: ``[feature_count]``, zeros.
        scale: ``[feature_count]``, ones.

    Input shape:
        ``[batch, ...]``, with ``feature_count`` entries on ``axis``.

    Output shape:
        The input's.

    Raises:
        TypeError: As ``GroupNorm``.
        ValueError: As ``GroupNorm``.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> norm = sd.InstanceNorm(feature_count=2)
        >>> x = tf.constant([[[1.0, 5.0], [3.0, 5.0]]])  # [batch, width, features]
        >>> norm(x)[0].numpy().round(3).tolist()
        [[-1.0, 0.0], [1.0, 0.0]]
    """

    _swift = "InstanceNorm"
    _one_feature_per_group = True

    def __init__(
        self,
        feature_count: int | None = None,
        axis: int = -1,
        epsilon: float = 0.001,
        offset: Any = None,
        scale: Any = None,
        **kwargs: Any,
    ):
        super().__init__(feature_count, None, axis, epsilon, offset, scale, **kwargs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["group_count"]
        return config
