"""S4TF's convolution layers (Conv1D, Conv3D, TransposedConv1D/2D/3D, DepthwiseConv2D,
SeparableConv1D/2D, ZeroPadding1D/2D/3D), layers built from given tensors (Dense, Conv2D and
those) and Dense's batched weight: outputs and gradients against the matching Keras layer with the
same weights (a dilated filter is compared with Keras' undilated layer holding the filter with
zeros inserted, so strides and dilations can be combined as in S4TF), against numpy or finite
differences where Keras differs; S4TF's names, layouts and initializers; .keras round trips; misuse."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import finite_difference, run_in


def dilate(kernel, dilations):
    """``kernel`` with ``d - 1`` zeros between neighbours along each leading (spatial) axis."""
    if dilations is None:
        return kernel
    spatial = len(dilations)
    shape = [(k - 1) * d + 1 for k, d in zip(kernel.shape[:spatial], dilations, strict=True)]
    out = np.zeros(shape + list(kernel.shape[spatial:]), kernel.dtype)
    out[tuple(slice(None, None, d) for d in dilations)] = kernel
    return out


def undilate(gradient, dilations):
    """The gradient with respect to the kernel ``dilate`` was given, from that of its result."""
    if dilations is None:
        return gradient
    return gradient[tuple(slice(None, None, d) for d in dilations)]


R = np.random.RandomState(0)


def rand(*shape):
    return R.randn(*shape).astype(np.float32)


#: name: (the sd layer, the Keras layer computing the same function, the dilations of each
#: variable in the Keras layer's (S4TF's) order, the input shape).
CASES = {
    "Conv1D stride and dilation, sized": (
        lambda: sd.Conv1D(filter_shape=(3, 2, 4), stride=2, padding="same", dilation=2, activation=sd.tanh),
        lambda: keras.layers.Conv1D(4, 5, strides=2, padding="same", activation="tanh"),
        [(2,), None],
        (2, 11, 2),
    ),
    "Conv1D from a filter, no bias": (
        lambda: sd.Conv1D(filter=rand(2, 2, 3)),
        lambda: keras.layers.Conv1D(3, 2, use_bias=False),
        [None],
        (2, 7, 2),
    ),
    "Conv2D from tensors, stride and dilation": (
        lambda: sd.Conv2D(
            filter=rand(3, 2, 2, 3), bias=rand(3), strides=(2, 1), padding="same", dilations=(1, 2)
        ),
        lambda: keras.layers.Conv2D(3, (3, 3), strides=(2, 1), padding="same"),
        [(1, 2), None],
        (2, 7, 6, 2),
    ),
    "Conv3D": (
        lambda: sd.Conv3D(filter_shape=(2, 3, 2, 2, 3), strides=(1, 2, 1), dilations=(2, 1, 2)),
        lambda: keras.layers.Conv3D(3, (3, 3, 3), strides=(1, 2, 1)),
        [(2, 1, 2), None],
        (2, 5, 7, 5, 2),
    ),
    "TransposedConv1D valid": (
        lambda: sd.TransposedConv1D(filter_shape=(3, 4, 2), stride=2, activation=sd.relu),
        lambda: keras.layers.Conv1DTranspose(4, 3, strides=2, activation="relu"),
        [None, None],
        (2, 5, 2),
    ),
    "TransposedConv1D same, from tensors": (
        lambda: sd.TransposedConv1D(filter=rand(2, 3, 2), bias=rand(3), stride=3, padding="same"),
        lambda: keras.layers.Conv1DTranspose(3, 2, strides=3, padding="same"),
        [None, None],
        (2, 4, 2),
    ),
    "TransposedConv2D from tensors": (
        lambda: sd.TransposedConv2D(filter=rand(3, 2, 3, 2), bias=rand(3), strides=(2, 1)),
        lambda: keras.layers.Conv2DTranspose(3, (3, 2), strides=(2, 1)),
        [None, None],
        (2, 4, 3, 2),
    ),
    "TransposedConv3D same": (
        lambda: sd.TransposedConv3D(filter_shape=(2, 2, 2, 3, 2), strides=2, padding="same"),
        lambda: keras.layers.Conv3DTranspose(3, 2, strides=2, padding="same"),
        [None, None],
        (1, 2, 3, 2, 2),
    ),
    "DepthwiseConv2D stride and dilation": (
        lambda: sd.DepthwiseConv2D(filter_shape=(3, 3, 2, 2), strides=(2, 2), padding="same", dilations=2),
        lambda: keras.layers.DepthwiseConv2D((5, 5), strides=2, padding="same", depth_multiplier=2),
        [(2, 2), None],
        (2, 9, 8, 2),
    ),
    "SeparableConv2D from tensors": (
        lambda: sd.SeparableConv2D(
            depthwise_filter=rand(3, 3, 2, 2),
            pointwise_filter=rand(1, 1, 4, 3),
            bias=rand(3),
            dilations=(2, 1),
        ),
        lambda: keras.layers.SeparableConv2D(3, (5, 3), depth_multiplier=2),
        [(2, 1), None, None],
        (2, 8, 6, 2),
    ),
    "SeparableConv2D strides, sized": (
        lambda: sd.SeparableConv2D(
            depthwise_filter_shape=(3, 3, 2, 1),
            pointwise_filter_shape=(1, 1, 2, 4),
            strides=2,
            padding="same",
        ),
        lambda: keras.layers.SeparableConv2D(4, 3, strides=2, padding="same"),
        [None, None, None],
        (2, 7, 7, 2),
    ),
    "SeparableConv1D from tensors, stride and dilation": (
        lambda: sd.SeparableConv1D(
            depthwise_filter=rand(3, 2, 2),
            pointwise_filter=rand(1, 4, 3),
            bias=rand(3),
            stride=2,
            padding="same",
            dilation=2,
            activation=sd.tanh,
        ),
        lambda: keras.layers.SeparableConv1D(
            3, 5, strides=2, padding="same", depth_multiplier=2, activation="tanh"
        ),
        [(2,), None, None],
        (2, 11, 2),
    ),
    "SeparableConv1D sized, valid": (
        lambda: sd.SeparableConv1D(depthwise_filter_shape=(3, 3, 1), pointwise_filter_shape=(1, 3, 4)),
        lambda: keras.layers.SeparableConv1D(4, 3),
        [None, None, None],
        (2, 7, 3),
    ),
    "Dense from tensors": (
        lambda: sd.Dense(weight=rand(3, 4), bias=rand(4), activation=sd.sigmoid),
        lambda: keras.layers.Dense(4, activation="sigmoid"),
        [None, None],
        (5, 3),
    ),
}


def keras_reference(keras_layer, x, r):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = keras_layer(x)
        loss = tf.reduce_sum(y * r)
    d_x, *d_weights = tape.gradient(loss, [x, *keras_layer.trainable_variables])
    return y.numpy(), d_x.numpy(), [g.numpy() for g in d_weights]


@pytest.mark.parametrize("case", list(CASES))
def test_layer_and_its_gradients_match_keras(case, mode):
    make, make_keras, dilations, input_shape = CASES[case]
    layer = make()
    for variable in layer.trainable_variables:  # a sized layer's zero bias would hide a wrong one
        variable.assign(rand(*variable.shape))
    weights = [v.numpy() for v in layer.trainable_variables]
    keras_layer = make_keras()
    keras_layer.build(input_shape)
    keras_layer.set_weights([dilate(w, d) for w, d in zip(weights, dilations, strict=True)])
    x, r = tf.constant(rand(*input_shape)), None
    r = tf.constant(rand(*keras_layer.compute_output_shape(input_shape)))
    y_ref, dx_ref, dw_ref = keras_reference(keras_layer, x, r)

    def run(x, r):
        d_layer, d_x = sd.gradient(at=(layer, x), of=lambda layer, x: tf.reduce_sum(layer(x) * r))
        return layer(x), d_x, list(d_layer)

    y, d_x, d_weights = run_in(mode, run, x, r)
    assert y.shape == y_ref.shape == tuple(layer.compute_output_shape(input_shape))
    np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(d_x, dx_ref, rtol=1e-4, atol=1e-4)
    assert len(d_weights) == len(dw_ref)
    for got, want, d in zip(d_weights, dw_ref, dilations, strict=True):
        np.testing.assert_allclose(got, undilate(want, d), rtol=1e-4, atol=1e-4)


def transposed_1d_numpy(x, filter, stride, bias):
    """S4TF's valid transposed 1-D convolution by hand: input step i adds x[i] @ filter[j].T at
    output position i * stride + j; the output has (width - 1) * stride + kernel positions."""
    batch, width, _ = x.shape
    kernel, outputs, _ = filter.shape
    y = np.zeros((batch, (width - 1) * stride + kernel, outputs))
    for i in range(width):
        for j in range(kernel):
            y[:, i * stride + j] += x[:, i] @ filter[j].T
    return y + bias


def test_transposed_conv1d_with_a_stride_above_the_kernel_has_s4tf_output_size(mode):
    """With stride > kernel Keras' Conv1DTranspose adds positions; S4TF's (width - 1) * stride +
    kernel is kept. Checked against the sum written out in numpy, gradients against finite
    differences in float64 (a float64 filter makes a float64 layer)."""
    filter, bias = R.randn(2, 3, 2), R.randn(3)
    layer = sd.TransposedConv1D(filter=filter, bias=bias, stride=3)
    assert layer.filter.dtype == "float64" and layer.compute_dtype == "float64"
    x = R.randn(2, 4, 2)
    r = R.randn(2, 11, 3)

    def run(x):
        d_layer, d_x = sd.gradient(at=(layer, x), of=lambda layer, x: tf.reduce_sum(layer(x) * r))
        return layer(x), d_x, d_layer.filter

    y, d_x, d_filter = run_in(mode, run, tf.constant(x))
    assert y.dtype == d_x.dtype == d_filter.dtype == np.float64
    np.testing.assert_allclose(y, transposed_1d_numpy(x, filter, 3, bias), rtol=1e-12)
    np.testing.assert_allclose(
        d_x, finite_difference(lambda x: np.sum(transposed_1d_numpy(x, filter, 3, bias) * r), x), rtol=1e-6
    )
    np.testing.assert_allclose(
        d_filter,
        finite_difference(lambda f: np.sum(transposed_1d_numpy(x, f, 3, bias) * r), filter),
        rtol=1e-6,
    )


#: Float64 dilated convolutions: TensorFlow's float64 CPU kernel cannot differentiate them
#: (Conv2DBackpropInput refuses dilations), so the layers convolve a dilated filter instead.
#: name: (the layer, the input shape, TensorFlow's op with its strides, padding and dilations).
FLOAT64_DILATED = {
    "Conv1D same, stride and dilation": (
        lambda: sd.Conv1D(filter_shape=(3, 2, 2), stride=2, padding="same", dilation=2, dtype="float64"),
        (2, 9, 2),
        lambda x, f: tf.nn.conv1d(x, f, 2, "SAME", dilations=2),
    ),
    "Conv2D valid, strides and dilations": (
        lambda: sd.Conv2D(filter_shape=(2, 3, 1, 2), strides=(1, 2), dilations=(2, 3), dtype="float64"),
        (1, 6, 8, 1),
        lambda x, f: tf.nn.conv2d(x, f, [1, 1, 2, 1], "VALID", dilations=[1, 2, 3, 1]),
    ),
    "Conv2D same, dilations": (
        lambda: sd.Conv2D(filter_shape=(2, 2, 2, 1), padding="same", dilations=(3, 1), dtype="float64"),
        (1, 5, 4, 2),
        lambda x, f: tf.nn.conv2d(x, f, 1, "SAME", dilations=[1, 3, 1, 1]),
    ),
}


@pytest.mark.parametrize("case", list(FLOAT64_DILATED))
def test_float64_dilated_convolutions_differentiate_as_finite_differences(case, mode):
    """The forward pass against TensorFlow's own dilated op (whose float64 forward kernel works),
    the gradients against central differences of it, in float64."""
    make, input_shape, reference = FLOAT64_DILATED[case]
    layer = make()
    layer.bias.assign(R.randn(*layer.bias.shape))
    filter, bias = layer.filter.numpy(), layer.bias.numpy()
    x = R.randn(*input_shape)
    r = R.randn(*layer.compute_output_shape(input_shape))

    def numpy_loss(x, f):
        return np.sum((reference(tf.constant(x), tf.constant(f)).numpy() + bias) * r)

    def run(x):
        d_layer, d_x = sd.gradient(at=(layer, x), of=lambda layer, x: tf.reduce_sum(layer(x) * r))
        return layer(x), d_x, d_layer.filter, d_layer.bias

    y, d_x, d_filter, d_bias = run_in(mode, run, tf.constant(x))
    assert y.dtype == d_x.dtype == d_filter.dtype == np.float64
    np.testing.assert_allclose(y, reference(tf.constant(x), tf.constant(filter)).numpy() + bias, rtol=1e-12)
    np.testing.assert_allclose(
        d_x, finite_difference(lambda x: numpy_loss(x, filter), x), rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(
        d_filter, finite_difference(lambda f: numpy_loss(x, f), filter), rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(d_bias, np.sum(r, axis=tuple(range(r.ndim - 1))), rtol=1e-12)


def test_float64_dilated_conv2d_trains_with_fit():
    """Keras' fit (a tf.function, no XLA) differentiates a float64 dilated Conv2D and its loss falls."""
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1), dtype="float64"),
            sd.Conv2D(filter_shape=(2, 2, 1, 1), dilations=2, dtype="float64"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", jit_compile=False)
    x = R.randn(8, 6, 6, 1)
    target = tf.nn.conv2d(x, np.full((2, 2, 1, 1), 0.5), 1, "VALID", dilations=2).numpy()
    history = model.fit(x, target, epochs=10, batch_size=8, verbose=0).history["loss"]
    assert model.layers[0].filter.dtype == "float64" and np.all(np.isfinite(history))
    assert history[-1] < 0.5 * history[0]


def test_batched_dense_is_s4tfs(mode):
    """A rank-3 weight [batch, in, out]: example b is multiplied by weight[b] (S4TF's own test:
    weight 0..<12, bias [[1, 2, 3]], input 0..<4 give [[4, 6, 8], [40, 46, 52]])."""
    weight = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    layer = sd.Dense(weight=weight, bias=[[1.0, 2.0, 3.0]])
    assert layer.batched and tuple(layer.bias.shape) == (1, 3) and layer.bias.dtype == "float32"
    x = np.arange(4, dtype=np.float32).reshape(2, 2)
    r = rand(2, 3)

    def run(x):
        d_layer, d_x = sd.gradient(at=(layer, x), of=lambda layer, x: tf.reduce_sum(layer(x) * r))
        return layer(x), d_x, d_layer.weight, d_layer.bias

    y, d_x, d_weight, d_bias = run_in(mode, run, tf.constant(x))
    np.testing.assert_array_equal(y, [[4, 6, 8], [40, 46, 52]])
    np.testing.assert_allclose(d_x, np.einsum("bio,bo->bi", weight, r), rtol=1e-6)
    np.testing.assert_allclose(d_weight, np.einsum("bi,bo->bio", x, r), rtol=1e-6)
    np.testing.assert_allclose(d_bias, r.sum(0, keepdims=True), rtol=1e-6)
    per_example = sd.Dense(weight=weight, bias=rand(2, 3), activation=sd.relu)
    np.testing.assert_allclose(
        per_example(x),
        np.maximum(np.einsum("bi,bio->bo", x, weight) + per_example.bias.numpy(), 0),
        rtol=1e-6,
    )
    assert sd.Dense(weight=weight).bias is None  # Swift's bias: nil


SIZED = [
    (sd.Conv1D(filter_shape=(3, 2, 4)), ["filter", "bias"], [(3, 2, 4), (4,)]),
    (sd.Conv3D(filter_shape=(2, 3, 2, 2, 3)), ["filter", "bias"], [(2, 3, 2, 2, 3), (3,)]),
    (sd.TransposedConv1D(filter_shape=(3, 4, 2)), ["filter", "bias"], [(3, 4, 2), (4,)]),
    (sd.TransposedConv2D(filter_shape=(3, 3, 5, 2)), ["filter", "bias"], [(3, 3, 5, 2), (5,)]),
    (sd.TransposedConv3D(filter_shape=(2, 2, 2, 5, 2)), ["filter", "bias"], [(2, 2, 2, 5, 2), (5,)]),
    (sd.DepthwiseConv2D(filter_shape=(3, 3, 4, 2)), ["filter", "bias"], [(3, 3, 4, 2), (8,)]),
    (
        sd.SeparableConv1D(depthwise_filter_shape=(3, 4, 2), pointwise_filter_shape=(1, 8, 6)),
        ["depthwise_filter", "pointwise_filter", "bias"],
        [(3, 4, 2), (1, 8, 6), (6,)],
    ),
    (
        sd.SeparableConv2D(depthwise_filter_shape=(3, 3, 4, 2), pointwise_filter_shape=(1, 1, 8, 6)),
        ["depthwise_filter", "pointwise_filter", "bias"],
        [(3, 3, 4, 2), (1, 1, 8, 6), (6,)],
    ),
]


@pytest.mark.parametrize("layer,names,shapes", SIZED, ids=[type(case[0]).__name__ for case in SIZED])
def test_sized_layers_have_s4tf_variables_and_initializers(layer, names, shapes):
    """Created at construction, S4TF's names and layouts, Glorot-uniform filters (fans from the
    last two axes times the window), zero biases; use_bias=False leaves the bias out."""
    assert layer.built and [v.name for v in layer.trainable_variables] == names
    assert [tuple(v.shape) for v in layer.trainable_variables] == shapes
    for variable in layer.trainable_variables[:-1]:
        *window, fan_in, fan_out = variable.shape
        receptive = int(np.prod(window))
        limit = np.sqrt(6 / (receptive * (fan_in + fan_out)))
        values = variable.numpy()
        assert np.all(np.abs(values) <= limit) and np.std(values) > limit / 3
    np.testing.assert_array_equal(layer.bias.numpy(), 0.0)
    config = layer.get_config()
    config["use_bias"] = False
    without = type(layer).from_config(config)
    assert without.bias is None and [v.name for v in without.trainable_variables] == names[:-1]


def test_layers_from_tensors_hold_copies_in_the_tensors_dtype():
    filter = tf.Variable(np.ones((2, 1, 1)))
    layer = sd.Conv1D(filter=filter, bias=np.array([0.5]))
    filter.assign(np.zeros((2, 1, 1)))  # Swift's value semantics: the layer kept its own copy
    assert layer.filter.dtype == "float64" and layer.bias.dtype == "float64"
    np.testing.assert_array_equal(layer(tf.ones([1, 3, 1], tf.float64))[0, :, 0], [2.5, 2.5])
    as_float32 = sd.Conv1D(filter=filter, dtype="float32")
    assert as_float32.filter.dtype == "float32"
    lists = sd.Dense(weight=[[1.0, 2.0]], bias=[0.5, 0.5])  # Python floats are float32
    assert lists.weight.dtype == "float32" and lists.bias.dtype == "float32"
    np.testing.assert_array_equal(lists(tf.constant([[2.0]])), [[2.5, 4.5]])
    assert sd.Conv2D(filter=tf.ones([1, 1, 2, 3])).bias is None
    assert [v.name for v in sd.Conv2D(filter=tf.ones([1, 1, 2, 3]), bias=tf.zeros([3])).weights] == [
        "filter",
        "bias",
    ]


def test_layers_from_tensors_keep_the_tensors_dtype_under_a_global_mixed_policy():
    """A deliberate choice, documented: the given tensors' dtype is the caller's, so a global
    mixed-precision policy applies to layers built from sizes only."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        assert sd.Conv1D(filter_shape=(2, 1, 1)).dtype_policy.name == "mixed_float16"
        assert sd.LayerNorm(feature_count=2, axis=-1).dtype_policy.name == "mixed_float16"
        given = [
            sd.Dense(weight=tf.ones([2, 2])),
            sd.Conv2D(filter=tf.ones([1, 1, 1, 1])),
            sd.Conv1D(filter=np.ones((2, 1, 1))),
            sd.LayerNorm(offset=tf.zeros([2]), scale=tf.ones([2]), axis=-1),
        ]
        assert [layer.dtype_policy.name for layer in given] == ["float32", "float32", "float64", "float32"]
        assert given[0](tf.ones([1, 2], tf.float16)).dtype == tf.float32
        assert sd.Dense(weight=tf.ones([2, 2]), dtype="mixed_float16").compute_dtype == "float16"
    finally:
        keras.mixed_precision.set_global_policy(previous)


def test_round_trip_through_keras_file(tmp_path):
    """Layers built from sizes and from tensors (a batched Dense too) save as their variables and
    a config that rebuilds their shapes; the loaded models compute the same outputs."""
    sequence = keras.Sequential(
        [
            keras.Input((9, 2)),
            sd.Conv1D(filter=rand(3, 2, 4), bias=rand(4), stride=2, dilation=2, padding="same"),
            sd.TransposedConv1D(filter_shape=(3, 2, 4), stride=2, activation=sd.relu),
        ]
    )
    image = keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            sd.Conv2D(filter=rand(3, 3, 2, 4), bias=rand(4), padding="same"),
            sd.DepthwiseConv2D(filter=rand(3, 3, 4, 2), strides=(2, 2), dilations=(1, 1)),
            sd.SeparableConv2D(depthwise_filter=rand(2, 2, 8, 1), pointwise_filter=rand(1, 1, 8, 3)),
            sd.TransposedConv2D(filter=rand(2, 2, 2, 3), bias=rand(2), strides=(2, 2), padding="same"),
            sd.Dense(weight=rand(2, 5), activation=sd.tanh),
        ]
    )
    volume = keras.Sequential(
        [
            keras.Input((4, 5, 4, 1)),
            sd.Conv3D(filter_shape=(2, 2, 2, 1, 3), dilations=(1, 2, 1), activation=sd.relu),
            sd.TransposedConv3D(filter=rand(2, 2, 2, 2, 3), strides=(1, 2, 1), padding="same"),
        ]
    )
    batched = keras.Sequential(
        [keras.Input((3,), batch_size=2), sd.Dense(weight=rand(2, 3, 4), bias=rand(2, 4))]
    )
    for index, model in enumerate([sequence, image, volume, batched]):
        for layer in model.layers:  # bias values that a zero-initialized rebuild could not match
            if layer.bias is not None:
                layer.bias.assign(rand(*layer.bias.shape))
        x = tf.constant(rand(2, *model.input_shape[1:]))
        path = tmp_path / f"model{index}.keras"
        model.save(path)
        loaded = keras.models.load_model(path)  # no custom_objects
        assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
        for mine, theirs in zip(model.layers, loaded.layers, strict=True):
            assert [(v.name, tuple(v.shape)) for v in mine.weights] == [
                (v.name, tuple(v.shape)) for v in theirs.weights
            ]
            rebuilt = type(mine).from_config(mine.get_config())
            assert [tuple(v.shape) for v in rebuilt.weights] == [tuple(v.shape) for v in mine.weights]
        np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
    assert sd.Conv1D(filter=rand(3, 2, 4)).get_config()["filter_shape"] == (3, 2, 4)
    assert sd.Conv1D(filter=rand(3, 2, 4)).get_config()["use_bias"] is False
    assert image.layers[-1].get_config()["input_size"] == 2  # an unbatched Dense saves its sizes
    assert batched.layers[0].get_config()["weight_shape"] == [2, 3, 4]


def test_output_shapes_with_unknown_sizes_and_symbolic_inputs():
    assert sd.Conv1D(filter_shape=(3, 2, 4), stride=2).compute_output_shape((None, None, 2)) == (
        None,
        None,
        4,
    )
    assert sd.TransposedConv2D(filter_shape=(3, 3, 5, 2), strides=2).compute_output_shape(
        (None, 4, None, 2)
    ) == (
        None,
        9,
        None,
        5,
    )
    model = keras.Sequential([keras.Input((None, 2)), sd.TransposedConv1D(filter_shape=(3, 4, 2), stride=2)])
    assert model.output_shape == (None, None, 4)
    assert model(tf.ones([3, 5, 2])).shape == (3, 11, 4)
    function = tf.function(lambda x: model(x), input_signature=[tf.TensorSpec([None, None, 2])])
    assert function(tf.ones([1, 6, 2])).shape == (1, 13, 4)


def test_misuse_gets_short_errors_naming_the_layer():
    f3 = tf.ones([3, 2, 4])
    cases = [
        (lambda: sd.Conv1D(), TypeError, r"sd\.Conv1D: give filter_shape= \(new variables\) or filter="),
        (lambda: sd.Conv1D(filter_shape=(3, 2, 4), filter=f3), TypeError, r"sd\.Conv1D: .*not both"),
        (lambda: sd.Conv1D(filter_shape=(3, 2, 4), bias=tf.ones([4])), TypeError, r"bias= goes with filter="),
        (lambda: sd.Conv1D(filter=f3, use_bias=True), TypeError, r"use_bias= goes with filter_shape="),
        (lambda: sd.Conv1D(filter=tf.ones([3, 2])), ValueError, r"sd\.Conv1D: filter= must have rank 3"),
        (lambda: sd.Conv1D(filter=f3, bias=tf.ones([3])), ValueError, r"bias= must have shape \[4\]"),
        (lambda: sd.Conv1D(filter=tf.ones([3, 2, 4], tf.int32)), TypeError, r"filter= must be floating"),
        (lambda: sd.Conv1D(filter="filter"), TypeError, r"sd\.Conv1D: filter= must be a floating tensor"),
        (lambda: sd.Conv1D(filter_shape=(3, 2)), ValueError, r"filter_shape= must be \(width, input"),
        (
            lambda: sd.Conv1D(filter_shape=(3, 2, 4), stride=0),
            ValueError,
            r"stride= must be a positive integer",
        ),
        (lambda: sd.Conv1D(filter_shape=(3, 2, 4), activation=3), TypeError, r"sd\.Conv1D: activation="),
        (lambda: sd.Conv3D(filter_shape=(2, 2, 2, 1, 1), strides=(1, 2)), ValueError, r"strides= must be 3"),
        (lambda: sd.TransposedConv2D(filter_shape=(2, 2, 3, 1), padding="causal"), ValueError, r"padding="),
        (lambda: sd.TransposedConv3D(filter=tf.ones([2, 2, 3, 1])), ValueError, r"filter= must have rank 5"),
        (lambda: sd.DepthwiseConv2D(filter=tf.ones([3, 3, 2, 2]), bias=tf.ones([2])), ValueError, r"\[4\]"),
        (
            lambda: sd.SeparableConv2D(depthwise_filter_shape=(3, 3, 2, 2)),
            TypeError,
            r"depthwise_filter_shape= and pointwise_filter_shape= go together",
        ),
        (
            lambda: sd.SeparableConv2D(depthwise_filter=tf.ones([3, 3, 2, 2])),
            TypeError,
            r"depthwise_filter= and pointwise_filter= go together",
        ),
        (
            lambda: sd.SeparableConv2D(
                depthwise_filter_shape=(3, 3, 2, 2), pointwise_filter_shape=(1, 1, 3, 4)
            ),
            ValueError,
            r"the pointwise filter \[1, 1, 3, 4\] must take the depthwise filter's 2 x 2 = 4",
        ),
        (lambda: sd.Dense(), TypeError, r"sd\.Dense: give input_size= and output_size= \(new variables\)"),
        (lambda: sd.Dense(input_size=3), TypeError, r"input_size= and output_size= go together"),
        (lambda: sd.Dense(3, 2, weight=tf.ones([3, 2])), TypeError, r"sd\.Dense: .*not both"),
        (lambda: sd.Dense(bias=tf.ones([2])), TypeError, r"sd\.Dense: bias= goes with weight="),
        (lambda: sd.Dense(weight=tf.ones([3])), ValueError, r"weight= must have rank 2 or 3"),
        (
            lambda: sd.Dense(weight=tf.ones([2, 3, 4]), bias=tf.ones([3, 4])),
            ValueError,
            r"bias= must have shape",
        ),
        (lambda: sd.Dense(weight=tf.ones([3, 4]), bias=tf.ones([4, 4])), ValueError, r"\[4\] or \[1, 4\]"),
        (
            lambda: sd.Conv2D(filter=tf.ones([2, 2, 1, 1]), use_bias=False),
            TypeError,
            r"sd\.Conv2D: use_bias=",
        ),
    ]
    for make, error, message in cases:
        with pytest.raises(error, match=message):
            make()
    calls = [
        (sd.Conv1D(filter_shape=(3, 2, 4), name="c"), tf.ones([1, 5, 3]), "axis -1 .* value 2"),
        (sd.TransposedConv3D(filter_shape=(2, 2, 2, 1, 4), name="t"), tf.ones([1, 3, 3, 4]), "ndim=5"),
        (
            sd.SeparableConv2D(
                depthwise_filter=tf.ones([1, 1, 2, 1]), pointwise_filter=tf.ones([1, 1, 2, 3]), name="s"
            ),
            tf.ones([1, 3, 3, 3]),
            "axis -1 .* value 2",
        ),
        (sd.Dense(weight=tf.ones([2, 3, 4]), name="d"), tf.ones([3, 3]), "axis 0 .* value 2"),
    ]
    for layer, x, what in calls:
        with pytest.raises(ValueError, match=rf"layer '{layer.name}' is incompatible .*{what}"):
            layer(x)
    with pytest.raises(
        ValueError, match=r"sd\.Conv1D: inputs of shape \[1, 2, 2\] are smaller than its 3-wide"
    ):
        sd.Conv1D(filter_shape=(3, 2, 4))(tf.ones([1, 2, 2]))
    with pytest.raises(
        ValueError, match=r"sd\.Conv3D: inputs of shape \[1, 3, 3, 1, 1\] are smaller than its 2x2x2"
    ):
        sd.Conv3D(filter_shape=(2, 2, 2, 1, 1))(tf.ones([1, 3, 3, 1, 1]))


def separable_1d_numpy(x, depthwise, pointwise, bias, stride, dilation):
    """A valid 1-D separable convolution written out: channel c's m-th depthwise output at step i
    sums x[i * stride + j * dilation, c] * depthwise[j, c, m], then a 1-wide pointwise product."""
    batch, width, channels = x.shape
    kernel, _, multiplier = depthwise.shape
    steps = (width - dilation * (kernel - 1) - 1) // stride + 1
    mid = np.zeros((batch, steps, channels * multiplier))
    for i in range(steps):
        for j in range(kernel):
            taps = x[:, i * stride + j * dilation]  # [batch, channels]
            mid[:, i] += (taps[:, :, None] * depthwise[j]).reshape(batch, -1)
    return mid @ pointwise[0] + bias


def test_float64_separable_conv1d_differentiates_as_finite_differences(mode):
    """A float64 layer (from float64 tensors) with stride and dilation: the output against the
    sum written out in numpy, every gradient against central differences of it."""
    depthwise, pointwise, bias = R.randn(2, 2, 2), R.randn(1, 4, 3), R.randn(3)
    layer = sd.SeparableConv1D(
        depthwise_filter=depthwise, pointwise_filter=pointwise, bias=bias, stride=2, dilation=2
    )
    assert layer.compute_dtype == "float64"
    x = R.randn(2, 8, 2)
    r = R.randn(2, 3, 3)

    def loss(x=x, depthwise=depthwise, pointwise=pointwise, bias=bias):
        return np.sum(separable_1d_numpy(x, depthwise, pointwise, bias, 2, 2) * r)

    def run(x):
        d_layer, d_x = sd.gradient(at=(layer, x), of=lambda layer, x: tf.reduce_sum(layer(x) * r))
        return layer(x), d_x, list(d_layer)

    y, d_x, (d_depthwise, d_pointwise, d_bias) = run_in(mode, run, tf.constant(x))
    assert y.dtype == d_x.dtype == d_depthwise.dtype == np.float64
    np.testing.assert_allclose(y, separable_1d_numpy(x, depthwise, pointwise, bias, 2, 2), rtol=1e-12)
    np.testing.assert_allclose(d_x, finite_difference(lambda v: loss(x=v), x), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        d_depthwise, finite_difference(lambda v: loss(depthwise=v), depthwise), rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(
        d_pointwise, finite_difference(lambda v: loss(pointwise=v), pointwise), rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(d_bias, finite_difference(lambda v: loss(bias=v), bias), rtol=1e-6)


#: name: (the sd layer, Keras' layer padding the same way, the input shape).
PADDINGS = {
    "ZeroPadding1D pair": (
        lambda: sd.ZeroPadding1D(padding=(1, 3)),
        lambda: keras.layers.ZeroPadding1D((1, 3)),
        (2, 4, 3),
    ),
    "ZeroPadding1D integer": (
        lambda: sd.ZeroPadding1D(padding=2),
        lambda: keras.layers.ZeroPadding1D(2),
        (2, 3, 2),
    ),
    "ZeroPadding2D pairs": (
        lambda: sd.ZeroPadding2D(padding=((0, 2), (1, 0))),
        lambda: keras.layers.ZeroPadding2D(((0, 2), (1, 0))),
        (2, 3, 4, 2),
    ),
    "ZeroPadding2D per axis": (
        lambda: sd.ZeroPadding2D(padding=(1, 2)),
        lambda: keras.layers.ZeroPadding2D((1, 2)),
        (1, 3, 2, 2),
    ),
    "ZeroPadding3D pairs": (
        lambda: sd.ZeroPadding3D(padding=((1, 0), (0, 2), (2, 1))),
        lambda: keras.layers.ZeroPadding3D(((1, 0), (0, 2), (2, 1))),
        (2, 2, 3, 2, 2),
    ),
    "ZeroPadding3D per axis": (
        lambda: sd.ZeroPadding3D(padding=(0, 1, 2)),
        lambda: keras.layers.ZeroPadding3D((0, 1, 2)),
        (1, 2, 2, 3, 1),
    ),
}


@pytest.mark.parametrize("case", list(PADDINGS))
def test_zero_padding_and_its_gradient_match_keras(case, mode):
    make, make_keras, input_shape = PADDINGS[case]
    layer, keras_layer = make(), make_keras()
    x = tf.constant(rand(*input_shape))
    r = tf.constant(rand(*keras_layer.compute_output_shape(input_shape)))
    y_ref, dx_ref, _ = keras_reference(keras_layer, x, r)

    def run(x, r):
        d_layer, d_x = sd.gradient(at=(layer, x), of=lambda layer, x: tf.reduce_sum(layer(x) * r))
        return layer(x), d_x

    y, d_x = run_in(mode, run, x, r)
    assert layer.trainable_variables == [] and layer.built
    assert y.shape == y_ref.shape == tuple(layer.compute_output_shape(input_shape))
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(d_x, dx_ref)


def test_zero_padding_keeps_float64_and_s4tf_padding_attributes():
    """S4TF's layers are generic over the scalar: a float64 input stays float64 (and its
    gradient too); ``padding`` holds Swift's stored form."""
    x = tf.constant(R.randn(1, 2, 1))
    d_x = sd.gradient(at=x, of=lambda x: tf.reduce_sum(sd.ZeroPadding1D(padding=1)(x) * 2.0))
    assert sd.ZeroPadding1D(padding=1)(x).dtype == tf.float64 and d_x.dtype == tf.float64
    np.testing.assert_array_equal(d_x, np.full((1, 2, 1), 2.0))
    assert sd.ZeroPadding1D(padding=2).padding == (2, 2)
    assert sd.ZeroPadding2D(padding=(1, 2)).padding == ((1, 1), (2, 2))
    assert sd.ZeroPadding3D(padding=[[0, 1], [2, 3], [4, 5]]).padding == ((0, 1), (2, 3), (4, 5))
    assert sd.ZeroPadding2D(padding=(1, 2)).compute_output_shape((None, None, 3, 4)) == (None, None, 7, 4)


def test_new_layers_round_trip_through_keras_file(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((6, 2)),
            sd.ZeroPadding1D(padding=(2, 1)),
            sd.SeparableConv1D(
                depthwise_filter=rand(3, 2, 2), pointwise_filter=rand(1, 4, 3), bias=rand(3), dilation=2
            ),
            sd.SeparableConv1D(
                depthwise_filter_shape=(2, 3, 1), pointwise_filter_shape=(1, 3, 2), stride=2, padding="same"
            ),
        ]
    )
    image = keras.Sequential(
        [
            keras.Input((2, 3, 4, 1)),
            sd.ZeroPadding3D(padding=((1, 0), (0, 1), (2, 2))),
            keras.layers.Reshape((3 * 4, 8, 1)),
            sd.ZeroPadding2D(padding=(1, 2)),
        ]
    )
    model.layers[-1].bias.assign(rand(2))
    for index, net in enumerate([model, image]):
        x = tf.constant(rand(2, *net.input_shape[1:]))
        path = tmp_path / f"new{index}.keras"
        net.save(path)
        loaded = keras.models.load_model(path)
        assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in net.layers]
        for mine, theirs in zip(net.layers, loaded.layers, strict=True):
            assert mine.get_config() == theirs.get_config() or not isinstance(mine, sd.Layer)
        np.testing.assert_allclose(loaded(x), net(x), rtol=1e-6)
    assert [v.name for v in model.layers[1].weights] == ["depthwise_filter", "pointwise_filter", "bias"]
    config = model.layers[1].get_config()
    assert config["depthwise_filter_shape"] == (3, 2, 2) and config["stride"] == 1
    assert config["dilation"] == 2 and config["use_bias"] is True
    assert image.layers[0].get_config()["padding"] == ((1, 0), (0, 1), (2, 2))


def test_new_layers_misuse_gets_short_errors_naming_the_layer():
    cases = [
        (lambda: sd.ZeroPadding1D(padding=(1, 2, 3)), r"sd\.ZeroPadding1D: padding= must be"),
        (lambda: sd.ZeroPadding1D(padding=1.5), r"sd\.ZeroPadding1D: padding="),
        (lambda: sd.ZeroPadding2D(padding=2), r"sd\.ZeroPadding2D: padding= must be 2 pairs"),
        (lambda: sd.ZeroPadding2D(padding=((1, 1), 2)), r"sd\.ZeroPadding2D: padding="),
        (lambda: sd.ZeroPadding2D(padding=((1, -1), (0, 0))), r"sd\.ZeroPadding2D: padding="),
        (lambda: sd.ZeroPadding3D(padding=(1, 1)), r"sd\.ZeroPadding3D: padding= must be 3 pairs"),
        (
            lambda: sd.SeparableConv1D(depthwise_filter_shape=(3, 2, 2), pointwise_filter_shape=(1, 3, 4)),
            r"sd\.SeparableConv1D: the pointwise filter \[1, 3, 4\] must take .* 2 x 2 = 4",
        ),
        (
            lambda: sd.SeparableConv1D(
                depthwise_filter=tf.ones([3, 2, 2, 1]), pointwise_filter=tf.ones([1, 4, 1])
            ),
            r"sd\.SeparableConv1D: depthwise_filter= must have rank 3",
        ),
        (
            lambda: sd.SeparableConv1D(
                depthwise_filter_shape=(3, 2, 1), pointwise_filter_shape=(1, 2, 1), stride=0
            ),
            r"sd\.SeparableConv1D: stride= must be a positive integer",
        ),
        (
            lambda: sd.SeparableConv1D(depthwise_filter_shape=(3, 2, 1), pointwise_filter_shape=(1, 2, 1))(
                tf.ones([1, 2, 2])
            ),
            r"sd\.SeparableConv1D: inputs of shape \[1, 2, 2\] are smaller than its 3-wide",
        ),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=message):
            make()
    with pytest.raises(TypeError, match=r"depthwise_filter_shape= and pointwise_filter_shape= go together"):
        sd.SeparableConv1D(depthwise_filter_shape=(3, 2, 2))
    for layer, x in [
        (sd.ZeroPadding2D(padding=(1, 1), name="z"), tf.ones([1, 3, 3])),
        (
            sd.SeparableConv1D(depthwise_filter_shape=(1, 2, 1), pointwise_filter_shape=(1, 2, 1), name="s"),
            tf.ones([1, 3, 3]),
        ),
    ]:
        with pytest.raises(ValueError, match=rf"layer '{layer.name}' is incompatible"):
            layer(x)
