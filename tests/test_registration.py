"""@derivative(of:): registration reaches every kind of differentiation, and nothing else."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import run_in
from tests.support import custom_functions as cf

# The function object as it was before registration: an `from m import f` copy.
cube_copy = cf.cube


@sd.derivative(of=cf.cube)
def cube_derivative(x):
    y = cf.cube(x)  # calls the registered name: must reach the original, not recurse
    return y, lambda v: v * 100.0  # deliberately not 3x^2, so its use is visible


@sd.derivative(of=cf.weighted, wrt="x")
def weighted_derivative(x, y):
    return cf.weighted(x, y), lambda v: v * 7.0


@sd.derivative(of=cf.Scaler.scale, wrt="x")
def scale_derivative(self, x):
    return self.scale(x), lambda v: v * -1.0


def test_registration_returns_the_derivative_function_unchanged():
    value, pb = cube_derivative(tf.constant(2.0))
    assert float(value) == 8.0 and float(pb(1.0)) == 100.0


def test_gradient_of_the_registered_function(mode):
    assert run_in(mode, lambda x: sd.gradient(at=x, of=cf.cube), tf.constant(2.0)) == 100.0


def test_original_object_handed_to_an_operator_uses_it():
    assert float(sd.gradient(at=2.0, of=cube_copy)) == 100.0


def test_function_defined_earlier_and_differentiated_later(mode):
    assert run_in(mode, lambda x: sd.gradient(at=x, of=cf.uses_cube), tf.constant(2.0)) == 101.0


def test_bare_gradient_tape(mode):
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = cf.cube(x)
        return tape.gradient(y, x)
    assert run_in(mode, run, tf.constant(3.0)) == 100.0


def test_forward_mode_passes_through_registered_derivative(mode):
    assert run_in(mode, lambda x: sd.derivative(at=x, of=cf.cube), tf.constant(2.0)) == 100.0
    assert run_in(mode, lambda x: sd.differential(at=x, of=cf.uses_cube)(2.0), tf.constant(1.0)) == 202.0


def test_undifferentiated_call_runs_the_original_once():
    before = cf.calls["cube"]
    assert float(cf.cube(tf.constant(2.0))) == 8.0
    assert cf.calls["cube"] - before == 1


def test_gradient_runs_the_original_once_through_the_derivative():
    before = cf.calls["cube"]
    sd.gradient(at=2.0, of=cf.cube)
    assert cf.calls["cube"] - before == 1


def test_a_copy_taken_before_registration_is_not_affected_when_called_directly():
    g = sd.gradient(at=2.0, of=lambda x: cube_copy(x))
    assert float(g) == pytest.approx(12.0)  # the true derivative, 3x^2
    assert cf.cube is not cube_copy and cf.cube.__wrapped__ is cube_copy


def test_wrt_restricts_differentiation(mode):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.ZeroDerivativeWarning)
        gx, gy = run_in(mode, lambda x, y: sd.gradient(at=(x, y), of=cf.weighted),
                        tf.constant(2.0), tf.constant(5.0))
    assert gx == 7.0 and gy == 0.0


def test_method_registration():
    scaler = cf.Scaler()
    assert float(sd.gradient(at=2.0, of=lambda x: scaler.scale(x))) == -1.0
    assert float(scaler.scale(tf.constant(2.0))) == 6.0


def test_keras_training_uses_registered_derivative():
    @sd.derivative(of=cf.twice)
    def twice_derivative(x):
        return cf.twice(x), lambda v: tf.zeros_like(v)  # blocks all learning

    class Twice(keras.layers.Layer):
        def call(self, x):
            return cf.twice(x)

    for jit in (False, True):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1), Twice()])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", jit_compile=jit)
        before = [w.numpy().copy() for w in model.trainable_weights]
        model.fit(np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32), epochs=1, verbose=0)
        for old, new in zip(before, model.trainable_weights):
            np.testing.assert_array_equal(old, new.numpy())


def test_registering_twice_replaces_with_a_warning():
    def local(x):
        return x * x

    @sd.derivative(of=local)
    def first(x):
        return local(x), lambda v: v * 1.0

    with pytest.warns(sd.DerivativeRegistrationWarning, match="replacing"):
        @sd.derivative(of=local)
        def second(x):
            return local(x), lambda v: v * 2.0

    assert float(sd.gradient(at=5.0, of=local)) == 2.0


def test_second_order_through_registered_derivative():
    def f(x):
        return x * x * x

    @sd.derivative(of=f)
    def df(x):
        return f(x), lambda v: v * 3.0 * x * x

    second = sd.gradient(at=2.0, of=lambda x: sd.gradient(at=x, of=f))
    assert float(second) == pytest.approx(12.0)


# --- wrong tangents are reported in the user's terms --------------------------------------------

def test_pullback_returning_too_many_tangents_names_the_function():
    @sd.derivative(of=cf.bad_count)
    def d(x):
        return cf.bad_count(x), lambda v: (v, v)
    with pytest.raises(ValueError, match=r"bad_count.*2 tangent"):
        sd.gradient(at=1.0, of=cf.bad_count)


def test_pullback_returning_wrong_shape_names_the_function():
    @sd.derivative(of=cf.bad_shape)
    def d(x):
        return cf.bad_shape(x), lambda v: tf.ones([3])
    with pytest.raises(ValueError, match=r"bad_shape.*shape \[3\]"):
        sd.gradient(at=tf.constant([1.0, 2.0]), of=lambda x: tf.reduce_sum(cf.bad_shape(x)))


def test_pullback_returning_wrong_dtype_names_the_function():
    @sd.derivative(of=cf.bad_dtype)
    def d(x):
        return cf.bad_dtype(x), lambda v: tf.cast(v, tf.float64)
    with pytest.raises(TypeError, match=r"bad_dtype.*float64"):
        sd.gradient(at=1.0, of=cf.bad_dtype)
