"""Printing values the way Swift prints them, so the ported tutorials read like the originals.

``show(x)`` gives a ``Float`` as Swift's shortest round-trip form (``20.085535``, ``3.0``) and a
tensor as S4TF's ``Tensor`` description (elements right-aligned to one width, nested brackets).
"""

import numpy as np
import tensorflow as tf


def show(value) -> str:
    if isinstance(value, tf.Tensor) and tf.is_symbolic_tensor(value):
        return str(value)  # seen while tracing a tf.function
    array = np.asarray(value)
    if array.ndim == 0:
        return str(array.dtype.type(array)) if array.dtype.kind == "f" else str(array)
    if array.dtype.kind != "f":
        return np.array2string(array, separator=", ")
    texts = [str(array.dtype.type(v)) for v in array.ravel()]
    width = max(len(t) for t in texts)
    return np.array2string(
        array,
        separator=", ",
        max_line_width=92,
        formatter={"float_kind": lambda v: str(array.dtype.type(v)).rjust(width)},
    )


def show_tuple(values) -> str:
    """A Swift tuple: ``(-0.18009877, 0.0)``."""
    return "(" + ", ".join(show(v) for v in values) + ")"
