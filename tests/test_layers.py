"""S4TF's layers on Keras 3: semantics, Swift names and defaults, input checks, output shapes,
serialization, and the Layer protocol's functions (sequenced, applied_for_backpropagation)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import run_in


def test_dense_semantics_names_and_initializers(mode):
    dense = sd.Dense(input_size=20, output_size=30, activation=sd.relu)
    assert [v.name for v in dense.trainable_variables] == ["weight", "bias"]
    assert tuple(dense.weight.shape) == (20, 30) and tuple(dense.bias.shape) == (30,)
    limit = np.sqrt(6 / (20 + 30))  # Glorot uniform
    w = dense.weight.numpy()
    assert np.all(np.abs(w) <= limit) and np.std(w) > limit / 3
    np.testing.assert_array_equal(dense.bias.numpy(), 0.0)
    x = np.random.RandomState(0).randn(4, 20).astype(np.float32)
    out = run_in(mode, lambda x: dense(x), tf.constant(x))
    np.testing.assert_allclose(out, np.maximum(x @ w, 0), rtol=1e-5, atol=1e-6)


def test_dense_default_activation_is_identity():
    dense = sd.Dense(input_size=2, output_size=2)
    x = tf.constant([[-1.0, 2.0]])
    np.testing.assert_allclose(dense(x), x.numpy() @ dense.weight.numpy(), rtol=1e-6)


def test_conv2d_matches_tf_nn_conv2d(mode):
    conv = sd.Conv2D(filter_shape=(5, 5, 3, 6), activation=sd.tanh)
    assert [v.name for v in conv.trainable_variables] == ["filter", "bias"]
    x = tf.random.stateless_normal([2, 16, 16, 3], seed=[1, 1])
    out = run_in(mode, lambda x: conv(x), x)
    expected = tf.tanh(tf.nn.conv2d(x, conv.filter.value, 1, "VALID") + conv.bias.value)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    same = sd.Conv2D(filter_shape=(3, 3, 3, 2), strides=(2, 2), padding="same")
    assert same(x).shape == (2, 8, 8, 2)


def test_pools_and_flatten(mode):
    x = tf.reshape(tf.range(16.0), [1, 4, 4, 1])
    out = run_in(
        mode,
        lambda x: (
            sd.MaxPool2D(pool_size=(2, 2), strides=(2, 2))(x),
            sd.AvgPool2D(pool_size=(2, 2), strides=(2, 2))(x),
            sd.Flatten()(x),
        ),
        x,
    )
    np.testing.assert_array_equal(out[0][0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(out[1][0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    assert out[2].shape == (1, 16)


def test_dropout_training_and_inference():
    drop = sd.Dropout(probability=0.25, seed=3)
    x = tf.ones([1000])
    np.testing.assert_array_equal(drop(x), x)
    y = drop(x, training=True).numpy()
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert 0.15 < np.mean(y == 0) < 0.35
    assert not np.array_equal(y, drop(x, training=True).numpy())  # a new mask per call


def test_batchnorm_matches_s4tf_formula(mode):
    bn = sd.BatchNorm(feature_count=3, momentum=0.9, epsilon=1e-3)
    assert [v.name for v in bn.trainable_variables] == ["offset", "scale"]
    x = np.random.RandomState(1).randn(8, 3).astype(np.float32) * 2 + 1
    out = run_in(mode, lambda x: bn(x, training=True), tf.constant(x))
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.running_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-5)
    inference = bn(tf.constant(x)).numpy()
    np.testing.assert_allclose(
        inference,
        (x - bn.running_mean.numpy()) / np.sqrt(bn.running_variance.numpy() + 1e-3),
        rtol=1e-4,
        atol=1e-5,
    )


def test_batchnorm_under_mixed_precision_keeps_float32_statistics(mode):
    """Under mixed_float16 a feature whose batch variance is beyond float16's range (65504) is
    normalized in float32 (float16 moments overflowed: zeros out and inf in running_variance): the
    output is the float32 layer's, and Keras' mixed-precision BatchNormalization's, with the same
    weights; the running statistics are float32, finite and the float32 layer's (and Keras'); the
    gradients are finite and the float32 layer's; inference uses the running statistics likewise."""
    rng = np.random.RandomState(2)
    mixed = sd.BatchNorm(feature_count=3, momentum=0.9, dtype="mixed_float16")
    plain = sd.BatchNorm(feature_count=3, momentum=0.9)
    keras_bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3, dtype="mixed_float16")
    keras_bn.build((8, 3))
    offset, scale = rng.randn(3).astype(np.float32), rng.randn(3).astype(np.float32)
    for layer in (mixed, plain):
        layer.offset.assign(offset)
        layer.scale.assign(scale)
    keras_bn.set_weights([scale, offset, np.zeros(3), np.ones(3)])  # gamma, beta, moving mean, variance
    assert mixed.compute_dtype == "float16"
    assert all(v.dtype == "float32" for v in mixed.weights)
    x = tf.constant(np.round(rng.randn(8, 3) * 1000) + [0, 500, -300], tf.float16)  # exact in float16
    assert np.all(np.var(x.numpy().astype(np.float64), axis=0) > 65504)
    w = tf.constant(rng.randn(8, 3).astype(np.float32))

    def run(x):
        def of(layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
                loss = tf.reduce_sum(tf.cast(y, tf.float32) * w)
            return y, tape.gradient(loss, [x, *layer.trainable_variables]), layer(x, training=False)

        return of(mixed), of(plain), keras_bn(x, training=True), keras_bn(x, training=False)

    (y, grads, y_inference), (y32, grads32, y32_inference), y_keras, y_keras_inference = run_in(mode, run, x)
    assert y.dtype == y_inference.dtype == np.float16 and np.abs(y).max() > 0.5
    np.testing.assert_allclose(y, y32, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(y, y_keras, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(y_inference, y32_inference, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(y_inference, y_keras_inference, rtol=2e-3, atol=2e-3)
    for statistic, keras_statistic in (
        ("running_mean", "moving_mean"),
        ("running_variance", "moving_variance"),
    ):
        got = getattr(mixed, statistic).numpy()
        assert got.dtype == np.float32 and np.all(np.isfinite(got))
        np.testing.assert_allclose(got, getattr(plain, statistic).numpy(), rtol=1e-6)
        np.testing.assert_allclose(got, getattr(keras_bn, keras_statistic).numpy(), rtol=1e-5)
    variance = np.var(x.numpy().astype(np.float64), axis=0)
    np.testing.assert_allclose(mixed.running_variance.numpy(), 0.9 + 0.1 * variance, rtol=1e-5)
    for got, want in zip(grads, grads32, strict=True):
        assert np.all(np.isfinite(got)) and got.dtype == want.dtype
        np.testing.assert_allclose(
            got.astype(np.float32), want.astype(np.float32), rtol=2e-2, atol=np.abs(want).max() * 1e-2
        )


def test_layers_work_before_any_forward_pass():
    model = sd.models.MLP()  # variables exist from construction: set them, differentiate, update
    model.layer1.weight.assign(np.full((2, 10), 0.1, np.float32))
    model.layer2.weight.assign(np.full((10, 1), 0.2, np.float32))
    opt = sd.SGD(for_=model)  # learning rate 0.01
    grads = sd.gradient(at=model, of=lambda m: tf.reduce_sum(m(tf.ones([1, 2]))))
    opt.update(model, along=grads)
    # By hand, for the input [1, 1] (zero biases): each hidden unit is relu(0.1 + 0.1) = 0.2 and the
    # output relu(10 * 0.2 * 0.2) = 0.4 > 0, so d/d(b2) = 1, d/d(W2) = 0.2 (the hidden units),
    # d/d(b1) = 0.2 (W2) and d/d(W1) = 0.2 (input 1 times 0.2); each moves by -0.01 times that.
    np.testing.assert_allclose(model.layer1.weight.numpy(), np.full((2, 10), 0.1 - 0.002), rtol=1e-6)
    np.testing.assert_allclose(model.layer1.bias.numpy(), np.full(10, -0.002), rtol=1e-6)
    np.testing.assert_allclose(model.layer2.weight.numpy(), np.full((10, 1), 0.2 - 0.002), rtol=1e-6)
    np.testing.assert_allclose(model.layer2.bias.numpy(), [-0.01], rtol=1e-6)


def test_sequenced_and_applied_for_backpropagation(mode):
    dense = sd.Dense(input_size=3, output_size=2, activation=sd.tanh)
    x = tf.random.stateless_normal([4, 3], seed=[2, 2])

    def run(x):
        y, backprop = dense.applied_for_backpropagation(x)
        d_layer, d_x = backprop(tf.ones_like(y))
        g_layer, g_x = sd.gradient(at=(dense, x), of=lambda layer, x: tf.reduce_sum(layer(x)))
        return y, d_layer.weight, d_x, g_layer.weight, g_x

    y, dw, dx, gw, gx = run_in(mode, run, x)
    np.testing.assert_allclose(y, run_in(mode, lambda x: sd.sequenced(x, through=(dense,)), x), rtol=1e-6)
    np.testing.assert_allclose(dw, gw, rtol=1e-6)
    np.testing.assert_allclose(dx, gx, rtol=1e-6)
    keras_dense = keras.layers.Dense(2)
    keras_dense.build((None, 3))  # a layer is differentiated through its variables: they must exist
    free = sd.applied_for_backpropagation(keras_dense, x)
    assert free.output.shape == (4, 2)


def test_every_sd_layer_round_trips_through_keras_file(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            sd.Conv2D(filter_shape=(3, 3, 2, 4), padding="same", activation=sd.relu),
            sd.BatchNorm(feature_count=4),
            sd.MaxPool2D(pool_size=(2, 2)),
            sd.AvgPool2D(pool_size=(2, 2), strides=(1, 1)),
            sd.Dropout(probability=0.2, seed=1),
            sd.Flatten(),
            sd.ActivationDiscarding(sd.Dense(input_size=36, output_size=5, activation=sd.tanh)),
            sd.Dense(input_size=5, output_size=3, activation=sd.softmax),
        ]
    )
    x = tf.random.stateless_normal([2, 8, 8, 2], seed=[5, 5])
    model(x, training=True)  # moves the BatchNorm statistics away from their initial values
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects
    assert [type(a).__name__ for a in loaded.layers] == [type(b).__name__ for b in model.layers]
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
    assert loaded.layers[6].wrapped.activation is sd.tanh


def test_losses_match_numpy(mode):
    logits = np.random.RandomState(2).randn(5, 4).astype(np.float32)
    labels = np.array([0, 3, 1, 1, 2], np.int32)
    out = run_in(
        mode,
        lambda logits, y: sd.softmax_cross_entropy(logits=logits, labels=y),
        tf.constant(logits),
        tf.constant(labels),
    )
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    np.testing.assert_allclose(out, -log_softmax[np.arange(5), labels].mean(), rtol=1e-5)
    probs = np.eye(4, dtype=np.float32)[labels]
    out = run_in(
        mode,
        lambda logits, p: sd.softmax_cross_entropy(logits=logits, probabilities=p),
        tf.constant(logits),
        tf.constant(probs),
    )
    np.testing.assert_allclose(out, -log_softmax[np.arange(5), labels].mean(), rtol=1e-5)
    out = run_in(
        mode,
        lambda p, e: sd.mean_squared_error(predicted=p, expected=e),
        tf.constant([1.0, 2.0]),
        tf.constant([0.0, 0.0]),
    )
    np.testing.assert_allclose(out, 2.5)


def test_dropout_in_graphs(mode):
    drop = sd.Dropout(probability=0.5, seed=2)
    out = run_in(mode, lambda x: (drop(x, training=True), drop(x)), tf.ones([400]))
    assert set(np.unique(out[0])) == {0.0, 2.0} and 0.35 < np.mean(out[0] == 0) < 0.65
    np.testing.assert_array_equal(out[1], np.ones(400))


def test_inputs_are_checked_by_keras_input_spec():
    """Wrong inputs get Keras' InputSpec error, raised before the layer runs, naming the layer."""
    cases = [
        (sd.Dense(input_size=3, output_size=2, name="d"), tf.ones([2, 5]), "axis -1 .* value 3"),
        (sd.Dense(input_size=3, output_size=2, name="d"), tf.ones([]), "min_ndim=1"),
        (sd.Conv2D(filter_shape=(3, 3, 2, 4), name="c"), tf.ones([4, 4]), "ndim=4"),
        (sd.Conv2D(filter_shape=(3, 3, 2, 4), name="c"), tf.ones([1, 4, 4, 3]), "axis -1 .* value 2"),
        (sd.MaxPool2D(name="m"), tf.ones([4, 4, 1]), "ndim=4"),
        (sd.AvgPool2D(name="a"), tf.ones([4, 4, 1]), "ndim=4"),
        (sd.BatchNorm(feature_count=3, name="b"), tf.ones([2, 4]), "axis -1 .* value 3"),
        (sd.BatchNorm(feature_count=3, axis=1, name="b"), tf.ones([3]), "min_ndim=2"),
        (sd.BatchNorm(feature_count=3, axis=-3, name="b"), tf.ones([3, 2]), "min_ndim=3"),
    ]
    for layer, x, what in cases:
        with pytest.raises(ValueError, match=rf"layer '{layer.name}' is incompatible .*{what}"):
            layer(x)
    with pytest.raises(ValueError, match="layer 'd' is incompatible"):  # symbolic inputs too
        keras.Sequential([keras.Input((5,)), sd.Dense(input_size=3, output_size=2, name="d")])
    sd.Dense(input_size=3, output_size=2)(tf.ones([3]))  # one example without a batch axis is fine
    sd.BatchNorm(feature_count=3, axis=1)(tf.ones([2, 3, 5]))


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides,dilations", [((1, 1), (1, 1)), ((2, 3), (1, 1)), ((1, 1), (2, 3))])
def test_output_shapes_are_those_keras_computes(padding, strides, dilations):
    for input_shape in [(2, 17, 12, 3), (None, 9, 8, 3), (4, None, 7, 3)]:
        conv = sd.Conv2D(filter_shape=(3, 2, 3, 5), strides=strides, padding=padding, dilations=dilations)
        keras_conv = keras.layers.Conv2D(5, (3, 2), strides=strides, padding=padding, dilation_rate=dilations)
        assert conv.compute_output_shape(input_shape) == keras_conv.compute_output_shape(input_shape)
        pool = sd.MaxPool2D(pool_size=(3, 2), strides=strides, padding=padding)
        keras_pool = keras.layers.MaxPooling2D((3, 2), strides=strides, padding=padding)
        assert pool.compute_output_shape(input_shape) == keras_pool.compute_output_shape(input_shape)
        if None not in input_shape:
            assert tuple(conv(tf.ones(input_shape)).shape) == conv.compute_output_shape(input_shape)
            assert tuple(pool(tf.ones(input_shape)).shape) == pool.compute_output_shape(input_shape)
    assert sd.Flatten().compute_output_shape((None, 6, 6, 6)) == (None, 216)
    assert sd.Flatten().compute_output_shape((8, None, 6)) == (8, None)
    assert sd.Dense(input_size=3, output_size=2).compute_output_shape((None, 7, 3)) == (None, 7, 2)
    with pytest.raises(ValueError, match=r"sd.Conv2D: inputs of shape \[1, 2, 9, 3\] are smaller than"):
        keras.Sequential([keras.Input((2, 9, 3), batch_size=1), sd.Conv2D(filter_shape=(3, 2, 3, 5))])


def test_a_layer_runs_its_call_once_per_call():
    """sd.Layer defines build, so Keras never builds a layer with unbuilt sublayers by running its
    call symbolically first (which would run the user's code one extra time)."""
    calls = []

    class Noisy(sd.Layer):
        def __init__(self):
            super().__init__()
            self.inner = keras.layers.Dense(2, kernel_initializer="ones")  # built on its first call

        def call(self, x):
            calls.append(1)  # user code: a print, a counter
            return self.inner(x)

    layer = Noisy()
    np.testing.assert_array_equal(layer(tf.ones([1, 3])), [[3.0, 3.0]])
    assert layer.built and layer.inner.built and len(calls) == 1


@pytest.mark.parametrize("layer", [sd.MaxPool2D, sd.AvgPool2D])
def test_a_pool_on_an_input_smaller_than_its_window_names_the_layer(layer):
    """Not oneDNN's 'could not create a descriptor' from inside TensorFlow."""
    message = rf"sd\.{layer.__name__}: inputs of shape \[1, 2, 2, 1\] are smaller"
    with pytest.raises(ValueError, match=message):
        layer(pool_size=(4, 4))(tf.ones([1, 2, 2, 1]))
