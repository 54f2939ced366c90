"""S4TF's learning phase: ``Context.local.learningPhase`` and ``withLearningPhase``.

In Swift a layer such as ``Dropout`` asks the thread's context whether it is training; in Keras the
caller passes ``training=`` (and ``model.fit`` passes ``training=True`` down to every layer). Both
conventions hold here: a layer resolves its ``training`` argument with :func:`training_flag`, so an
explicit ``training=`` (or the one Keras propagates from ``fit``, ``evaluate`` and an outer call)
wins, and a call that says nothing follows ``sd.Context.local.learning_phase``. The phase is
thread-local, as S4TF's ``Context.local`` is, and starts as ``inference`` on every thread (S4TF's
default).

The phase is read when the layer's ``call`` runs: inside ``tf.function`` that is at tracing, so a
function traced in one phase keeps it (as any Python state a trace reads); pass ``training=`` to a
compiled function to switch.
"""

from __future__ import annotations

import contextlib
import enum
import threading
from collections.abc import Iterator
from typing import Any


class LearningPhase(enum.Enum):
    """Swift ``LearningPhase``: ``.training`` or ``.inference``.

    Examples:
        >>> import swiftdiff as sd
        >>> sd.LearningPhase.training, sd.LearningPhase("inference")
        (<LearningPhase.training: 'training'>, <LearningPhase.inference: 'inference'>)
    """

    training = "training"
    inference = "inference"


class _LocalContext(threading.local):
    """One thread's context; ``learning_phase`` starts as inference in every thread."""

    def __init__(self) -> None:
        self._learning_phase = LearningPhase.inference

    @property
    def learning_phase(self) -> LearningPhase:
        return self._learning_phase

    @learning_phase.setter
    def learning_phase(self, phase: Any) -> None:
        if not isinstance(phase, LearningPhase):
            raise TypeError(
                f"sd.Context.local.learning_phase must be sd.LearningPhase.training or "
                f".inference, got {phase!r}"
            )
        self._learning_phase = phase

    # Swift's spelling of the property, for line-by-line ports.
    learningPhase = learning_phase


class Context:
    """Swift ``Context``: ``Context.local`` is the calling thread's context.

    ``sd.Context.local.learning_phase`` (Swift ``Context.local.learningPhase``) decides whether
    S4TF-style layers called without ``training=`` behave as in training (``Dropout`` drops,
    ``BatchNorm`` normalizes by the batch and updates its moving statistics) or in inference.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> drop = sd.Dropout(probability=0.5)
        >>> sd.Context.local.learning_phase = sd.LearningPhase.training
        >>> bool(tf.reduce_any(drop(tf.ones([100])) == 0))
        True
        >>> sd.Context.local.learning_phase = sd.LearningPhase.inference
        >>> bool(tf.reduce_all(drop(tf.ones([100])) == 1))
        True
    """

    local = _LocalContext()


@contextlib.contextmanager
def with_learning_phase(phase: LearningPhase) -> Iterator[None]:
    """Swift ``withLearningPhase(_:_:)``: runs the ``with`` block in ``phase``, then restores it.

    Swift passes the body as a closure; Python's spelling is a context manager. The previous phase
    comes back even when the block raises.

    Args:
        phase: ``sd.LearningPhase.training`` or ``sd.LearningPhase.inference``.

    Raises:
        TypeError: ``phase`` is not an ``sd.LearningPhase``.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> drop = sd.Dropout(probability=0.5)
        >>> with sd.with_learning_phase(sd.LearningPhase.training):
        ...     dropped = bool(tf.reduce_any(drop(tf.ones([100])) == 0))
        >>> dropped, sd.Context.local.learning_phase
        (True, <LearningPhase.inference: 'inference'>)
    """
    if not isinstance(phase, LearningPhase):
        raise TypeError(
            f"sd.with_learning_phase: the phase must be sd.LearningPhase.training or .inference, "
            f"got {phase!r}"
        )
    previous = Context.local.learning_phase
    Context.local.learning_phase = phase
    try:
        yield
    finally:
        Context.local.learning_phase = previous


def training_flag(training: Any) -> Any:
    """The ``training`` a layer acts on: the given one, else the thread's learning phase.

    ``training`` is what Keras handed the layer's ``call``: ``None`` when neither the caller nor an
    enclosing Keras call (``fit``, a model called with ``training=``) said; then the context decides.
    A tensor (a symbolic ``training`` flag) is returned unchanged.
    """
    if training is None:
        return Context.local.learning_phase is LearningPhase.training
    return training
