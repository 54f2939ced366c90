"""ActivationDiscarding is exact: the wrapped layer's gradients, state and training history, in
eager mode, tf.function, XLA, model.fit, .keras files and MirroredStrategy."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd


def block(seed=7):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dropout(0.5, seed=seed),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(3),
    ])


def test_wrapped_block_equals_unwrapped_over_two_steps(mode):
    plain_block, wrapped_block = block(), block()
    plain, wrapped = plain_block, sd.ActivationDiscarding(wrapped_block)
    # the wrapped layer's weights are the wrapper's own
    assert [id(w) for w in wrapped.weights] == [id(w) for w in wrapped_block.weights]
    assert len(wrapped.trainable_weights) == len(plain.trainable_weights) == 6
    x = tf.random.stateless_normal([16, 6], seed=[3, 4])
    optimizers = [sd.SGD(for_=plain, learning_rate=0.1), sd.SGD(for_=wrapped, learning_rate=0.1)]

    def make_step(model, optimizer):
        def step():
            grads = sd.gradient(at=model, of=lambda m: tf.reduce_sum(m(x, training=True) ** 2))
            optimizer.update(model, along=grads)
            return list(grads)
        if mode == "eager":
            return step
        return tf.function(step, jit_compile=(mode == "xla"))

    steps = [make_step(plain, optimizers[0]), make_step(wrapped, optimizers[1])]
    for _ in range(2):
        expected, got = (s() for s in steps)
        for a, b in zip(expected, got):
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)
        for a, b in zip(plain.non_trainable_weights, wrapped.non_trainable_weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())  # BN statistics, seed state


@pytest.mark.parametrize("jit_compile", [False, True])
def test_model_fit_history_equals_unwrapped(jit_compile):
    rng = np.random.RandomState(0)
    x, y = rng.randn(64, 6).astype("float32"), rng.randn(64, 3).astype("float32")
    results = []
    for wrap in (False, True):
        inner = block()
        model = keras.Sequential([keras.Input((6,)), sd.ActivationDiscarding(inner) if wrap else inner])
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", jit_compile=jit_compile)
        history = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
        results.append((history.history["loss"], [w.numpy() for w in model.weights]))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-6)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_keras_file_round_trip(tmp_path):
    model = keras.Sequential([keras.Input((6,)), sd.ActivationDiscarding(block()), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 6), "float32"), np.zeros((8, 1), "float32"), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[0], sd.ActivationDiscarding)
    x = np.random.RandomState(1).randn(4, 6).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_discarding_activations_of_any_keras_layer():
    dense = keras.layers.Dense(4)
    wrapped = sd.discarding_activations(dense)
    x = tf.ones([2, 3])
    y = wrapped(x)  # builds the wrapped layer on first call
    assert y.shape == (2, 4) and dense.built
    assert wrapped.trainable_weights == dense.trainable_weights


class CountingConv(sd.Conv2D):
    calls = 0

    def call(self, input):
        CountingConv.calls += 1
        return super().call(input)


class TutorialModel(sd.Layer):
    """Section 6's model, its convolution counting its applications."""

    def __init__(self, discard=True, **kwargs):
        super().__init__(**kwargs)
        keras.utils.set_random_seed(1)
        conv = CountingConv(filter_shape=(5, 5, 3, 6))
        self.conv = conv.discarding_activations() if discard else conv
        self.max_pool = sd.MaxPool2D(pool_size=(2, 2), strides=(2, 2))
        self.flatten = sd.Flatten()
        self.dense = sd.Dense(input_size=36 * 6, output_size=10)

    def call(self, input):
        return sd.sequenced(input, through=(self.conv, self.max_pool, self.flatten, self.dense))


def train_step(model, opt, x, y):
    logits, backprop = model.applied_for_backpropagation(x)
    loss, dl_dy = sd.value_with_gradient(at=logits, of=lambda logits:
                                         sd.softmax_cross_entropy(logits=logits, labels=y))
    d_theta, _ = backprop(dl_dy)
    opt.update(model, along=d_theta)
    return float(loss), d_theta


def test_tutorial_section_6_conv_runs_exactly_twice_per_step_and_matches_plain():
    x = tf.random.stateless_normal([10, 16, 16, 3], seed=[0, 1])
    y = tf.range(10)
    plain, discarding = TutorialModel(discard=False), TutorialModel(discard=True)
    for a, b in zip(plain.trainable_variables, discarding.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    opts = sd.SGD(for_=plain), sd.SGD(for_=discarding)
    losses = []
    for _ in range(5):
        CountingConv.calls = 0
        loss_plain, grads_plain = train_step(plain, opts[0], x, y)
        assert CountingConv.calls == 1
        CountingConv.calls = 0
        loss, grads = train_step(discarding, opts[1], x, y)
        assert CountingConv.calls == 2  # once applying the layer, once in backpropagation
        np.testing.assert_allclose(loss, loss_plain, rtol=1e-6)
        for a, b in zip(grads_plain, grads):
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-7)
        losses.append(loss)
    assert losses[-1] < losses[0]


def make_recomputed_in_gradient(original):
    return sd.differentiable_function(
        from_=lambda x, y: (original(x, y), lambda v: sd.pullback(at=(x, y), of=original)(v)))


class UserActivationDiscarding(sd.Layer):
    """The tutorial's own wrapper, written as user code on make_recomputed_in_gradient."""

    def __init__(self, wrapped, **kwargs):
        super().__init__(**kwargs)
        self.wrapped = wrapped

    def call(self, input):
        apply = make_recomputed_in_gradient(lambda layer, input: layer(input))
        return apply(self.wrapped, input)


def test_user_written_wrapper_gives_the_plain_gradients():
    x = tf.random.stateless_normal([10, 16, 16, 3], seed=[2, 1])
    y = tf.range(10)
    plain = TutorialModel(discard=False)
    user = TutorialModel(discard=False)
    user.conv = UserActivationDiscarding(user.conv)
    CountingConv.calls = 0
    _, grads_user = train_step(user, sd.SGD(for_=user), x, y)
    assert CountingConv.calls == 2
    _, grads_plain = train_step(plain, sd.SGD(for_=plain), x, y)
    for a, b in zip(grads_plain, grads_user):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-7)


def test_tutorial_cnn_model_trains_with_fit_with_and_without_jit():
    x = tf.random.stateless_normal([20, 16, 16, 3], seed=[4, 4]).numpy()
    y = np.arange(20) % 10
    histories = []
    for discard in (False, True):
        for jit in (False, True):
            keras.utils.set_random_seed(2)
            model = sd.models.CNN(discard_activations=discard)
            model.compile(optimizer=keras.optimizers.SGD(0.01), jit_compile=jit,
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            histories.append(model.fit(x, y, epochs=2, batch_size=10, shuffle=False, verbose=0).history["loss"])
    for history in histories[1:]:
        np.testing.assert_allclose(history, histories[0], rtol=1e-5)


# --- MirroredStrategy, in child processes with two logical CPU devices ----------------------------

CHILD = Path(__file__).parent / "support" / "mirrored_training.py"


def _train(*args):
    done = subprocess.run([sys.executable, str(CHILD), *args], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert done.returncode == 0, done.stderr[-3000:]
    return [np.array(w) for w in json.loads(done.stdout.strip().splitlines()[-1])]


@pytest.mark.subprocess
def test_mirrored_strategy_equals_single_device_training():
    mirrored = _train("mirrored", "wrapped", "deterministic")
    single = _train("single", "wrapped", "deterministic")
    for a, b in zip(single, mirrored):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.subprocess
def test_mirrored_strategy_with_dropout_and_batchnorm_equals_unwrapped():
    wrapped = _train("mirrored", "wrapped", "stochastic")
    plain = _train("mirrored", "plain", "stochastic")
    for a, b in zip(plain, wrapped):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


def test_checkpointed_sequential_segments_and_exactness(mode, tmp_path):
    def stack(seed):
        keras.utils.set_random_seed(seed)
        return [keras.layers.Dense(6, activation="tanh") for _ in range(10)] + \
            [keras.layers.Dropout(0.3, seed=seed), keras.layers.BatchNormalization()]

    plain = keras.Sequential([keras.Input((6,)), *stack(5)])
    checkpointed = sd.checkpointed_sequential(stack(5))
    # round(√12) = 3 segments; the last one runs plainly (its activations are needed first).
    assert [(type(block).__name__, len(getattr(block, "wrapped", block).layers))
            for block in checkpointed.layers] == [("ActivationDiscarding", 4)] * 2 + [("Sequential", 4)]
    every = sd.checkpointed_sequential(stack(5), segments=6, keep_last_segment=False)
    assert [type(block).__name__ for block in every.layers] == ["ActivationDiscarding"] * 6
    x = tf.random.stateless_normal([8, 6], seed=[7, 7])

    def grads(model):
        def run():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(model(x, training=True) ** 2)
            return tape.gradient(loss, model.trainable_variables)
        return run if mode == "eager" else tf.function(run, jit_compile=(mode == "xla"))

    expected = [g.numpy() for g in grads(plain)()]
    for model in (checkpointed, every):
        for a, b in zip(expected, grads(model)()):
            np.testing.assert_allclose(b.numpy(), a, rtol=1e-5, atol=1e-6)
        for a, b in zip(plain.non_trainable_weights, model.non_trainable_weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    if mode == "eager":
        checkpointed.save(tmp_path / "stack.keras")
        loaded = keras.models.load_model(tmp_path / "stack.keras")
        np.testing.assert_allclose(loaded(x), checkpointed(x), rtol=1e-6)
