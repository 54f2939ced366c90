"""Module-level functions for the registration tests (Swift registers derivatives at file scope).

Nothing here is registered at import: each test module registers what it needs, once.
"""

import dataclasses

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


# --- issue 10: what registration must reach (each registered once, in tests/test_registration.py) --


class Blocked:
    """Methods whose bodies block gradients: only a registered derivative gives them one."""

    @staticmethod
    def mul(x, y):
        return tf.stop_gradient(x * y)

    @classmethod
    def class_mul(cls, x, y):
        return tf.stop_gradient(x * y)

    def method_mul(self, x, y):
        return tf.stop_gradient(x * y)


@dataclasses.dataclass
class Particle:
    """A differentiable struct with a computed property (Swift: a computed property of a struct)."""

    position: tf.Tensor

    @property
    def energy(self):
        return tf.stop_gradient(self.position * self.position)


def scale_by_count(x, n):
    """Swift's `func scale(_ x: Float, _ n: Int)`: `n` has no tangent slot."""
    return tf.stop_gradient(x * float(n))


def scaled(x, s=2.0):
    return tf.stop_gradient(x * s)


def keyword_scaled(x, *, s):
    return tf.stop_gradient(x * s)


def gathered_identity(x):
    return x


# A lambda held by a module-level name can be registered (the name is rebound).
lambda_square = lambda x: tf.stop_gradient(x * x)  # noqa: E731
