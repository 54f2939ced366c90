"""The ported tutorial runs (as `make demo` runs it) and prints what the Swift tutorial prints."""

import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import run_in

EXAMPLE = Path(__file__).parents[1] / "examples" / "custom_differentiation.py"


@pytest.fixture(scope="module")
def demo_output():
    done = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.subprocess
def test_sections_1_2_3_and_5_print_the_recorded_numbers(demo_output):
    for block in [
        "Taking 𝑒(2.7182817) to the power of 3.0!\nexp(3) = 20.085535\n"
        "Taking 𝑒(2.7182817) to the power of 3.0!\n𝛁exp(3) = 20.085535\n",
        "(-0.18009877, 0.0)\n",
        "∂log/∂x = 0.033333335, but rewritten to 0.5\n∂+/∂sin = 1.0\n0.65425146\n",
        "Running original computation...\n  Computing square...\nRunning backpropagation...\n"
        "  Computing square...\nGradient = -0.9129453\n",
    ]:
        assert block in demo_output
    assert "tf.Tensor" not in demo_output


@pytest.mark.subprocess
def test_section_4_xor_loop(demo_output):
    losses = [float(v) for v in re.findall(r"^Loss: (\S+)$", demo_output, re.M)]
    assert len(losses) == 10 and losses[-1] < losses[0] - 0.05
    assert demo_output.count("∂L/∂ŷ = [[") == 10 and demo_output.count("∂L/∂layer1 = [[") == 10


@pytest.mark.subprocess
def test_section_6_cnn_applies_the_conv_twice_per_step(demo_output):
    section = demo_output.split("Starting training step 1", 1)[1]
    steps = section.split("Starting training step")
    assert len(steps) == 5
    for step in steps:
        assert step.count("    Applying Conv2D<Float> layer...") == 2
        assert step.index("Running original computation") < step.index("Applying") \
            < step.index("Running backpropagation") < step.rindex("Applying")
    losses = [float(v) for v in re.findall(r"^  Loss: (\S+)$", demo_output, re.M)]
    assert len(losses) == 5 and losses == sorted(losses, reverse=True)


class HookedMLP(sd.Layer):
    def __init__(self, seen, **kwargs):
        super().__init__(**kwargs)
        keras.utils.set_random_seed(1)
        self.layer1 = sd.Dense(input_size=2, output_size=10, activation=sd.relu)
        self.layer2 = sd.Dense(input_size=10, output_size=1, activation=sd.relu)
        self.record = seen.append  # a bound method: Keras would copy a list attribute

    def call(self, input):
        h0 = sd.with_derivative(self.layer1(input), lambda d: self.record(("layer1", d)))
        return self.layer2(h0)


def test_section_4_broadcasting_gradient_is_half_of_y_hat_minus_half():
    seen = []
    classifier = HookedMLP(seen)
    optimizer = sd.SGD(for_=classifier, learning_rate=0.02)
    x = tf.constant([[0, 0], [0, 1], [1, 0], [1, 1]], tf.float32)
    y = tf.constant([0, 1, 1, 0], tf.float32)
    losses = []
    for _ in range(10):
        def loss_fn(classifier):
            y_hat = classifier(x)
            seen.append(("y_hat", y_hat))
            y_hat = sd.with_derivative(y_hat, lambda d: seen.append(("dy_hat", d)))
            return tf.reduce_mean(tf.square(y_hat - y))  # [4, 1] - [4] -> [4, 4]
        loss, grads = sd.value_with_gradient(at=classifier, of=loss_fn)
        optimizer.update(classifier, along=grads)
        losses.append(float(loss))
        (_, y_hat), (first, d_y_hat), (second, _) = seen[-3:]
        assert (first, second) == ("dy_hat", "layer1")  # reverse order, as Swift prints them
        np.testing.assert_allclose(d_y_hat.numpy(), (y_hat.numpy() - 0.5) / 2, rtol=1e-6)
    assert losses[-1] < losses[0]


def test_section_4_hooks_change_nothing_in_graphs(mode):
    x = tf.constant([[0, 0], [0, 1], [1, 0], [1, 1]], tf.float32)
    model = sd.models.MLP()

    def run(hooked):
        def loss(m):
            y_hat = m(x)
            if hooked:
                y_hat = sd.with_derivative(y_hat, lambda d: None)
            return tf.reduce_mean(tf.square(y_hat - tf.constant([0.0, 1, 1, 0])))
        return lambda: list(sd.gradient(at=model, of=loss))

    for a, b in zip(run_in(mode, run(False)), run_in(mode, run(True))):
        np.testing.assert_array_equal(a, b)
