"""Warnings point at the user's line, whatever path led to them (issue 10, item 7).

Each call under test ends with a ``# marks: NAME`` comment; the warning must carry that line.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf

import swiftdiff as sd


def _line(marker: str) -> int:
    with open(__file__, encoding="utf-8") as source:
        lines = source.read().splitlines()
    return next(
        number for number, line in enumerate(lines, 1) if line.rstrip().endswith(f"# marks: {marker}")
    )


def _assert_attributed(run, category, marker):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run()
    found = [w for w in caught if issubclass(w.category, category)]
    assert found, f"no {category.__name__} among {[w.category.__name__ for w in caught]}"
    for w in found:
        assert (w.filename, w.lineno) == (__file__, _line(marker)), (w.filename, w.lineno, str(w.message))


def test_zero_derivative_warning_from_gradient_points_at_the_call():
    def run():
        sd.gradient(at=(1.0, 2.0), of=lambda x, y: x * 3.0)  # marks: gradient

    _assert_attributed(run, sd.ZeroDerivativeWarning, "gradient")


def test_zero_derivative_warning_from_a_pullback_call_points_at_the_pullback_call():
    pb = sd.pullback(at=(tf.constant(1.0), tf.constant(2.0)), of=lambda x, y: x * 3.0)

    def run():
        pb(1.0)  # marks: pullback

    _assert_attributed(run, sd.ZeroDerivativeWarning, "pullback")


def test_zero_derivative_warning_inside_a_tf_function_points_at_the_caller():
    step = tf.function(lambda x, y: sd.gradient(at=(x, y), of=lambda a, b: a * 3.0))

    def run():
        step(tf.constant(1.0), tf.constant(2.0))  # marks: tf.function

    _assert_attributed(run, sd.ZeroDerivativeWarning, "tf.function")


def _registered_once():
    def f(x):
        return x

    sd.derivative(of=f)(lambda x: (x, lambda v: v))
    return f


def test_registration_warning_points_at_the_registering_line():
    f = _registered_once()

    def run():
        sd.derivative(of=f)(lambda x: (x, lambda v: v))  # marks: registration

    _assert_attributed(run, sd.DerivativeRegistrationWarning, "registration")


def test_recomputation_warning_points_at_the_gradient_call():
    noisy = sd.with_recomputation_in_pullbacks(lambda x: x * tf.random.uniform([2], seed=3))

    def run():
        sd.gradient(at=tf.ones([2]), of=lambda x: tf.reduce_sum(noisy(x)))  # marks: checkpoint

    _assert_attributed(run, sd.RecomputationWarning, "checkpoint")


class _OpSeededNoise(keras.layers.Layer):
    def call(self, x):
        return x * tf.random.uniform(tf.shape(x), seed=1)


def test_recomputation_warning_inside_fit_points_at_the_fit_line():
    model = keras.Sequential(
        [keras.Input((3,)), sd.ActivationDiscarding(_OpSeededNoise()), keras.layers.Dense(1)]
    )
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 3), "float32"), np.ones((4, 1), "float32")

    def run():
        model.fit(x, y, epochs=1, verbose=0)  # marks: fit

    _assert_attributed(run, sd.RecomputationWarning, "fit")
