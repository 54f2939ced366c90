"""SGD, Adam and RMSProp follow S4TF's update rules exactly (checked against numpy), eagerly and
inside tf.function / XLA; move(model, along=) adds a direction to a model."""

import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import run_in

GRADS = [np.array([[0.5], [-1.0]], np.float32), np.array([2.0], np.float32)]


def numpy_sgd(params, steps, lr, momentum, decay, nesterov):
    velocity = [np.zeros_like(p) for p in params]
    for step in range(1, steps + 1):
        lr_t = lr / (1 + decay * step)
        for i, g in enumerate(GRADS):
            velocity[i] = momentum * velocity[i] - lr_t * g
            params[i] = params[i] + (momentum * velocity[i] - lr_t * g if nesterov else velocity[i])
    return params


def numpy_adam(params, steps, lr, beta1, beta2, eps, decay):
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for step in range(1, steps + 1):
        lr_t = lr / (1 + decay * step)
        step_size = lr_t * np.sqrt(1 - beta2**step) / (1 - beta1**step)
        for i, g in enumerate(GRADS):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            params[i] = params[i] - step_size * m[i] / (np.sqrt(v[i]) + eps)
    return params


def numpy_rmsprop(params, steps, lr, rho, eps, decay):
    alpha = [np.zeros_like(p) for p in params]
    for step in range(1, steps + 1):
        lr_t = lr / (1 + decay * step)
        for i, g in enumerate(GRADS):
            alpha[i] = rho * alpha[i] + (1 - rho) * g * g
            params[i] = params[i] - lr_t * g / (np.sqrt(alpha[i]) + eps)
    return params


CASES = [
    (lambda m: sd.SGD(for_=m, learning_rate=0.1), lambda p: numpy_sgd(p, 3, 0.1, 0.0, 0.0, False)),
    (
        lambda m: sd.SGD(for_=m, learning_rate=0.1, momentum=0.9, decay=0.01),
        lambda p: numpy_sgd(p, 3, 0.1, 0.9, 0.01, False),
    ),
    (
        lambda m: sd.SGD(for_=m, learning_rate=0.1, momentum=0.9, nesterov=True),
        lambda p: numpy_sgd(p, 3, 0.1, 0.9, 0.0, True),
    ),
    (
        lambda m: sd.Adam(for_=m, learning_rate=0.01, decay=0.1),
        lambda p: numpy_adam(p, 3, 0.01, 0.9, 0.999, 1e-8, 0.1),
    ),
    (lambda m: sd.RMSProp(for_=m, learning_rate=0.01), lambda p: numpy_rmsprop(p, 3, 0.01, 0.9, 1e-8, 0.0)),
]


@pytest.mark.parametrize("make,reference", CASES)
def test_three_steps_match_s4tf(mode, make, reference):
    model = sd.Dense(input_size=2, output_size=1)
    expected = reference([v.numpy().astype(np.float64) for v in model.trainable_variables])
    opt = make(model)
    direction = sd.TangentVector(model, [tf.constant(g) for g in GRADS])

    def step():
        opt.update(model, along=direction)
        return tf.constant(0.0)

    if mode != "eager":
        step = tf.function(step, jit_compile=(mode == "xla"))
    for _ in range(3):
        step()
    for got, want in zip(model.trainable_variables, expected, strict=True):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    assert int(opt.step.numpy()) == 3


def test_defaults_are_s4tf_defaults():
    model = sd.Dense(input_size=1, output_size=1)
    sgd, adam, rms = sd.SGD(for_=model), sd.Adam(for_=model), sd.RMSProp(for_=model)
    assert (sgd.learning_rate, sgd.momentum, sgd.decay, sgd.nesterov) == (0.01, 0.0, 0.0, False)
    assert (adam.learning_rate, adam.beta1, adam.beta2, adam.epsilon, adam.decay) == (
        1e-3,
        0.9,
        0.999,
        1e-8,
        0.0,
    )
    assert (rms.learning_rate, rms.rho, rms.epsilon, rms.decay) == (1e-3, 0.9, 1e-8, 0.0)


def test_update_with_a_foreign_tangent_is_an_error():
    model, other = sd.Dense(input_size=2, output_size=1), sd.Dense(input_size=2, output_size=1)
    opt = sd.SGD(for_=model)
    with pytest.raises(ValueError, match="sd.SGD.update"):
        opt.update(model, along=sd.TangentVector.zeros_like(other))
    with pytest.raises(ValueError, match="sd.SGD.update"):
        opt.update(other, along=sd.TangentVector.zeros_like(other))


def test_move_along_direction(mode):
    model = sd.Dense(input_size=2, output_size=1)
    before = [v.numpy().copy() for v in model.trainable_variables]
    direction = sd.TangentVector(model, [tf.ones([2, 1]), tf.ones([1])])
    run_in(mode, lambda: sd.move(model, along=direction) or tf.constant(0.0))
    for old, new in zip(before, model.trainable_variables, strict=True):
        np.testing.assert_allclose(new.numpy(), old + 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="sd.move"):
        sd.move(sd.Dense(input_size=3, output_size=1), along=direction)


def test_move_along_a_list_of_tensors():
    model = sd.Dense(input_size=2, output_size=1)
    before = [v.numpy().copy() for v in model.trainable_variables]
    sd.move(model, along=[tf.fill([2, 1], 0.5), [2.0]])
    for old, new, step in zip(before, model.trainable_variables, (0.5, 2.0), strict=True):
        np.testing.assert_allclose(new.numpy(), old + step, rtol=1e-6)
    with pytest.raises(ValueError, match="sd.move: along= has 1 components but the model has 2"):
        sd.move(model, along=[tf.ones([2, 1])])
