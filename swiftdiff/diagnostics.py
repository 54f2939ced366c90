"""Warnings swiftdiff emits where Swift had compiler diagnostics."""


class ZeroDerivativeWarning(UserWarning):
    """Swift: the compiler warning "result does not depend on differentiation arguments".

    Emitted at run time when a differential operator returns a zero tangent for an argument the
    result does not depend on, unless the function called ``without_derivative`` (which says the
    zero is intended, exactly as in Swift).

    Examples:
        >>> import warnings, swiftdiff as sd
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     g = sd.gradient(at=(1.0, 2.0), of=lambda x, y: x * 3.0)
        >>> [type(w.message).__name__ for w in caught]
        ['ZeroDerivativeWarning']
    """


class DerivativeRegistrationWarning(UserWarning):
    """Swift: the compile-time error for a second ``@derivative(of:)``, here a warning.

    Emitted when ``@derivative(of=f)`` replaces a derivative already registered for ``f``: in
    Python re-running a notebook cell or reloading a module registers again, so swiftdiff keeps
    the new derivative and warns instead of failing.

    Examples:
        >>> import warnings, swiftdiff as sd
        >>> def f(x):
        ...     return x * x
        >>> _ = sd.derivative(of=f)(lambda x: (f(x), lambda v: v))
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     _ = sd.derivative(of=f)(lambda x: (f(x), lambda v: 2 * v))
        >>> [type(w.message).__name__ for w in caught], float(sd.gradient(at=1.0, of=f))
        (['DerivativeRegistrationWarning'], 2.0)
    """


class RecomputationWarning(UserWarning):
    """Emitted when a body given to Swift's ``withRecomputationInPullbacks`` uses randomness it cannot replay.

    TensorFlow's op-seeded stateful random ops (``tf.random.uniform(shape, seed=1)`` and friends)
    draw new numbers on every run, so the recomputation in the pullback would see different
    numbers than the forward pass. Use ``keras.random`` with a ``keras.random.SeedGenerator`` or a
    ``tf.random.Generator`` instead: both are replayed exactly.

    Examples:
        >>> import warnings, tensorflow as tf, swiftdiff as sd
        >>> noisy = sd.with_recomputation_in_pullbacks(lambda x: x * tf.random.uniform([], seed=1))
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     _ = sd.gradient(at=1.0, of=noisy)
        >>> [type(w.message).__name__ for w in caught]
        ['RecomputationWarning']
    """


# Frames that are never the user's line: swiftdiff itself, the frameworks it runs inside (a warning
# from a layer called by `model.fit` belongs to the user's `fit` line), contextlib, and the files
# autograph generates for `tf.function`.
_INTERNAL_DIRECTORIES = None


def _internal_directories() -> tuple:
    global _INTERNAL_DIRECTORIES
    if _INTERNAL_DIRECTORIES is None:
        import contextlib
        import os

        import keras
        import tensorflow

        _INTERNAL_DIRECTORIES = tuple(
            os.path.dirname(os.path.abspath(module.__file__)) + os.sep for module in (tensorflow, keras)
        ) + (os.path.dirname(os.path.abspath(__file__)) + os.sep, os.path.abspath(contextlib.__file__))
    return _INTERNAL_DIRECTORIES


def _is_internal(filename: str) -> bool:
    import os

    return "__autograph_generated_file" in filename or os.path.abspath(filename).startswith(
        _internal_directories()
    )


def warn(message: str, category: type[Warning]) -> None:
    """Emits ``message`` attributed to the first frame outside swiftdiff, TensorFlow and Keras.

    A fixed ``stacklevel`` is right for one call path only (a warning from a checkpointed body is
    reached through an operator, a bare tape, a registered derivative or Keras' ``fit``).
    """
    import sys
    import types
    import warnings

    frame: types.FrameType | None = sys._getframe(1)
    level = 2
    while frame is not None and _is_internal(frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level if frame is not None else 2)
