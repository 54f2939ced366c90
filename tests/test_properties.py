"""Property-based tests: random programs of elementwise ops, matmuls and reductions over random
shapes, in float32 and float64. gradient, pullback and differential agree with finite differences
and with a raw tf.GradientTape; checkpointing, ActivationDiscarding and identity hooks never change
a gradient."""

import keras
import numpy as np
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import swiftdiff as sd
from conftest import finite_difference

SETTINGS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

UNARY = {
    "sin": tf.sin,
    "tanh": tf.tanh,
    "square": tf.square,
    "softplus": tf.nn.softplus,
    "scale": lambda x: 1.7 * x - 0.3,
    "sigmoid": tf.sigmoid,
}


@st.composite
def programs(draw):
    """A random differentiable program f(x, y) -> scalar, its input shapes and dtype."""
    rows = draw(st.integers(1, 3))
    cols = draw(st.integers(1, 4))
    inner = draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    ops = draw(st.lists(st.sampled_from(sorted(UNARY)), min_size=1, max_size=4))
    use_matmul = draw(st.booleans())
    reduce_axis = draw(st.sampled_from([None, 0, 1]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.5, 1.5, size=(rows, cols)).astype(dtype)
    y = rng.uniform(-1.5, 1.5, size=(cols, inner) if use_matmul else (cols,)).astype(dtype)

    def f(x, y):
        h = x @ y if use_matmul else x * y  # matmul, or a broadcasting product
        for name in ops:
            h = UNARY[name](h)
        h = tf.reduce_sum(h, axis=reduce_axis)
        return tf.reduce_sum(h * h) if reduce_axis is not None else h

    return f, x, y, ops


def raw_tape_gradient(f, x, y):
    x, y = tf.constant(x), tf.constant(y)
    with tf.GradientTape() as tape:
        tape.watch([x, y])
        out = f(x, y)
    return tape.gradient(out, [x, y])


@SETTINGS
@given(programs())
def test_gradient_matches_raw_tape_and_finite_differences(program):
    f, x, y, _ = program
    gx, gy = sd.gradient(at=(tf.constant(x), tf.constant(y)), of=f)
    rx, ry = raw_tape_gradient(f, x, y)
    tol = 1e-5 if x.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(gx, rx, rtol=tol, atol=tol)
    np.testing.assert_allclose(gy, ry, rtol=tol, atol=tol)
    if x.dtype == np.float64:
        np.testing.assert_allclose(
            gx, finite_difference(lambda v: f(tf.constant(v), tf.constant(y)), x), rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(
            gy, finite_difference(lambda v: f(tf.constant(x), tf.constant(v)), y), rtol=1e-5, atol=1e-6
        )


@SETTINGS
@given(programs(), st.integers(0, 1000))
def test_pullback_and_differential_are_transposes(program, seed):
    """<pullback(v), t> == <v, differential(t)> for random v, t, and both match the raw tape."""
    f, x, y, _ = program
    g = lambda x: tf.sin(x) * f(x, tf.constant(y))  # noqa: E731  (a scalar times a matrix: vector result)
    rng = np.random.default_rng(seed)
    value, pb = sd.value_with_pullback(at=tf.constant(x), of=g)
    v = rng.normal(size=value.shape).astype(x.dtype)
    t = rng.normal(size=x.shape).astype(x.dtype)
    pulled = pb(tf.constant(v)).numpy()
    pushed = sd.differential(at=tf.constant(x), of=g)(tf.constant(t)).numpy()
    tol = 1e-4 if x.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(np.sum(pulled * t), np.sum(v * pushed), rtol=tol, atol=tol)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = g(xt)
    np.testing.assert_allclose(
        pulled, tape.gradient(out, xt, output_gradients=tf.constant(v)), rtol=tol, atol=tol
    )


@SETTINGS
@given(programs())
def test_checkpointing_and_identity_hooks_never_change_a_gradient(program):
    f, x, y, _ = program
    expected = sd.gradient(at=(tf.constant(x), tf.constant(y)), of=f)
    checkpointed = sd.with_recomputation_in_pullbacks(f)
    hooked = lambda x, y: f(sd.with_derivative(x, lambda g: None), sd.with_derivative(y, lambda g: g))  # noqa: E731
    for variant in (checkpointed, hooked):
        got = sd.gradient(at=(tf.constant(x), tf.constant(y)), of=variant)
        for a, b in zip(expected, got, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


@settings(max_examples=10, deadline=None, derandomize=True)
@given(st.integers(1, 4), st.integers(1, 5), st.sampled_from(["relu", "tanh", "sigmoid"]), st.integers(0, 99))
def test_activation_discarding_never_changes_a_gradient(batch, width, activation, seed):
    keras.utils.set_random_seed(seed)
    block = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(width, activation=activation), keras.layers.Dense(2)]
    )
    wrapped = sd.ActivationDiscarding(block)
    x = tf.random.stateless_normal([batch, 3], seed=[seed, 1])
    plain = sd.gradient(at=(block, x), of=lambda m, x: tf.reduce_sum(tf.sin(m(x))))
    discarded = sd.gradient(at=(wrapped, x), of=lambda m, x: tf.reduce_sum(tf.sin(m(x))))
    for a, b in zip(plain[0], discarded[0], strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(discarded[1], plain[1], rtol=1e-6, atol=1e-7)
