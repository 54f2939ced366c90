"""S4TF's losses (swift-apis ``Loss.swift``, final release), with its names, labels, formulas and defaults.

Arguments are keywords, as Swift's labels: ``predicted=``/``expected=``, or ``logits=`` with
``labels=``/``probabilities=``. ``expected=`` (``labels=``, ``probabilities=``) is converted to the dtype of
``predicted=`` (``logits=``) and broadcast against it; a tensor of another dtype is a ``TypeError``,
never a silent cast. Python numbers and lists become float32; float64 stays float64.

Reductions. Where S4TF's loss takes ``reduction:``, a function from the elementwise losses to the
result whose default is ``_sum`` or ``_mean``, swiftdiff's takes ``reduction=``:

* ``"sum"`` (Swift's ``_sum``) or ``"mean"`` (``_mean``), the sum or mean of all elements;
* ``"none"``, the elementwise losses themselves (Swift's ``reduction: { $0 }``);
* any function of one tensor returning a tensor, as in Swift: ``reduction=tf.reduce_sum``,
  ``reduction=lambda t: tf.reduce_mean(t, axis=0)``.

Each default is S4TF's, written in the signature. The losses S4TF gives no ``reduction:``
(``meanSquaredError``, ``meanAbsoluteError``, ``meanSquaredLogarithmicError``,
``meanAbsolutePercentageError``) take none here either.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ._values import describe
from .activations import _floating_tensor

#: ``reduction=``: ``"sum"``, ``"mean"``, ``"none"`` or a function of the elementwise losses.
Reduction = str | Callable[[tf.Tensor], Any]

_REDUCTIONS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "sum": tf.reduce_sum,
    "mean": tf.reduce_mean,
    "none": tf.identity,
}


def _reducer(reduction: Reduction, function: str) -> Callable[[tf.Tensor], Any]:
    """The function ``reduction=`` names, or a short error."""
    if isinstance(reduction, str):
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"sd.{function}: reduction= must be 'sum', 'mean', 'none' or a function of the "
                f"elementwise losses, got {reduction!r}"
            )
        return _REDUCTIONS[reduction]
    if not callable(reduction):
        raise TypeError(
            f"sd.{function}: reduction= must be 'sum', 'mean', 'none' or a function of the "
            f"elementwise losses, got {describe(reduction)}"
        )
    return reduction


def _like(
    value: Any, reference: tf.Tensor, labels: tuple[str, str], function: str, broadcast: bool = True
) -> tf.Tensor:
    """``value`` as a tensor of ``reference``'s dtype that broadcasts against it, or a short error.

    ``labels`` is (``value``'s label, ``reference``'s label). Python values and NumPy arrays are
    converted; a tensor or variable of another dtype is a ``TypeError``. ``broadcast=False`` skips the
    shape check.
    """
    label, reference_label = labels
    if value is None or isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"sd.{function}: {label}= must be a floating tensor, got {describe(value)}")
    if isinstance(value, (tf.Tensor, tf.Variable, keras.Variable)):
        dtype = tf.as_dtype(value.dtype)
        if dtype != reference.dtype:
            raise TypeError(
                f"sd.{function}: {label}= has dtype {dtype.name} but {reference_label}= has dtype "
                f"{reference.dtype.name}; cast one of them"
            )
    try:
        tensor = tf.convert_to_tensor(value, dtype=reference.dtype)
    except (TypeError, ValueError):
        raise TypeError(
            f"sd.{function}: {label}= is {describe(value)}, which cannot be a {reference.dtype.name} tensor"
        ) from None
    if not broadcast:
        return tensor
    try:
        tf.broadcast_static_shape(reference.shape, tensor.shape)
    except ValueError:
        raise ValueError(
            f"sd.{function}: {label}= of shape {tensor.shape.as_list()} does not broadcast against "
            f"{reference_label}= of shape {reference.shape.as_list()}"
        ) from None
    return tensor


def _operands(predicted: Any, expected: Any, function: str) -> tuple[tf.Tensor, tf.Tensor]:
    """``predicted`` as a floating tensor and ``expected`` like it."""
    predicted = _floating_tensor(predicted, function, "predicted=")
    return predicted, _like(expected, predicted, ("expected", "predicted"), function)


def l1_loss(*, predicted: Any, expected: Any, reduction: Reduction = "sum") -> tf.Tensor:
    """Swift ``l1Loss(predicted:expected:reduction:)``: ``reduction(abs(expected - predicted))``.

    Args:
        predicted: The predictions, floating.
        expected: The targets, converted to the predictions' dtype; broadcast against them.
        reduction: ``"sum"`` (S4TF's default), ``"mean"``, ``"none"`` or a function of the elementwise
            losses.

    Returns:
        The reduced loss, of the predictions' dtype.

    Raises:
        TypeError: The predictions are not floating, ``expected`` is a tensor of another dtype, or
            ``reduction`` is not a reduction.
        ValueError: The shapes do not broadcast, or ``reduction`` is an unknown name.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> p, e = tf.constant([1.0, 3.0]), tf.constant([2.0, 1.0])
        >>> float(sd.l1_loss(predicted=p, expected=e))
        3.0
        >>> float(sd.l1_loss(predicted=p, expected=e, reduction="mean"))
        1.5
    """
    reduce = _reducer(reduction, "l1_loss")
    predicted, expected = _operands(predicted, expected, "l1_loss")
    return reduce(tf.abs(expected - predicted))


def l2_loss(*, predicted: Any, expected: Any, reduction: Reduction = "sum") -> tf.Tensor:
    """Swift ``l2Loss(predicted:expected:reduction:)``: ``reduction((expected - predicted)^2)``.

    Args:
        predicted: The predictions, floating.
        expected: The targets, converted to the predictions' dtype; broadcast against them.
        reduction: ``"sum"`` (S4TF's default), ``"mean"``, ``"none"`` or a function of the elementwise
            losses.

    Returns:
        The reduced loss, of the predictions' dtype.

    Raises:
        TypeError: The predictions are not floating, ``expected`` is a tensor of another dtype, or
            ``reduction`` is not a reduction.
        ValueError: The shapes do not broadcast, or ``reduction`` is an unknown name.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> p, e = tf.constant([1.0, 3.0]), tf.constant([2.0, 1.0])
        >>> float(sd.l2_loss(predicted=p, expected=e))
        5.0
        >>> sd.l2_loss(predicted=p, expected=e, reduction="none").numpy().tolist()
        [1.0, 4.0]
        >>> sd.l2_loss(predicted=p, expected=e, reduction=lambda t: 2 * tf.reduce_max(t)).numpy().tolist()
        8.0
    """
    reduce = _reducer(reduction, "l2_loss")
    predicted, expected = _operands(predicted, expected, "l2_loss")
    return reduce(tf.square(expected - predicted))


def mean_absolute_error(*, predicted: Any, expected: Any) -> tf.Tensor:
    """Swift ``meanAbsoluteError(predicted:expected:)``: ``mean(abs(expected - predicted))``.

    Args:
        predicted: The predictions, floating.
        expected: The targets, converted to the predictions' dtype; broadcast against them.

    Returns:
        The mean over all elements, a scalar of the predictions' dtype.

    Raises:
        TypeError: The predictions are not floating, or ``expected`` is a tensor of another dtype.
        ValueError: The shapes do not broadcast.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> float(sd.mean_absolute_error(predicted=tf.constant([1.0, 3.0]), expected=tf.constant([2.0, 1.0])))
        1.5
    """
    predicted, expected = _operands(predicted, expected, "mean_absolute_error")
    return tf.reduce_mean(tf.abs(expected - predicted))


def mean_squared_error(*, predicted: Any, expected: Any) -> tf.Tensor:
    """Swift ``meanSquaredError(predicted:expected:)``: ``mean((predicted - expected)^2)``.

    Args:
        predicted: The predictions, floating.
        expected: The targets, converted to the predictions' dtype; broadcast against them.

    Returns:
        The mean over all elements, a scalar of the predictions' dtype.

    Raises:
        TypeError: The predictions are not floating, or ``expected`` is a tensor of another dtype.
        ValueError: The shapes do not broadcast against each other.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> float(sd.mean_squared_error(predicted=tf.constant([1.0, 3.0]), expected=tf.constant([1.0, 1.0])))
        2.0
    """
    predicted, expected = _operands(predicted, expected, "mean_squared_error")
    return tf.reduce_mean(tf.square(predicted - expected))


def mean_squared_logarithmic_error(*, predicted: Any, expected: Any) -> tf.Tensor:
    """Swift ``meanSquaredLogarithmicError(predicted:expected:)``: ``mean((log(1 + e) - log(1 + p))^2)``.

    As in S4TF, negative entries of both are first clamped to 0 (``p = max(predicted, 0)``,
    ``e = max(expected, 0)``), so the logarithm is defined; a clamped prediction has zero gradient.

    Args:
        predicted: The predictions, floating.
        expected: The targets, converted to the predictions' dtype; broadcast against them.

    Returns:
        The mean over all elements, a scalar of the predictions' dtype.

    Raises:
        TypeError: The predictions are not floating, or ``expected`` is a tensor of another dtype.
        ValueError: The shapes do not broadcast.

    Examples:
        >>> import math, tensorflow as tf, swiftdiff as sd
        >>> p, e = tf.constant([0.0, -5.0]), tf.constant([1.0, 0.0])
        >>> loss = sd.mean_squared_logarithmic_error(predicted=p, expected=e)
        >>> round(float(loss), 6) == round(math.log(2) ** 2 / 2, 6)
        True
    """
    predicted, expected = _operands(predicted, expected, "mean_squared_logarithmic_error")
    log_predicted = tf.math.log1p(tf.maximum(predicted, 0))
    log_expected = tf.math.log1p(tf.maximum(expected, 0))
    return tf.reduce_mean(tf.square(log_expected - log_predicted))


def mean_absolute_percentage_error(*, predicted: Any, expected: Any) -> tf.Tensor:
    """Swift ``meanAbsolutePercentageError(predicted:expected:)``: ``100 * mean(abs((e - p) / abs(e)))``.

    As in S4TF, nothing guards against ``expected == 0`` (the loss is then infinite or NaN), unlike
    Keras' version, which clamps the denominator.

    Args:
        predicted: The predictions, floating.
        expected: The targets, converted to the predictions' dtype; broadcast against them.

    Returns:
        The mean over all elements, in percent, a scalar of the predictions' dtype.

    Raises:
        TypeError: The predictions are not floating, or ``expected`` is a tensor of another dtype.
        ValueError: The shapes do not broadcast.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> p, e = tf.constant([1.5, 3.0]), tf.constant([2.0, -4.0])
        >>> float(sd.mean_absolute_percentage_error(predicted=p, expected=e))
        100.0
    """
    predicted, expected = _operands(predicted, expected, "mean_absolute_percentage_error")
    return 100 * tf.reduce_mean(tf.abs((expected - predicted) / tf.abs(expected)))


def hinge_loss(*, predicted: Any, expected: Any, reduction: Reduction = "mean") -> tf.Tensor:
    """Swift ``hingeLoss(predicted:expected:reduction:)``: ``reduction(max(0, 1 - expected * predicted))``.

    Args:
        predicted: The predictions, floating.
        expected: The targets, -1 or 1, converted to the predictions' dtype; broadcast against them.
        reduction: ``"mean"`` (S4TF's default), ``"sum"``, ``"none"`` or a function of the elementwise
            losses.

    Returns:
        The reduced loss, of the predictions' dtype.

    Raises:
        TypeError: The predictions are not floating, ``expected`` is a tensor of another dtype, or
            ``reduction`` is not a reduction.
        ValueError: The shapes do not broadcast, or ``reduction`` is an unknown name.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> float(sd.hinge_loss(predicted=tf.constant([0.5, 2.0]), expected=tf.constant([1.0, -1.0])))
        1.75
    """
    reduce = _reducer(reduction, "hinge_loss")
    predicted, expected = _operands(predicted, expected, "hinge_loss")
    return reduce(tf.nn.relu(1 - expected * predicted))


def squared_hinge_loss(*, predicted: Any, expected: Any, reduction: Reduction = "mean") -> tf.Tensor:
    """Swift ``squaredHingeLoss(predicted:expected:reduction:)``: ``reduction(max(0, 1 - e * p)^2)``.

    This is the formula S4TF documents (and Keras computes). S4TF's final release computes something
    else: it squares ``hingeLoss``'s result, already reduced by that function's default mean, so it
    returns ``mean(max(0, 1 - e * p))^2`` whatever ``reduction`` is. swiftdiff does not copy that.

    Args:
        predicted: The predictions, floating.
        expected: The targets, -1 or 1, converted to the predictions' dtype; broadcast against them.
        reduction: ``"mean"`` (S4TF's default), ``"sum"``, ``"none"`` or a function of the elementwise
            losses.

    Returns:
        The reduced loss, of the predictions' dtype.

    Raises:
        TypeError: The predictions are not floating, ``expected`` is a tensor of another dtype, or
            ``reduction`` is not a reduction.
        ValueError: The shapes do not broadcast, or ``reduction`` is an unknown name.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> float(sd.squared_hinge_loss(predicted=tf.constant([0.5, 2.0]), expected=tf.constant([1.0, -1.0])))
        4.625
    """
    reduce = _reducer(reduction, "squared_hinge_loss")
    predicted, expected = _operands(predicted, expected, "squared_hinge_loss")
    return reduce(tf.square(tf.nn.relu(1 - expected * predicted)))


def categorical_hinge_loss(*, predicted: Any, expected: Any, reduction: Reduction = "mean") -> tf.Tensor:
    """Swift ``categoricalHingeLoss(predicted:expected:reduction:)``: per row, ``max(0, n - p + 1)``.

    Along the last axis, ``p = sum(expected * predicted)`` and ``n = max((1 - expected) * predicted)``;
    the last axis is kept with size 1 before the reduction, as in S4TF.

    Args:
        predicted: The predictions, floating, of rank at least 1 (classes on the last axis).
        expected: One-hot targets, converted to the predictions' dtype; broadcast against them.
        reduction: ``"mean"`` (S4TF's default), ``"sum"``, ``"none"`` or a function of the per-row
            losses (shape ``[..., 1]``).

    Returns:
        The reduced loss, of the predictions' dtype.

    Raises:
        TypeError: The predictions are not floating, ``expected`` is a tensor of another dtype, or
            ``reduction`` is not a reduction.
        ValueError: The predictions are a scalar, the shapes do not broadcast, or ``reduction`` is an
            unknown name.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> p, e = tf.constant([3.0, 4.0, 5.0]), tf.constant([0.0, 1.0, 0.0])
        >>> float(sd.categorical_hinge_loss(predicted=p, expected=e))
        2.0
    """
    reduce = _reducer(reduction, "categorical_hinge_loss")
    predicted, expected = _operands(predicted, expected, "categorical_hinge_loss")
    if predicted.shape.rank == 0:
        raise ValueError("sd.categorical_hinge_loss: predicted= is a scalar; classes lie on its last axis")
    positive = tf.reduce_sum(expected * predicted, axis=-1, keepdims=True)
    negative = tf.reduce_max((1 - expected) * predicted, axis=-1, keepdims=True)
    return reduce(tf.nn.relu(negative - positive + 1))


def log_cosh_loss(*, predicted: Any, expected: Any, reduction: Reduction = "mean") -> tf.Tensor:
    """Swift ``logCoshLoss(predicted:expected:reduction:)``: ``reduction(log(cosh(predicted - expected)))``.

    Computed as S4TF does, stably for large errors: ``x + softplus(-2x) - log(2)``.

    Args:
        predicted: The predictions, floating.
        expected: The targets, converted to the predictions' dtype; broadcast against them.
        reduction: ``"mean"`` (S4TF's default), ``"sum"``, ``"none"`` or a function of the elementwise
            losses.

    Returns:
        The reduced loss, of the predictions' dtype.

    Raises:
        TypeError: The predictions are not floating, ``expected`` is a tensor of another dtype, or
            ``reduction`` is not a reduction.
        ValueError: The shapes do not broadcast, or ``reduction`` is an unknown name.

    Examples:
        >>> import math, tensorflow as tf, swiftdiff as sd
        >>> loss = sd.log_cosh_loss(predicted=tf.constant([1.0]), expected=tf.constant([0.0]))
        >>> round(float(loss), 6) == round(math.log(math.cosh(1.0)), 6)
        True
    """
    reduce = _reducer(reduction, "log_cosh_loss")
    predicted, expected = _operands(predicted, expected, "log_cosh_loss")
    x = predicted - expected
    return reduce(x + tf.math.softplus(-2 * x) - math.log(2.0))


def poisson_loss(*, predicted: Any, expected: Any, reduction: Reduction = "mean") -> tf.Tensor:
    """Swift ``poissonLoss(predicted:expected:reduction:)``: ``reduction(p - e * log(p))``, elementwise.

    ``0 * log(0)`` (a zero count at a zero rate) counts as 0, where S4TF's literal product gives NaN;
    everywhere else the values and the gradients are S4TF's (the gradient with respect to ``expected``
    is ``-log(p)``, also at a count of 0).

    Args:
        predicted: The predicted rates, floating, positive.
        expected: The observed counts, converted to the predictions' dtype; broadcast against them.
        reduction: ``"mean"`` (S4TF's default), ``"sum"``, ``"none"`` or a function of the elementwise
            losses.

    Returns:
        The reduced loss, of the predictions' dtype.

    Raises:
        TypeError: The predictions are not floating, ``expected`` is a tensor of another dtype, or
            ``reduction`` is not a reduction.
        ValueError: The shapes do not broadcast, or ``reduction`` is an unknown name.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> float(sd.poisson_loss(predicted=tf.constant([1.0, 2.0]), expected=tf.constant([3.0, 0.0])))
        1.5
    """
    reduce = _reducer(reduction, "poisson_loss")
    predicted, expected = _operands(predicted, expected, "poisson_loss")
    # Not tf.math.xlogy: its gradient with respect to ``expected`` is 0 wherever ``expected`` is 0,
    # and zero counts are common targets. Only the 0 * log(0) corner is taken out.
    zero_by_zero = tf.logical_and(tf.equal(expected, 0), tf.equal(predicted, 0))
    rate = tf.where(zero_by_zero, tf.ones_like(predicted), predicted)
    return reduce(predicted - expected * tf.math.log(rate))


def kullback_leibler_divergence(*, predicted: Any, expected: Any, reduction: Reduction = "sum") -> tf.Tensor:
    """Swift ``kullbackLeiblerDivergence(predicted:expected:reduction:)``: ``reduction(e * log(e / p))``.

    ``0 * log(0 / p)`` counts as 0 (``tf.math.xlogy``), where S4TF's literal product gives NaN; everywhere
    else the values are S4TF's. Nothing is clipped (Keras' version clips both to ``[1e-7, 1]``).

    Args:
        predicted: The predicted probabilities, floating, positive.
        expected: The target probabilities, converted to the predictions' dtype; broadcast against them.
        reduction: ``"sum"`` (S4TF's default), ``"mean"``, ``"none"`` or a function of the elementwise
            losses.

    Returns:
        The reduced loss, of the predictions' dtype.

    Raises:
        TypeError: The predictions are not floating, ``expected`` is a tensor of another dtype, or
            ``reduction`` is not a reduction.
        ValueError: The shapes do not broadcast, or ``reduction`` is an unknown name.

    Examples:
        >>> import math, tensorflow as tf, swiftdiff as sd
        >>> p, e = tf.constant([0.25, 0.75]), tf.constant([0.5, 0.5])
        >>> loss = sd.kullback_leibler_divergence(predicted=p, expected=e)
        >>> round(float(loss), 6) == round(0.5 * math.log(2) + 0.5 * math.log(2 / 3), 6)
        True
    """
    reduce = _reducer(reduction, "kullback_leibler_divergence")
    predicted, expected = _operands(predicted, expected, "kullback_leibler_divergence")
    return reduce(tf.math.xlogy(expected, expected / predicted))


def softmax_cross_entropy(
    *, logits: Any, labels: Any = None, probabilities: Any = None, reduction: Reduction = "mean"
) -> tf.Tensor:
    """Swift ``softmaxCrossEntropy(logits:labels:reduction:)`` / ``(logits:probabilities:reduction:)``.

    Pass exactly one of ``labels=`` and ``probabilities=``. The default reduction is the batch mean.

    Args:
        logits: ``[batch, classes]`` unnormalized log-probabilities, floating.
        labels: ``[batch]`` integer class indices.
        probabilities: ``[batch, classes]`` target distributions.
        reduction: ``"mean"`` (S4TF's default), ``"sum"``, ``"none"`` or a function of the per-example
            losses (shape ``[batch]``).

    Returns:
        The reduced cross entropy, of the logits' dtype.

    Raises:
        TypeError: Neither or both of ``labels`` and ``probabilities`` are given, the logits are not
            floating, the labels are, the probabilities are a tensor of another dtype, or ``reduction``
            is not a reduction.
        ValueError: The labels' or probabilities' shape does not match the logits', or ``reduction`` is
            an unknown name.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> round(float(sd.softmax_cross_entropy(logits=tf.zeros([2, 4]), labels=tf.constant([0, 3]))), 6)
        1.386294
    """
    if (labels is None) == (probabilities is None):
        raise TypeError(
            "sd.softmax_cross_entropy: pass exactly one of labels= (class indices) or "
            "probabilities= (distributions)"
        )
    reduce = _reducer(reduction, "softmax_cross_entropy")
    logits = tf.convert_to_tensor(logits)
    if not logits.dtype.is_floating:
        raise TypeError(f"sd.softmax_cross_entropy: logits must be floating, got {logits.dtype.name}")
    if labels is not None:
        labels = tf.convert_to_tensor(labels)
        if labels.dtype.is_floating:
            raise TypeError(
                "sd.softmax_cross_entropy: labels= are integer class indices; pass "
                "distributions as probabilities="
            )
        if (
            logits.shape.rank is not None
            and labels.shape.rank is not None
            and labels.shape.rank != logits.shape.rank - 1
        ):
            raise ValueError(
                f"sd.softmax_cross_entropy: labels of shape {labels.shape.as_list()} do not "
                f"match logits of shape {logits.shape.as_list()} (one label per row)"
            )
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    else:
        probabilities = _like(probabilities, logits, ("probabilities", "logits"), "softmax_cross_entropy")
        if not probabilities.shape.is_compatible_with(logits.shape):
            raise ValueError(
                f"sd.softmax_cross_entropy: probabilities of shape "
                f"{probabilities.shape.as_list()} do not match logits of shape "
                f"{logits.shape.as_list()}"
            )
        losses = tf.nn.softmax_cross_entropy_with_logits(labels=probabilities, logits=logits)
    return reduce(losses)


def sigmoid_cross_entropy(*, logits: Any, labels: Any, reduction: Reduction = "mean") -> tf.Tensor:
    """Swift ``sigmoidCrossEntropy(logits:labels:reduction:)``: binary cross entropy from logits.

    Elementwise ``max(l, 0) - l * y + log(1 + exp(-abs(l)))`` for logits ``l`` and labels ``y``, the
    stable form of ``-y log(sigmoid(l)) - (1 - y) log(1 - sigmoid(l))``, as S4TF computes it; its
    gradient at ``l = 0`` is the exact ``sigmoid(0) - y``. Differentiable in both arguments.

    Args:
        logits: The unscaled outputs, floating.
        labels: The targets in ``[0, 1]``, floating like the logits (S4TF's ``Tensor<Scalar>``);
            broadcast against them.
        reduction: ``"mean"`` (S4TF's default), ``"sum"``, ``"none"`` or a function of the elementwise
            losses.

    Returns:
        The reduced loss, of the logits' dtype.

    Raises:
        TypeError: The logits are not floating, the labels are a tensor of another dtype (integer
            labels included: cast them), or ``reduction`` is not a reduction.
        ValueError: The shapes do not broadcast, or ``reduction`` is an unknown name.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> round(float(sd.sigmoid_cross_entropy(logits=tf.zeros([2]), labels=tf.constant([0.0, 1.0]))), 6)
        0.693147
    """
    reduce = _reducer(reduction, "sigmoid_cross_entropy")
    logits = _floating_tensor(logits, "sigmoid_cross_entropy", "logits=")
    labels = _like(labels, logits, ("labels", "logits"), "sigmoid_cross_entropy")
    # tf.where rather than relu/abs: the branch taken at l = 0 gives the exact gradient there.
    nonnegative = logits >= 0
    relu_logits = tf.where(nonnegative, logits, tf.zeros_like(logits))
    negative_abs_logits = tf.where(nonnegative, -logits, logits)
    return reduce(relu_logits - logits * labels + tf.math.log1p(tf.exp(negative_abs_logits)))


def huber_loss(*, predicted: Any, expected: Any, delta: Any, reduction: Reduction = "sum") -> tf.Tensor:
    """Swift ``huberLoss(predicted:expected:delta:reduction:)``: quadratic near 0, linear beyond ``delta``.

    For each ``x`` of ``abs(expected - predicted)``: ``0.5 x^2`` if ``x <= delta``, otherwise
    ``0.5 delta^2 + delta (x - delta)``. ``delta`` has no default, as in S4TF.

    Args:
        predicted: The predictions, floating.
        expected: The targets, converted to the predictions' dtype; broadcast against them.
        delta: Where the loss turns from quadratic to linear: a positive Python number (Swift's
            ``Scalar``) or a scalar tensor.
        reduction: ``"sum"`` (S4TF's default), ``"mean"``, ``"none"`` or a function of the elementwise
            losses.

    Returns:
        The reduced loss, of the predictions' dtype.

    Raises:
        TypeError: The predictions are not floating, ``expected`` or ``delta`` is a tensor of another
            dtype, ``delta`` is not a number, or ``reduction`` is not a reduction.
        ValueError: The shapes do not broadcast, ``delta`` is not a positive scalar, or ``reduction`` is
            an unknown name.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> p, e = tf.constant([0.5, 3.0]), tf.constant([0.0, 0.0])
        >>> float(sd.huber_loss(predicted=p, expected=e, delta=1.0))
        2.625
    """
    reduce = _reducer(reduction, "huber_loss")
    predicted, expected = _operands(predicted, expected, "huber_loss")
    if (
        isinstance(delta, (int, float, np.integer, np.floating))
        and not isinstance(delta, bool)
        and delta <= 0
    ):
        raise ValueError(f"sd.huber_loss: delta= must be positive, got {delta!r}")
    delta = _like(delta, predicted, ("delta", "predicted"), "huber_loss", broadcast=False)
    if delta.shape.rank != 0:
        raise ValueError(f"sd.huber_loss: delta= must be a scalar, got shape {delta.shape.as_list()}")
    absolute_error = tf.abs(expected - predicted)
    quadratic = tf.minimum(absolute_error, delta)
    linear = absolute_error - quadratic
    return reduce(0.5 * quadratic * quadratic + delta * linear)
