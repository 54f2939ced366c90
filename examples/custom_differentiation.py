"""S4TF's "Custom differentiation" tutorial, ported line by line to swiftdiff.

Run it with `make demo`. Each section prints what the Swift tutorial prints.
"""

import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import swiftdiff as sd  # noqa: E402
from swift_print import show, show_tuple  # noqa: E402


def heading(title):
    print(f"\n== {title} ==")


# --- 1. Declaring custom derivatives -------------------------------------------------------------
heading("Declaring custom derivatives")


def sillyExp(x):
    e = np.float32(math.e)  # let 𝑒 = Float(M_E)
    print(f"Taking 𝑒({show(e)}) to the power of {show(x)}!")
    return tf.pow(e, x)


@sd.derivative(of=sillyExp)
def sillyDerivative(x):
    y = sillyExp(x)
    return y, lambda v: v * y


print("exp(3) =", show(sillyExp(3.0)))
print("𝛁exp(3) =", show(sd.gradient(of=sillyExp)(3.0)))

# --- 2. Stop derivatives from propagating ---------------------------------------------------------
heading("Stop derivatives from propagating")

x = 2.0
y = 3.0
xyGradient = sd.gradient(at=(x, y), of=lambda x, y:
                         tf.sin(tf.sin(tf.sin(x))) + sd.withoutDerivative(at=tf.cos(tf.cos(tf.cos(y)))))
print(show_tuple(xyGradient))

# --- 3. Derivative surgery ---------------------------------------------------------------------
heading("Derivative surgery")


def derivative_surgery(x):
    # Print the partial derivative with respect to the result of `sin(x)`.
    a = sd.withDerivative(tf.sin(x), lambda d: print(f"∂+/∂sin = {show(d)}"))

    # Force the partial derivative with respect to `x` to be `0.5`.
    def rewrite(dx):
        print(f"∂log/∂x = {show(dx)}, but rewritten to 0.5")
        return 0.5

    b = tf.math.log(sd.withDerivative(x, rewrite))
    return a + b


x = 30.0
xGradient = sd.gradient(at=x, of=derivative_surgery)
print(show(xGradient))

# --- 5. Recomputing activations during backpropagation to save memory (checkpointing) ----------
heading("Recomputing activations during backpropagation (checkpointing)")


def makeRecomputedInGradient(original):
    """Given a differentiable function, returns the same differentiable function, except that the
    values its derivative needs are recomputed instead of being kept by the pullback."""
    return sd.differentiableFunction(
        from_=lambda x: (original(x), lambda v: sd.pullback(at=x, of=original)(v)))


input = 10.0
print("Running original computation...")


def square_body(x):
    print("  Computing square...")
    return x * x


# Differentiable multiplication with checkpointing.
square = makeRecomputedInGradient(square_body)

# Differentiate `f(x) = (cos(x))^2`.
output, backprop = sd.valueWithPullback(at=input, of=lambda input: square(tf.cos(input)))
print("Running backpropagation...")
grad = backprop(1)
print(f"Gradient = {show(grad)}")
