"""S4TF's losses: ``softmaxCrossEntropy`` and ``meanSquaredError``."""

from __future__ import annotations

from typing import Any

import tensorflow as tf


def softmax_cross_entropy(*, logits: Any, labels: Any = None, probabilities: Any = None) -> tf.Tensor:
    """Swift ``softmaxCrossEntropy(logits:labels:)`` / ``(logits:probabilities:)``: the batch mean.

    Pass exactly one of ``labels=`` and ``probabilities=``.

    Args:
        logits: ``[batch, classes]`` unnormalized log-probabilities, floating.
        labels: ``[batch]`` integer class indices.
        probabilities: ``[batch, classes]`` target distributions.

    Returns:
        The mean over the batch of the cross entropy, a scalar of the logits' dtype.

    Raises:
        TypeError: Neither or both of ``labels`` and ``probabilities`` are given, the logits are not
            floating, or the labels are.
        ValueError: The labels' or probabilities' shape does not match the logits'.

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
        probabilities = tf.convert_to_tensor(probabilities, dtype=logits.dtype)
        if not probabilities.shape.is_compatible_with(logits.shape):
            raise ValueError(
                f"sd.softmax_cross_entropy: probabilities of shape "
                f"{probabilities.shape.as_list()} do not match logits of shape "
                f"{logits.shape.as_list()}"
            )
        losses = tf.nn.softmax_cross_entropy_with_logits(labels=probabilities, logits=logits)
    return tf.reduce_mean(losses)


def mean_squared_error(*, predicted: Any, expected: Any) -> tf.Tensor:
    """Swift ``meanSquaredError(predicted:expected:)``: ``mean((predicted - expected)^2)``.

    Args:
        predicted: The predictions.
        expected: The targets, converted to the predictions' dtype; broadcast against them.

    Returns:
        The mean over all elements, a scalar of the predictions' dtype.

    Raises:
        ValueError: the shapes do not broadcast against each other.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> float(sd.mean_squared_error(predicted=tf.constant([1.0, 3.0]), expected=tf.constant([1.0, 1.0])))
        2.0
    """
    predicted = tf.convert_to_tensor(predicted)
    expected = tf.convert_to_tensor(expected, dtype=predicted.dtype)
    try:
        tf.broadcast_static_shape(predicted.shape, expected.shape)
    except ValueError:
        raise ValueError(
            f"sd.mean_squared_error: expected= of shape {expected.shape.as_list()} does not "
            f"broadcast against predicted= of shape {predicted.shape.as_list()}"
        ) from None
    return tf.reduce_mean(tf.square(predicted - expected))
