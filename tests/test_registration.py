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
        gx, gy = run_in(
            mode, lambda x, y: sd.gradient(at=(x, y), of=cf.weighted), tf.constant(2.0), tf.constant(5.0)
        )
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
        for old, new in zip(before, model.trainable_weights, strict=True):
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


# ---------------------------------------------------------------------------------------------
# Issue 10: no silent wrong derivatives through registration
# ---------------------------------------------------------------------------------------------


def _product_derivative(x, y):
    return x * y, lambda v: (v * y, v * x)


sd.derivative(of=cf.Blocked.mul)(_product_derivative)


@sd.derivative(of=cf.Blocked.class_mul)
def _class_mul_derivative(cls, x, y):
    return _product_derivative(x, y)


@sd.derivative(of=cf.Blocked.method_mul)
def _method_mul_derivative(self, x, y):
    return _product_derivative(x, y)


@sd.derivative(of=cf.Particle.energy)
def _energy_derivative(particle):
    p = particle.position
    return p * p, lambda v: cf.Particle(2.0 * p * v)


@sd.derivative(of=cf.scale_by_count)
def _scale_by_count_derivative(x, n):
    return x * float(n), lambda v: v * float(n)  # one tangent: `n` (an int) has no slot


@sd.derivative(of=cf.scaled)
def _scaled_derivative(x, s=2.0):
    return x * s, lambda v: (v * s, v * x)  # two slots, whether or not the caller passes s


@sd.derivative(of=cf.keyword_scaled)
def _keyword_scaled_derivative(x, *, s):
    return x * s, lambda v: (v * s, v * x)


seen_cotangents = []


@sd.derivative(of=cf.gathered_identity)
def _gathered_identity_derivative(x):
    def pullback(v):
        seen_cotangents.append(type(v).__name__)
        return v * 2.0  # IndexedSlices * float would raise: the cotangent must arrive dense

    return x, pullback


@sd.derivative(of=cf.lambda_square)
def _lambda_square_derivative(x):
    return x * x, lambda v: 2.0 * x * v


TWO = (tf.constant(2.0), tf.constant(3.0))


@pytest.mark.parametrize(
    "call",
    [
        lambda x, y: cf.Blocked.mul(x, y),
        lambda x, y: cf.Blocked().mul(x, y),
        lambda x, y: cf.Blocked.class_mul(x, y),
        lambda x, y: cf.Blocked().class_mul(x, y),
        lambda x, y: cf.Blocked().method_mul(x, y),
    ],
    ids=[
        "static-via-class",
        "static-via-instance",
        "classmethod-via-class",
        "classmethod-via-instance",
        "method-plain-self",
    ],
)
def test_methods_static_and_class_methods_use_their_registered_derivative(mode, call):
    # Swift's derivative_registration tests: d(x*y) = (y, x) = (3, 2); the bodies block gradients.
    with warnings.catch_warnings():
        warnings.simplefilter("error", sd.ZeroDerivativeWarning)
        got = run_in(mode, lambda x, y: sd.gradient(at=(x, y), of=call), *TWO)
    np.testing.assert_allclose(got, (3.0, 2.0))


def test_static_method_handed_to_an_operator(mode):
    np.testing.assert_allclose(
        run_in(mode, lambda x, y: sd.gradient(at=(x, y), of=cf.Blocked.mul), *TWO), (3.0, 2.0)
    )


def test_property_getter_of_a_differentiable_struct(mode):
    got = run_in(mode, lambda p: sd.gradient(at=p, of=lambda q: cf.Particle(q).energy), tf.constant(3.0))
    assert float(got) == 6.0


def test_property_registered_through_its_getter_is_the_same_registration():
    with pytest.warns(sd.DerivativeRegistrationWarning):
        sd.derivative(of=cf.Particle.energy.fget)(_energy_derivative)
    assert float(sd.gradient(at=tf.constant(2.0), of=lambda q: cf.Particle(q).energy)) == 4.0


def test_non_differentiable_argument_has_no_tangent_slot(mode):
    got = run_in(mode, lambda x: sd.gradient(at=x, of=lambda x: cf.scale_by_count(x, 4)), tf.constant(3.0))
    assert float(got) == 4.0


def test_defaulted_argument_has_its_slot_whether_passed_or_not(mode):
    def both(x, s):
        return cf.scaled(x) + cf.scaled(x, s)  # d/dx = 2 + s = 5, d/ds = x = 3

    np.testing.assert_allclose(
        run_in(mode, lambda x, s: sd.gradient(at=(x, s), of=both), tf.constant(3.0), tf.constant(3.0)),
        (5.0, 3.0),
    )


def test_keyword_only_floating_argument_has_a_slot(mode):
    with warnings.catch_warnings():
        warnings.simplefilter("error", sd.ZeroDerivativeWarning)
        got = run_in(
            mode,
            lambda x, s: sd.gradient(at=(x, s), of=lambda x, s: cf.keyword_scaled(x, s=s)),
            tf.constant(3.0),
            tf.constant(2.0),
        )
    np.testing.assert_allclose(got, (2.0, 3.0))


def test_registered_pullback_receives_a_dense_cotangent(mode):
    seen_cotangents.clear()
    got = run_in(
        mode,
        lambda x: sd.gradient(at=x, of=lambda x: tf.reduce_sum(tf.gather(cf.gathered_identity(x), [0, 2]))),
        tf.constant([1.0, 2.0, 3.0]),
    )
    np.testing.assert_allclose(got, [2.0, 0.0, 2.0])
    assert seen_cotangents and set(seen_cotangents) <= {"EagerTensor", "SymbolicTensor", "Tensor"}


def test_lambda_held_by_a_module_name_is_rebound(mode):
    assert (
        float(run_in(mode, lambda x: sd.gradient(at=x, of=lambda x: cf.lambda_square(x)), tf.constant(3.0)))
        == 6.0
    )


def test_aliased_points_through_a_registered_derivative(mode):
    # The sharp-edges tutorial's power with its registered pullback: d/dbase pow(2, 2) = 4.
    from examples import sharp_edges

    two = tf.constant(2.0, tf.float64)
    got = run_in(mode, lambda b: sd.gradient(at=(b, b), of=sharp_edges.pow_), two)
    np.testing.assert_allclose(got, (4.0, 4.0 * np.log(2.0)))


@pytest.mark.parametrize(
    "of, match",
    [
        ("not a function", "of= must be a function"),
        (42, "of= must be a function"),
        (tf.round, "tensorflow's round"),
        (abs, "builtin"),
        (tf.function(lambda x: x), "tf.function"),
        (__import__("functools").partial(cf.scaled, s=3.0), "functools.partial"),
        (type("Callable", (), {"__call__": lambda self, x: x})(), "callable Callable instance"),
        (lambda x: x, "lambda that no module-level name holds"),
    ],
)
def test_what_cannot_be_registered_is_a_type_error_at_once(of, match):
    with pytest.raises(TypeError, match=match):
        sd.derivative(of=of)  # raised before any decorator is applied


def test_method_of_a_class_defined_in_a_function_is_refused():
    class Local:
        def method(self, x):
            return x

    with pytest.raises(TypeError, match="class defined inside a function"):
        sd.derivative(of=Local.method)


# A JVP registration (sd.ValueWithDifferential) with a Jacobian that is not symmetric: its transpose,
# not the differential itself, must serve reverse mode (an early version used it as a pullback).
SKEW = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, -3.0], [4.0, 0.0, 1.0]], np.float32)


def scaled_map(x, y):
    return tf.linalg.matvec(SKEW, x) * y


@sd.derivative(of=scaled_map)
def scaled_map_jvp(x, y):
    def differential(tx, ty):
        return tf.linalg.matvec(SKEW, tx) * y + tf.linalg.matvec(SKEW, x) * ty

    return sd.ValueWithDifferential(tf.linalg.matvec(SKEW, x) * y, differential)


def test_registered_differential_is_transposed_for_reverse_mode(mode):
    x, y, c = np.array([1.0, -2.0, 0.5], np.float32), np.float32(1.5), np.array([1.0, 2.0, 3.0], np.float32)
    gx, gy = run_in(
        mode,
        lambda x, y: sd.gradient(at=(x, y), of=lambda a, b: tf.reduce_sum(scaled_map(a, b) * c)),
        tf.constant(x),
        tf.constant(y),
    )
    np.testing.assert_allclose(gx, SKEW.T @ (c * y), rtol=1e-6)
    np.testing.assert_allclose(gy, np.sum(c * (SKEW @ x)), rtol=1e-6)


def test_registered_differential_serves_forward_mode(mode):
    x, y, t = np.array([1.0, -2.0, 0.5], np.float32), np.float32(1.5), np.array([0.0, 1.0, 0.0], np.float32)
    out = run_in(
        mode,
        lambda x, y: sd.differential(at=(x, y), of=scaled_map)(tf.constant(t), tf.constant(0.0)),
        tf.constant(x),
        tf.constant(y),
    )
    np.testing.assert_allclose(out, (SKEW @ t) * y, rtol=1e-6)


def test_registered_differential_returning_the_wrong_shape_names_the_function():
    def wrong_shape(x):
        return x**3

    @sd.derivative(of=wrong_shape)
    def bad(x):
        return sd.ValueWithDifferential(x**3, lambda t: tf.stack([t, t]))

    with pytest.raises(ValueError, match="wrong_shape.*shape"):
        sd.gradient(at=tf.constant(2.0), of=wrong_shape)
    with pytest.raises(ValueError, match="wrong_shape.*shape"):
        sd.derivative(at=tf.constant(2.0), of=wrong_shape)
