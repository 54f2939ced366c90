"""S4TF's "Raw TensorFlow operators" tutorial, ported to swiftdiff.

A new elementwise multiply built on a raw TensorFlow operator, made differentiable with a
registered derivative whose pullback sums broadcast dimensions away with `sd.unbroadcasted`.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tensorflow as tf  # noqa: E402

import swiftdiff as sd  # noqa: E402
from swift_print import show, show_tuple  # noqa: E402


# --8<-- [start:mul]
@sd.differentiable
def mul(x, y):
    """Swift: `_Raw.mul(x, y)`, TensorFlow's raw `Mul` kernel (it broadcasts, and has no
    derivative of its own in this story: we give it one)."""
    return tf.raw_ops.Mul(x=x, y=y)


@sd.derivative(of=mul)
def mulDerivative(x, y):
    value = mul(x, y)

    def pullback(v):
        return (sd.unbroadcasted(v * y, to=x.shape), sd.unbroadcasted(v * x, to=y.shape))

    return value, pullback


# --8<-- [end:mul]


print("== Calling a raw operator ==")
x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
y = tf.constant([[5.0, 6.0], [7.0, 8.0]])
print(show(mul(x, y)))

print("\n== Its derivative ==")
print(show_tuple(sd.gradient(at=(x, y), of=lambda x, y: tf.reduce_sum(mul(x, y)))))

print("\n== Broadcasting: the pullback sums the broadcast axis away ==")
row = tf.constant([10.0, 20.0])
dx, drow = sd.gradient(at=(x, row), of=lambda x, row: tf.reduce_sum(mul(x, row)))
print(show(dx))
print(show(drow))
