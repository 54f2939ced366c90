"""Misuse of the core gets a short Python error naming the function and what is wrong."""

import keras
import pytest
import tensorflow as tf

import swiftdiff as sd


def raised_by_swiftdiff(excinfo) -> bool:
    """The error was raised by swiftdiff's own checks, not deep inside TensorFlow."""
    return "swiftdiff" in str(excinfo.traceback[-1].path)


def check(excinfo, *words):
    message = str(excinfo.value)
    for word in words:
        assert word in message, (word, message)
    assert raised_by_swiftdiff(excinfo), excinfo.traceback[-1].path
    assert len(message) < 400


def test_non_scalar_gradient_points_to_pullback():
    with pytest.raises(ValueError) as e:
        sd.gradient(at=tf.ones([3]), of=lambda x: x * 2.0)
    check(e, "sd.gradient", "scalar", "pullback", "[3]")


def test_non_scalar_gradient_inside_tf_function():
    f = tf.function(lambda x: sd.gradient(at=x, of=lambda x: x * 2.0))
    with pytest.raises(ValueError) as e:
        f(tf.ones([2, 2]))
    assert "pullback" in str(e.value)


@pytest.mark.parametrize("point,kind", [(3, "int"), (True, "bool"), ("x", "str")])
def test_non_floating_points_are_type_errors_naming_the_argument(point, kind):
    with pytest.raises(TypeError) as e:
        sd.gradient(at=point, of=lambda value: value)
    check(e, "sd.gradient", "'value'", kind)


def test_integer_tensor_point():
    with pytest.raises(TypeError) as e:
        sd.pullback(at=(1.0, tf.constant([1, 2])), of=lambda x, counts: x)
    check(e, "sd.pullback", "'counts'", "int32")


def test_missing_and_doubled_function():
    with pytest.raises(TypeError) as e:
        sd.gradient(at=1.0)
    check(e, "sd.gradient", "of=")
    with pytest.raises(TypeError) as e:
        sd.value_with_pullback(at=1.0, of=tf.sin, in_=tf.cos)
    check(e, "sd.value_with_pullback", "not both")
    with pytest.raises(TypeError) as e:
        sd.differential(at=1.0, of=3.0)
    check(e, "sd.differential", "function")


def test_cotangent_of_the_wrong_shape_and_structure():
    pb = sd.pullback(at=tf.ones([2]), of=lambda x: x * 2.0)
    with pytest.raises(ValueError) as e:
        pb(tf.ones([3]))
    check(e, "sd.pullback", "shape [3]", "[2]")
    with pytest.raises(ValueError) as e:
        pb((tf.ones([2]), tf.ones([2])))
    check(e, "sd.pullback", "2 components")
    with pytest.raises(TypeError) as e:
        pb(tf.ones([2], tf.float64))
    check(e, "sd.pullback", "float64")


def test_differential_with_the_wrong_tangents():
    df = sd.differential(at=(1.0, 2.0), of=lambda x, y: x * y)
    with pytest.raises(TypeError) as e:
        df(1.0)
    check(e, "sd.differential", "one tangent per point")
    df = sd.differential(at=tf.ones([2]), of=lambda x: x)
    with pytest.raises(ValueError) as e:
        df(tf.ones([3]))
    check(e, "sd.differential", "shape")


def test_derivative_needs_scalar_points():
    with pytest.raises(ValueError) as e:
        sd.derivative(at=tf.ones([2]), of=lambda x: x)
    check(e, "sd.derivative", "scalar", "differential")


def test_non_callable_arguments():
    with pytest.raises(TypeError) as e:
        sd.with_derivative(tf.ones([2]), "print")
    check(e, "sd.with_derivative", "hook")
    with pytest.raises(TypeError) as e:
        sd.differentiable_function(from_=None)
    check(e, "sd.differentiable_function", "from_=")
    with pytest.raises(TypeError) as e:
        sd.with_recomputation_in_pullbacks(42)
    check(e, "sd.with_recomputation_in_pullbacks", "function")
    with pytest.raises(TypeError) as e:
        sd.derivative(of=3)(lambda x: (x, lambda v: v))
    check(e, "sd.derivative", "function")


def test_registration_with_unknown_wrt():
    def f(x, y):
        return x * y
    with pytest.raises(ValueError) as e:
        sd.derivative(of=f, wrt="z")(lambda x, y: (f(x, y), lambda v: v))
    check(e, "wrt='z'", "parameters")


def test_derivative_without_of():
    with pytest.raises(TypeError) as e:
        sd.derivative()
    check(e, "sd.derivative", "of=")


def test_with_derivative_of_a_string():
    with pytest.raises(TypeError) as e:
        sd.with_derivative("x", lambda g: g)
    check(e, "sd.with_derivative", "str")


def test_tangent_vector_arithmetic_with_mismatched_layers():
    a, b = keras.layers.Dense(2), keras.layers.Dense(3)
    a.build((None, 2))
    b.build((None, 2))
    with pytest.raises(ValueError) as e:
        sd.TangentVector.zeros_like(a) + sd.TangentVector.zeros_like(b)
    check(e, "TangentVector", "different layers")
    with pytest.raises(TypeError) as e:
        sd.TangentVector.zeros_like(a) + 1.0
    check(e, "TangentVector")
