"""S4TF's other convolution layers on Keras 3: ``Conv1D``, ``Conv3D``, ``TransposedConv1D/2D/3D``,
``DepthwiseConv2D``, ``SeparableConv1D/2D`` and ``ZeroPadding1D/2D/3D``.

They follow ``sd.Conv2D`` (``swiftdiff.layers``, whose ``_Convolution`` they share): Swift's labels
(1-D layers take one integer ``stride=``/``dilation=``, the others tuples), S4TF's variable names
and layouts (a transposed filter is ``[*kernel, output channels, input channels]``), Glorot-uniform
filters and zero biases made at construction from ``filter_shape=``, or variables that start as
given tensors (``filter=``, ``bias=``; no ``bias=`` is Swift's ``bias: nil``). Convolutions run on
TensorFlow's own kernels, which take strides and dilations together as S4TF's do; inputs are
channels-last and checked by each layer's ``keras.InputSpec``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import keras
import tensorflow as tf

from . import activations
from .layer import Layer
from .layers import Activation, Shape, _Convolution, _dilated_filter, _windowed_shape

_register = keras.saving.register_keras_serializable(package="swiftdiff")


@_register
class Conv1D(_Convolution):
    """Swift ``Conv1D(filterShape:stride:padding:dilation:activation:)``, ``Conv1D(filter:bias:…)``.

    A 1-D (temporal) convolution over ``[batch, width, channels]`` inputs. Built from ``filter_shape=``
    the variables are new: a Glorot-uniform ``filter`` and a zero ``bias``. Built from given tensors
    (``filter=``, ``bias=``) they start as copies of those tensors, in their dtype unless ``dtype=``
    says otherwise, not a global mixed-precision policy's: the tensors' dtype is the caller's choice.

    Args:
        filter_shape: ``(width, input channels, output channels)``.
        stride: The step of the filter (one integer, as in Swift).
        padding: ``"valid"`` (no padding) or ``"same"`` (output width ``ceil(width / stride)``).
        dilation: The dilation of the filter (one integer); it may be combined with a stride.
        activation: A function such as ``sd.relu`` (or a Keras activation name); the identity by
            default.
        use_bias: With ``filter_shape=``, whether to add ``bias`` (``True`` by default).
        filter: Instead of ``filter_shape=``: the filter, ``[width, input channels, output
            channels]``.
        bias: With ``filter=``: ``[output channels]``; ``None``, the default, adds no bias.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        filter: ``[width, input channels, output channels]``.
        bias: ``[output channels]``; ``None`` without a bias.

    Input shape:
        ``[batch, width, input channels]``.

    Output shape:
        ``[batch, new width, output channels]``.

    Raises:
        TypeError: Both ``filter_shape=`` and ``filter=`` are given, or neither; ``bias=`` comes
            without ``filter=`` or ``use_bias=`` with it; a given tensor is not floating;
            ``activation`` is not a function.
        ValueError: An argument is malformed or a given tensor has the wrong shape; at call, the
            input is not of rank 3 or has the wrong number of channels (Keras' ``InputSpec``).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> conv = sd.Conv1D(filter_shape=(3, 2, 4), stride=2, padding="same")
        >>> conv(tf.ones([5, 9, 2])).shape
        TensorShape([5, 5, 4])
        >>> total = sd.Conv1D(filter=tf.ones([2, 1, 1]), bias=tf.constant([10.0]))
        >>> total(tf.constant([[[1.0], [2.0], [3.0]]]))[0, :, 0].numpy().tolist()
        [13.0, 15.0]
    """

    _swift = "Conv1D"
    _spatial = 1
    _filters = {"filter": "(width, input channels, output channels)"}

    def __init__(
        self,
        filter_shape: Sequence[int] | None = None,
        stride: int = 1,
        padding: str = "valid",
        dilation: int = 1,
        activation: Activation = activations.identity,
        use_bias: bool | None = None,
        *,
        filter: Any = None,
        bias: Any = None,
        **kwargs: Any,
    ):
        super().__init__(
            {"filter": filter_shape},
            {"filter": filter},
            bias,
            use_bias,
            stride,
            padding,
            dilation,
            activation,
            **kwargs,
        )


@_register
class Conv3D(_Convolution):
    """Swift ``Conv3D(filterShape:strides:padding:dilations:activation:)``, ``Conv3D(filter:bias:…)``.

    A 3-D convolution over ``[batch, depth, height, width, channels]`` inputs. Built from
    ``filter_shape=`` the variables are new: a Glorot-uniform ``filter`` and a zero ``bias``. Built from
    given tensors (``filter=``, ``bias=``) they start as copies of those tensors, in their dtype unless
    ``dtype=`` says otherwise, not a global mixed-precision policy's: the tensors' dtype is the caller's
    choice. Any dilations are accepted (S4TF requires the last one to be 1).

    Args:
        filter_shape: ``(depth, height, width, input channels, output channels)``.
        strides: The step of the filter along depth, height and width (an integer for all three).
        padding: ``"valid"`` (no padding) or ``"same"`` (output size ``ceil(input / stride)``).
        dilations: The dilation of the filter along each spatial axis (an integer for all three).
        activation: A function such as ``sd.relu`` (or a Keras activation name); the identity by
            default.
        use_bias: With ``filter_shape=``, whether to add ``bias`` (``True`` by default).
        filter: Instead of ``filter_shape=``: the filter, ``[depth, height, width, input
            channels, output channels]``.
        bias: With ``filter=``: ``[output channels]``; ``None``, the default, adds no bias.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        filter: ``[depth, height, width, input channels, output channels]``.
        bias: ``[output channels]``; ``None`` without a bias.

    Input shape:
        ``[batch, depth, height, width, input channels]``.

    Output shape:
        ``[batch, new depth, new height, new width, output channels]``.

    Raises:
        TypeError: Both ``filter_shape=`` and ``filter=`` are given, or neither; ``bias=`` comes
            without ``filter=`` or ``use_bias=`` with it; a given tensor is not floating;
            ``activation`` is not a function.
        ValueError: An argument is malformed or a given tensor has the wrong shape; at call, the
            input is not of rank 5 or has the wrong number of channels (Keras' ``InputSpec``).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> conv = sd.Conv3D(filter_shape=(2, 3, 3, 1, 4), strides=(1, 2, 2))
        >>> conv(tf.ones([2, 4, 9, 9, 1])).shape
        TensorShape([2, 3, 4, 4, 4])
    """

    _swift = "Conv3D"
    _spatial = 3
    _filters = {"filter": "(depth, height, width, input channels, output channels)"}

    def __init__(
        self,
        filter_shape: Sequence[int] | None = None,
        strides: int | Sequence[int] = (1, 1, 1),
        padding: str = "valid",
        dilations: int | Sequence[int] = (1, 1, 1),
        activation: Activation = activations.identity,
        use_bias: bool | None = None,
        *,
        filter: Any = None,
        bias: Any = None,
        **kwargs: Any,
    ):
        super().__init__(
            {"filter": filter_shape},
            {"filter": filter},
            bias,
            use_bias,
            strides,
            padding,
            dilations,
            activation,
            **kwargs,
        )

    def _convolve(self, input):
        # TensorFlow's Conv3D infers a wrong static shape for dilations (it swaps height's and
        # width's), so a dilated filter is convolved instead.
        return tf.nn.conv3d(
            input, _dilated_filter(self.filter, self._dilations), [1, *self._strides, 1], self.padding.upper()
        )


class _TransposedConvolution(_Convolution):
    """What ``TransposedConv1D/2D/3D`` share: the adjoint of a convolution, S4TF's output sizes.

    The filter is ``[*kernel, output channels, input channels]`` (the layout of the convolution
    it transposes, and Keras' ``Conv*DTranspose`` kernels). Per spatial axis the output has
    ``size * stride`` entries with ``same`` padding and ``(size - 1) * stride + kernel`` with
    ``valid`` padding, as S4TF computes them; there is no dilation, as in S4TF.
    """

    _takes_dilations = False

    def _channels(self) -> tuple[int, int]:
        return self.filter_shape[-1], self.filter_shape[-2]

    def _output_size(self, size: Any, kernel: int, stride: int) -> Any:
        return size * stride if self.padding == "same" else (size - 1) * stride + kernel

    def _convolve(self, input):
        dynamic = tf.shape(input)
        spatial = [
            self._output_size(
                dynamic[axis] if input.shape[axis] is None else input.shape[axis], kernel, stride
            )
            for axis, kernel, stride in zip(
                range(1, self._spatial + 1), self.filter_shape[: self._spatial], self._strides, strict=True
            )
        ]
        output_shape = tf.stack([dynamic[0], *spatial, self.filter_shape[-2]])
        y = tf.nn.conv_transpose(
            input, self.filter, output_shape, [1, *self._strides, 1], self.padding.upper()
        )
        y.set_shape(self.compute_output_shape(tuple(input.shape)))
        return y

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        batch, *sizes, _ = input_shape
        spatial = [
            None if size is None else self._output_size(size, kernel, stride)
            for size, kernel, stride in zip(
                sizes, self.filter_shape[: self._spatial], self._strides, strict=True
            )
        ]
        return (batch, *spatial, self.filter_shape[-2])


@_register
class TransposedConv1D(_TransposedConvolution):
    """Swift ``TransposedConv1D(filterShape:stride:padding:activation:)``, ``TransposedConv1D(filter:…)``.

    A 1-D transposed convolution (the adjoint of ``Conv1D``, e.g. to upsample a sequence) over
    ``[batch, width, channels]`` inputs. The output width is ``width * stride`` with ``"same"``
    padding and ``(width - 1) * stride + kernel width`` with ``"valid"``, as in S4TF. The filter is
    ``[width, output channels, input channels]``; S4TF sizes the bias and the output by the last
    (input) axis, which works only when the two channel counts agree, so here both follow the
    output-channel axis.

    Args:
        filter_shape: ``(width, output channels, input channels)``.
        stride: The upsampling step (one integer, as in Swift).
        padding: ``"valid"`` or ``"same"`` (see above).
        activation: A function such as ``sd.relu`` (or a Keras activation name); the identity by
            default.
        use_bias: With ``filter_shape=``, whether to add ``bias`` (``True`` by default).
        filter: Instead of ``filter_shape=``: the filter, ``[width, output channels, input channels]``;
            the layer takes its dtype unless ``dtype=`` says otherwise, not a global mixed-precision
            policy's: the tensors' dtype is the caller's choice.
        bias: With ``filter=``: ``[output channels]``; ``None``, the default, adds no bias.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        filter: ``[width, output channels, input channels]``.
        bias: ``[output channels]``; ``None`` without a bias.

    Input shape:
        ``[batch, width, input channels]``.

    Output shape:
        ``[batch, new width, output channels]``.

    Raises:
        TypeError: Both ``filter_shape=`` and ``filter=`` are given, or neither; ``bias=`` comes
            without ``filter=`` or ``use_bias=`` with it; a given tensor is not floating;
            ``activation`` is not a function.
        ValueError: An argument is malformed or a given tensor has the wrong shape; at call, the
            input is not of rank 3 or has the wrong number of channels (Keras' ``InputSpec``).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> up = sd.TransposedConv1D(filter_shape=(3, 4, 2), stride=2)
        >>> up(tf.ones([5, 6, 2])).shape
        TensorShape([5, 13, 4])
        >>> spread = sd.TransposedConv1D(filter=tf.ones([2, 1, 1]), stride=2)
        >>> spread(tf.constant([[[1.0], [2.0]]]))[0, :, 0].numpy().tolist()
        [1.0, 1.0, 2.0, 2.0]
    """

    _swift = "TransposedConv1D"
    _spatial = 1
    _filters = {"filter": "(width, output channels, input channels)"}

    def __init__(
        self,
        filter_shape: Sequence[int] | None = None,
        stride: int = 1,
        padding: str = "valid",
        activation: Activation = activations.identity,
        use_bias: bool | None = None,
        *,
        filter: Any = None,
        bias: Any = None,
        **kwargs: Any,
    ):
        super().__init__(
            {"filter": filter_shape},
            {"filter": filter},
            bias,
            use_bias,
            stride,
            padding,
            1,
            activation,
            **kwargs,
        )


@_register
class TransposedConv2D(_TransposedConvolution):
    """Swift ``TransposedConv2D(filterShape:strides:padding:activation:)``, ``TransposedConv2D(filter:…)``.

    A 2-D transposed convolution (the adjoint of ``Conv2D``, e.g. to upsample an image) over NHWC
    inputs. Each output size is ``size * stride`` with ``"same"`` padding and ``(size - 1) * stride +
    kernel size`` with ``"valid"``, as in S4TF. The filter is ``[height, width, output channels,
    input channels]``, as in S4TF and Keras' ``Conv2DTranspose``.

    Args:
        filter_shape: ``(height, width, output channels, input channels)``.
        strides: The upsampling step along height and width (an integer for both).
        padding: ``"valid"`` or ``"same"`` (see above).
        activation: A function such as ``sd.relu`` (or a Keras activation name); the identity by
            default.
        use_bias: With ``filter_shape=``, whether to add ``bias`` (``True`` by default).
        filter: Instead of ``filter_shape=``: the filter, ``[height, width, output channels, input
            channels]``; the layer takes its dtype unless ``dtype=`` says otherwise, not a global
            mixed-precision policy's: the tensors' dtype is the caller's choice.
        bias: With ``filter=``: ``[output channels]``; ``None``, the default, adds no bias.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        filter: ``[height, width, output channels, input channels]``.
        bias: ``[output channels]``; ``None`` without a bias.

    Input shape:
        ``[batch, height, width, input channels]``.

    Output shape:
        ``[batch, new height, new width, output channels]``.

    Raises:
        TypeError: Both ``filter_shape=`` and ``filter=`` are given, or neither; ``bias=`` comes
            without ``filter=`` or ``use_bias=`` with it; a given tensor is not floating;
            ``activation`` is not a function.
        ValueError: An argument is malformed or a given tensor has the wrong shape; at call, the
            input is not of rank 4 or has the wrong number of channels (Keras' ``InputSpec``).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> up = sd.TransposedConv2D(filter_shape=(2, 2, 3, 8), strides=(2, 2), padding="same")
        >>> up(tf.ones([1, 7, 7, 8])).shape
        TensorShape([1, 14, 14, 3])
    """

    _swift = "TransposedConv2D"
    _spatial = 2
    _filters = {"filter": "(height, width, output channels, input channels)"}

    def __init__(
        self,
        filter_shape: Sequence[int] | None = None,
        strides: int | Sequence[int] = (1, 1),
        padding: str = "valid",
        activation: Activation = activations.identity,
        use_bias: bool | None = None,
        *,
        filter: Any = None,
        bias: Any = None,
        **kwargs: Any,
    ):
        super().__init__(
            {"filter": filter_shape},
            {"filter": filter},
            bias,
            use_bias,
            strides,
            padding,
            1,
            activation,
            **kwargs,
        )


@_register
class TransposedConv3D(_TransposedConvolution):
    """Swift ``TransposedConv3D(filterShape:strides:padding:activation:)``, ``TransposedConv3D(filter:…)``.

    A 3-D transposed convolution (the adjoint of ``Conv3D``) over ``[batch, depth, height, width,
    channels]`` inputs. Each output size is ``size * stride`` with ``"same"`` padding and ``(size -
    1) * stride + kernel size`` with ``"valid"``, as in S4TF. The filter is ``[depth, height, width,
    output channels, input channels]``; S4TF's ``filterShape:`` form sizes the bias by the last
    (input) axis, which works only when the two channel counts agree, so here it follows the
    output-channel axis.

    Args:
        filter_shape: ``(depth, height, width, output channels, input channels)``.
        strides: The upsampling step along each spatial axis (an integer for all three).
        padding: ``"valid"`` or ``"same"`` (see above).
        activation: A function such as ``sd.relu`` (or a Keras activation name); the identity by
            default.
        use_bias: With ``filter_shape=``, whether to add ``bias`` (``True`` by default).
        filter: Instead of ``filter_shape=``: the filter, ``[depth, height, width, output channels,
            input channels]``; the layer takes its dtype unless ``dtype=`` says otherwise, not a global
            mixed-precision policy's: the tensors' dtype is the caller's choice.
        bias: With ``filter=``: ``[output channels]``; ``None``, the default, adds no bias.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        filter: ``[depth, height, width, output channels, input channels]``.
        bias: ``[output channels]``; ``None`` without a bias.

    Input shape:
        ``[batch, depth, height, width, input channels]``.

    Output shape:
        ``[batch, new depth, new height, new width, output channels]``.

    Raises:
        TypeError: Both ``filter_shape=`` and ``filter=`` are given, or neither; ``bias=`` comes
            without ``filter=`` or ``use_bias=`` with it; a given tensor is not floating;
            ``activation`` is not a function.
        ValueError: An argument is malformed or a given tensor has the wrong shape; at call, the
            input is not of rank 5 or has the wrong number of channels (Keras' ``InputSpec``).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> up = sd.TransposedConv3D(filter_shape=(2, 2, 2, 1, 4), strides=2)
        >>> up(tf.ones([1, 3, 3, 3, 4])).shape
        TensorShape([1, 6, 6, 6, 1])
    """

    _swift = "TransposedConv3D"
    _spatial = 3
    _filters = {"filter": "(depth, height, width, output channels, input channels)"}

    def __init__(
        self,
        filter_shape: Sequence[int] | None = None,
        strides: int | Sequence[int] = (1, 1, 1),
        padding: str = "valid",
        activation: Activation = activations.identity,
        use_bias: bool | None = None,
        *,
        filter: Any = None,
        bias: Any = None,
        **kwargs: Any,
    ):
        super().__init__(
            {"filter": filter_shape},
            {"filter": filter},
            bias,
            use_bias,
            strides,
            padding,
            1,
            activation,
            **kwargs,
        )


def _depthwise(input, filter, strides: Sequence[int], padding: str, dilations: Sequence[int]):
    # tf.nn.depthwise_conv2d takes dilations only with strides of 1; S4TF allows both, and
    # TensorFlow's native dilations have a wrong CPU gradient, so the filter is dilated instead.
    return tf.nn.depthwise_conv2d(
        input, _dilated_filter(filter, dilations), [1, *strides, 1], padding.upper()
    )


@_register
class DepthwiseConv2D(_Convolution):
    """Swift ``DepthwiseConv2D(filterShape:strides:padding:dilations:activation:)``, ``(filter:bias:…)``.

    A depthwise 2-D convolution over NHWC inputs: each input channel is convolved with its own
    ``multiplier`` filters, giving ``input channels * multiplier`` output channels (channel ``c *
    multiplier + m`` comes from input channel ``c`` and filter ``m``). The bias is ``[input channels
    * multiplier]``, as in S4TF.

    Args:
        filter_shape: ``(height, width, input channels, channel multiplier)``.
        strides: The step of the filter along height and width (an integer for both).
        padding: ``"valid"`` (no padding) or ``"same"`` (output size ``ceil(input / stride)``).
        dilations: The dilation of the filter along height and width (an integer for both).
        activation: A function such as ``sd.relu`` (or a Keras activation name); the identity by
            default.
        use_bias: With ``filter_shape=``, whether to add ``bias`` (``True`` by default).
        filter: Instead of ``filter_shape=``: the filter, ``[height, width, input channels,
            channel multiplier]``; the layer takes its dtype unless ``dtype=`` says otherwise,
            not a global mixed-precision policy's: the tensors' dtype is the caller's choice.
        bias: With ``filter=``: ``[input channels * multiplier]``; ``None``, the default, adds no
            bias.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        filter: ``[height, width, input channels, channel multiplier]``.
        bias: ``[input channels * multiplier]``; ``None`` without a bias.

    Input shape:
        ``[batch, height, width, input channels]``.

    Output shape:
        ``[batch, new height, new width, input channels * multiplier]``.

    Raises:
        TypeError: Both ``filter_shape=`` and ``filter=`` are given, or neither; ``bias=`` comes
            without ``filter=`` or ``use_bias=`` with it; a given tensor is not floating;
            ``activation`` is not a function.
        ValueError: An argument is malformed or a given tensor has the wrong shape; at call, the
            input is not of rank 4 or has the wrong number of channels (Keras' ``InputSpec``).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> depthwise = sd.DepthwiseConv2D(filter_shape=(3, 3, 4, 2), padding="same")
        >>> depthwise(tf.ones([1, 8, 8, 4])).shape
        TensorShape([1, 8, 8, 8])
    """

    _swift = "DepthwiseConv2D"
    _spatial = 2
    _filters = {"filter": "(height, width, input channels, channel multiplier)"}

    def __init__(
        self,
        filter_shape: Sequence[int] | None = None,
        strides: int | Sequence[int] = (1, 1),
        padding: str = "valid",
        dilations: int | Sequence[int] = (1, 1),
        activation: Activation = activations.identity,
        use_bias: bool | None = None,
        *,
        filter: Any = None,
        bias: Any = None,
        **kwargs: Any,
    ):
        super().__init__(
            {"filter": filter_shape},
            {"filter": filter},
            bias,
            use_bias,
            strides,
            padding,
            dilations,
            activation,
            **kwargs,
        )

    def _channels(self) -> tuple[int, int]:
        return self.filter_shape[2], self.filter_shape[2] * self.filter_shape[3]

    def _convolve(self, input):
        return _depthwise(input, self.filter, self._strides, self.padding, self._dilations)

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        return _windowed_shape(
            input_shape,
            self.filter_shape[:2],
            self._strides,
            self._dilations,
            self.padding,
            self._channels()[1],
            self._swift,
        )


@_register
class SeparableConv2D(_Convolution):
    """Swift ``SeparableConv2D(depthwiseFilterShape:pointwiseFilterShape:…)``, ``(depthwiseFilter:…)``.

    A depthwise convolution (``depthwise_filter``, with the strides, padding and dilations) followed
    by a convolution with ``pointwise_filter`` (stride 1, the same padding), as S4TF computes it; the
    pointwise filter is usually ``1 x 1``, which makes this Keras' ``SeparableConv2D``.

    Args:
        depthwise_filter_shape: ``(height, width, input channels, channel multiplier)``.
        pointwise_filter_shape: ``(height, width, input channels * multiplier, output channels)``,
            usually ``(1, 1, …)``.
        strides: The step of the depthwise filter along height and width (an integer for both).
        padding: ``"valid"`` (no padding) or ``"same"`` (output size ``ceil(input / stride)``).
        dilations: The dilation of the depthwise filter (an integer for both axes).
        activation: A function such as ``sd.relu`` (or a Keras activation name); the identity by
            default.
        use_bias: With the shapes, whether to add ``bias`` (``True`` by default).
        depthwise_filter: Instead of the shapes: the depthwise filter; the layer takes its dtype unless
            ``dtype=`` says otherwise, not a global mixed-precision policy's: the tensors' dtype is the
            caller's choice.
        pointwise_filter: With ``depthwise_filter=``: the pointwise filter.
        bias: With the filters: ``[output channels]``; ``None``, the default, adds no bias.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        depthwise_filter: ``[height, width, input channels, channel multiplier]``.
        pointwise_filter: ``[height, width, input channels * multiplier, output channels]``.
        bias: ``[output channels]``; ``None`` without a bias.

    Input shape:
        ``[batch, height, width, input channels]``.

    Output shape:
        ``[batch, new height, new width, output channels]``.

    Raises:
        TypeError: Both shapes and filters are given, or neither, or only one of a pair;
            ``bias=`` comes without the filters or ``use_bias=`` with them; a given tensor is not
            floating; ``activation`` is not a function.
        ValueError: An argument is malformed, a given tensor has the wrong shape or the pointwise
            filter does not take the depthwise filter's channels; at call, the input is not of
            rank 4 or has the wrong number of channels (Keras' ``InputSpec``).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> separable = sd.SeparableConv2D(
        ...     depthwise_filter_shape=(3, 3, 4, 2), pointwise_filter_shape=(1, 1, 8, 16))
        >>> separable(tf.ones([1, 8, 8, 4])).shape
        TensorShape([1, 6, 6, 16])
    """

    _swift = "SeparableConv2D"
    _spatial = 2
    _filters = {
        "depthwise_filter": "(height, width, input channels, channel multiplier)",
        "pointwise_filter": "(height, width, input channels * multiplier, output channels)",
    }

    def __init__(
        self,
        depthwise_filter_shape: Sequence[int] | None = None,
        pointwise_filter_shape: Sequence[int] | None = None,
        strides: int | Sequence[int] = (1, 1),
        padding: str = "valid",
        dilations: int | Sequence[int] = (1, 1),
        activation: Activation = activations.identity,
        use_bias: bool | None = None,
        *,
        depthwise_filter: Any = None,
        pointwise_filter: Any = None,
        bias: Any = None,
        **kwargs: Any,
    ):
        super().__init__(
            {"depthwise_filter": depthwise_filter_shape, "pointwise_filter": pointwise_filter_shape},
            {"depthwise_filter": depthwise_filter, "pointwise_filter": pointwise_filter},
            bias,
            use_bias,
            strides,
            padding,
            dilations,
            activation,
            **kwargs,
        )

    def _channels(self) -> tuple[int, int]:
        height, width, channels, multiplier = self.depthwise_filter_shape
        pointwise = self.pointwise_filter_shape
        if pointwise[2] != channels * multiplier:
            raise ValueError(
                f"sd.SeparableConv2D: the pointwise filter {list(pointwise)} must take the depthwise "
                f"filter's {channels} x {multiplier} = {channels * multiplier} channels (its axis 2)"
            )
        return channels, pointwise[3]

    def _convolve(self, input):
        depthwise = _depthwise(input, self.depthwise_filter, self._strides, self.padding, self._dilations)
        return tf.nn.conv2d(depthwise, self.pointwise_filter, 1, self.padding.upper())

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        depthwise, pointwise = self.depthwise_filter_shape, self.pointwise_filter_shape
        shape = _windowed_shape(
            input_shape, depthwise[:2], self._strides, self._dilations, self.padding, None, self._swift
        )
        return _windowed_shape(shape, pointwise[:2], (1, 1), (1, 1), self.padding, pointwise[3], self._swift)


@_register
class SeparableConv1D(_Convolution):
    """Swift ``SeparableConv1D(depthwiseFilterShape:pointwiseFilterShape:…)``, ``(depthwiseFilter:…)``.

    A 1-D depthwise convolution (``depthwise_filter``, with the stride, padding and dilation)
    followed by a convolution with ``pointwise_filter`` (stride 1, the same padding), over
    ``[batch, width, channels]`` inputs; the pointwise filter is usually 1 wide, which makes this
    Keras' ``SeparableConv1D``. The filters slide along the width (S4TF's code inserts the unit axis
    of its 2-D kernels on the other side of the filter's width, which only a 1-wide filter survives).

    Args:
        depthwise_filter_shape: ``(width, input channels, channel multiplier)``.
        pointwise_filter_shape: ``(width, input channels * multiplier, output channels)``, usually
            ``(1, …)``.
        stride: The step of the depthwise filter (one integer, as in Swift).
        padding: ``"valid"`` (no padding) or ``"same"`` (output width ``ceil(width / stride)``).
        dilation: The dilation of the depthwise filter (one integer); it may be combined with a
            stride.
        activation: A function such as ``sd.relu`` (or a Keras activation name); the identity by
            default.
        use_bias: With the shapes, whether to add ``bias`` (``True`` by default).
        depthwise_filter: Instead of the shapes: the depthwise filter; the layer takes its dtype unless
            ``dtype=`` says otherwise, not a global mixed-precision policy's: the tensors' dtype is the
            caller's choice.
        pointwise_filter: With ``depthwise_filter=``: the pointwise filter.
        bias: With the filters: ``[output channels]``; ``None``, the default, adds no bias.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        depthwise_filter: ``[width, input channels, channel multiplier]``.
        pointwise_filter: ``[width, input channels * multiplier, output channels]``.
        bias: ``[output channels]``; ``None`` without a bias.

    Input shape:
        ``[batch, width, input channels]``.

    Output shape:
        ``[batch, new width, output channels]``.

    Raises:
        TypeError: Both shapes and filters are given, or neither, or only one of a pair;
            ``bias=`` comes without the filters or ``use_bias=`` with them; a given tensor is not
            floating; ``activation`` is not a function.
        ValueError: An argument is malformed, a given tensor has the wrong shape or the pointwise
            filter does not take the depthwise filter's channels; at call, the input is not of
            rank 3 or has the wrong number of channels (Keras' ``InputSpec``).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> separable = sd.SeparableConv1D(
        ...     depthwise_filter_shape=(3, 4, 2), pointwise_filter_shape=(1, 8, 16), stride=2)
        >>> separable(tf.ones([1, 9, 4])).shape
        TensorShape([1, 4, 16])
        >>> ones = tf.ones([2, 1, 1]), tf.ones([1, 1, 1])
        >>> total = sd.SeparableConv1D(depthwise_filter=ones[0], pointwise_filter=ones[1])
        >>> total(tf.constant([[[1.0], [2.0], [3.0]]]))[0, :, 0].numpy().tolist()
        [3.0, 5.0]
    """

    _swift = "SeparableConv1D"
    _spatial = 1
    _filters = {
        "depthwise_filter": "(width, input channels, channel multiplier)",
        "pointwise_filter": "(width, input channels * multiplier, output channels)",
    }

    def __init__(
        self,
        depthwise_filter_shape: Sequence[int] | None = None,
        pointwise_filter_shape: Sequence[int] | None = None,
        stride: int = 1,
        padding: str = "valid",
        dilation: int = 1,
        activation: Activation = activations.identity,
        use_bias: bool | None = None,
        *,
        depthwise_filter: Any = None,
        pointwise_filter: Any = None,
        bias: Any = None,
        **kwargs: Any,
    ):
        super().__init__(
            {"depthwise_filter": depthwise_filter_shape, "pointwise_filter": pointwise_filter_shape},
            {"depthwise_filter": depthwise_filter, "pointwise_filter": pointwise_filter},
            bias,
            use_bias,
            stride,
            padding,
            dilation,
            activation,
            **kwargs,
        )

    def _channels(self) -> tuple[int, int]:
        width, channels, multiplier = self.depthwise_filter_shape
        pointwise = self.pointwise_filter_shape
        if pointwise[1] != channels * multiplier:
            raise ValueError(
                f"sd.SeparableConv1D: the pointwise filter {list(pointwise)} must take the depthwise "
                f"filter's {channels} x {multiplier} = {channels * multiplier} channels (its axis 1)"
            )
        return channels, pointwise[2]

    def _convolve(self, input):
        # A unit height in front of the width: TensorFlow's depthwise kernel is 2-D only, and takes
        # equal strides only (harmless along a unit height with a unit-high filter, as in S4TF).
        stride, dilation = self._strides * 2, self._dilations * 2
        depthwise = _depthwise(input[:, None], self.depthwise_filter[None], stride, self.padding, dilation)
        return tf.nn.conv1d(depthwise[:, 0], self.pointwise_filter, 1, self.padding.upper())

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        depthwise, pointwise = self.depthwise_filter_shape, self.pointwise_filter_shape
        shape = _windowed_shape(
            input_shape, depthwise[:1], self._strides, self._dilations, self.padding, None, self._swift
        )
        return _windowed_shape(shape, pointwise[:1], (1,), (1,), self.padding, pointwise[2], self._swift)


def _padding_amounts(value: Any, spatial: int, layer: str) -> tuple[tuple[int, int], ...]:
    """One ``(before, after)`` pair per spatial axis, from Swift's two forms of ``padding:``."""

    def amount(size: Any) -> bool:
        return isinstance(size, int) and not isinstance(size, bool) and size >= 0

    def pair(item: Any) -> tuple[int, int] | None:
        if amount(item) and spatial > 1:  # the convenience form: the same before and after
            return item, item
        try:
            before, after = item
        except (TypeError, ValueError):
            return None
        return (before, after) if amount(before) and amount(after) else None

    if spatial == 1:
        pairs = [(value, value) if amount(value) else pair(value)]
    else:
        try:
            items = list(value)
        except TypeError:
            items = []
        forms = {amount(item) for item in items}
        pairs = [pair(item) for item in items] if len(items) == spatial and len(forms) == 1 else [None]
    if None in pairs:
        wanted = {
            1: "a non-negative integer or a pair (before, after) of them",
            2: "2 pairs (before, after) of non-negative integers, one per axis, or 2 non-negative integers",
            3: "3 pairs (before, after) of non-negative integers, one per axis, or 3 non-negative integers",
        }[spatial]
        raise ValueError(f"sd.{layer}: padding= must be {wanted}, got {value!r}")
    return tuple(p for p in pairs if p is not None)


class _ZeroPadding(Layer):
    """What the zero-padding layers share: zeros before and after each spatial axis, channels-last.

    Parameterless and generic over the scalar in S4TF, so the input keeps its dtype (float64
    stays float64; no autocast to the layer's dtype).
    """

    _spatial: ClassVar[int]

    def __init__(self, padding: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self._pairs = _padding_amounts(padding, self._spatial, type(self).__name__)
        self.padding = self._pairs[0] if self._spatial == 1 else self._pairs
        self.input_spec = keras.InputSpec(ndim=self._spatial + 2)
        self.autocast = False
        self.built = True

    def call(self, input):
        input = tf.convert_to_tensor(input)
        return tf.pad(input, [(0, 0), *self._pairs, (0, 0)])

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        batch, *spatial, channels = input_shape
        sizes = (
            None if s is None else s + before + after
            for s, (before, after) in zip(spatial, self._pairs, strict=True)
        )
        return (batch, *sizes, channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": self.padding}


@_register
class ZeroPadding1D(_ZeroPadding):
    """Swift ``ZeroPadding1D(padding:)``: zeros before and after the steps of ``[batch, steps, c]``.

    Args:
        padding: ``(before, after)``, the zeros added at the beginning and end of the steps; or one
            integer for both, as Swift's ``init(padding: Int)``.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ...); the input keeps its dtype.

    Attributes:
        padding: ``(before, after)``.

    Input shape:
        ``[batch, steps, channels]``.

    Output shape:
        ``[batch, before + steps + after, channels]``.

    Raises:
        ValueError: ``padding`` is not a non-negative integer or a pair of them; at call, the
            input is not of rank 3 (Keras' ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.ZeroPadding1D(padding=(1, 2))(tf.constant([[[5.0], [6.0]]]))[0, :, 0].numpy().tolist()
        [0.0, 5.0, 6.0, 0.0, 0.0]
        >>> sd.ZeroPadding1D(padding=1)(tf.ones([4, 3, 2])).shape
        TensorShape([4, 5, 2])
    """

    _spatial = 1


@_register
class ZeroPadding2D(_ZeroPadding):
    """Swift ``ZeroPadding2D(padding:)``: zeros before and after the rows and columns, NHWC.

    Args:
        padding: ``((top, bottom), (left, right))``; or, as Swift's ``init(padding: (Int, Int))``,
            ``(height, width)``: that many zeros on both sides of each axis.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ...); the input keeps its dtype.

    Attributes:
        padding: ``((top, bottom), (left, right))``.

    Input shape:
        ``[batch, height, width, channels]``.

    Output shape:
        ``[batch, top + height + bottom, left + width + right, channels]``.

    Raises:
        ValueError: ``padding`` is not 2 pairs of non-negative integers or 2 non-negative integers
            (one integer alone is not one of Swift's forms); at call, the input is not of rank 4
            (Keras' ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.ZeroPadding2D(padding=((1, 0), (0, 1)))(tf.ones([1, 1, 1, 1]))[0, :, :, 0].numpy().tolist()
        [[0.0, 0.0], [1.0, 0.0]]
        >>> sd.ZeroPadding2D(padding=(1, 2))(tf.ones([1, 3, 3, 2])).shape
        TensorShape([1, 5, 7, 2])
    """

    _spatial = 2


@_register
class ZeroPadding3D(_ZeroPadding):
    """Swift ``ZeroPadding3D(padding:)``: zeros before and after each spatial axis, NDHWC.

    Args:
        padding: Three ``(before, after)`` pairs, one per spatial axis in the input's order; or, as
            Swift's ``init(padding: (Int, Int, Int))``, three integers: that many zeros on both
            sides of each axis.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ...); the input keeps its dtype.

    Attributes:
        padding: Three ``(before, after)`` pairs.

    Input shape:
        ``[batch, depth, height, width, channels]``.

    Output shape:
        ``[batch, padded depth, padded height, padded width, channels]``.

    Raises:
        ValueError: ``padding`` is not 3 pairs of non-negative integers or 3 non-negative integers;
            at call, the input is not of rank 5 (Keras' ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.ZeroPadding3D(padding=(1, 0, 2))(tf.ones([1, 2, 2, 2, 3])).shape
        TensorShape([1, 4, 2, 6, 3])
        >>> padded = sd.ZeroPadding3D(padding=((0, 1), (0, 0), (0, 0)))(tf.ones([1, 1, 1, 1, 1]))
        >>> padded[0, :, 0, 0, 0].numpy().tolist()
        [1.0, 0.0]
    """

    _spatial = 3
