import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

MODES = ("eager", "function", "xla")


@pytest.fixture(params=MODES)
def mode(request):
    """Each test using it runs in eager mode, inside tf.function, and under XLA."""
    return request.param


def _to_numpy(value):
    if isinstance(value, (tf.Tensor, tf.Variable)):
        return value.numpy()
    return value


def run_in(mode, function, *args):
    """Runs ``function(*args)`` in ``mode`` and returns numpy values in the same structure."""
    if mode == "eager":
        result = function(*args)
    else:
        result = tf.function(function, jit_compile=(mode == "xla"), autograph=False)(*args)
    return tf.nest.map_structure(_to_numpy, result)


def finite_difference(function, x, eps=1e-6):
    """Central differences in float64 of a scalar ``function`` of a numpy array ``x``."""
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        grad[index] = (float(function(x + step)) - float(function(x - step))) / (2 * eps)
    return grad
