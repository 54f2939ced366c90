"""LayerNorm, GroupNorm and InstanceNorm: S4TF's variables, defaults and formulas, checked against
Keras' LayerNormalization / GroupNormalization with the same weights, numpy and finite differences;
construction from given tensors, serialization and misuse."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import finite_difference, run_in

RNG = np.random.RandomState(0)


def randomized(layer):
    """The layer with random offset and scale, so that both take part in the checks."""
    layer.offset.assign(RNG.randn(*layer.offset.shape))
    layer.scale.assign(RNG.randn(*layer.scale.shape))
    return layer


def keras_twin(layer, **kwargs):
    """The Keras layer computing what ``layer`` should, with its weights (gamma=scale, beta=offset);
    ``kwargs`` go to it (``dtype=``)."""
    if isinstance(layer, sd.LayerNorm):
        twin = keras.layers.LayerNormalization(axis=layer.axis, epsilon=layer.epsilon, **kwargs)
    else:
        twin = keras.layers.GroupNormalization(
            groups=layer.group_count, axis=layer.axis, epsilon=layer.epsilon, **kwargs
        )
    return twin


def value_and_gradients(layer, x, weights):
    """The output and the gradients of ``sum(output * weights)`` w.r.t. the input and the variables."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(y * weights)
    return y, tape.gradient(loss, [x, *layer.trainable_variables])


CASES = [  # (layer, input shape)
    (lambda: sd.LayerNorm(feature_count=5, axis=-1), (3, 4, 5)),
    (lambda: sd.LayerNorm(feature_count=4, axis=1, epsilon=0.1), (3, 4, 5)),
    (lambda: sd.GroupNorm(feature_count=6, group_count=2), (2, 3, 4, 6)),
    (lambda: sd.GroupNorm(feature_count=6, group_count=3, axis=1), (2, 6, 5)),
    (lambda: sd.InstanceNorm(feature_count=3), (2, 4, 4, 3)),
]


def test_forward_and_gradients_match_keras_with_the_same_weights(mode):
    layers = [randomized(make()) for make, _ in CASES]
    inputs = [tf.constant(RNG.randn(*shape).astype(np.float32) * 3 + 1) for _, shape in CASES]
    weights = [tf.constant(RNG.randn(*shape).astype(np.float32)) for _, shape in CASES]
    twins = []
    for layer, x in zip(layers, inputs, strict=True):
        twin = keras_twin(layer)
        twin.build(x.shape)
        twin.set_weights([layer.scale.numpy(), layer.offset.numpy()])  # gamma, beta
        twins.append(twin)

    def run(*args):
        n = len(layers)
        xs, ws = args[:n], args[n:]
        ours = [value_and_gradients(layer, x, w) for layer, x, w in zip(layers, xs, ws, strict=True)]
        theirs = [value_and_gradients(twin, x, w) for twin, x, w in zip(twins, xs, ws, strict=True)]
        return ours, theirs

    ours, theirs = run_in(mode, run, *inputs, *weights)
    for (y, (dx, d_offset, d_scale)), (ky, (kdx, d_gamma, d_beta)) in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(y, ky, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(dx, kdx, rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(d_offset, d_beta, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(d_scale, d_gamma, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "make,shape",
    [
        (lambda **kw: sd.LayerNorm(feature_count=4, axis=-1, **kw), (3, 2, 4)),
        (lambda **kw: sd.GroupNorm(feature_count=4, group_count=2, **kw), (2, 3, 4)),
        (lambda **kw: sd.InstanceNorm(feature_count=4, axis=1, **kw), (2, 4, 3)),
    ],
    ids=["LayerNorm", "GroupNorm", "InstanceNorm"],
)
def test_mixed_precision_normalizes_in_float32(make, shape, mode):
    """Under mixed_float16 a group whose variance is beyond float16's range (65504) is normalized in
    float32 (float16 moments overflow to inf, whose rsqrt zeroed the output): the output is the
    float32 layer's, and Keras' mixed-precision layer's, with the same weights, cast to float16;
    the gradients are finite and the float32 layer's; the variables stay float32."""
    mixed, plain = randomized(make(dtype="mixed_float16")), make()
    plain.set_weights(mixed.get_weights())
    assert mixed.compute_dtype == "float16" and mixed.offset.dtype == mixed.scale.dtype == "float32"
    keras_mixed = keras_twin(mixed, dtype="mixed_float16")
    keras_mixed.build(shape)
    keras_mixed.set_weights([mixed.scale.numpy(), mixed.offset.numpy()])  # gamma, beta
    x = tf.constant(RNG.randn(*shape) * 1000, tf.float16)  # as a mixed-precision model's layers pass it
    assert np.var(x.numpy().astype(np.float64)) > 65504
    w = tf.constant(RNG.randn(*shape).astype(np.float32))

    def run(x):
        def of(layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
                loss = tf.reduce_sum(tf.cast(y, tf.float32) * w)
            return y, tape.gradient(loss, [x, *layer.trainable_variables])

        return of(mixed), of(plain), keras_mixed(x)

    (y, grads), (y32, grads32), y_keras = run_in(mode, run, x)
    assert y.dtype == np.float16 and np.abs(y).max() > 0.5
    np.testing.assert_allclose(y, y32, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(y, y_keras, rtol=2e-3, atol=2e-3)
    for got, want in zip(grads, grads32, strict=True):
        assert np.all(np.isfinite(got)) and got.dtype == want.dtype
        scale = np.abs(want).max()
        np.testing.assert_allclose(
            got.astype(np.float32), want.astype(np.float32), rtol=2e-2, atol=scale * 1e-2
        )


def test_formulas_in_numpy():
    x = RNG.randn(2, 3, 4).astype(np.float32)
    norm = randomized(sd.LayerNorm(feature_count=3, axis=-2, epsilon=0.01))
    mean, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)  # along axis 1 alone, biased
    expected = (x - mean) / np.sqrt(var + 0.01) * norm.scale.numpy()[:, None] + norm.offset.numpy()[:, None]
    np.testing.assert_allclose(norm(x), expected, rtol=1e-5, atol=1e-5)

    x = RNG.randn(2, 5, 6).astype(np.float32)
    norm = randomized(sd.GroupNorm(feature_count=6, group_count=2))
    groups = x.reshape(2, 5, 2, 3)  # features 0-2 and 3-5; moments over the 5 positions and 3 features
    mean, var = groups.mean((1, 3), keepdims=True), groups.var((1, 3), keepdims=True)
    expected = ((groups - mean) / np.sqrt(var + 1e-3)).reshape(
        2, 5, 6
    ) * norm.scale.numpy() + norm.offset.numpy()
    np.testing.assert_allclose(norm(x), expected, rtol=1e-4, atol=1e-4)

    norm = randomized(sd.InstanceNorm(feature_count=6))
    mean, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)  # each feature over the positions
    expected = (x - mean) / np.sqrt(var + 1e-3) * norm.scale.numpy() + norm.offset.numpy()
    np.testing.assert_allclose(norm(x), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "make",
    [
        lambda: sd.LayerNorm(feature_count=3, axis=1, dtype="float64"),
        lambda: sd.GroupNorm(feature_count=4, group_count=2, dtype="float64"),
    ],
    ids=["LayerNorm", "GroupNorm"],
)
def test_gradients_match_finite_differences_in_float64(make):
    layer = randomized(make())
    shape = (2, 3, 4)
    x0 = RNG.randn(*shape)
    w = RNG.randn(*shape)

    def loss(x):
        return tf.reduce_sum(layer(tf.constant(x)) * w)

    dx = sd.gradient(at=tf.constant(x0), of=lambda x: tf.reduce_sum(layer(x) * w))
    assert dx.dtype == tf.float64
    np.testing.assert_allclose(dx, finite_difference(loss, x0), rtol=1e-6, atol=1e-8)
    d_layer = sd.gradient(at=layer, of=lambda n: tf.reduce_sum(n(tf.constant(x0)) * w))
    scale0 = layer.scale.numpy()

    def loss_of_scale(scale):
        layer.scale.assign(scale)
        return loss(x0)

    np.testing.assert_allclose(d_layer.scale, finite_difference(loss_of_scale, scale0), rtol=1e-6, atol=1e-8)


def test_variables_defaults_and_construction_from_tensors():
    for layer in (
        sd.LayerNorm(feature_count=4, axis=-1),
        sd.GroupNorm(feature_count=4, group_count=2),
        sd.InstanceNorm(feature_count=4),
    ):
        assert [v.name for v in layer.trainable_variables] == ["offset", "scale"]  # Swift's order
        np.testing.assert_array_equal(layer.offset.numpy(), np.zeros(4))
        np.testing.assert_array_equal(layer.scale.numpy(), np.ones(4))
        assert layer.epsilon == 0.001 and layer.built and not layer.non_trainable_variables
    assert sd.GroupNorm(feature_count=4, group_count=2).axis == sd.InstanceNorm(feature_count=4).axis == -1
    assert sd.InstanceNorm(feature_count=4).group_count == 4

    offset, scale = tf.constant([1.0, 2.0], tf.float64), tf.constant([3.0, 4.0], tf.float64)
    norm = sd.LayerNorm(offset=offset, scale=scale, axis=-1)
    assert norm.feature_count == 2 and norm.offset.dtype == "float64"
    np.testing.assert_array_equal(norm.scale.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(norm(tf.constant([[0.0, 2.0]], tf.float64)), [[-2.0, 6.0]], rtol=1e-3)
    instance = sd.InstanceNorm(offset=[0.5, 0.5, 0.5], scale=[1.0, 1.0, 1.0])
    assert instance.group_count == 3
    np.testing.assert_allclose(instance(tf.zeros([1, 2, 3])), 0.5 * np.ones([1, 2, 3]))
    group = sd.GroupNorm(offset=tf.zeros([4]), scale=tf.ones([4]), group_count=2)
    assert group.feature_count == 4 and group.offset.dtype == "float32"


def test_get_config_and_keras_file_round_trip(tmp_path):
    layers = [
        randomized(sd.LayerNorm(feature_count=6, axis=-1, epsilon=0.01)),
        randomized(sd.GroupNorm(feature_count=6, group_count=3, epsilon=0.002)),
        randomized(sd.InstanceNorm(feature_count=6, epsilon=0.003)),
        randomized(sd.LayerNorm(feature_count=4, axis=1)),
    ]
    for layer in layers:
        copy = type(layer).from_config(layer.get_config())
        assert copy.get_config() == layer.get_config()
    assert "group_count" not in layers[2].get_config()
    model = keras.Sequential([keras.Input((4, 6)), *layers])
    x = tf.constant(RNG.randn(2, 4, 6).astype(np.float32))
    path = tmp_path / "norms.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in layers]
    assert loaded.layers[1].group_count == 3 and loaded.layers[3].axis == 1
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
    for a, b in zip(loaded.layers, layers, strict=True):
        np.testing.assert_array_equal(a.scale.numpy(), b.scale.numpy())


def test_trains_with_fit_under_xla():
    model = keras.Sequential(
        [
            keras.Input((3, 4)),
            sd.GroupNorm(feature_count=4, group_count=2),
            sd.LayerNorm(feature_count=4, axis=-1),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse", jit_compile=True)
    x = RNG.randn(16, 3, 4).astype(np.float32)
    history = model.fit(x, x * 0.5 + 1.0, epochs=5, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < 0.5 * history[0]


def test_misuse_is_reported_in_s4tf_terms():
    with pytest.raises(TypeError, match=r"sd\.LayerNorm: axis= is required"):
        sd.LayerNorm(feature_count=3)
    with pytest.raises(TypeError, match=r"sd\.LayerNorm: axis= must be an integer"):
        sd.LayerNorm(feature_count=3, axis=1.0)
    with pytest.raises(ValueError, match=r"sd\.LayerNorm: feature_count= must be a positive integer"):
        sd.LayerNorm(feature_count=0, axis=-1)
    with pytest.raises(ValueError, match=r"sd\.LayerNorm: epsilon= must be a positive number"):
        sd.LayerNorm(feature_count=3, axis=-1, epsilon=0)
    with pytest.raises(TypeError, match=r"sd\.LayerNorm: pass feature_count= \(or offset= and scale=\)"):
        sd.LayerNorm(axis=-1)
    with pytest.raises(TypeError, match=r"sd\.GroupNorm: offset= and scale= go together"):
        sd.GroupNorm(offset=tf.zeros([4]), group_count=2)
    with pytest.raises(
        TypeError, match=r"sd\.InstanceNorm: pass feature_count= or offset= and scale=, not both"
    ):
        sd.InstanceNorm(feature_count=2, offset=tf.zeros([2]), scale=tf.ones([2]))
    with pytest.raises(
        ValueError, match=r"sd\.LayerNorm: offset= and scale= must be floating rank-1 tensors"
    ):
        sd.LayerNorm(offset=tf.zeros([2, 2]), scale=tf.ones([2, 2]), axis=-1)
    with pytest.raises(ValueError, match=r"sd\.GroupNorm: offset= and scale= must be .* same shape"):
        sd.GroupNorm(offset=tf.zeros([4]), scale=tf.ones([2]), group_count=2)
    with pytest.raises(TypeError, match=r"sd\.GroupNorm: group_count= is required"):
        sd.GroupNorm(feature_count=4)
    with pytest.raises(
        ValueError, match=r"sd\.GroupNorm: feature_count= \(6\) must be a multiple of group_count= \(4\)"
    ):
        sd.GroupNorm(feature_count=6, group_count=4)
    with pytest.raises(ValueError, match=r"sd\.GroupNorm: axis= cannot be the batch axis 0"):
        sd.GroupNorm(feature_count=4, group_count=2, axis=0)
    with pytest.raises(ValueError, match=r"sd\.InstanceNorm: axis= cannot be the batch axis 0"):
        sd.InstanceNorm(feature_count=4, axis=0)
    # Inputs are checked by Keras' InputSpec before the layer runs, naming the layer.
    cases = [
        (sd.LayerNorm(feature_count=3, axis=-1, name="l"), tf.ones([2, 4]), "axis -1 .* value 3"),
        (sd.LayerNorm(feature_count=3, axis=2, name="l"), tf.ones([2, 3]), "min_ndim=3"),
        (sd.GroupNorm(feature_count=4, group_count=2, name="g"), tf.ones([4]), "min_ndim=2"),
        (sd.InstanceNorm(feature_count=4, axis=-2, name="i"), tf.ones([4, 2]), "min_ndim=3"),
        (sd.InstanceNorm(feature_count=4, name="i"), tf.ones([2, 3]), "axis -1 .* value 4"),
    ]
    for layer, x, what in cases:
        with pytest.raises(ValueError, match=rf"layer '{layer.name}' is incompatible .*{what}"):
            layer(x)
