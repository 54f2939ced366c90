"""S4TF's layers on Keras 3: ``Dense``, ``Conv2D``, ``MaxPool2D``, ``AvgPool2D``, ``Flatten``,
``Dropout``, ``BatchNorm``.

Swift's labels, variable names (``weight``/``bias``, ``filter``/``bias``), defaults and
initializers (Glorot uniform, zero bias). Layers whose sizes are given create their variables at
construction, as in Swift, so optimizers and gradients work before any forward pass; layers built
from given tensors (``Dense(weight=, bias=)``, ``Conv2D(filter=, bias=)``) make variables holding
copies of them, saved like any others. The convolutions' shared machinery (``_Convolution``) is
here too; ``swiftdiff.convolution_layers`` builds S4TF's other convolutions on it. All are
ordinary Keras layers: inputs checked by their ``keras.InputSpec``, Sequential/functional models,
``fit``, ``.keras`` saving (registered, no ``custom_objects`` needed) and ``tf.distribute``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

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


def _sizes(value: Any, count: int, label: str, layer: str) -> tuple[int, ...]:
    """``count`` positive integers from one integer (used for every axis) or a sequence of ``count``."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,) * count
    try:
        sizes = tuple(value)
    except TypeError:
        sizes = ()
    if len(sizes) != count or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in sizes
    ):
        words = "a positive integer" if count == 1 else f"{count} positive integers"
        raise ValueError(f"sd.{layer}: {label}= must be {words}, got {value!r}")
    return sizes


def _probability(probability: Any, layer: str) -> float:
    """A dropout probability, in ``[0, 1)`` (1 would divide by zero), as a float."""
    if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability < 1:
        raise ValueError(f"sd.{layer}: probability= must be a number in [0, 1), got {probability!r}")
    return float(probability)


def _pair(value: Any, label: str, layer: str) -> tuple[int, int]:
    height, width = _sizes(value, 2, label, layer)
    return height, width


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
    """The channels-last output shape of a window (a filter or a pool) slid over ``input_shape``.

    Per spatial axis (any number of them): ``floor((size - 1) / stride) + 1`` with ``same``
    padding, and ``floor((size - span) / stride) + 1`` with ``valid`` padding, where the window
    spans ``dilation * (window - 1) + 1`` inputs; an unknown size stays unknown.
    """
    batch, *sizes, _ = input_shape
    spatial: list[int | None] = []
    for size, extent, stride, dilation in zip(sizes, window, strides, dilations, strict=True):
        if size is None:
            spatial.append(None)
            continue
        span = dilation * (extent - 1) + 1
        if padding == "same":
            spatial.append((size - 1) // stride + 1)
        elif size < span:
            described = "x".join(map(str, window)) if len(window) > 1 else f"{window[0]}-wide"
            raise ValueError(
                f"sd.{layer}: inputs of shape {list(input_shape)} are smaller than its "
                f"{described} window with padding 'valid'"
            )
        else:
            spatial.append((size - span) // stride + 1)
    return (batch, *spatial, channels)


def _given(value: Any, label: str, layer: str, ranks: Sequence[int]) -> tf.Tensor:
    """A tensor handed to a layer's from-tensors form (Swift ``Dense(weight:…)``), checked.

    Lists of Python floats become float32 (the package's rule); a float64 array stays float64.
    """
    if value is None or isinstance(value, (bool, str, bytes)):
        raise TypeError(f"sd.{layer}: {label}= must be a floating tensor, got {type(value).__name__}")
    try:
        tensor = tf.convert_to_tensor(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"sd.{layer}: {label}= must be a floating tensor, got {type(value).__name__}"
        ) from None
    if not tensor.dtype.is_floating:
        raise TypeError(f"sd.{layer}: {label}= must be floating, got dtype {tensor.dtype.name}")
    if tensor.shape.rank not in ranks:
        wanted = " or ".join(map(str, ranks))
        raise ValueError(f"sd.{layer}: {label}= must have rank {wanted}, got shape {tensor.shape.as_list()}")
    return tensor


def _from_tensors(
    layer: str, sizes: dict[str, Any], tensors: dict[str, Any], bias: Any, use_bias: bool | None
) -> bool:
    """Whether a layer is built from given tensors (Swift ``Conv2D(filter:bias:…)``) rather than
    from sizes (``Conv2D(filterShape:…)``); a ``TypeError`` unless exactly one form is given.

    ``sizes`` and ``tensors`` map the labels of each form to the values passed (``None`` when
    left out). ``bias=`` belongs to the tensors form (``None`` there is Swift's ``bias: nil``),
    ``use_bias=`` to the sizes form.
    """
    size_labels = " and ".join(f"{label}=" for label in sizes)
    tensor_labels = " and ".join(f"{label}=" for label in tensors)
    has_sizes = [value is not None for value in sizes.values()]
    has_tensors = [value is not None for value in tensors.values()]
    either = f"give {size_labels} (new variables) or {tensor_labels} (given tensors)"
    if any(has_sizes) and any(has_tensors):
        raise TypeError(f"sd.{layer}: {either}, not both")
    if any(has_sizes) or not any(has_tensors):
        if bias is not None:
            raise TypeError(f"sd.{layer}: bias= goes with {tensor_labels}; with {size_labels} use use_bias=")
        if not any(has_sizes):
            raise TypeError(f"sd.{layer}: {either}")
        if not all(has_sizes):
            raise TypeError(f"sd.{layer}: {size_labels} go together")
        return False
    if not all(has_tensors):
        raise TypeError(f"sd.{layer}: {tensor_labels} go together")
    if use_bias is not None:
        raise TypeError(
            f"sd.{layer}: use_bias= goes with {size_labels}; with {tensor_labels} pass bias= "
            f"(leaving it out, or bias=None, means no bias)"
        )
    return True


def _new_variable(
    layer: keras.layers.Layer, name: str, shape: Sequence[int], given: tf.Tensor | None, initializer: str
) -> keras.Variable:
    """The variable ``name``: holding ``given`` (cast to the layer's dtype), or initialized by
    ``initializer`` when no tensor is given."""
    return layer.add_weight(
        shape=tuple(shape), initializer=initializer if given is None else given, name=name
    )


def _dilated_filter(filter, dilations: Sequence[int]):
    """``filter`` with ``dilation - 1`` zeros between its taps along each leading (spatial) axis.

    Convolving with it is the dilated convolution, computed by the undilated kernels. Used where
    TensorFlow's dilated kernels fail: the float64 CPU gradient of ``Conv2D`` (and so ``Conv1D``)
    refuses dilations, the CPU gradient of ``DepthwiseConv2dNative`` ignores them (or aborts in
    oneDNN), and ``Conv3D``'s static shape swaps the height and width dilations, which breaks
    graphs and XLA.
    """
    filter = tf.convert_to_tensor(filter)
    for axis, dilation in enumerate(dilations):
        if dilation == 1:
            continue
        shape = filter.shape.as_list()
        taps = [filter] + [tf.zeros_like(filter)] * (dilation - 1)
        spread = tf.reshape(
            tf.stack(taps, axis=axis + 1), [*shape[:axis], shape[axis] * dilation, *shape[axis + 1 :]]
        )
        filter = spread[(slice(None),) * axis + (slice(0, (shape[axis] - 1) * dilation + 1),)]
    return filter


def _normalizing_dtype(layer: keras.layers.Layer) -> tf.DType:
    """The dtype a normalization layer computes in: float32 for a float16 or bfloat16 compute dtype
    (a mixed-precision policy), its compute dtype otherwise.

    Moments of half-precision values overflow (a variance above 65504 is float16's ``inf``, whose
    reciprocal square root zeroes the output), so they are taken in float32, as Keras'
    normalization layers take them; the layer then casts its output to its compute dtype.
    """
    dtype = tf.as_dtype(layer.compute_dtype)
    return tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype


@_register
class Dense(Layer):
    """Swift ``Dense(inputSize:outputSize:activation:)`` and ``Dense(weight:bias:activation:)``.

    Computes ``activation(input @ weight + bias)``. Built from sizes (``input_size=``, ``output_size=``)
    the variables are new: a Glorot-uniform ``weight`` and a zero ``bias``. Built from given tensors
    (``weight=``, ``bias=``) they start as copies of those tensors, in their dtype (a float64 weight
    makes a float64 layer) unless ``dtype=`` says otherwise, not a global mixed-precision policy's: the
    tensors' dtype is the caller's choice. A rank-3 ``weight`` ``[batch, input_size, output_size]``
    makes S4TF's batched dense layer: example ``i`` of a ``[batch, input_size]`` input is multiplied by
    its own ``weight[i]``.

    Args:
        input_size: The number of input features (the last axis of the input).
        output_size: The number of output features.
        activation: A function such as ``sd.relu`` (or a Keras activation name); the identity by
            default.
        use_bias: With sizes, whether to add ``bias`` (``True`` by default).
        weight: Instead of sizes: ``[input_size, output_size]``, or ``[batch, input_size,
            output_size]`` for a batched layer.
        bias: With ``weight=``: ``[output_size]``, or ``[1, output_size]`` (or ``[batch,
            output_size]`` for a batched layer); ``None``, the default, adds no bias, like
            Swift's ``bias: nil``.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        weight: ``[input_size, output_size]`` (or ``[batch, input_size, output_size]``).
        bias: ``[output_size]`` (or the given bias's shape); ``None`` without a bias.

    Input shape:
        ``[..., input_size]`` (rank 1 or more); ``[batch, input_size]`` for a batched layer.

    Output shape:
        ``[..., output_size]``; ``[batch, output_size]`` for a batched layer.

    Raises:
        TypeError: Both sizes and ``weight=`` are given, or neither; ``bias=`` comes without
            ``weight=`` or ``use_bias=`` with it; a given tensor is not floating; ``activation``
            is not a function.
        ValueError: A size is not a positive integer; a given tensor has the wrong rank or a
            ``bias`` does not match ``weight``; at call, the input's last axis is not
            ``input_size``, or a batched layer's input is not ``[batch, input_size]`` (Keras'
            ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> dense = sd.Dense(input_size=3, output_size=2, activation=sd.relu)
        >>> tuple(dense(tf.ones([4, 3])).shape), tuple(dense.weight.shape)
        ((4, 2), (3, 2))
        >>> given = sd.Dense(weight=tf.ones([3, 2]), bias=tf.constant([1.0, -1.0]))
        >>> given(tf.ones([1, 3])).numpy().tolist()
        [[4.0, 2.0]]
        >>> batched = sd.Dense(weight=tf.reshape(tf.range(12.0), [2, 2, 3]))  # [batch, in, out]
        >>> batched(tf.constant([[1.0, 0.0], [0.0, 1.0]])).numpy().tolist()
        [[0.0, 1.0, 2.0], [9.0, 10.0, 11.0]]
    """

    def __init__(
        self,
        input_size: int | None = None,
        output_size: int | None = None,
        activation: Activation = activations.identity,
        use_bias: bool | None = None,
        *,
        weight: Any = None,
        bias: Any = None,
        **kwargs: Any,
    ):
        if _from_tensors(
            "Dense",
            {"input_size": input_size, "output_size": output_size},
            {"weight": weight},
            bias,
            use_bias,
        ):
            weight = _given(weight, "weight", "Dense", ranks=(2, 3))
            *batch, input_size, output_size = weight.shape.as_list()
            if bias is not None:
                bias = _given(bias, "bias", "Dense", ranks=(1, 2))
                allowed = [[output_size], [1, output_size], *([[batch[0], output_size]] if batch else [])]
                if bias.shape.as_list() not in allowed:
                    raise ValueError(
                        f"sd.Dense: bias= must have shape "
                        f"{' or '.join(map(str, allowed))} for a weight of shape {weight.shape.as_list()}, "
                        f"got {bias.shape.as_list()}"
                    )
            kwargs.setdefault("dtype", weight.dtype.name)
            use_bias = bias is not None
        super().__init__(**kwargs)
        self.input_size = _positive_int(input_size, "input_size", "Dense")
        self.output_size = _positive_int(output_size, "output_size", "Dense")
        self.activation = _activation(activation, "Dense")
        self.use_bias = True if use_bias is None else bool(use_bias)
        weight_shape = (self.input_size, self.output_size) if weight is None else tuple(weight.shape)
        #: Swift's ``batched``: a rank-3 weight, one matrix per example.
        self.batched = len(weight_shape) == 3
        self.input_spec = (
            keras.InputSpec(ndim=2, axes={0: weight_shape[0], -1: self.input_size})
            if self.batched
            else keras.InputSpec(min_ndim=1, axes={-1: self.input_size})
        )
        self.weight = _new_variable(self, "weight", weight_shape, weight, "glorot_uniform")
        self.bias = (
            _new_variable(self, "bias", (self.output_size,) if bias is None else bias.shape, bias, "zeros")
            if self.use_bias
            else None
        )
        self.built = True

    def call(self, input):
        if self.batched:  # S4TF: matmul(input.expandingShape(at: 1), weight).squeezingShape(at: 1)
            y = keras.ops.einsum("bi,bio->bo", input, self.weight)
        else:
            y = keras.ops.matmul(input, self.weight)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.output_size)

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "activation": keras.saving.serialize_keras_object(self.activation)}
        if self.batched or (self.bias is not None and len(self.bias.shape) == 2):
            # No sizes make this layer: from_config rebuilds it from tensors of these shapes.
            bias_shape = None if self.bias is None else list(self.bias.shape)
            return {**config, "weight_shape": list(self.weight.shape), "bias_shape": bias_shape}
        return {
            **config,
            "input_size": self.input_size,
            "output_size": self.output_size,
            "use_bias": self.use_bias,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Dense:
        config = dict(config)
        if "weight_shape" in config:  # the saved variables replace these zeros
            config["weight"] = tf.zeros(config.pop("weight_shape"))
            bias_shape = config.pop("bias_shape")
            config["bias"] = None if bias_shape is None else tf.zeros(bias_shape)
        return super().from_config(config)


class _Convolution(Layer):
    """What the convolution layers share: filters and a bias made from sizes or from given
    tensors, strides, padding, dilations and an activation, over channels-last inputs.

    A subclass's ``__init__`` takes Swift's labels and passes them on; its class attributes name
    its filter variables (in S4TF's order) with their axes. The convolution here is the plain one
    (``Conv1D/2D/3D``); other kinds override ``_channels``, ``_convolve`` and
    ``compute_output_shape``. One-dimensional layers take one integer ``stride=``/``dilation=``,
    as in Swift; the others ``strides=``/``dilations=``.
    """

    _swift: ClassVar[str] = "Conv2D"
    #: The number of spatial axes.
    _spatial: ClassVar[int] = 2
    #: The filter variables, in S4TF's order, each with its axes (for messages).
    _filters: ClassVar[dict[str, str]] = {"filter": "(height, width, input channels, output channels)"}
    #: Whether the layer takes dilations (transposed convolutions do not, as in S4TF).
    _takes_dilations: ClassVar[bool] = True

    def __init__(
        self,
        shapes: dict[str, Any],
        tensors: dict[str, Any],
        bias: Any,
        use_bias: bool | None,
        strides: Any,
        padding: Any,
        dilations: Any,
        activation: Activation,
        **kwargs: Any,
    ):
        layer, rank = self._swift, self._spatial + 2
        sizes = {f"{name}_shape": shapes[name] for name in self._filters}
        given: dict[str, tf.Tensor | None] = dict.fromkeys(self._filters)
        if _from_tensors(layer, sizes, tensors, bias, use_bias):
            filters = [_given(tensors[name], name, layer, ranks=(rank,)) for name in self._filters]
            given = dict(zip(self._filters, filters, strict=True))
            filter_shapes = {
                name: tuple(f.shape.as_list()) for name, f in zip(self._filters, filters, strict=True)
            }
            kwargs.setdefault("dtype", filters[0].dtype.name)
            use_bias = bias is not None
        else:
            filter_shapes = {name: self._filter_shape(shapes[name], name) for name in self._filters}
        super().__init__(**kwargs)
        for name, shape in filter_shapes.items():
            setattr(self, f"{name}_shape", shape)
        input_channels, output_channels = self._channels()
        if bias is not None:
            bias = _given(bias, "bias", layer, ranks=(1,))
            if bias.shape.as_list() != [output_channels]:
                raise ValueError(
                    f"sd.{layer}: bias= must have shape [{output_channels}] (the output channels), "
                    f"got {bias.shape.as_list()}"
                )
        self._strides = _sizes(strides, self._spatial, self._stride_label, layer)
        self._dilations = _sizes(dilations, self._spatial, self._dilation_label, layer)
        one = self._spatial == 1  # Swift's 1-D layers take one integer
        setattr(self, self._stride_label, self._strides[0] if one else self._strides)
        if self._takes_dilations:
            setattr(self, self._dilation_label, self._dilations[0] if one else self._dilations)
        self.padding = _padding(padding, layer)
        self.activation = _activation(activation, layer)
        self.use_bias = True if use_bias is None else bool(use_bias)
        self.input_spec = keras.InputSpec(ndim=rank, axes={-1: input_channels})
        for name in self._filters:
            setattr(self, name, _new_variable(self, name, filter_shapes[name], given[name], "glorot_uniform"))
        self.bias = _new_variable(self, "bias", (output_channels,), bias, "zeros") if self.use_bias else None
        self.built = True

    @property
    def _stride_label(self) -> str:
        return "stride" if self._spatial == 1 else "strides"

    @property
    def _dilation_label(self) -> str:
        return "dilation" if self._spatial == 1 else "dilations"

    def _filter_shape(self, value: Any, name: str) -> tuple[int, ...]:
        try:
            shape = tuple(value)
        except TypeError:
            shape = ()
        if len(shape) != self._spatial + 2:
            raise ValueError(f"sd.{self._swift}: {name}_shape= must be {self._filters[name]}, got {value!r}")
        return tuple(_positive_int(size, f"{name}_shape", self._swift) for size in shape)

    def _channels(self) -> tuple[int, int]:
        """``(input channels, output channels)`` of the filter shapes (checked against each other)."""
        return self.filter_shape[-2], self.filter_shape[-1]

    def _convolve(self, input):
        convolution = {1: tf.nn.conv1d, 2: tf.nn.conv2d, 3: tf.nn.conv3d}[self._spatial]
        filter, dilations = self.filter, self._dilations
        if input.dtype == tf.float64 and max(dilations) > 1:
            # TensorFlow's float64 CPU kernel cannot differentiate a dilated convolution
            # (Conv2DBackpropInput refuses dilations), so the filter is dilated instead.
            filter, dilations = _dilated_filter(filter, dilations), (1,) * self._spatial
        # TensorFlow's kernels take strides and dilations together, as S4TF's conv2D does
        # (keras.ops.conv and tf.nn.convolution refuse strides > 1 with dilations > 1).
        return convolution(
            input, filter, [1, *self._strides, 1], self.padding.upper(), dilations=[1, *dilations, 1]
        )

    def call(self, input):
        input = tf.convert_to_tensor(input)
        # An input smaller than a "valid" window: a short error naming the layer, not the kernel's.
        self.compute_output_shape(tuple(input.shape))
        y = self._convolve(input)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        window, channels = self.filter_shape[:-2], self.filter_shape[-1]
        return _windowed_shape(
            input_shape, window, self._strides, self._dilations, self.padding, channels, self._swift
        )

    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(),
            **{f"{name}_shape": getattr(self, f"{name}_shape") for name in self._filters},
            self._stride_label: getattr(self, self._stride_label),
            "padding": self.padding,
        }
        if self._takes_dilations:
            config[self._dilation_label] = getattr(self, self._dilation_label)
        return {
            **config,
            "activation": keras.saving.serialize_keras_object(self.activation),
            "use_bias": self.use_bias,
        }


@_register
class Conv2D(_Convolution):
    """Swift ``Conv2D(filterShape:strides:padding:dilations:activation:)``, ``Conv2D(filter:bias:…)``.

    A 2-D convolution over NHWC inputs. Built from ``filter_shape=`` the variables are new: a
    Glorot-uniform ``filter`` and a zero ``bias``. Built from given tensors (``filter=``, ``bias=``)
    they start as copies of those tensors, in their dtype unless ``dtype=`` says otherwise,
    not a global mixed-precision policy's: the tensors' dtype is the caller's choice.

    Args:
        filter_shape: ``(height, width, input channels, output channels)``.
        strides: The step of the filter along height and width (an integer for both).
        padding: ``"valid"`` (no padding) or ``"same"`` (output size ``ceil(input / stride)``).
        dilations: The dilation of the filter along height and width (an integer for both);
            strides and dilations above 1 may be combined, as in S4TF.
        activation: A function such as ``sd.relu`` (or a Keras activation name); the identity by
            default.
        use_bias: With ``filter_shape=``, whether to add ``bias`` (``True`` by default).
        filter: Instead of ``filter_shape=``: the filter, ``[height, width, input channels,
            output channels]``.
        bias: With ``filter=``: ``[output channels]``; ``None``, the default, adds no bias, like
            Swift's ``bias: nil``.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        filter: ``filter_shape``.
        bias: ``[output channels]``; ``None`` without a bias.

    Input shape:
        ``[batch, height, width, input channels]``.

    Output shape:
        ``[batch, new height, new width, output channels]``.

    Raises:
        TypeError: Both ``filter_shape=`` and ``filter=`` are given, or neither; ``bias=`` comes
            without ``filter=`` or ``use_bias=`` with it; a given tensor is not floating;
            ``activation`` is not a function.
        ValueError: An argument is malformed; at call, the input is not of rank 4 or has the wrong
            number of channels (Keras' ``InputSpec`` check).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> conv = sd.Conv2D(filter_shape=(5, 5, 3, 6))
        >>> conv(tf.ones([10, 16, 16, 3])).shape
        TensorShape([10, 12, 12, 6])
        >>> given = sd.Conv2D(filter=tf.ones([2, 2, 1, 1]), bias=tf.constant([0.5]), strides=(2, 2))
        >>> given(tf.ones([1, 4, 4, 1]))[0, :, :, 0].numpy().tolist()
        [[4.5, 4.5], [4.5, 4.5]]
    """

    _swift = "Conv2D"
    _spatial = 2
    _filters = {"filter": "(height, width, input channels, output channels)"}

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


class _Pool(Layer):
    """What the windowed pools share: ``pool_size``, ``strides`` (tuples), ``padding``."""

    _swift: ClassVar[str] = "Pool"
    _pool: ClassVar[Callable[..., Any]]

    def _configure(self, pool_size: tuple[int, ...], strides: tuple[int, ...], padding: Any) -> None:
        self._window, self._strides = pool_size, strides
        self.padding = _padding(padding, self._swift)
        self.input_spec = keras.InputSpec(ndim=len(pool_size) + 2)
        self.built = True

    def call(self, input):
        self.compute_output_shape(tuple(input.shape))  # a short error for an input smaller than the window
        return type(self)._pool(input, self._window, self._strides, self.padding, "channels_last")

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        window = self._window
        dilations = (1,) * len(window)
        return _windowed_shape(
            input_shape, window, self._strides, dilations, self.padding, input_shape[-1], self._swift
        )


class _Pool2D(_Pool):
    """What ``MaxPool2D`` and ``AvgPool2D`` add to ``_Pool``: S4TF's 2-D arguments and config."""

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
        self._configure(self.pool_size, self.strides, padding)

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

    _pool = staticmethod(keras.ops.max_pool)


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

    _pool = staticmethod(keras.ops.average_pool)


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
        self.probability = _probability(probability, "Dropout")
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
    statistics. Under a mixed-precision policy (``dtype="mixed_float16"``) the input is normalized
    in float32, the variables' dtype, and the output cast to the compute dtype, as Keras'
    ``BatchNormalization`` does: float16 moments would overflow.

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
        # Under mixed precision the variables stay float32 in call (no autocast), and so does the
        # input: the layer normalizes in float32 (see _normalizing_dtype).
        self.autocast = False
        shape = (self.feature_count,)
        self.offset = self.add_weight(shape=shape, initializer="zeros", name="offset", autocast=False)
        self.scale = self.add_weight(shape=shape, initializer="ones", name="scale", autocast=False)
        self.running_mean = self.add_weight(
            shape=shape, initializer="zeros", name="running_mean", trainable=False, autocast=False
        )
        self.running_variance = self.add_weight(
            shape=shape, initializer="ones", name="running_variance", trainable=False, autocast=False
        )
        self.built = True

    def call(self, input, training=None):
        input = tf.cast(input, _normalizing_dtype(self))
        rank = input.shape.rank
        axis = self.axis % rank
        shape = [self.feature_count if i == axis else 1 for i in range(rank)]
        reduce_axes = [i for i in range(rank) if i != axis]
        if training_flag(training):
            mean, variance = tf.nn.moments(input, axes=reduce_axes)
            decay = 1.0 - self.momentum
            for running, batch in ((self.running_mean, mean), (self.running_variance, variance)):
                running.assign(running * self.momentum + tf.cast(batch, running.dtype) * decay)
        else:
            mean = tf.cast(self.running_mean, input.dtype)
            variance = tf.cast(self.running_variance, input.dtype)
        scale, offset = (tf.reshape(tf.cast(v, input.dtype), shape) for v in (self.scale, self.offset))
        inv = tf.math.rsqrt(tf.reshape(variance, shape) + self.epsilon) * scale
        output = (input - tf.reshape(mean, shape)) * inv + offset
        return tf.cast(output, self.compute_dtype)

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
