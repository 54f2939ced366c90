"""S4TF's activation functions: each against its formula written out in NumPy (float64), gradients and
forward-mode differentials against central finite differences of that formula, in eager mode, inside
``tf.function`` and under XLA; dtypes; use as ``activation=`` of sd and Keras layers with a ``.keras``
round trip; and short errors on bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import finite_difference, run_in

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def _softplus(x):
    return np.log1p(np.exp(x))


def _log_softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


#: name -> (the sd function, its formula in NumPy). Formulas as S4TF's Math.swift states them.
FORMULAS = {
    "log_softmax": (sd.log_softmax, _log_softmax),
    "log_sigmoid": (sd.log_sigmoid, lambda x: -_softplus(-x)),
    "softmax_first_axis": (
        lambda x: sd.softmax(x, along_axis=0),
        lambda x: np.exp(x) / np.exp(x).sum(axis=0, keepdims=True),
    ),
    "elu": (sd.elu, lambda x: np.where(x < 0, np.exp(x) - 1, x)),
    "selu": (sd.selu, lambda x: SELU_SCALE * np.where(x < 0, SELU_ALPHA * (np.exp(x) - 1), x)),
    "leaky_relu": (sd.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x)),
    "leaky_relu_alpha": (
        lambda x: sd.leaky_relu(x, alpha=0.05),
        lambda x: np.where(x > 0, x, 0.05 * x),
    ),
    "relu6": (sd.relu6, lambda x: np.minimum(np.maximum(x, 0), 6)),
    # S4TF's constants, √(2/π) rounded as S4TF rounds it
    "gelu": (sd.gelu, lambda x: x * 0.5 * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))),
    "swish": (sd.swish, lambda x: x / (1 + np.exp(-x))),
    "softplus": (sd.softplus, _softplus),
    "softsign": (sd.softsign, lambda x: x / (np.abs(x) + 1)),
    "hard_sigmoid": (sd.hard_sigmoid, lambda x: np.clip(x + 3, 0, 6) / 6),
    "hard_swish": (sd.hard_swish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "mish": (sd.mish, lambda x: x * np.tanh(_softplus(x))),
}

# Points away from every kink (0, -3, 3, 6) so that finite differences are exact to ~1e-8.
X = np.array(
    [[-5.2, -3.4, -2.6, -1.1], [-0.4, 0.3, 0.9, 1.7], [2.2, 2.8, 3.5, 4.1], [5.6, 6.4, 7.3, -0.05]],
    np.float64,
)
W = np.random.RandomState(0).randn(*X.shape)  # cotangent weights


def test_activations_and_their_gradients_match_their_formulas(mode):
    names = list(FORMULAS)

    def all_activations(x, w):
        values, grads = [], []
        for name in names:
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = FORMULAS[name][0](x)
                weighted = tf.reduce_sum(w * y)
            values.append(y)
            grads.append(tape.gradient(weighted, x))
        return values, grads

    values, grads = run_in(mode, all_activations, tf.constant(X), tf.constant(W))
    for name, value, grad in zip(names, values, grads, strict=True):
        formula = FORMULAS[name][1]
        assert value.dtype == np.float64 and grad.dtype == np.float64, name
        np.testing.assert_allclose(value, formula(X), rtol=1e-9, atol=1e-12, err_msg=name)
        reference = finite_difference(lambda x, f=formula: np.sum(W * f(x)), X)
        np.testing.assert_allclose(grad, reference, rtol=1e-6, atol=1e-8, err_msg=name)


def test_forward_mode_differentials_match_finite_differences():
    tangent = np.random.RandomState(1).randn(*X.shape)
    for name, (function, formula) in FORMULAS.items():
        df = sd.differential(at=tf.constant(X), of=function)
        reference = (formula(X + 1e-6 * tangent) - formula(X - 1e-6 * tangent)) / 2e-6
        np.testing.assert_allclose(df(tf.constant(tangent)), reference, rtol=1e-6, atol=1e-8, err_msg=name)


def test_dtypes_float32_stays_and_python_values_become_float32():
    for name, (function, formula) in FORMULAS.items():
        x32 = function(tf.constant(X, tf.float32))
        assert x32.dtype == tf.float32, name
        np.testing.assert_allclose(x32, formula(X), rtol=1e-5, atol=1e-6, err_msg=name)
        from_list = function(X.tolist())
        assert from_list.dtype == tf.float32, name
        assert function(np.float64(1.5) * np.ones([2])).dtype == tf.float64, name  # NumPy keeps its dtype
    assert sd.softplus(0.0).dtype == tf.float32 and sd.elu(2).dtype == tf.float32


def test_elementwise_activations_reach_their_limits():
    big = tf.constant([-1e4, 1e4], tf.float32)
    np.testing.assert_allclose(sd.softplus(big), [0.0, 1e4])
    np.testing.assert_allclose(sd.mish(big), [0.0, 1e4])
    np.testing.assert_allclose(sd.hard_sigmoid(big), [0.0, 1.0])
    np.testing.assert_allclose(sd.log_softmax(tf.constant([0.0, 1e4])), [-1e4, 0.0])


ACTIVATIONS = [name for name in FORMULAS if name not in ("leaky_relu_alpha", "softmax_first_axis")]


def test_activations_serve_as_activation_of_sd_and_keras_layers_and_survive_a_keras_file(tmp_path):
    layers = []
    for index, name in enumerate(ACTIVATIONS):
        activation = getattr(sd, name)
        layers.append(sd.Dense(input_size=4, output_size=4, activation=activation))
        layers.append(keras.layers.Dense(4, activation=activation, name=f"keras_{index}"))
    layers.append(keras.layers.Activation(sd.gelu))
    model = keras.Sequential([keras.Input((4,)), *layers])
    x = np.random.RandomState(3).randn(5, 4).astype(np.float32)
    path = tmp_path / "activations.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects
    for name, sd_layer, keras_layer in zip(
        ACTIVATIONS, loaded.layers[0:-1:2], loaded.layers[1::2], strict=True
    ):
        assert sd_layer.activation is getattr(sd, name), name
        assert keras_layer.activation is getattr(sd, name), name  # never Keras' function of that name
    assert loaded.layers[-1].activation is sd.gelu
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)


def test_activation_by_name_in_an_sd_layer_is_swiftdiffs():
    dense = sd.Dense(input_size=2, output_size=2, activation="gelu")
    assert dense.activation is sd.gelu  # S4TF's tanh approximation, not Keras' exact gelu
    assert sd.Dense(input_size=2, output_size=2, activation="hard_sigmoid").activation is sd.hard_sigmoid


def test_gelu_is_the_tanh_approximation_not_the_exact_one():
    x = tf.constant([1.5], tf.float64)
    exact = keras.activations.gelu(x, approximate=False)
    assert abs(float(sd.gelu(x)[0]) - float(exact[0])) > 1e-5
    np.testing.assert_allclose(sd.gelu(x), keras.activations.gelu(x, approximate=True), rtol=1e-9)


def test_swift_aliases():
    assert sd.logSigmoid is sd.log_sigmoid
    assert sd.logSoftmax is sd.log_softmax and sd.leakyRelu is sd.leaky_relu
    assert sd.hardSigmoid is sd.hard_sigmoid and sd.hardSwish is sd.hard_swish


@pytest.mark.parametrize(
    "call, exception, match",
    [
        (lambda: sd.gelu(tf.constant([1, 2])), TypeError, r"^sd\.gelu: x must be floating, got dtype int32"),
        (lambda: sd.mish("a"), TypeError, r"^sd\.mish: x must be a floating tensor, got str 'a'"),
        (lambda: sd.elu(None), TypeError, r"^sd\.elu: x must be a floating tensor, got NoneType"),
        (lambda: sd.swish(True), TypeError, r"^sd\.swish: x must be a floating tensor, got bool"),
        (lambda: sd.softsign([[1.0], [2.0, 3.0]]), TypeError, r"^sd\.softsign: x must be a floating tensor"),
        (
            lambda: sd.hard_swish(np.array([1, 2])),
            TypeError,
            r"^sd\.hard_swish: x must be floating, got dtype int64",
        ),
        (
            lambda: sd.leaky_relu(1.0, alpha="0.1"),
            TypeError,
            r"^sd\.leaky_relu: alpha= must be a real number",
        ),
        (
            lambda: sd.leaky_relu(1.0, alpha=tf.constant(0.1)),
            TypeError,
            r"^sd\.leaky_relu: alpha= must be a real",
        ),
        (lambda: sd.log_softmax(1.0), ValueError, r"^sd\.log_softmax: x is a scalar"),
        (lambda: sd.log_sigmoid("a"), TypeError, r"^sd\.log_sigmoid: x must be a floating tensor"),
        (lambda: sd.softmax(tf.ones([2]), along_axis=0.5), TypeError, r"^sd\.softmax: along_axis="),
    ],
)
def test_bad_input_gets_a_short_error_naming_the_function(call, exception, match):
    with pytest.raises(exception, match=match) as info:
        call()
    assert len(str(info.value)) < 200 and "\n" not in str(info.value)
