"""MaxPool1D/3D, AvgPool1D/3D, the global pools and UpSampling1D/2D/3D: forward against the matching
Keras layer and numpy, gradients against Keras' gradient, numpy formulas and finite differences, in
eager, tf.function and XLA; output shapes, get_config and .keras round trips, and misuse errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import run_in

L = keras.layers

#: (sd layer, the Keras layer computing the same, input shape)
WINDOWED = [
    (lambda: sd.MaxPool1D(pool_size=3, stride=2), lambda: L.MaxPooling1D(3, 2), [2, 9, 3]),
    (
        lambda: sd.MaxPool1D(pool_size=2, stride=3, padding="same"),
        lambda: L.MaxPooling1D(2, 3, "same"),
        [2, 8, 2],
    ),
    (lambda: sd.AvgPool1D(pool_size=3, stride=2), lambda: L.AveragePooling1D(3, 2), [2, 9, 3]),
    (
        lambda: sd.AvgPool1D(pool_size=3, stride=2, padding="same"),
        lambda: L.AveragePooling1D(3, 2, "same"),
        [1, 8, 2],
    ),
    (
        lambda: sd.MaxPool3D(pool_size=(2, 3, 1), strides=(1, 2, 2)),
        lambda: L.MaxPooling3D((2, 3, 1), (1, 2, 2)),
        [2, 3, 5, 4, 2],
    ),
    (
        lambda: sd.MaxPool3D(pool_size=2, stride=2, padding="same"),
        lambda: L.MaxPooling3D(2, 2, "same"),
        [1, 3, 5, 4, 2],
    ),
    (
        lambda: sd.AvgPool3D(pool_size=(2, 2, 3), strides=(2, 1, 1)),
        lambda: L.AveragePooling3D((2, 2, 3), (2, 1, 1)),
        [2, 4, 3, 5, 1],
    ),
    (
        lambda: sd.AvgPool3D(pool_size=2, strides=2, padding="same"),
        lambda: L.AveragePooling3D(2, 2, "same"),
        [1, 3, 5, 4, 2],
    ),
]


def _inputs(shapes, dtype=np.float32):
    rng = np.random.RandomState(0)
    return [rng.permutation(np.prod(s)).reshape(s).astype(dtype) / np.prod(s) for s in shapes]  # no ties


def _outputs_and_gradients(layers, xs):
    """Each layer's output and the gradient of sum(sin(output)) with respect to its input."""
    return [
        (layer(x), sd.gradient(at=x, of=lambda x, layer=layer: tf.reduce_sum(tf.sin(layer(x)))))
        for layer, x in zip(layers, xs, strict=True)
    ]


def _keras_reference(layer, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        total = tf.reduce_sum(tf.sin(y))
    return y.numpy(), tape.gradient(total, x).numpy()


def test_windowed_pools_match_keras_layers(mode):
    layers = [make() for make, _, _ in WINDOWED]
    xs = _inputs([shape for _, _, shape in WINDOWED])
    results = run_in(mode, lambda *xs: _outputs_and_gradients(layers, xs), *xs)
    for (_, make_keras, _), x, layer, (value, grad) in zip(WINDOWED, xs, layers, results, strict=True):
        y, g = _keras_reference(make_keras(), x)
        assert value.shape == y.shape == layer.compute_output_shape(x.shape), type(layer).__name__
        np.testing.assert_allclose(value, y, rtol=1e-6, err_msg=type(layer).__name__)
        np.testing.assert_allclose(grad, g, rtol=1e-5, atol=1e-6, err_msg=type(layer).__name__)


def test_windowed_pools_forward_matches_numpy():
    x = _inputs([[1, 7, 1]])[0]
    np.testing.assert_allclose(
        sd.MaxPool1D(pool_size=3, stride=2)(x)[0, :, 0], [x[0, i : i + 3, 0].max() for i in (0, 2, 4)]
    )
    np.testing.assert_allclose(  # "same": 4 windows; the last covers x[6] alone, its mean is x[6]
        sd.AvgPool1D(pool_size=2, stride=2, padding="same")(x)[0, :, 0],
        [x[0, 0:2, 0].mean(), x[0, 2:4, 0].mean(), x[0, 4:6, 0].mean(), x[0, 6, 0]],
        rtol=1e-6,
    )
    cube = _inputs([[1, 4, 4, 4, 1]])[0]
    blocks = cube[0, :, :, :, 0].reshape(2, 2, 2, 2, 2, 2)
    np.testing.assert_allclose(sd.MaxPool3D(pool_size=2)(cube)[0, ..., 0], blocks.max(axis=(1, 3, 5)))
    np.testing.assert_allclose(
        sd.AvgPool3D(pool_size=2)(cube)[0, ..., 0], blocks.mean(axis=(1, 3, 5)), rtol=1e-6
    )


def _finite_difference_of_sum_sin(layer, x, eps=1e-6):
    """Central differences of sum(sin(layer(x))) in float64, all perturbed copies of x in one batch.

    A pool acts on each example alone, so the copies stacked along the batch axis do not mix.
    """
    n = x.size
    steps = (np.eye(n) * eps).reshape(n, *x.shape)
    copies = np.concatenate([x + steps, x - steps]).reshape(-1, *x.shape[1:])
    totals = np.sin(layer(tf.constant(copies)).numpy()).reshape(2 * n, -1).sum(axis=1)
    return ((totals[:n] - totals[n:]) / (2 * eps)).reshape(x.shape)


def test_windowed_pool_gradients_match_finite_differences():
    for make, _, shape in WINDOWED:
        layer = make()
        layer = type(layer).from_config({**layer.get_config(), "dtype": "float64"})
        x = _inputs([shape], np.float64)[0]
        grad = sd.gradient(at=tf.constant(x), of=lambda x, layer=layer: tf.reduce_sum(tf.sin(layer(x))))
        expected = _finite_difference_of_sum_sin(layer, x)
        np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-8, err_msg=type(layer).__name__)


def test_3d_pools_keep_float64(mode):
    """TensorFlow has no float64 MaxPool3D/AvgPool3D kernels: float64 goes through 2-D pools."""
    cases = [make() for make, _, shape in WINDOWED if len(shape) == 5]
    cases = [type(layer).from_config({**layer.get_config(), "dtype": "float64"}) for layer in cases]
    xs = _inputs([shape for _, _, shape in WINDOWED if len(shape) == 5], np.float64)
    results = run_in(mode, lambda *xs: _outputs_and_gradients(cases, xs), *xs)
    for (value, grad), x, (_, make_keras, _) in zip(results, xs, WINDOWED[4:], strict=True):
        y, g = _keras_reference(make_keras(), x.astype(np.float32))
        assert value.dtype == grad.dtype == np.float64
        np.testing.assert_allclose(value, y, rtol=1e-6)
        np.testing.assert_allclose(grad, g, rtol=1e-5, atol=1e-6)
    unknown_batch = tf.function(cases[-1], input_signature=[tf.TensorSpec([None, 3, 5, 4, 2], tf.float64)])
    assert unknown_batch.get_concrete_function().structured_outputs.shape.as_list() == [None, 2, 3, 2, 2]
    np.testing.assert_allclose(unknown_batch(xs[-1]), results[-1][0])


GLOBAL = [
    (sd.GlobalAvgPool1D, L.GlobalAveragePooling1D, [2, 5, 3], np.mean),
    (sd.GlobalAvgPool2D, L.GlobalAveragePooling2D, [2, 4, 3, 3], np.mean),
    (sd.GlobalAvgPool3D, L.GlobalAveragePooling3D, [2, 2, 4, 3, 3], np.mean),
    (sd.GlobalMaxPool1D, L.GlobalMaxPooling1D, [2, 5, 3], np.max),
    (sd.GlobalMaxPool2D, L.GlobalMaxPooling2D, [2, 4, 3, 3], np.max),
    (sd.GlobalMaxPool3D, L.GlobalMaxPooling3D, [2, 2, 4, 3, 3], np.max),
]


def test_global_pools_squeeze_the_pooled_axes(mode):
    layers = [cls() for cls, _, _, _ in GLOBAL]
    xs = _inputs([shape for _, _, shape, _ in GLOBAL])
    weights = [
        np.linspace(-1, 1, shape[0] * shape[-1]).reshape(shape[0], shape[-1]) for *_, shape, _ in GLOBAL
    ]

    def run(*xs):  # the gradient of sum(w * pooled) for a known w
        return [
            sd.value_with_gradient(at=x, of=lambda x, layer=layer, w=w: tf.reduce_sum(layer(x) * w))
            for layer, x, w in zip(layers, xs, weights, strict=True)
        ]

    results = run_in(mode, lambda *xs: [(y, g) for y, g in run(*xs)], *xs)
    for (cls, keras_cls, shape, reduce), x, w, (value, grad) in zip(
        GLOBAL, xs, weights, results, strict=True
    ):
        axes = tuple(range(1, len(shape) - 1))
        pooled = reduce(x, axis=axes)
        np.testing.assert_allclose(keras_cls()(x), pooled, rtol=1e-6)
        np.testing.assert_allclose(value, np.sum(pooled * w), rtol=1e-5, atol=1e-6, err_msg=cls.__name__)
        spread = np.expand_dims(w, axes)  # dy of each pooled value, broadcast back over its axes
        if reduce is np.mean:
            expected = np.broadcast_to(spread / np.prod([shape[a] for a in axes]), shape)
        else:
            expected = np.where(x == np.expand_dims(pooled, axes), spread, 0.0)
        np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7, err_msg=cls.__name__)
        assert cls().compute_output_shape((None, *shape[1:])) == (None, shape[-1])


def test_global_max_pool_shares_the_gradient_between_tied_maxima():
    grad = sd.gradient(at=tf.ones([1, 2, 2, 1]), of=lambda x: tf.reduce_sum(sd.GlobalMaxPool2D()(x)))
    np.testing.assert_allclose(grad, np.full([1, 2, 2, 1], 0.25))


UPSAMPLING = [
    (sd.UpSampling1D, L.UpSampling1D, [2, 3, 2]),
    (sd.UpSampling2D, L.UpSampling2D, [2, 3, 2, 2]),
    (sd.UpSampling3D, L.UpSampling3D, [1, 2, 3, 2, 2]),
]


def test_upsampling_repeats_each_element(mode):
    layers = [cls(size=size) for (cls, _, _), size in zip(UPSAMPLING, (3, 2, 2), strict=True)]
    xs = _inputs([shape for *_, shape in UPSAMPLING])
    rng = np.random.RandomState(3)
    weights = [rng.randn(*layer.compute_output_shape(x.shape)) for layer, x in zip(layers, xs, strict=True)]

    def run(*xs):
        return [
            sd.value_with_gradient(at=x, of=lambda x, layer=layer, w=w: tf.reduce_sum(layer(x) * w))
            for layer, x, w in zip(layers, xs, weights, strict=True)
        ]

    results = run_in(mode, lambda *xs: [(y, g) for y, g in run(*xs)], *xs)
    for (cls, keras_cls, shape), layer, x, w, (value, grad) in zip(
        UPSAMPLING, layers, xs, weights, results, strict=True
    ):
        up = x
        for axis in range(1, len(shape) - 1):
            up = np.repeat(up, layer.size, axis=axis)
        np.testing.assert_allclose(layer(x), up)
        np.testing.assert_allclose(keras_cls(size=layer.size)(x), up)
        np.testing.assert_allclose(value, np.sum(up * w), rtol=1e-5)
        # d/dx: each input receives the sum of w over the block of outputs it was copied to
        blocks = w.reshape([shape[0], *[n for s in shape[1:-1] for n in (s, layer.size)], shape[-1]])
        expected = blocks.sum(axis=tuple(range(2, 2 * (len(shape) - 2) + 1, 2)))
        np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6, err_msg=cls.__name__)


def test_output_shapes_with_unknown_sizes():
    cases = [
        (sd.MaxPool1D(pool_size=2), (None, None, 3), (None, None, 3)),
        (sd.AvgPool1D(pool_size=3, stride=2, padding="same"), (None, 7, 3), (None, 4, 3)),
        (sd.MaxPool3D(pool_size=(1, 2, 3)), (None, 4, None, 7, 2), (None, 4, None, 2, 2)),
        (sd.GlobalAvgPool2D(), (None, None, None, 5), (None, 5)),
        (sd.UpSampling2D(size=3), (None, 4, None, 2), (None, 12, None, 2)),
    ]
    for layer, shape, expected in cases:
        model = keras.Sequential([keras.Input(shape[1:]), layer])
        assert model.output_shape == expected, type(layer).__name__


def test_every_layer_trains_with_fit_under_xla_and_round_trips_through_keras_file(tmp_path):
    inputs = keras.Input((4, 4, 4, 2))
    volume = keras.layers.Dense(2)(inputs)  # something to train, upstream of every layer
    pooled = sd.GlobalMaxPool3D()(
        sd.AvgPool3D(pool_size=2, stride=1)(
            sd.MaxPool3D(pool_size=(2, 2, 2), strides=(2, 1, 2), padding="same")(
                sd.UpSampling3D(size=2)(volume)
            )
        )
    )
    steps = sd.AvgPool1D(pool_size=2, stride=2, padding="same")(
        sd.MaxPool1D(pool_size=2, stride=1)(sd.UpSampling1D(size=4)(sd.Reshape(shape=[-1, 1, 2])(pooled)))
    )
    image = sd.UpSampling2D(size=2)(sd.Reshape(shape=[-1, 4, 4, 8])(volume))
    branches = [
        sd.GlobalAvgPool3D()(volume),
        sd.GlobalAvgPool1D()(steps),
        sd.GlobalMaxPool1D()(steps),
        sd.GlobalAvgPool2D()(image),
        sd.GlobalMaxPool2D()(image),
    ]
    model = keras.Model(inputs, keras.layers.Concatenate()(branches))
    mine = [layer for layer in model.layers if isinstance(layer, sd.Layer)]
    assert len({type(layer) for layer in mine}) == 14
    for layer in mine:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    x = tf.constant(_inputs([[2, 4, 4, 4, 2]])[0])
    kernel = model.layers[1].kernel.numpy()
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    history = model.fit(x, tf.ones([2, 22]), batch_size=1, epochs=1, verbose=0)  # the batch size unknown
    assert np.isfinite(history.history["loss"][0]) and not np.allclose(model.layers[1].kernel.numpy(), kernel)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")  # no custom_objects
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    assert loaded.output_shape == model.output_shape == (None, 2 + 2 + 2 + 8 + 8)
    np.testing.assert_allclose(loaded(x), model(x))
    strides = {type(layer).__name__: getattr(layer, "strides", None) for layer in loaded.layers}
    assert strides["AvgPool3D"] == (1, 1, 1) and strides["MaxPool3D"] == (2, 1, 2)


def test_misuse_is_a_short_error_naming_the_layer():
    bad = [
        (lambda: sd.MaxPool1D(pool_size=0), "sd.MaxPool1D: pool_size= must be a positive integer"),
        (lambda: sd.AvgPool1D(pool_size=(2,)), "sd.AvgPool1D: pool_size= must be a positive integer"),
        (lambda: sd.MaxPool1D(pool_size=2, stride=-1), "sd.MaxPool1D: stride= must be a positive integer"),
        (
            lambda: sd.AvgPool1D(pool_size=2, padding="full"),
            "sd.AvgPool1D: padding= must be 'valid' or 'same'",
        ),
        (lambda: sd.MaxPool3D(pool_size=(2, 2)), r"sd.MaxPool3D: pool_size= must be 3 positive integers"),
        (lambda: sd.AvgPool3D(strides=(1, 0, 1)), r"sd.AvgPool3D: strides= must be 3 positive integers"),
        (lambda: sd.MaxPool3D(strides=2, stride=2), "sd.MaxPool3D: pass strides= or stride=, not both"),
        (lambda: sd.UpSampling2D(size=0), "sd.UpSampling2D: size= must be a positive integer"),
        (lambda: sd.UpSampling1D(size=(2,)), "sd.UpSampling1D: size= must be a positive integer"),
        (
            lambda: sd.MaxPool1D(pool_size=4)(tf.ones([1, 3, 1])),
            "sd.MaxPool1D: inputs of shape .* smaller than",
        ),
        (lambda: sd.AvgPool3D(pool_size=(2, 2, 3))(tf.ones([1, 2, 2, 2, 1])), "2x2x3 window"),
    ]
    for make, message in bad:
        with pytest.raises(ValueError, match=message):
            make()
    wrong_rank = [
        (sd.MaxPool1D(name="p"), [1, 4, 4, 1], "ndim=3"),
        (sd.AvgPool3D(name="p"), [1, 4, 4, 1], "ndim=5"),
        (sd.GlobalAvgPool2D(name="p"), [4, 4, 1], "ndim=4"),
        (sd.GlobalMaxPool1D(name="p"), [1, 4, 4, 1], "ndim=3"),
        (sd.UpSampling3D(size=2, name="p"), [1, 4, 4, 1], "ndim=5"),
    ]
    for layer, shape, what in wrong_rank:
        with pytest.raises(ValueError, match=rf"layer 'p' is incompatible .*{what}"):
            layer(tf.ones(shape))
    with pytest.raises(ValueError, match="Unrecognized keyword arguments passed to GlobalAvgPool2D"):
        sd.GlobalAvgPool2D(size=2)  # parameterless: Keras' own check


def test_3d_pools_run_in_half_precision_on_the_cpu():
    """TensorFlow's CPU has no float16 MaxPool3D/AvgPool3D kernel: float16 goes through 2-D pools."""
    x = np.random.RandomState(5).randn(2, 4, 6, 6, 3).astype(np.float32)
    for kind in (sd.MaxPool3D, sd.AvgPool3D):
        half = kind(pool_size=2, strides=(2, 1, 2), padding="same", dtype="mixed_float16")
        full = kind(pool_size=2, strides=(2, 1, 2), padding="same")
        with tf.GradientTape() as tape:
            inputs = tf.constant(x, tf.float16)  # as the float16 layer before it would hand it over
            tape.watch(inputs)
            y = half(inputs)
            total = tf.reduce_sum(y)
        assert y.dtype == tf.float16
        np.testing.assert_allclose(y.numpy(), full(x).numpy(), rtol=2e-3, atol=2e-3)
        assert np.all(np.isfinite(tape.gradient(total, inputs).numpy()))
