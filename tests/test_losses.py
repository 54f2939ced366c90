"""S4TF's losses: each against its formula written out in NumPy (float64), gradients in both arguments
against central finite differences of that formula, in eager mode, inside ``tf.function`` and under
XLA; S4TF's default reductions and the other ``reduction=`` forms; S4TF's own published values;
dtypes; and short errors on bad input."""

import math

import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import finite_difference, run_in

RNG = np.random.RandomState(0)
SHAPE = (3, 4)
P = RNG.randn(*SHAPE)  # predictions of either sign
E = RNG.randn(*SHAPE)  # targets of either sign
SIGNS = np.array([[1.0, -1.0, 1.0, -1.0], [-1.0, -1.0, 1.0, 1.0], [1.0, 1.0, -1.0, 1.0]])
POSITIVE_P = RNG.uniform(0.2, 2.0, SHAPE)
POSITIVE_E = RNG.uniform(0.2, 2.0, SHAPE)
ONE_HOT = np.eye(4)[[2, 0, 3]]
DELTA = 0.7


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _huber(p, e):
    error = np.abs(e - p)
    return np.where(error <= DELTA, 0.5 * error**2, 0.5 * DELTA**2 + DELTA * (error - DELTA))


def _categorical_hinge(p, e):
    positive = np.sum(e * p, axis=-1)
    negative = np.max((1 - e) * p, axis=-1)
    return np.maximum(0, negative - positive + 1)


#: name -> (sd call of (predicted, expected), NumPy formula, predicted, expected).
#: Each formula is written from its definition, reduced with S4TF's default reduction.
CASES = {
    "l1_loss": (
        lambda p, e: sd.l1_loss(predicted=p, expected=e),
        lambda p, e: np.sum(np.abs(e - p)),
        P,
        E,
    ),
    "l2_loss": (
        lambda p, e: sd.l2_loss(predicted=p, expected=e),
        lambda p, e: np.sum((e - p) ** 2),
        P,
        E,
    ),
    "mean_absolute_error": (
        lambda p, e: sd.mean_absolute_error(predicted=p, expected=e),
        lambda p, e: np.mean(np.abs(e - p)),
        P,
        E,
    ),
    "mean_squared_error": (
        lambda p, e: sd.mean_squared_error(predicted=p, expected=e),
        lambda p, e: np.mean((e - p) ** 2),
        P,
        E,
    ),
    "mean_squared_logarithmic_error": (  # negatives of both clamped to 0 before the logarithm
        lambda p, e: sd.mean_squared_logarithmic_error(predicted=p, expected=e),
        lambda p, e: np.mean((np.log(1 + np.clip(e, 0, None)) - np.log(1 + np.clip(p, 0, None))) ** 2),
        P,
        E,
    ),
    "mean_absolute_percentage_error": (
        lambda p, e: sd.mean_absolute_percentage_error(predicted=p, expected=e),
        lambda p, e: 100 * np.mean(np.abs(e - p) / np.abs(e)),
        P,
        E,
    ),
    "hinge_loss": (
        lambda p, e: sd.hinge_loss(predicted=p, expected=e),
        lambda p, e: np.mean(np.maximum(0, 1 - e * p)),
        P,
        SIGNS,
    ),
    "squared_hinge_loss": (
        lambda p, e: sd.squared_hinge_loss(predicted=p, expected=e),
        lambda p, e: np.mean(np.maximum(0, 1 - e * p) ** 2),
        P,
        SIGNS,
    ),
    "categorical_hinge_loss": (
        lambda p, e: sd.categorical_hinge_loss(predicted=p, expected=e),
        lambda p, e: np.mean(_categorical_hinge(p, e)),
        2 * P,
        ONE_HOT,
    ),
    "log_cosh_loss": (
        lambda p, e: sd.log_cosh_loss(predicted=p, expected=e),
        lambda p, e: np.mean(np.log(np.cosh(p - e))),
        P,
        E,
    ),
    "poisson_loss": (
        lambda p, e: sd.poisson_loss(predicted=p, expected=e),
        lambda p, e: np.mean(p - e * np.log(p)),
        POSITIVE_P,
        POSITIVE_E,
    ),
    "kullback_leibler_divergence": (
        lambda p, e: sd.kullback_leibler_divergence(predicted=p, expected=e),
        lambda p, e: np.sum(e * np.log(e / p)),
        POSITIVE_P,
        POSITIVE_E,
    ),
    "sigmoid_cross_entropy": (
        lambda p, e: sd.sigmoid_cross_entropy(logits=p, labels=e),
        lambda p, e: np.mean(-e * np.log(_sigmoid(p)) - (1 - e) * np.log(1 - _sigmoid(p))),
        3 * P,
        _sigmoid(E),
    ),
    "huber_loss": (
        lambda p, e: sd.huber_loss(predicted=p, expected=e, delta=DELTA),
        lambda p, e: np.sum(_huber(p, e)),
        P,
        E,
    ),
    "softmax_cross_entropy": (  # differentiable in the logits only, as in S4TF
        lambda p, e: sd.softmax_cross_entropy(logits=p, probabilities=e),
        lambda p, e: np.mean(-np.sum(e * (p - np.log(np.sum(np.exp(p), -1, keepdims=True))), -1)),
        P,
        np.exp(E) / np.exp(E).sum(-1, keepdims=True),
    ),
}


def test_losses_and_their_gradients_match_their_formulas(mode):
    names = list(CASES)

    def all_losses(*operands):
        values, grads = [], []
        for name, (p, e) in zip(names, zip(operands[0::2], operands[1::2], strict=True), strict=True):
            with tf.GradientTape() as tape:
                tape.watch((p, e))
                loss = CASES[name][0](p, e)
            values.append(loss)
            grads.append(tape.gradient(loss, (p, e)))
        return values, grads

    operands = [tf.constant(v) for name in names for v in CASES[name][2:]]
    values, grads = run_in(mode, all_losses, *operands)
    for name, value, (grad_p, grad_e) in zip(names, values, grads, strict=True):
        _, formula, p, e = CASES[name]
        assert value.shape == () and value.dtype == np.float64, name
        np.testing.assert_allclose(value, formula(p, e), rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(
            grad_p,
            finite_difference(lambda q, f=formula, e=e: f(q, e), p),
            rtol=1e-6,
            atol=1e-8,
            err_msg=name,
        )
        if name != "softmax_cross_entropy":
            np.testing.assert_allclose(
                grad_e,
                finite_difference(lambda q, f=formula, p=p: f(p, q), e),
                rtol=1e-6,
                atol=1e-8,
                err_msg=name,
            )


# name -> S4TF's default reduction
REDUCED = {
    "l1_loss": "sum",
    "l2_loss": "sum",
    "hinge_loss": "mean",
    "squared_hinge_loss": "mean",
    "categorical_hinge_loss": "mean",
    "log_cosh_loss": "mean",
    "poisson_loss": "mean",
    "kullback_leibler_divergence": "sum",
    "sigmoid_cross_entropy": "mean",
    "huber_loss": "sum",
    "softmax_cross_entropy": "mean",
}


@pytest.mark.parametrize("name", sorted(REDUCED))
def test_reductions_default_to_s4tfs_and_take_every_form(name):
    call, _, p, e = CASES[name]
    loss = getattr(sd, name)
    labels = ("logits", "probabilities") if name == "softmax_cross_entropy" else ("predicted", "expected")
    labels = ("logits", "labels") if name == "sigmoid_cross_entropy" else labels
    extra = {"delta": DELTA} if name == "huber_loss" else {}

    def with_reduction(reduction):
        return loss(**{labels[0]: tf.constant(p), labels[1]: tf.constant(e)}, reduction=reduction, **extra)

    elementwise = with_reduction("none").numpy()
    rows = p.shape[0]
    expected_shape = (
        (rows, 1) if name == "categorical_hinge_loss" else (rows,) if "softmax" in name else p.shape
    )
    assert elementwise.shape == expected_shape
    default = call(tf.constant(p), tf.constant(e)).numpy()
    s4tf = elementwise.sum() if REDUCED[name] == "sum" else elementwise.mean()
    np.testing.assert_allclose(default, s4tf, rtol=1e-12)
    np.testing.assert_allclose(with_reduction("sum"), elementwise.sum(), rtol=1e-12)
    np.testing.assert_allclose(with_reduction("mean"), elementwise.mean(), rtol=1e-12)
    np.testing.assert_allclose(with_reduction(tf.reduce_max), elementwise.max(), rtol=1e-12)
    per_row = with_reduction(lambda t: tf.reduce_sum(t, axis=-1))
    np.testing.assert_allclose(per_row, elementwise.sum(-1), rtol=1e-12)


def test_reduction_under_tf_function_and_xla(mode):
    out = run_in(
        mode,
        lambda p, e: (
            sd.l1_loss(predicted=p, expected=e, reduction="mean"),
            sd.huber_loss(predicted=p, expected=e, delta=1.0, reduction=lambda t: tf.reduce_sum(t, axis=0)),
        ),
        tf.constant(P),
        tf.constant(E),
    )
    np.testing.assert_allclose(out[0], np.mean(np.abs(E - P)), rtol=1e-12)
    error = np.abs(E - P)
    np.testing.assert_allclose(out[1], np.where(error <= 1, 0.5 * error**2, error - 0.5).sum(0), rtol=1e-12)


def test_s4tfs_published_values():
    """The values swift-apis' LossTests.swift asserts, each computed independently of swiftdiff."""
    f = tf.constant
    row = f([1.0, 2, 3, 4, 5, 6, 7, 8])
    grid = tf.reshape(row, [2, 4])
    small = f([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    checks = [
        (sd.l1_loss(predicted=f([1.0, 2, 3, 4]), expected=f([0.1, 0.2, 0.3, 0.4])), 9.0),
        (sd.l2_loss(predicted=f([1.0, 2, 3, 4]), expected=f([0.5, 1.5, 2.5, 3.5])), 1.0),
        (sd.mean_squared_error(predicted=grid, expected=small), 23.325),
        (sd.mean_squared_logarithmic_error(predicted=grid, expected=small), 2.1312442),
        (sd.mean_absolute_error(predicted=grid, expected=small), 4.25),
        (sd.mean_absolute_percentage_error(predicted=row, expected=row / 10), 900.0),
        (sd.hinge_loss(predicted=grid, expected=small), 0.225),
        (sd.categorical_hinge_loss(predicted=f([3.0, 4, 5]), expected=f([0.3, 0.4, 0.3])), 0.5),
        (sd.log_cosh_loss(predicted=f([0.2, 0.3, 0.4]), expected=f([1.0, 4.0, 3.0])), 1.7368573),
        (sd.poisson_loss(predicted=f([0.1, 0.2, 0.3]), expected=f([1.0, 2, 3])), 3.2444599),
        (
            sd.kullback_leibler_divergence(predicted=f([0.2, 0.3, 0.4]), expected=f([1.0, 4.0, 3.0])),
            18.015217,
        ),
        (sd.softmax_cross_entropy(logits=grid, probabilities=small), (1.44019 + 2.44019) / 2),
        (
            sd.sigmoid_cross_entropy(
                logits=f([[-100.0, -2, -2, 0], [2, 2, 2, 100]]), labels=f([[0.0, 0, 1, 0], [0, 1, 0.5, 1]])
            ),
            0.7909734,
        ),
        (sd.huber_loss(predicted=small, expected=small, delta=1.0), 0.0),
        (
            sd.huber_loss(
                predicted=f([[0.9, 0.2, 0.2], [0.8, 0.4, 0.6]]),
                expected=f([[1.0, 0, 1], [1, 0, 0]]),
                delta=1.0,
            ),
            0.62500006,
        ),
    ]
    for index, (value, published) in enumerate(checks):
        np.testing.assert_allclose(float(value), published, atol=1e-5, err_msg=str(index))
    # S4TF's sigmoid cross-entropy gradient, exact at logits = 0 (index 3 and 4)
    logits = f([[-100.0, -2, -2, 0], [0, 2, 2, 100]])
    labels = f([[0.0, 0, 1, 0], [1, 1, 0.5, 1]])
    grad = sd.gradient(at=logits, of=lambda z: sd.sigmoid_cross_entropy(logits=z, labels=labels))
    published = [[0.0, 0.01490036, -0.11009964, 0.0625], [-0.0625, -0.01490036, 0.04759964, 0.0]]
    np.testing.assert_allclose(grad, published, atol=1e-6)


def test_squared_hinge_loss_is_the_documented_formula_not_s4tfs_squared_mean():
    # S4TF's code returns mean(hinge)^2 = 0.00390625 here; the documented formula gives mean(hinge^2).
    loss = sd.squared_hinge_loss(
        predicted=tf.constant([1.0, 2, 3, 4, 5, 6, 7, 8]), expected=tf.range(1.0, 9.0) / 2
    )
    np.testing.assert_allclose(float(loss), 0.5**2 / 8)


def test_zero_times_log_zero_is_zero():
    zero = tf.constant([0.0, 0.5])
    kl = sd.kullback_leibler_divergence(predicted=tf.constant([0.3, 0.5]), expected=zero)
    np.testing.assert_allclose(float(kl), 0.0)
    grad = sd.gradient(
        at=tf.constant([0.3, 0.5]), of=lambda p: sd.kullback_leibler_divergence(predicted=p, expected=zero)
    )
    np.testing.assert_allclose(grad, [0.0, -1.0])
    poisson = sd.poisson_loss(predicted=tf.constant([0.0, 1.0]), expected=tf.constant([0.0, 1.0]))
    np.testing.assert_allclose(float(poisson), 0.5)


def test_a_zero_count_still_has_the_poisson_gradient_minus_log_rate(mode):
    """S4TF's p - e * log(p) is differentiable in e at e = 0; xlogy's gradient there is 0."""
    rate = tf.constant([0.5, 2.0, 0.0], tf.float64)

    def gradients(counts):
        return sd.gradient(
            at=(rate, counts), of=lambda p, e: sd.poisson_loss(predicted=p, expected=e, reduction="sum")
        )

    by_rate, by_count = run_in(mode, gradients, tf.zeros([3], tf.float64))
    np.testing.assert_allclose(by_count[:2], -np.log([0.5, 2.0]), rtol=1e-12)
    np.testing.assert_allclose(by_rate, [1.0, 1.0, 1.0])  # 1 - e / p with e = 0; finite at p = 0
    assert np.isfinite(by_count[2])


def test_dtypes_float32_stays_and_python_values_become_float32():
    for name, (call, formula, p, e) in CASES.items():
        value = call(tf.constant(p, tf.float32), e)  # a NumPy float64 target takes the predictions' dtype
        assert value.dtype == tf.float32, name
        np.testing.assert_allclose(value, formula(p.astype(np.float32), e), rtol=2e-5, err_msg=name)
        assert call(p.tolist(), e.tolist()).dtype == tf.float32, name
    assert sd.huber_loss(predicted=[1.0], expected=[0.0], delta=tf.constant(1.0)).dtype == tf.float32


def test_targets_broadcast_against_predictions():
    p = tf.constant(P)
    np.testing.assert_allclose(sd.l1_loss(predicted=p, expected=0.5), np.abs(P - 0.5).sum())
    np.testing.assert_allclose(sd.l2_loss(predicted=p, expected=E[0]), ((P - E[0]) ** 2).sum())


def test_swift_aliases():
    pairs = [
        ("l1Loss", "l1_loss"),
        ("l2Loss", "l2_loss"),
        ("meanAbsoluteError", "mean_absolute_error"),
        ("meanSquaredLogarithmicError", "mean_squared_logarithmic_error"),
        ("meanAbsolutePercentageError", "mean_absolute_percentage_error"),
        ("hingeLoss", "hinge_loss"),
        ("squaredHingeLoss", "squared_hinge_loss"),
        ("categoricalHingeLoss", "categorical_hinge_loss"),
        ("logCoshLoss", "log_cosh_loss"),
        ("poissonLoss", "poisson_loss"),
        ("kullbackLeiblerDivergence", "kullback_leibler_divergence"),
        ("sigmoidCrossEntropy", "sigmoid_cross_entropy"),
        ("huberLoss", "huber_loss"),
    ]
    for swift, python in pairs:
        assert getattr(sd, swift) is getattr(sd, python), swift


f32 = tf.ones([2, 3])
MISUSE = [
    (lambda: sd.l1_loss(predicted=tf.ones([2], tf.int32), expected=[1, 2]), TypeError,
     r"^sd\.l1_loss: predicted= must be floating, got dtype int32"),
    (lambda: sd.l2_loss(predicted=f32, expected=tf.ones([2, 3], tf.float64)), TypeError,
     r"^sd\.l2_loss: expected= has dtype float64 but predicted= has dtype float32"),
    (lambda: sd.sigmoid_cross_entropy(logits=f32, labels=tf.ones([2, 3], tf.int32)), TypeError,
     r"^sd\.sigmoid_cross_entropy: labels= has dtype int32 but logits= has dtype float32"),
    (lambda: sd.hinge_loss(predicted=f32, expected=tf.ones([4])), ValueError,
     r"^sd\.hinge_loss: expected= of shape \[4\] does not broadcast against predicted= of shape \[2, 3\]"),
    (lambda: sd.mean_absolute_error(predicted="a", expected=f32), TypeError,
     r"^sd\.mean_absolute_error: predicted= must be a floating tensor, got str 'a'"),
    (lambda: sd.poisson_loss(predicted=f32, expected=None), TypeError,
     r"^sd\.poisson_loss: expected= must be a floating tensor, got NoneType"),
    (lambda: sd.log_cosh_loss(predicted=f32, expected=f32, reduction="average"), ValueError,
     r"^sd\.log_cosh_loss: reduction= must be 'sum', 'mean', 'none' or a function"),
    (lambda: sd.kullback_leibler_divergence(predicted=f32, expected=f32, reduction=3), TypeError,
     r"^sd\.kullback_leibler_divergence: reduction= must be .* got int 3"),
    (lambda: sd.softmax_cross_entropy(logits=f32, labels=[0, 1], reduction=None), TypeError,
     r"^sd\.softmax_cross_entropy: reduction= must be"),
    (lambda: sd.softmax_cross_entropy(logits=f32, probabilities=tf.ones([2, 3], tf.float16)), TypeError,
     r"^sd\.softmax_cross_entropy: probabilities= has dtype float16 but logits= has dtype float32"),
    (lambda: sd.sigmoid_cross_entropy(logits=f32), TypeError,
     r"sigmoid_cross_entropy\(\) missing 1 required keyword-only argument: 'labels'"),
    (lambda: sd.huber_loss(predicted=f32, expected=f32), TypeError,
     r"huber_loss\(\) missing 1 required keyword-only argument: 'delta'"),
    (lambda: sd.l1_loss(f32, f32), TypeError, r"l1_loss\(\) takes 0 positional arguments"),
    (lambda: sd.huber_loss(predicted=f32, expected=f32, delta=-1.0), ValueError,
     r"^sd\.huber_loss: delta= must be positive, got -1\.0"),
    (lambda: sd.huber_loss(predicted=f32, expected=f32, delta=[1.0, 2.0]), ValueError,
     r"^sd\.huber_loss: delta= must be a scalar, got shape \[2\]"),
    (lambda: sd.huber_loss(predicted=f32, expected=f32, delta="1"), TypeError,
     r"^sd\.huber_loss: delta= must be a floating tensor, got str '1'"),
    (lambda: sd.categorical_hinge_loss(predicted=1.0, expected=1.0), ValueError,
     r"^sd\.categorical_hinge_loss: predicted= is a scalar"),
]  # fmt: skip


@pytest.mark.parametrize("call, exception, match", MISUSE)
def test_bad_input_gets_a_short_error_naming_the_function(call, exception, match):
    with pytest.raises(exception, match=match) as info:
        call()
    assert len(str(info.value)) < 200 and "\n" not in str(info.value)


def test_log_cosh_is_stable_for_large_errors():
    loss = sd.log_cosh_loss(predicted=tf.constant([1000.0]), expected=tf.constant([0.0]))
    np.testing.assert_allclose(float(loss), 1000.0 - math.log(2.0), rtol=1e-6)
