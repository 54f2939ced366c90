"""S4TF's other pooling and upsampling layers on Keras 3: ``MaxPool1D/3D``, ``AvgPool1D/3D``,
``GlobalAvgPool1D/2D/3D``, ``GlobalMaxPool1D/2D/3D`` and ``UpSampling1D/2D/3D``.

``MaxPool2D`` and ``AvgPool2D`` live in ``swiftdiff.layers``; these follow them, with Swift's labels
(``MaxPool1D(poolSize:stride:padding:)`` takes one integer each, the 3-D pools a triple or an
integer), channels last. Global pools drop the pooled axes, as S4TF's ``mean(squeezingAxes:)`` and
``max(squeezingAxes:)`` do. Upsampling repeats every element ``size`` times along each spatial axis
(nearest neighbour), as S4TF's does. All are parameterless Keras layers: inputs checked by their
``keras.InputSpec``, usable in Sequential/functional models and ``fit``, saved in ``.keras`` files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import keras
import tensorflow as tf

from .layer import Layer
from .layers import Shape, _Pool, _positive_int, _sizes

_register = keras.saving.register_keras_serializable(package="swiftdiff")


def _separable_pool3d(
    pool: Callable[..., Any], input: Any, window: Sequence[int], strides: Sequence[int], padding: str
) -> tf.Tensor:
    """A 3-D pool as a 2-D pool over height and width, then one over depth.

    TensorFlow has no float64 kernels for ``MaxPool3D`` and ``AvgPool3D`` but has them for the 2-D
    pools. Both pools are separable: the windows (and, with ``"same"`` padding, the inputs they
    cover) form a box, and the maximum or the mean over a box is that over depth of the maxima or
    means over each depth's rectangle.
    """
    input = tf.convert_to_tensor(input)
    shape = tf.shape(input)
    batch, depth, channels = shape[0], shape[1], shape[4]
    planes = pool(tf.reshape(input, tf.concat([[-1], shape[2:]], 0)), window[1:], strides[1:], padding)
    height, width = tf.shape(planes)[1], tf.shape(planes)[2]
    columns = tf.reshape(planes, tf.stack([batch, depth, height * width, channels]))
    columns = pool(columns, (window[0], 1), (strides[0], 1), padding)
    return tf.reshape(columns, tf.stack([batch, tf.shape(columns)[1], height, width, channels]))


class _Pool1D(_Pool):
    def __init__(self, pool_size: int = 2, stride: int | None = None, padding: str = "valid", **kwargs: Any):
        super().__init__(**kwargs)
        self.pool_size = _positive_int(pool_size, "pool_size", self._swift)
        self.stride = _positive_int(self.pool_size if stride is None else stride, "stride", self._swift)
        self._configure((self.pool_size,), (self.stride,), padding)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "stride": self.stride,
            "padding": self.padding,
        }


class _Pool3D(_Pool):
    def __init__(
        self,
        pool_size: int | Sequence[int] = (2, 2, 2),
        strides: int | Sequence[int] | None = None,
        padding: str = "valid",
        *,
        stride: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if stride is not None and strides is not None:
            raise ValueError(f"sd.{self._swift}: pass strides= or stride=, not both")
        self.pool_size = _sizes(pool_size, 3, "pool_size", self._swift)
        if stride is not None:
            strides = _positive_int(stride, "stride", self._swift)
        self.strides = _sizes(self.pool_size if strides is None else strides, 3, "strides", self._swift)
        self._configure(self.pool_size, self.strides, padding)

    def call(self, input):
        # TensorFlow's CPU has 3-D pool kernels for float32 and bfloat16 only (float16 and float64:
        # NotFound); the separable form runs everywhere.
        if tf.convert_to_tensor(input).dtype in (tf.bfloat16, tf.float32):
            return super().call(input)
        output = _separable_pool3d(
            lambda x, *args: type(self)._pool(x, *args, "channels_last"),
            input,
            self.pool_size,
            self.strides,
            self.padding,
        )
        output.set_shape(self.compute_output_shape(tuple(input.shape)))
        return output

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
        }


@_register
class MaxPool1D(_Pool1D):
    """Swift ``MaxPool1D(poolSize:stride:padding:)``: the maximum of each window, ``[batch, steps, c]``.

    Args:
        pool_size: The window's length (an integer).
        stride: The step of the window (an integer); ``pool_size`` by default.
        padding: ``"valid"`` (no padding) or ``"same"`` (output length ``ceil(steps / stride)``).
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, steps, channels]``.

    Output shape:
        ``[batch, new steps, channels]``.

    Raises:
        ValueError: An argument is malformed; at call, the input is not of rank 3 (Keras'
            ``InputSpec`` check) or shorter than the window with ``"valid"`` padding.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> x = tf.reshape(tf.constant([1.0, 5.0, 2.0, 3.0, 9.0, 0.0]), [1, 6, 1])
        >>> sd.MaxPool1D(pool_size=2, stride=2, padding="valid")(x)[0, :, 0].numpy().tolist()
        [5.0, 3.0, 9.0]
    """

    _swift = "MaxPool1D"
    _pool = staticmethod(keras.ops.max_pool)


@_register
class AvgPool1D(_Pool1D):
    """Swift ``AvgPool1D(poolSize:stride:padding:)``: the mean of each window, ``[batch, steps, c]``.

    With ``"same"`` padding a window's mean counts only the inputs it covers (TensorFlow's, and
    S4TF's, ``AvgPool``).

    Args:
        pool_size: The window's length (an integer).
        stride: The step of the window (an integer); ``pool_size`` by default.
        padding: ``"valid"`` (no padding) or ``"same"`` (output length ``ceil(steps / stride)``).
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, steps, channels]``.

    Output shape:
        ``[batch, new steps, channels]``.

    Raises:
        ValueError: An argument is malformed; at call, the input is not of rank 3 (Keras'
            ``InputSpec`` check) or shorter than the window with ``"valid"`` padding.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> x = tf.reshape(tf.constant([1.0, 5.0, 3.0, 3.0, 9.0, 0.0]), [1, 6, 1])
        >>> sd.AvgPool1D(pool_size=3, stride=3, padding="valid")(x)[0, :, 0].numpy().tolist()
        [3.0, 4.0]
    """

    _swift = "AvgPool1D"
    _pool = staticmethod(keras.ops.average_pool)


@_register
class MaxPool3D(_Pool3D):
    """Swift ``MaxPool3D(poolSize:strides:padding:)``: the maximum of each window, ``[batch, d, h, w, c]``.

    ``pool_size`` and ``strides`` take a triple or one integer for all three axes, which also
    ports Swift's ``MaxPool3D(poolSize: Int, stride: Int)`` (``stride=`` is accepted as well).

    Args:
        pool_size: The window's depth, height and width (an integer for all three).
        strides: The step of the window (an integer for all three); ``pool_size`` by default.
        padding: ``"valid"`` (no padding) or ``"same"`` (output size ``ceil(input / stride)``).
        stride: Swift's ``stride:`` label: one integer for all three axes (instead of ``strides``).
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, depth, height, width, channels]``.

    Output shape:
        ``[batch, new depth, new height, new width, channels]``.

    Raises:
        ValueError: An argument is malformed, or both ``strides`` and ``stride`` are given; at
            call, the input is not of rank 5 (Keras' ``InputSpec`` check) or smaller than the
            window with ``"valid"`` padding.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.MaxPool3D(pool_size=(2, 2, 2), strides=(2, 2, 2))(tf.ones([1, 4, 6, 8, 3])).shape
        TensorShape([1, 2, 3, 4, 3])
    """

    _swift = "MaxPool3D"
    _pool = staticmethod(keras.ops.max_pool)


@_register
class AvgPool3D(_Pool3D):
    """Swift ``AvgPool3D(poolSize:strides:padding:)``: the mean of each window, ``[batch, d, h, w, c]``.

    ``pool_size`` and ``strides`` take a triple or one integer for all three axes (Swift's
    ``AvgPool3D(poolSize: Int, strides: Int)``); ``stride=`` is accepted as well. With ``"same"``
    padding a window's mean counts only the inputs it covers.

    Args:
        pool_size: The window's depth, height and width (an integer for all three).
        strides: The step of the window (an integer for all three); ``pool_size`` by default.
        padding: ``"valid"`` (no padding) or ``"same"`` (output size ``ceil(input / stride)``).
        stride: One integer for all three axes (instead of ``strides``).
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, depth, height, width, channels]``.

    Output shape:
        ``[batch, new depth, new height, new width, channels]``.

    Raises:
        ValueError: An argument is malformed, or both ``strides`` and ``stride`` are given; at
            call, the input is not of rank 5 (Keras' ``InputSpec`` check) or smaller than the
            window with ``"valid"`` padding.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> x = tf.reshape(tf.range(8.0), [1, 2, 2, 2, 1])
        >>> float(sd.AvgPool3D(pool_size=2, strides=2)(x)[0, 0, 0, 0, 0])
        3.5
    """

    _swift = "AvgPool3D"
    _pool = staticmethod(keras.ops.average_pool)


class _GlobalPool(Layer):
    """What the global pools share: reduce every spatial axis, dropping it."""

    _rank: ClassVar[int]
    _reduce: ClassVar[Callable[..., Any]]

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.input_spec = keras.InputSpec(ndim=self._rank + 2)
        self.built = True

    def call(self, input):
        return type(self)._reduce(input, axis=tuple(range(1, self._rank + 1)))

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        return (input_shape[0], input_shape[-1])


@_register
class GlobalAvgPool1D(_GlobalPool):
    """Swift ``GlobalAvgPool1D()``: the mean over the steps, ``[batch, steps, c] -> [batch, c]``.

    Args:
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, steps, channels]``.

    Output shape:
        ``[batch, channels]`` (the steps axis is dropped, as in S4TF).

    Raises:
        ValueError: At call, the input is not of rank 3 (Keras' ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.GlobalAvgPool1D()(tf.reshape(tf.range(6.0), [1, 3, 2])).numpy().tolist()
        [[2.0, 3.0]]
    """

    _rank = 1
    _reduce = staticmethod(keras.ops.mean)


@_register
class GlobalAvgPool2D(_GlobalPool):
    """Swift ``GlobalAvgPool2D()``: the mean over height and width, ``[batch, h, w, c] -> [batch, c]``.

    Args:
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, height, width, channels]``.

    Output shape:
        ``[batch, channels]`` (height and width are dropped, as in S4TF).

    Raises:
        ValueError: At call, the input is not of rank 4 (Keras' ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.GlobalAvgPool2D()(tf.reshape(tf.range(8.0), [1, 2, 2, 2])).numpy().tolist()
        [[3.0, 4.0]]
    """

    _rank = 2
    _reduce = staticmethod(keras.ops.mean)


@_register
class GlobalAvgPool3D(_GlobalPool):
    """Swift ``GlobalAvgPool3D()``: the mean over depth, height and width, ``-> [batch, channels]``.

    Args:
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, depth, height, width, channels]``.

    Output shape:
        ``[batch, channels]`` (the spatial axes are dropped, as in S4TF).

    Raises:
        ValueError: At call, the input is not of rank 5 (Keras' ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.GlobalAvgPool3D()(tf.reshape(tf.range(8.0), [1, 2, 2, 2, 1])).numpy().tolist()
        [[3.5]]
    """

    _rank = 3
    _reduce = staticmethod(keras.ops.mean)


@_register
class GlobalMaxPool1D(_GlobalPool):
    """Swift ``GlobalMaxPool1D()``: the maximum over the steps, ``[batch, steps, c] -> [batch, c]``.

    The gradient goes to the maximum, shared equally between tied maxima (TensorFlow's, and
    S4TF's, ``max``).

    Args:
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, steps, channels]``.

    Output shape:
        ``[batch, channels]`` (the steps axis is dropped, as in S4TF).

    Raises:
        ValueError: At call, the input is not of rank 3 (Keras' ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.GlobalMaxPool1D()(tf.constant([[[1.0, 8.0], [4.0, 2.0]]])).numpy().tolist()
        [[4.0, 8.0]]
    """

    _rank = 1
    _reduce = staticmethod(keras.ops.max)


@_register
class GlobalMaxPool2D(_GlobalPool):
    """Swift ``GlobalMaxPool2D()``: the maximum over height and width, ``[batch, h, w, c] -> [batch, c]``.

    The gradient goes to the maximum, shared equally between tied maxima.

    Args:
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, height, width, channels]``.

    Output shape:
        ``[batch, channels]`` (height and width are dropped, as in S4TF).

    Raises:
        ValueError: At call, the input is not of rank 4 (Keras' ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.GlobalMaxPool2D()(tf.reshape(tf.range(8.0), [1, 2, 2, 2])).numpy().tolist()
        [[6.0, 7.0]]
    """

    _rank = 2
    _reduce = staticmethod(keras.ops.max)


@_register
class GlobalMaxPool3D(_GlobalPool):
    """Swift ``GlobalMaxPool3D()``: the maximum over depth, height and width, ``-> [batch, channels]``.

    The gradient goes to the maximum, shared equally between tied maxima.

    Args:
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, depth, height, width, channels]``.

    Output shape:
        ``[batch, channels]`` (the spatial axes are dropped, as in S4TF).

    Raises:
        ValueError: At call, the input is not of rank 5 (Keras' ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.GlobalMaxPool3D()(tf.reshape(tf.range(8.0), [1, 2, 2, 2, 1])).numpy().tolist()
        [[7.0]]
    """

    _rank = 3
    _reduce = staticmethod(keras.ops.max)


class _UpSampling(Layer):
    """What the upsampling layers share: repeat each element ``size`` times along every spatial axis."""

    _rank: ClassVar[int]

    def __init__(self, size: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.size = _positive_int(size, "size", type(self).__name__)
        self.input_spec = keras.InputSpec(ndim=self._rank + 2)
        self.built = True

    def call(self, input):
        for axis in range(1, self._rank + 1):
            input = keras.ops.repeat(input, self.size, axis=axis)
        return input

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        batch, *spatial, channels = input_shape
        return (batch, *(None if s is None else s * self.size for s in spatial), channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size}


@_register
class UpSampling1D(_UpSampling):
    """Swift ``UpSampling1D(size:)``: repeats each step ``size`` times, ``[batch, steps, c]``.

    Args:
        size: The upsampling factor (a positive integer).
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, steps, channels]``.

    Output shape:
        ``[batch, steps * size, channels]``.

    Raises:
        ValueError: ``size`` is not a positive integer; at call, the input is not of rank 3
            (Keras' ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.UpSampling1D(size=2)(tf.constant([[[1.0], [2.0]]]))[0, :, 0].numpy().tolist()
        [1.0, 1.0, 2.0, 2.0]
    """

    _rank = 1


@_register
class UpSampling2D(_UpSampling):
    """Swift ``UpSampling2D(size:)``: nearest-neighbour upsampling of rows and columns by ``size``.

    Args:
        size: The upsampling factor of both height and width (a positive integer).
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, height, width, channels]``.

    Output shape:
        ``[batch, height * size, width * size, channels]``.

    Raises:
        ValueError: ``size`` is not a positive integer; at call, the input is not of rank 4
            (Keras' ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> x = tf.constant([[1.0, 2.0], [3.0, 4.0]])[None, :, :, None]
        >>> sd.UpSampling2D(size=2)(x)[0, :, :, 0].numpy().tolist()
        [[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0], [3.0, 3.0, 4.0, 4.0], [3.0, 3.0, 4.0, 4.0]]
    """

    _rank = 2


@_register
class UpSampling3D(_UpSampling):
    """Swift ``UpSampling3D(size:)``: nearest-neighbour upsampling of depth, height and width by ``size``.

    Args:
        size: The upsampling factor of all three spatial axes (a positive integer).
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        ``[batch, depth, height, width, channels]``.

    Output shape:
        ``[batch, depth * size, height * size, width * size, channels]``.

    Raises:
        ValueError: ``size`` is not a positive integer; at call, the input is not of rank 5
            (Keras' ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.UpSampling3D(size=2)(tf.ones([1, 1, 2, 3, 4])).shape
        TensorShape([1, 2, 4, 6, 4])
    """

    _rank = 3
