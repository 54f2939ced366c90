"""S4TF's "Sharp edges in Differentiable Swift", ported to swiftdiff.

Loops whose counters must not be differentiated, and custom derivatives for functions that Swift's
standard library did not make differentiable: pow, max, abs, sqrt, and Float <-> Double
conversion. Everything here runs in float64 (Swift's Double) unless it converts.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tensorflow as tf  # noqa: E402

import swiftdiff as sd  # noqa: E402
from swift_print import show, show_tuple  # noqa: E402

f64 = tf.float64


def double(value):
    return tf.constant(value, f64)


# --- Loops: the counter is not differentiable -----------------------------------------------------
print("== Loops ==")


# --8<-- [start:loops]
def repeated_square(x, times):
    result = x
    for _ in range(sd.without_derivative(at=times)):  # a plain int passes through unchanged
        result = result * result
    return result


print("d/dx x^(2^3) at 1.1:", show(sd.gradient(at=double(1.1), of=lambda x: repeated_square(x, 3))))


def sum_of_powers(x):
    total = double(0.0)
    i = double(0.0)
    while i < 3:  # the loop variable is data, not a differentiation point
        total += x ** sd.without_derivative(at=i)
        i += 1
    return total


print("d/dx (1 + x + x^2) at 2:", show(sd.gradient(at=double(2.0), of=sum_of_powers)))
# --8<-- [end:loops]

# --- pow ---------------------------------------------------------------------------------------
print("\n== pow ==")


# --8<-- [start:pow]
def pow_(base, exponent):
    return tf.pow(base, exponent)


@sd.derivative(of=pow_)
def powVJP(base, exponent):
    output = pow_(base, exponent)

    def pullback(v):
        base_derivative = v * (exponent * pow_(base, exponent - 1))
        exponent_derivative = v * output * tf.math.log(base)
        return base_derivative, exponent_derivative

    return output, pullback


print("gradient of pow at (2, 2):", show_tuple(sd.gradient(at=(double(2.0), double(2.0)), of=pow_)))
# --8<-- [end:pow]

# --- max ---------------------------------------------------------------------------------------
print("\n== max ==")


def max_(x, y):
    return tf.maximum(x, y)


@sd.derivative(of=max_)
def maxVJP(x, y):
    def pullback(v):
        zero = tf.zeros_like(v)
        return (zero, v) if x < y else (v, zero)  # the whole cotangent goes to the larger one

    return max_(x, y), pullback


print("gradient of max at (1, 2):", show_tuple(sd.gradient(at=(double(1.0), double(2.0)), of=max_)))
print("gradient of max at (3, 2):", show_tuple(sd.gradient(at=(double(3.0), double(2.0)), of=max_)))

# --- abs and sqrt --------------------------------------------------------------------------------
print("\n== abs and sqrt ==")


def abs_(x):
    return tf.abs(x)


@sd.derivative(of=abs_)
def absVJP(x):
    return abs_(x), lambda v: v * tf.sign(x)


def sqrt_(x):
    return tf.sqrt(x)


@sd.derivative(of=sqrt_)
def sqrtVJP(x):
    y = sqrt_(x)
    return y, lambda v: v / (2.0 * y)


print("gradient of abs at -3:", show(sd.gradient(at=double(-3.0), of=abs_)))
print("gradient of sqrt at 4:", show(sd.gradient(at=double(4.0), of=sqrt_)))

# --- Float <-> Double ------------------------------------------------------------------------------
print("\n== Float <-> Double ==")


# --8<-- [start:conversion]
def to_double(x):
    return tf.cast(x, f64)


@sd.derivative(of=to_double)
def toDoubleVJP(x):
    return to_double(x), lambda v: tf.cast(v, tf.float32)  # a tangent has its point's dtype


def to_float(x):
    return tf.cast(x, tf.float32)


@sd.derivative(of=to_float)
def toFloatVJP(x):
    return to_float(x), lambda v: tf.cast(v, f64)


g = sd.gradient(at=3.0, of=lambda x: to_double(x) * double(2.5))  # a Float point
print("d/dx Double(x) * 2.5 at Float 3:", show(g), g.dtype.name)
g = sd.gradient(at=double(3.0), of=lambda x: to_float(x) * 2.5)  # a Double point
print("d/dx Float(x) * 2.5 at Double 3:", show(g), g.dtype.name)
# --8<-- [end:conversion]
