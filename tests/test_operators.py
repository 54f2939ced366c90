"""Differential operators: every row of the contract, in eager, tf.function and XLA,
against analytic values and finite differences."""

import collections
import dataclasses
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import finite_difference, run_in


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(
        np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=tol, atol=tol
    )


# --- gradient / value_with_gradient -------------------------------------------------------------


def test_gradient_single_point_is_bare(mode):
    out = run_in(mode, lambda x: sd.gradient(at=x, of=lambda x: x**3), tf.constant(2.0))
    assert np.shape(out) == ()
    close(out, 12.0)


def test_gradient_several_points_come_back_as_tuple_in_order(mode):
    out = run_in(
        mode,
        lambda x, y: sd.gradient(at=(x, y), of=lambda a, b: a * a * b),
        tf.constant(3.0),
        tf.constant(5.0),
    )
    assert isinstance(out, tuple) and len(out) == 2
    close(out[0], 30.0)
    close(out[1], 9.0)


def test_in_label_is_accepted_like_of(mode):
    out = run_in(mode, lambda x: sd.gradient(at=x, in_=tf.sin), tf.constant(0.5))
    close(out, np.cos(0.5))


def test_curried_gradient(mode):
    dtanh = sd.gradient(of=tf.tanh)
    out = run_in(mode, lambda x: dtanh(x), tf.constant(0.3))
    close(out, 1 - np.tanh(0.3) ** 2)
    two = sd.gradient(of=lambda a, b: a * b)
    out = run_in(mode, lambda a, b: two(a, b), tf.constant(2.0), tf.constant(7.0))
    close(out, (7.0, 2.0))


def test_value_with_gradient_is_named_tuple(mode):
    out = run_in(
        mode, lambda x: tuple(sd.value_with_gradient(at=x, of=lambda x: tf.exp(x))), tf.constant(1.5)
    )
    close(out[0], np.exp(1.5))
    close(out[1], np.exp(1.5))
    result = sd.value_with_gradient(at=2.0, of=lambda x: x * x)
    assert isinstance(result, sd.ValueWithGradient)
    assert float(result.value) == 4.0 and float(result.gradient) == 4.0
    curried = sd.value_with_gradient(of=lambda x: x * x)(3.0)
    assert float(curried.gradient) == 6.0


def test_gradient_matches_finite_differences_on_matrices(mode):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4))
    b = rng.normal(size=(4, 2))

    def f(a, b):
        return tf.reduce_sum(tf.tanh(a @ b) ** 2) + tf.reduce_mean(tf.sin(a))

    out = run_in(mode, lambda a, b: sd.gradient(at=(a, b), of=f), tf.constant(a), tf.constant(b))
    close(out[0], finite_difference(lambda v: f(tf.constant(v), tf.constant(b)), a), 1e-6)
    close(out[1], finite_difference(lambda v: f(tf.constant(a), tf.constant(v)), b), 1e-6)


def test_python_floats_are_float32_and_float64_stays(mode):
    out = sd.gradient(at=2.0, of=lambda x: x * x)
    assert out.dtype == tf.float32
    out = run_in(mode, lambda x: sd.gradient(at=x, of=lambda x: x * x), tf.constant(2.0, tf.float64))
    assert out.dtype == np.float64
    close(out, 4.0)


def test_second_derivative_by_nesting(mode):
    def second(x):
        return sd.gradient(at=x, of=lambda x: sd.gradient(at=x, of=lambda y: y**4))

    close(run_in(mode, second, tf.constant(2.0)), 12 * 2.0**2)


def test_third_derivative_of_sin(mode):
    def third(x):
        d1 = lambda x: sd.gradient(at=x, of=tf.sin)  # noqa: E731
        d2 = lambda x: sd.gradient(at=x, of=d1)  # noqa: E731
        return sd.gradient(at=x, of=d2)

    close(run_in(mode, third, tf.constant(0.7)), -np.cos(0.7))


# --- points: nests, dataclasses, variables, layers -------------------------------------------

Pair = collections.namedtuple("Pair", ["a", "b"])


@dataclasses.dataclass
class Params:
    w: object
    b: object
    steps: int = 3  # not differentiable: passes through


def test_dict_and_list_points(mode):
    def f(p):
        return tf.reduce_sum(p["w"] * p["x"][0]) + p["x"][1]

    def run(w, x0, x1):
        return sd.gradient(at={"w": w, "x": [x0, x1]}, of=f)

    out = run_in(mode, run, tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0]), tf.constant(5.0))
    close(out["w"], [3.0, 4.0])
    close(out["x"][0], [1.0, 2.0])
    close(out["x"][1], 1.0)


def test_namedtuple_point_keeps_type():
    g = sd.gradient(at=Pair(tf.constant(2.0), tf.constant(3.0)), of=lambda p: p.a * p.b)
    assert isinstance(g, Pair)
    close(g.a, 3.0)
    close(g.b, 2.0)


def test_dataclass_point(mode):
    def run(w, b):
        g = sd.gradient(at=Params(w, b), of=lambda p: tf.reduce_sum(p.w**2) * p.b + p.steps)
        assert isinstance(g, Params)
        return g.w, g.b

    out = run_in(mode, run, tf.constant([1.0, -2.0]), tf.constant(3.0))
    close(out[0], [6.0, -12.0])
    close(out[1], 5.0)


def test_single_tuple_point_is_passed_as_one_element_tuple():
    g = sd.gradient(at=((tf.constant(2.0), tf.constant(3.0)),), of=lambda t: t[0] * t[1])
    assert isinstance(g, tuple) and len(g) == 2
    close(g[0], 3.0)
    close(g[1], 2.0)


def test_function_returning_its_variable_point(mode):
    v = tf.Variable([1.0, 2.0])
    out = run_in(mode, lambda: sd.pullback(at=v, of=lambda v: v)(tf.constant([3.0, 4.0])))
    np.testing.assert_array_equal(out, [3.0, 4.0])
    scalar = tf.Variable(3.0)
    assert run_in(mode, lambda: sd.gradient(at=scalar, of=lambda v: v)) == 1.0


def test_variable_point(mode):
    v = tf.Variable([1.0, 2.0, 3.0])
    out = run_in(mode, lambda: sd.gradient(at=v, of=lambda v: tf.reduce_sum(v * v)))
    close(out, [2.0, 4.0, 6.0])


def test_keras_layer_point_gives_tangent_vector(mode):
    layer = keras.layers.Dense(2, kernel_initializer="ones", bias_initializer="zeros")
    layer.build((None, 3))
    x = tf.constant([[1.0, 2.0, 3.0]])

    def run():
        g = sd.gradient(at=layer, of=lambda layer: tf.reduce_sum(layer(x) ** 2))
        assert isinstance(g, sd.TangentVector)
        return g.kernel, g.bias, list(g)

    kernel, bias, components = run_in(mode, run)
    # y = x @ 1 = 6 per unit; dL/dy = 12; dL/dW = x^T 12
    close(kernel, np.array([[1.0], [2.0], [3.0]]) * 12 * np.ones((1, 2)))
    close(bias, [12.0, 12.0])
    assert len(components) == 2


def test_layer_and_input_points_together(mode):
    layer = keras.layers.Dense(1, kernel_initializer="ones")
    layer.build((None, 2))

    def run(x):
        gl, gx = sd.gradient(at=(layer, x), of=lambda layer, x: tf.reduce_sum(layer(x)))
        return gl.kernel, gx

    kernel, gx = run_in(mode, run, tf.constant([[1.0, 2.0]]))
    close(kernel, [[1.0], [2.0]])
    close(gx, [[1.0, 1.0]])


def test_tangent_vector_can_leave_a_tf_function():
    layer = keras.layers.Dense(2)
    layer.build((None, 2))
    f = tf.function(lambda x: sd.gradient(at=layer, of=lambda layer: tf.reduce_sum(layer(x))))
    g = f(tf.ones([1, 2]))
    assert isinstance(g, sd.TangentVector)
    close(g.bias, [1.0, 1.0])


# --- pullback / value_with_pullback ----------------------------------------------------------


def test_pullback_of_vector_function(mode):
    def run(x, v):
        return sd.pullback(at=x, of=lambda x: x * x)(v)

    close(run_in(mode, run, tf.constant([1.0, 2.0, 3.0]), tf.constant([1.0, 0.5, 2.0])), [2.0, 2.0, 12.0])


def test_value_with_pullback_can_be_called_twice(mode):
    def run(x):
        value, pb = sd.value_with_pullback(at=x, of=lambda x: tf.sin(x) * 2.0)
        return value, pb(1.0), pb(3.0)

    value, first, second = run_in(mode, run, tf.constant(0.4))
    close(value, 2 * np.sin(0.4))
    close(first, 2 * np.cos(0.4))
    close(second, 6 * np.cos(0.4))


def test_pullback_with_tuple_result_and_several_points(mode):
    def run(x, y):
        pb = sd.pullback(at=(x, y), of=lambda x, y: (x * y, x + y))
        return pb((tf.constant(1.0), tf.constant(2.0)))

    out = run_in(mode, run, tf.constant(3.0), tf.constant(4.0))
    close(out, (4.0 + 2.0, 3.0 + 2.0))


def test_curried_pullback_and_value_with_pullback():
    pb = sd.pullback(of=lambda x: x**2)(3.0)
    close(pb(1.0), 6.0)
    value, pb = sd.value_with_pullback(of=lambda x, y: x * y)(2.0, 5.0)
    close(value, 10.0)
    close(pb(1.0), (5.0, 2.0))


# --- forward mode ------------------------------------------------------------------------------


def test_differential_is_a_jvp(mode):
    a = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)

    def run(x, t):
        return sd.differential(at=x, of=lambda x: tf.linalg.matvec(a, tf.sin(x)))(t)

    x = np.array([0.3, -0.2], np.float32)
    t = np.array([1.0, 2.0], np.float32)
    expected = a @ (np.cos(x) * t)
    close(run_in(mode, run, tf.constant(x), tf.constant(t)), expected)


def test_value_with_differential_several_points(mode):
    def run(x, y):
        value, df = sd.value_with_differential(at=(x, y), of=lambda x, y: x * tf.exp(y))
        return value, df(1.0, 0.0), df(0.0, 1.0)

    value, dx, dy = run_in(mode, run, tf.constant(2.0), tf.constant(0.5))
    close(value, 2 * np.exp(0.5))
    close(dx, np.exp(0.5))
    close(dy, 2 * np.exp(0.5))


def test_derivative_and_value_with_derivative(mode):
    close(run_in(mode, lambda x: sd.derivative(at=x, of=lambda x: x**3), tf.constant(2.0)), 12.0)
    out = run_in(mode, lambda x: tuple(sd.value_with_derivative(at=x, of=tf.exp)), tf.constant(1.0))
    close(out, (np.e, np.e))
    # several scalar points: df(1, 1, ...)
    close(
        run_in(
            mode,
            lambda x, y: sd.derivative(at=(x, y), of=lambda x, y: x * y),
            tf.constant(2.0),
            tf.constant(3.0),
        ),
        5.0,
    )


def test_forward_mode_of_layer_point():
    layer = keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")
    layer.build((None, 2))
    x = tf.constant([[1.0, 2.0]])
    df = sd.differential(at=layer, of=lambda layer: layer(x))
    direction = sd.TangentVector(layer, [tf.constant([[1.0], [0.0]]), tf.constant([1.0])])
    close(df(direction), [[2.0]])


def test_forward_mode_of_vector_result_is_not_a_gradient(mode):
    def run(x):
        return sd.differential(at=x, of=lambda x: tf.stack([x, x * x, tf.sin(x)]))(1.0)

    close(run_in(mode, run, tf.constant(2.0)), [1.0, 4.0, np.cos(2.0)])


# --- zero derivatives --------------------------------------------------------------------------


def test_unused_point_gets_zeros_and_a_warning_naming_it():
    with pytest.warns(sd.ZeroDerivativeWarning, match="'unused'"):
        gx, gu = sd.gradient(
            at=(tf.constant([1.0, 2.0]), tf.constant([[1.0]], tf.float64)),
            of=lambda x, unused: tf.reduce_sum(x),
        )
    close(gu, [[0.0]])
    assert gu.dtype == tf.float64 and gu.shape == (1, 1)


def test_without_derivative_silences_the_zero_derivative_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", sd.ZeroDerivativeWarning)
        g = sd.gradient(at=(2.0, 3.0), of=lambda x, y: x + sd.without_derivative(at=y))
    close(g, (1.0, 0.0))


def test_zero_derivative_inside_tf_function_is_zeros(mode):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.ZeroDerivativeWarning)
        out = run_in(
            mode,
            lambda x, y: sd.gradient(at=(x, y), of=lambda x, y: x * 2.0),
            tf.constant(1.0),
            tf.constant([1.0, 2.0]),
        )
    close(out[1], [0.0, 0.0])


def test_swift_aliases_are_the_same_objects():
    for swift, python in sd.SWIFT_NAMES.items():
        assert getattr(sd, swift) is getattr(sd, python), swift
    assert sd.valueWithPullback is sd.value_with_pullback


# --- every point is its own value (issue 10, item 1) --------------------------------------------


@dataclasses.dataclass
class Triple:
    a: tf.Tensor
    b: tf.Tensor
    c: tf.Tensor


def test_the_same_tensor_at_two_points_gets_two_tangents(mode):
    # Swift: gradient(at: x, x) { 2*a + 5*b } is (2, 5), not (7, 7).
    close(
        run_in(mode, lambda x: sd.gradient(at=(x, x), of=lambda a, b: 2 * a + 5 * b), tf.constant(3.0)),
        (2.0, 5.0),
    )


def test_the_same_python_float_and_numpy_value_twice(mode):
    close(run_in(mode, lambda: sd.gradient(at=(3.0, 3.0), of=lambda a, b: a * a + 5 * b)), (6.0, 5.0))


def test_the_same_tensor_in_every_field_of_a_nest(mode):
    def run(t):
        g = sd.gradient(at=Triple(t, t, t), of=lambda p: 2 * p.a + 3 * p.b + 4 * p.c)
        return g.a, g.b, g.c

    close(run_in(mode, run, tf.constant(1.0)), (2.0, 3.0, 4.0))


def test_the_same_tensor_in_a_nest_and_as_a_point(mode):
    def run(t):
        return sd.gradient(at=((t, t), t), of=lambda pair, c: pair[0] * 2 + pair[1] * 3 + c * 4)

    (a, b), c = run_in(mode, run, tf.constant(1.0))
    close((a, b, c), (2.0, 3.0, 4.0))


def test_forward_mode_of_the_same_tensor_twice(mode):
    def run(x):
        df = sd.differential(at=(x, x), of=lambda a, b: 2 * a + 5 * b)
        return df(1.0, 0.0), df(0.0, 1.0)

    close(run_in(mode, run, tf.constant(3.0)), (2.0, 5.0))


def test_pullback_of_the_same_tensor_twice_against_a_plain_tape(mode):
    def run(x):
        pb = sd.pullback(at=(x, x), of=lambda a, b: tf.sin(a) * b)
        return pb(tf.ones([2]))

    x = tf.constant([0.5, 1.5])
    a, b = tf.identity(x), tf.identity(x)
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        y = tf.sin(a) * b
    close(run_in(mode, run, x), tape.gradient(y, [a, b]))


def test_the_same_variable_twice_is_refused():
    v = tf.Variable(2.0)
    with pytest.raises(ValueError, match=r"sd.gradient: argument 'b'.*same|argument 'b' holds the variable"):
        sd.gradient(at=(v, v), of=lambda a, b: a * b)


def test_the_same_layer_twice_or_a_layer_and_its_variable_is_refused():
    dense = sd.Dense(input_size=2, output_size=1)
    with pytest.raises(ValueError, match="holds the variable"):
        sd.gradient(at=(dense, dense), of=lambda a, b: tf.reduce_sum(a(tf.ones([1, 2])) + b(tf.ones([1, 2]))))
    with pytest.raises(ValueError, match="holds the variable"):
        sd.gradient(at=(dense, dense.bias), of=lambda a, b: tf.reduce_sum(a(tf.ones([1, 2]))) + b[0])


def test_an_unbuilt_layer_point_says_to_build_it():
    with pytest.raises(ValueError, match=r"not built yet.*build it"):
        sd.gradient(at=keras.layers.Dense(3), of=lambda layer: tf.reduce_sum(layer(tf.ones([1, 2]))))


def test_errors_about_a_nest_name_the_leaf():
    @dataclasses.dataclass
    class State:
        position: tf.Tensor
        velocity: list

    df = sd.differential(
        at=State(tf.constant(1.0), [tf.constant([1.0, 2.0]), 3]),
        of=lambda p: p.position * tf.reduce_sum(p.velocity[0]),
    )
    with pytest.raises(ValueError, match=r"the tangent for argument 'p'\.velocity\[0\] has shape \[3\]"):
        df(State(tf.constant(1.0), [tf.ones([3]), None]))
    with pytest.raises(TypeError, match=r"argument 'p'\.velocity\[0\] has dtype float64"):
        df(State(tf.constant(1.0), [tf.ones([2], tf.float64), None]))
    close(df(State(tf.constant(1.0), [tf.zeros([2]), None])), 3.0)
