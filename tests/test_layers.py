"""S4TF's layers on Keras 3: semantics, Swift names and defaults, serialization, TangentVector."""

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
    out = run_in(mode, lambda x: (sd.MaxPool2D(pool_size=(2, 2), strides=(2, 2))(x),
                                  sd.AvgPool2D(pool_size=(2, 2), strides=(2, 2))(x),
                                  sd.Flatten()(x)), x)
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
    np.testing.assert_allclose(inference, (x - bn.running_mean.numpy())
                               / np.sqrt(bn.running_variance.numpy() + 1e-3), rtol=1e-4, atol=1e-5)


def test_layers_work_before_any_forward_pass():
    model = sd.models.MLP()
    opt = sd.SGD(for_=model)
    grads = sd.gradient(at=model, of=lambda m: tf.reduce_sum(m(tf.ones([1, 2]))))
    opt.update(model, along=grads)
    assert len(model.trainable_variables) == 4


def test_sequenced_and_applied_for_backpropagation(mode):
    dense = sd.Dense(input_size=3, output_size=2, activation=sd.tanh)
    x = tf.random.stateless_normal([4, 3], seed=[2, 2])

    def run(x):
        y, backprop = dense.applied_for_backpropagation(x)
        d_layer, d_x = backprop(tf.ones_like(y))
        g_layer, g_x = sd.gradient(at=(dense, x), of=lambda l, x: tf.reduce_sum(l(x)))
        return y, d_layer.weight, d_x, g_layer.weight, g_x
    y, dw, dx, gw, gx = run_in(mode, run, x)
    np.testing.assert_allclose(y, run_in(mode, lambda x: sd.sequenced(x, through=(dense,)), x), rtol=1e-6)
    np.testing.assert_allclose(dw, gw, rtol=1e-6)
    np.testing.assert_allclose(dx, gx, rtol=1e-6)
    free = sd.applied_for_backpropagation(keras.layers.Dense(2), x)
    assert free.output.shape == (4, 2)


def test_tangent_vector_mirrors_the_model():
    model = sd.models.MLP()
    grads = sd.gradient(at=model, of=lambda m: tf.reduce_sum(m(tf.ones([4, 2]))))
    assert grads.layer1.weight.shape == (2, 10) and grads.layer2.bias.shape == (1,)
    assert [tuple(t.shape) for t in grads] == [tuple(v.shape) for v in model.trainable_variables]
    keras_opt = keras.optimizers.SGD(0.1)
    before = model.layer2.bias.numpy().copy()
    keras_opt.apply_gradients(zip(grads, model.trainable_variables))
    np.testing.assert_allclose(model.layer2.bias.numpy(), before - 0.1 * grads.layer2.bias.numpy(), rtol=1e-6)


def test_tangent_vector_arithmetic():
    model = sd.Dense(input_size=2, output_size=2)
    a = sd.TangentVector(model, [tf.ones([2, 2]), tf.ones([2])])
    b = sd.TangentVector(model, [2 * tf.ones([2, 2]), 3 * tf.ones([2])])
    np.testing.assert_array_equal((a + b).bias, [4.0, 4.0])
    np.testing.assert_array_equal((b - a).weight, np.ones([2, 2]))
    np.testing.assert_array_equal((-a).bias, [-1.0, -1.0])
    np.testing.assert_array_equal((a * 3.0).bias, [3.0, 3.0])
    np.testing.assert_array_equal((0.5 * b).bias, [1.5, 1.5])
    np.testing.assert_array_equal(a.scaled(by=4.0).weight, 4 * np.ones([2, 2]))
    zeros = sd.TangentVector.zeros_like(model)
    assert all(float(tf.reduce_sum(tf.abs(t))) == 0 for t in zeros)
    with pytest.raises(TypeError, match="scaled"):
        a.scaled(by=tf.ones([2]))


def test_move_along_direction(mode):
    model = sd.Dense(input_size=2, output_size=1)
    before = [v.numpy().copy() for v in model.trainable_variables]
    direction = sd.TangentVector(model, [tf.ones([2, 1]), tf.ones([1])])
    run_in(mode, lambda: sd.move(model, along=direction) or tf.constant(0.0))
    for old, new in zip(before, model.trainable_variables):
        np.testing.assert_allclose(new.numpy(), old + 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="sd.move"):
        sd.move(sd.Dense(input_size=3, output_size=1), along=direction)


def test_every_sd_layer_round_trips_through_keras_file(tmp_path):
    model = keras.Sequential([
        keras.Input((8, 8, 2)),
        sd.Conv2D(filter_shape=(3, 3, 2, 4), padding="same", activation=sd.relu),
        sd.BatchNorm(feature_count=4),
        sd.MaxPool2D(pool_size=(2, 2)),
        sd.AvgPool2D(pool_size=(2, 2), strides=(1, 1)),
        sd.Dropout(probability=0.2, seed=1),
        sd.Flatten(),
        sd.ActivationDiscarding(sd.Dense(input_size=36, output_size=5, activation=sd.tanh)),
        sd.Dense(input_size=5, output_size=3, activation=sd.softmax),
    ])
    x = tf.random.stateless_normal([2, 8, 8, 2], seed=[5, 5])
    model(x, training=True)  # moves the BatchNorm statistics away from their initial values
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
    assert loaded.layers[6].wrapped.activation is sd.tanh


def test_losses_match_numpy(mode):
    logits = np.random.RandomState(2).randn(5, 4).astype(np.float32)
    labels = np.array([0, 3, 1, 1, 2], np.int32)
    out = run_in(mode, lambda l, y: sd.softmax_cross_entropy(logits=l, labels=y),
                 tf.constant(logits), tf.constant(labels))
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    np.testing.assert_allclose(out, -log_softmax[np.arange(5), labels].mean(), rtol=1e-5)
    probs = np.eye(4, dtype=np.float32)[labels]
    out = run_in(mode, lambda l, p: sd.softmax_cross_entropy(logits=l, probabilities=p),
                 tf.constant(logits), tf.constant(probs))
    np.testing.assert_allclose(out, -log_softmax[np.arange(5), labels].mean(), rtol=1e-5)
    out = run_in(mode, lambda p, e: sd.mean_squared_error(predicted=p, expected=e),
                 tf.constant([1.0, 2.0]), tf.constant([0.0, 0.0]))
    np.testing.assert_allclose(out, 2.5)


def test_layer_misuse_errors():
    with pytest.raises(ValueError, match="sd.Dense: input_size"):
        sd.Dense(input_size=0, output_size=2)
    with pytest.raises(ValueError, match="sd.Dense: expected inputs with 3 features"):
        sd.Dense(input_size=3, output_size=2)(tf.ones([1, 4]))
    with pytest.raises(ValueError, match="sd.Conv2D: filter_shape"):
        sd.Conv2D(filter_shape=(3, 3, 2))
    with pytest.raises(ValueError, match="sd.Dropout: probability"):
        sd.Dropout(probability=1.5)
    with pytest.raises(TypeError, match="sd.ActivationDiscarding"):
        sd.ActivationDiscarding(lambda x: x)
    with pytest.raises(TypeError, match="sd.SGD: for_"):
        sd.SGD(for_=[1, 2])
    with pytest.raises(TypeError, match="sd.softmax_cross_entropy"):
        sd.softmax_cross_entropy(logits=tf.ones([2, 3]))
    with pytest.raises(ValueError, match="sd.MaxPool2D: padding"):
        sd.MaxPool2D(pool_size=(2, 2), padding="full")


def test_dropout_in_graphs(mode):
    drop = sd.Dropout(probability=0.5, seed=2)
    out = run_in(mode, lambda x: (drop(x, training=True), drop(x)), tf.ones([400]))
    assert set(np.unique(out[0])) == {0.0, 2.0} and 0.35 < np.mean(out[0] == 0) < 0.65
    np.testing.assert_array_equal(out[1], np.ones(400))
