"""S4TF's "Custom differentiation" tutorial, ported line by line to swiftdiff.

Run it with `make demo`. Each section prints what the Swift tutorial prints.
"""

import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import quiet_tensorflow  # noqa: E402, F401  (loads TensorFlow without its start-up log lines)

# isort: split
import keras  # noqa: E402
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
xyGradient = sd.gradient(
    at=(x, y), of=lambda x, y: tf.sin(tf.sin(tf.sin(x))) + sd.withoutDerivative(at=tf.cos(tf.cos(tf.cos(y))))
)
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

# --- 4. Works everywhere: a neural network -------------------------------------------------------
heading("Works everywhere: a neural network")
keras.utils.set_random_seed(1)  # the tutorial's numbers came from one random initialization too


class MLP(sd.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.layer1 = sd.Dense(input_size=2, output_size=10, activation=sd.relu)
        self.layer2 = sd.Dense(input_size=10, output_size=1, activation=sd.relu)

    @sd.differentiable
    def call(self, input):
        h0 = sd.withDerivative(self.layer1(input), lambda d: print("∂L/∂layer1 =", show(d)))
        return self.layer2(h0)


classifier = MLP()
optimizer = sd.SGD(for_=classifier, learning_rate=0.02)

x = tf.constant([[0, 0], [0, 1], [1, 0], [1, 1]], tf.float32)
y = tf.constant([0, 1, 1, 0], tf.float32)


def xor_loss(classifier):
    ŷ = sd.withDerivative(classifier(x), lambda d: print("∂L/∂ŷ =", show(d)))
    loss = tf.reduce_mean(tf.square(ŷ - y))  # [4, 1] - [4] broadcasts, as in the tutorial
    print(f"Loss: {show(loss)}")
    return loss


for _ in range(10):
    grad_model = sd.gradient(at=classifier, of=xor_loss)  # Swift: 𝛁model
    optimizer.update(classifier, along=grad_model)

# --- 5. Recomputing activations during backpropagation to save memory (checkpointing) ----------
heading("Recomputing activations during backpropagation (checkpointing)")


def makeRecomputedInGradient(original):
    """Given a differentiable function, returns the same differentiable function, except that the
    values its derivative needs are recomputed instead of being kept by the pullback."""
    return sd.differentiableFunction(
        from_=lambda x: (original(x), lambda v: sd.pullback(at=x, of=original)(v))
    )


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

# --- 6. Extend to neural network modules ----------------------------------------------------------
heading("Extend to neural network modules")
keras.utils.set_random_seed(0)


# Same as the previous `makeRecomputedInGradient(_:)`, except it's for binary functions.
def makeRecomputedInGradient2(original):
    return sd.differentiableFunction(
        from_=lambda x, y: (original(x, y), lambda v: sd.pullback(at=(x, y), of=original)(v))
    )


class ActivationDiscarding(sd.Layer):
    """A layer wrapper that makes the underlying layer's activations be discarded during
    application and recomputed during backpropagation (the tutorial's own, as user code;
    swiftdiff ships an exact one as sd.ActivationDiscarding)."""

    def __init__(self, wrapped, **kwargs):
        super().__init__(**kwargs)
        self.wrapped = wrapped

    @sd.differentiable
    def call(self, input):
        def apply(layer, input):
            print(f"    Applying {type(layer).__name__}<Float> layer...")
            return layer(input)

        return makeRecomputedInGradient2(apply)(self.wrapped, input)


def discardingActivations(layer):
    return ActivationDiscarding(layer)


class Model(sd.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = discardingActivations(sd.Conv2D(filter_shape=(5, 5, 3, 6)))
        self.maxPool = sd.MaxPool2D(pool_size=(2, 2), strides=(2, 2))
        self.flatten = sd.Flatten()
        self.dense = sd.Dense(input_size=36 * 6, output_size=10)

    @sd.differentiable
    def call(self, input):
        return sd.sequenced(input, through=(self.conv, self.maxPool, self.flatten, self.dense))


# Use random training data.
x = tf.random.normal([10, 16, 16, 3])
y = tf.range(0, 10)

model = Model()
opt = sd.SGD(for_=model)

for i in range(1, 6):
    print(f"Starting training step {i}")
    print("  Running original computation...")
    logits, backprop = model.appliedForBackpropagation(x)
    loss, dL_dŷ = sd.valueWithGradient(
        at=logits, of=lambda logits: sd.softmaxCrossEntropy(logits=logits, labels=y)
    )
    print(f"  Loss: {show(loss)}")
    print("  Running backpropagation...")
    dL_dθ, _ = backprop(dL_dŷ)

    opt.update(model, along=dL_dθ)
