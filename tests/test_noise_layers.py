"""GaussianNoise, GaussianDropout and AlphaDropout: S4TF's noise distributions (statistics over many
draws, AlphaDropout's exact affine map), active only in training as the learning phase says,
gradients that follow the drawn noise, exact replay under checkpointing, serialization and misuse."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import run_in

# SELU's constants and AlphaDropout's affine map, written out from S4TF's formula.
ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


def alpha_dropout_map(p):
    a = ((1 - p) * (1 + p * ALPHA_P**2)) ** -0.5
    return a, -a * ALPHA_P * p


MAKERS = {
    "GaussianNoise": lambda seed=1: sd.GaussianNoise(standard_deviation=0.5, seed=seed),
    "GaussianDropout": lambda seed=1: sd.GaussianDropout(probability=0.2, seed=seed),
    "AlphaDropout": lambda seed=1: sd.AlphaDropout(probability=0.2, seed=seed),
}


def test_noise_statistics_in_training(mode):
    noise, gaussian_dropout, alpha_dropout = (make() for make in MAKERS.values())
    n = 40_000
    x = tf.constant(np.random.RandomState(0).randn(n).astype(np.float32))

    def draw(x):
        return (
            noise(tf.zeros([n]), training=True),
            gaussian_dropout(tf.ones([n]), training=True),
            alpha_dropout(x, training=True),
        )

    additive, multiplicative, alpha = run_in(mode, draw, x)
    assert abs(additive.mean()) < 0.015 and abs(additive.std() - 0.5) < 0.015
    # Normal(1, sqrt(p / (1 - p))) = Normal(1, 0.5) for p = 0.2
    assert abs(multiplicative.mean() - 1) < 0.015 and abs(multiplicative.std() - 0.5) < 0.015
    a, b = alpha_dropout_map(0.2)
    kept = np.isclose(alpha, a * x.numpy() + b, rtol=1e-5, atol=1e-6)
    dropped = np.isclose(alpha, a * ALPHA_P + b, rtol=1e-6)
    assert np.all(kept | dropped)  # every element is either kept or set to the saturation value
    assert abs(dropped.mean() - 0.2) < 0.01
    assert abs(alpha.mean()) < 0.03 and abs(alpha.var() - 1) < 0.03  # zero mean, unit variance kept


def test_gradients_follow_the_drawn_noise(mode):
    layers = [make() for make in MAKERS.values()]
    x = tf.constant(np.random.RandomState(1).rand(200).astype(np.float32) + 0.5)
    w = tf.constant(np.random.RandomState(2).randn(200).astype(np.float32))

    def outputs_and_gradients(x, w):
        results = []
        for layer in layers:
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
                loss = tf.reduce_sum(y * w)
            results.append((y, tape.gradient(loss, x)))
        return results

    (noisy, d_noisy), (scaled, d_scaled), (alpha, d_alpha) = run_in(mode, outputs_and_gradients, x, w)
    x, w = x.numpy(), w.numpy()
    np.testing.assert_allclose(d_noisy, w)  # y = x + noise
    np.testing.assert_allclose(d_scaled, scaled / x * w, rtol=1e-5, atol=1e-6)  # y = x * noise
    a, b = alpha_dropout_map(0.2)
    kept = ~np.isclose(alpha, a * ALPHA_P + b, rtol=1e-6)
    assert 0 < kept.sum() < 200
    np.testing.assert_allclose(d_alpha, a * kept * w, rtol=1e-6)  # y = a * (x * kept + ...) + b


@pytest.mark.parametrize("name", MAKERS)
def test_identity_in_inference_and_the_learning_phase_decides(name):
    layer = MAKERS[name]()
    x = tf.constant(np.random.RandomState(3).randn(4, 50).astype(np.float32))

    def changed(y):
        return not np.array_equal(np.asarray(y), x.numpy())

    assert not changed(layer(x)) and not changed(layer(x, training=False))  # inference by default
    assert changed(layer(x, training=True))
    with sd.with_learning_phase(sd.LearningPhase.training):
        assert changed(layer(x))
        assert not changed(layer(x, training=False))  # an explicit training= wins
    sd.Context.local.learning_phase = sd.LearningPhase.training
    try:
        assert changed(layer(x))
    finally:
        sd.Context.local.learning_phase = sd.LearningPhase.inference
    assert not changed(layer(x))
    # Keras passes training=True in fit-style calls of a model and False in predict.
    model = keras.Sequential([keras.Input((50,)), layer])
    assert changed(model(x, training=True))
    np.testing.assert_array_equal(model.predict(x, verbose=0), x.numpy())


@pytest.mark.parametrize("name", MAKERS)
def test_draws_are_fresh_per_call_and_fixed_by_the_seed(name):
    x = tf.ones([300])
    layer, twin, other = MAKERS[name](seed=5), MAKERS[name](seed=5), MAKERS[name](seed=6)
    first, second = layer(x, training=True).numpy(), layer(x, training=True).numpy()
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(twin(x, training=True), first)
    assert not np.array_equal(other(x, training=True), first)


def test_checkpointed_calls_replay_the_noise_exactly(mode):
    """Recomputation in the pullback sees the noise of the forward pass: the gradients of a
    checkpointed call equal the plain call's, and the seed advances once per call."""
    x = tf.constant(np.random.RandomState(4).randn(8, 5).astype(np.float32))
    triples = {name: (make(seed=7), make(seed=7), make(seed=7)) for name, make in MAKERS.items()}
    calls = {}
    for name, (plain, checkpointed, discarding) in triples.items():
        recomputed = sd.with_recomputation_in_pullbacks(lambda x, layer=checkpointed: layer(x, training=True))
        wrapped = sd.ActivationDiscarding(discarding)
        calls[name] = [
            lambda x, layer=plain: layer(x, training=True),
            recomputed,
            lambda x, w=wrapped: w(x, training=True),
        ]

    def gradients(x):
        results = {}
        for name, each in calls.items():
            results[name] = []
            for call in each:
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    loss = tf.reduce_sum(call(x) ** 2)
                results[name].append(tape.gradient(loss, x))
        return results

    step = gradients if mode == "eager" else tf.function(gradients, jit_compile=mode == "xla")
    for _ in range(2):  # the second step draws new noise, replayed as exactly
        for name, (expected, *got) in step(x).items():
            assert not np.allclose(expected, 2 * x.numpy()), name  # the noise matters
            for grad in got:
                np.testing.assert_allclose(grad, expected, rtol=1e-6, err_msg=name)
    for name, layers in triples.items():
        plain, *others = (layer.seed_generator.state.numpy() for layer in layers)
        for state in others:
            np.testing.assert_array_equal(state, plain, err_msg=name)


def test_get_config_and_keras_file_round_trip(tmp_path):
    layers = [
        sd.GaussianNoise(standard_deviation=0.3, seed=1),
        sd.GaussianDropout(probability=0.1, seed=2),
        sd.AlphaDropout(probability=0.05, seed=None),
    ]
    for layer in layers:
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    model = keras.Sequential([keras.Input((4,)), *layers, sd.Dense(input_size=4, output_size=2)])
    path = tmp_path / "noise.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    noise, gaussian_dropout, alpha_dropout = loaded.layers[:3]
    assert (noise.standard_deviation, noise.seed) == (0.3, 1)
    assert (gaussian_dropout.probability, gaussian_dropout.seed) == (0.1, 2)
    assert math.isclose(gaussian_dropout.standard_deviation, math.sqrt(0.1 / 0.9))
    assert alpha_dropout.probability == 0.05
    x = tf.ones([3, 4])
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)


def test_misuse_is_reported_in_s4tf_terms():
    for name in ("GaussianDropout", "AlphaDropout"):
        layer = getattr(sd, name)
        for bad in (1, 1.5, -0.1, "0.5", True, None):
            with pytest.raises(ValueError, match=rf"sd\.{name}: probability= must be a number in \[0, 1\)"):
                layer(probability=bad)
    for bad in (-1.0, math.inf, math.nan, "1", None, True):
        with pytest.raises(
            ValueError, match=r"sd\.GaussianNoise: standard_deviation= must be a non-negative"
        ):
            sd.GaussianNoise(standard_deviation=bad)
    # The edge values are fine: no noise at all.
    x = tf.constant([1.0, -2.0])
    for layer in (
        sd.GaussianNoise(standard_deviation=0),
        sd.GaussianDropout(probability=0),
        sd.AlphaDropout(probability=0),
    ):
        np.testing.assert_allclose(layer(x, training=True), x, rtol=1e-6)
