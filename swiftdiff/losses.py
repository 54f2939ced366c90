"""S4TF's losses: ``softmaxCrossEntropy`` and ``meanSquaredError``."""

import tensorflow as tf


def softmax_cross_entropy(*, logits, labels=None, probabilities=None):
    """Swift ``softmaxCrossEntropy(logits:labels:)`` / ``(logits:probabilities:)``: batch mean.

    ``labels=`` are integer class indices; ``probabilities=`` are target distributions.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> round(float(sd.softmax_cross_entropy(logits=tf.zeros([2, 4]), labels=tf.constant([0, 3]))), 6)
        1.386294
    """
    if (labels is None) == (probabilities is None):
        raise TypeError("sd.softmax_cross_entropy: pass exactly one of labels= (class indices) or "
                        "probabilities= (distributions)")
    logits = tf.convert_to_tensor(logits)
    if not logits.dtype.is_floating:
        raise TypeError(f"sd.softmax_cross_entropy: logits must be floating, got {logits.dtype.name}")
    if labels is not None:
        labels = tf.convert_to_tensor(labels)
        if labels.dtype.is_floating:
            raise TypeError("sd.softmax_cross_entropy: labels= are integer class indices; pass "
                            "distributions as probabilities=")
        if logits.shape.rank is not None and labels.shape.rank is not None \
                and labels.shape.rank != logits.shape.rank - 1:
            raise ValueError(f"sd.softmax_cross_entropy: labels of shape {labels.shape.as_list()} do not "
                             f"match logits of shape {logits.shape.as_list()} (one label per row)")
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    else:
        probabilities = tf.convert_to_tensor(probabilities, dtype=logits.dtype)
        if not probabilities.shape.is_compatible_with(logits.shape):
            raise ValueError(f"sd.softmax_cross_entropy: probabilities of shape "
                             f"{probabilities.shape.as_list()} do not match logits of shape "
                             f"{logits.shape.as_list()}")
        losses = tf.nn.softmax_cross_entropy_with_logits(labels=probabilities, logits=logits)
    return tf.reduce_mean(losses)


def mean_squared_error(*, predicted, expected):
    """Swift ``meanSquaredError(predicted:expected:)``: ``mean((predicted - expected)^2)``.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> float(sd.mean_squared_error(predicted=tf.constant([1.0, 3.0]), expected=tf.constant([1.0, 1.0])))
        2.0
    """
    predicted = tf.convert_to_tensor(predicted)
    expected = tf.convert_to_tensor(expected, dtype=predicted.dtype)
    return tf.reduce_mean(tf.square(predicted - expected))
