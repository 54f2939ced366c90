"""Module-level functions for the registration tests (Swift registers derivatives at file scope).

Nothing here is registered at import: each test module registers what it needs, once.
"""

import tensorflow as tf

calls = {"cube": 0}


def cube(x):
    calls["cube"] += 1
    return x * x * x


def uses_cube(x):
    """Defined before any registration, differentiated after: must see the registered derivative."""
    return cube(x) + x


def weighted(x, y):
    return x * y


def double_sin(x):
    return 2.0 * tf.sin(x)


class Scaler:
    def scale(self, x):
        return 3.0 * x


def bad_count(x):
    return x * 2.0


def bad_shape(x):
    return x * 2.0


def bad_dtype(x):
    return x * 2.0


def twice(x):
    return x * 2.0
