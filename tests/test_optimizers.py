"""The optimizers follow S4TF's update rules exactly (each checked against S4TF's formula written out
in numpy), eagerly and inside tf.function / XLA, and as Keras optimizers in model.fit;
move(model, along=) adds a direction to a model."""

import warnings

import keras
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


# --- AdaGrad, AdaDelta, AdaMax, AMSGrad, RAdam, and every rule as a Keras optimizer -----------------
#
# Step i's direction is that of the loss sum(c_i * model(x_i)) for a Dense(2 -> 1): dW = x_i c_i,
# db = c_i, whatever the weights. So the same numpy references check `update` and `model.fit`. The
# directions shrink, grow, change sign and vanish (step 6), so AMSGrad's max, AdaMax's decaying
# norm and RAdam's two branches all matter.

XS = np.array([[1.0, -2.0], [0.5, 0.1], [-0.3, 0.0], [2.0, 1.0], [0.0, -0.5], [0.2, 0.2], [-1.0, 0.7]])
CS = np.array([1.5, -0.2, 0.05, -1.0, 0.3, 0.0, 0.8])
STEPS = [[np.outer(x, [c]), np.array([c])] for x, c in zip(XS, CS, strict=True)]


def s4tf_sgd(params, steps, learning_rate=0.01, momentum=0.0, decay=0.0, nesterov=False):
    velocity = [np.zeros_like(p) for p in params]
    for t, grads in enumerate(steps, start=1):
        lr = learning_rate / (1 + decay * t)
        for i, g in enumerate(grads):
            velocity[i] = momentum * velocity[i] - lr * g
            params[i] = params[i] + (momentum * velocity[i] - lr * g if nesterov else velocity[i])
    return params


def s4tf_adam(params, steps, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, decay=0.0):
    m, v = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
    for t, grads in enumerate(steps, start=1):
        step_size = learning_rate / (1 + decay * t) * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        for i, g in enumerate(grads):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            params[i] = params[i] - step_size * m[i] / (np.sqrt(v[i]) + epsilon)
    return params


def s4tf_rmsprop(params, steps, learning_rate=1e-3, rho=0.9, epsilon=1e-8, decay=0.0):
    alpha = [np.zeros_like(p) for p in params]
    for t, grads in enumerate(steps, start=1):
        for i, g in enumerate(grads):
            alpha[i] = rho * alpha[i] + (1 - rho) * g * g
            params[i] = params[i] - learning_rate / (1 + decay * t) * g / (np.sqrt(alpha[i]) + epsilon)
    return params


def s4tf_adagrad(params, steps, learning_rate=1e-3, initial_accumulator_value=0.1, epsilon=1e-8):
    accumulator = [np.full_like(p, initial_accumulator_value) for p in params]
    for grads in steps:
        for i, g in enumerate(grads):
            accumulator[i] = accumulator[i] + g * g
            params[i] = params[i] - learning_rate * g / (np.sqrt(accumulator[i]) + epsilon)
    return params


def s4tf_adadelta(params, steps, learning_rate=1.0, rho=0.95, epsilon=1e-6, decay=0.0):
    average_squared = [np.zeros_like(p) for p in params]
    accumulated_delta = [np.zeros_like(p) for p in params]
    for t, grads in enumerate(steps, start=1):
        lr = learning_rate / (1 + decay * t)
        for i, g in enumerate(grads):
            average_squared[i] = rho * average_squared[i] + (1 - rho) * g * g
            step_size = g * np.sqrt(accumulated_delta[i] + epsilon) / np.sqrt(average_squared[i] + epsilon)
            params[i] = params[i] - lr * step_size
            accumulated_delta[i] = rho * accumulated_delta[i] + (1 - rho) * step_size * step_size
    return params


def s4tf_adamax(params, steps, learning_rate=0.002, beta1=0.9, beta2=0.999, epsilon=1e-8, decay=0.0):
    m, u = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
    for t, grads in enumerate(steps, start=1):
        step_size = learning_rate / (1 + decay * t) / (1 - beta1**t)
        for i, g in enumerate(grads):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            u[i] = np.maximum(beta2 * u[i], np.abs(g))
            params[i] = params[i] - step_size * m[i] / (u[i] + epsilon)
    return params


def s4tf_amsgrad(params, steps, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, decay=0.0):
    m, v, v_max = ([np.zeros_like(p) for p in params] for _ in range(3))
    for t, grads in enumerate(steps, start=1):
        step_size = learning_rate / (1 + decay * t) * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        for i, g in enumerate(grads):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            v_max[i] = np.maximum(v_max[i], v[i])
            params[i] = params[i] - step_size * m[i] / (np.sqrt(v_max[i]) + epsilon)
    return params


def s4tf_radam(params, steps, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, decay=0.0):
    m, v = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
    rho_inf = 2 / (1 - beta2) - 1
    for t, grads in enumerate(steps, start=1):  # decay: kept by S4TF's RAdam, never applied
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        for i, g in enumerate(grads):
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            m[i] = beta1 * m[i] + (1 - beta1) * g
            if rho_t >= 5:
                r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                step_size = r * learning_rate / (1 - beta1**t) * np.sqrt(1 - beta2**t)
                params[i] = params[i] - step_size * m[i] / (np.sqrt(v[i]) + epsilon)
            else:
                params[i] = params[i] - learning_rate / (1 - beta1**t) * m[i]
    return params


REFERENCES = {
    sd.SGD: s4tf_sgd,
    sd.Adam: s4tf_adam,
    sd.RMSProp: s4tf_rmsprop,
    sd.AdaGrad: s4tf_adagrad,
    sd.AdaDelta: s4tf_adadelta,
    sd.AdaMax: s4tf_adamax,
    sd.AMSGrad: s4tf_amsgrad,
    sd.RAdam: s4tf_radam,
}

NEW_CASES = [
    (sd.AdaGrad, {"learning_rate": 0.1}),
    # epsilon large enough that Keras' placement (inside the root) would fail the comparison
    (sd.AdaGrad, {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 0.1}),
    (sd.AdaDelta, {}),
    (sd.AdaDelta, {"learning_rate": 2.0, "rho": 0.9, "epsilon": 1e-4, "decay": 0.1}),
    (sd.AdaMax, {"learning_rate": 0.05, "beta2": 0.9, "epsilon": 1e-3, "decay": 0.05}),
    (sd.AMSGrad, {"learning_rate": 0.05, "beta2": 0.9, "decay": 0.05}),
    (sd.RAdam, {"learning_rate": 0.05, "beta2": 0.9}),  # rectified from step 6
    (sd.RAdam, {"learning_rate": 0.05}),  # beta2=0.999: rectified from step 6 too, by a narrower margin
]


def _ids(cases):
    return [
        f"{cls.__name__}-{'-'.join(f'{k}={v}' for k, v in kwargs.items()) or 'defaults'}"
        for cls, kwargs in cases
    ]


def _initial(model):
    return [v.numpy().astype(np.float64) for v in model.trainable_variables]


def _assert_moved_as(model, initial, expected, rtol=1e-4, atol=1e-6):
    """The variables moved from ``initial`` by what the reference says (compared as movements)."""
    for got, start, want in zip(model.trainable_variables, initial, expected, strict=True):
        assert np.abs(want - start).max() > 1e-3, "the reference barely moves: the check would be weak"
        np.testing.assert_allclose(got.numpy() - start, want - start, rtol=rtol, atol=atol)


def test_references_exercise_every_branch():
    """The directions make AMSGrad differ from Adam, AdaMax's norm decay, and RAdam take both branches."""
    start = [np.zeros((2, 1)), np.zeros(1)]
    amsgrad = s4tf_amsgrad([p.copy() for p in start], STEPS, 0.05, beta2=0.9)
    adam = s4tf_adam([p.copy() for p in start], STEPS, 0.05, beta2=0.9)
    assert np.abs(amsgrad[0] - adam[0]).max() > 1e-3
    rho_inf = 2 / (1 - 0.9) - 1
    rho = [rho_inf - 2 * t * 0.9**t / (1 - 0.9**t) for t in range(1, len(STEPS) + 1)]
    assert min(rho) < 5 <= max(rho) and all(abs(r - 5) > 0.3 for r in rho)


@pytest.mark.parametrize("cls,kwargs", NEW_CASES, ids=_ids(NEW_CASES))
def test_new_optimizers_match_s4tf(mode, cls, kwargs):
    model = sd.Dense(input_size=2, output_size=1)
    initial = _initial(model)
    expected = REFERENCES[cls]([p.copy() for p in initial], STEPS, **kwargs)
    opt = cls(for_=model, **kwargs)

    def step(weight_direction, bias_direction):
        opt.update(model, along=sd.TangentVector(model, [weight_direction, bias_direction]))
        return tf.constant(0.0)

    if mode != "eager":
        step = tf.function(step, jit_compile=(mode == "xla"))
    for weight_direction, bias_direction in STEPS:
        step(tf.constant(weight_direction, tf.float32), tf.constant(bias_direction, tf.float32))
    _assert_moved_as(model, initial, expected)
    assert int(opt.step.numpy()) == len(STEPS)


@pytest.mark.parametrize("cls", [sd.AdaGrad, sd.AdaDelta, sd.AdaMax, sd.AMSGrad, sd.RAdam])
def test_float64_stays_float64_and_matches_closely(cls):
    model = sd.Dense(input_size=2, output_size=1, dtype="float64")
    initial = _initial(model)
    kwargs = {"learning_rate": 0.05} if cls is not sd.AdaDelta else {}
    expected = REFERENCES[cls]([p.copy() for p in initial], STEPS, **kwargs)
    opt = cls(for_=model, **kwargs)
    for directions in STEPS:
        opt.update(model, along=[tf.constant(d) for d in directions])
    assert all(v.dtype == "float64" for v in model.trainable_variables)
    assert all(slot.dtype == tf.float64 for name in opt._slot_names for slot in getattr(opt, name))
    _assert_moved_as(model, initial, expected, rtol=1e-10, atol=1e-12)


def test_new_defaults_are_s4tf_defaults():
    model = sd.Dense(input_size=1, output_size=1)
    assert sd.AdaGrad(for_=model).hyperparameters == {
        "learning_rate": 1e-3,
        "initial_accumulator_value": 0.1,
        "epsilon": 1e-8,
    }
    assert sd.AdaDelta(for_=model).hyperparameters == {
        "learning_rate": 1.0,
        "rho": 0.95,
        "epsilon": 1e-6,
        "decay": 0.0,
    }
    adam_like = {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "decay": 0.0}
    assert sd.AdaMax(for_=model).hyperparameters == {"learning_rate": 0.002, **adam_like}
    assert sd.AMSGrad(for_=model).hyperparameters == {"learning_rate": 1e-3, **adam_like}
    assert sd.RAdam(for_=model).hyperparameters == {"learning_rate": 1e-3, **adam_like}
    # AdaGrad's accumulator starts at initial_accumulator_value, and stays S4TF's init-only value
    adagrad = sd.AdaGrad(for_=model, initial_accumulator_value=0.25)
    assert all(np.all(slot.numpy() == 0.25) for slot in adagrad.accumulator)
    with pytest.raises(AttributeError, match="sd.AdaGrad: initial_accumulator_value is fixed"):
        adagrad.initial_accumulator_value = 1.0


@pytest.mark.parametrize("mode", ["function", "xla"])
def test_a_hyperparameter_set_between_steps_takes_effect_in_a_compiled_step(mode):
    model = sd.Dense(input_size=2, output_size=1)
    opt = sd.AMSGrad(for_=model, learning_rate=0.1)
    step = tf.function(
        lambda: opt.update(model, along=[tf.ones([2, 1]), tf.ones([1])]) or tf.constant(0.0),
        jit_compile=(mode == "xla"),
    )
    step()
    opt.learning_rate = 0.0  # S4TF: optimizer.learningRate = 0
    frozen = [v.numpy().copy() for v in model.trainable_variables]
    step()
    for before, after in zip(frozen, model.trainable_variables, strict=True):
        np.testing.assert_array_equal(after.numpy(), before)
    opt.learning_rate = 0.1
    step()
    assert not np.allclose(model.bias.numpy(), frozen[1])
    assert int(opt.step.numpy()) == 3


def test_radam_keeps_decay_but_never_applies_it_as_s4tf():
    model = sd.Dense(input_size=2, output_size=1)
    initial = _initial(model)
    with pytest.warns(UserWarning, match="sd.RAdam: decay=0.5 is not applied"):
        opt = sd.RAdam(for_=model, learning_rate=0.05, beta2=0.9, decay=0.5)
    assert opt.decay == 0.5
    for directions in STEPS:
        opt.update(model, along=[tf.constant(d, tf.float32) for d in directions])
    _assert_moved_as(model, initial, s4tf_radam([p.copy() for p in initial], STEPS, 0.05, beta2=0.9))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sd.RAdam(for_=model)


BAD_ARGUMENTS = [
    (
        sd.AdaGrad,
        {"learning_rate": -0.1},
        ValueError,
        r"sd\.AdaGrad: learning_rate= must be a non-negative number, got -0\.1",
    ),
    (
        sd.AdaGrad,
        {"initial_accumulator_value": -1.0},
        ValueError,
        r"sd\.AdaGrad: initial_accumulator_value= .*-1\.0",
    ),
    (sd.AdaGrad, {"epsilon": 0.0}, ValueError, r"sd\.AdaGrad: epsilon= must be a positive number, got 0\.0"),
    (sd.AdaDelta, {"rho": 1.5}, ValueError, r"sd\.AdaDelta: rho= must be a number in \[0, 1\], got 1\.5"),
    (sd.AdaDelta, {"decay": -1}, ValueError, r"sd\.AdaDelta: decay= .*-1"),
    (sd.AdaDelta, {"learning_rate": "1"}, TypeError, r"sd\.AdaDelta: learning_rate= .*got str"),
    (sd.AdaMax, {"beta1": 1.0}, ValueError, r"sd\.AdaMax: beta1= must be a number in \[0, 1\), got 1\.0"),
    (sd.AdaMax, {"learning_rate": float("nan")}, ValueError, r"sd\.AdaMax: learning_rate= .*nan"),
    (sd.AMSGrad, {"beta2": -0.1}, ValueError, r"sd\.AMSGrad: beta2= .*-0\.1"),
    (sd.AMSGrad, {"epsilon": True}, TypeError, r"sd\.AMSGrad: epsilon= .*got bool"),
    (sd.RAdam, {"beta2": 1.0}, ValueError, r"sd\.RAdam: beta2= .*\[0, 1\)"),
    (sd.RAdam, {"learning_rate": -1e-3}, ValueError, r"sd\.RAdam: learning_rate= .*-0\.001"),
]


@pytest.mark.parametrize(
    "cls,kwargs,error,match",
    BAD_ARGUMENTS,
    ids=[f"{c.__name__}-{next(iter(k))}" for c, k, _, _ in BAD_ARGUMENTS],
)
def test_bad_arguments_are_short_errors(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(for_=sd.Dense(input_size=2, output_size=1), **kwargs)


@pytest.mark.parametrize("cls", [sd.AdaGrad, sd.AdaDelta, sd.AdaMax, sd.AMSGrad, sd.RAdam])
def test_misuse_of_model_direction_and_setters(cls):
    name = cls.__name__
    with pytest.raises(TypeError, match=rf"sd\.{name}: for_= .*str"):
        cls(for_="model")
    model, other = sd.Dense(input_size=2, output_size=1), sd.Dense(input_size=2, output_size=1)
    opt = cls(for_=model)
    with pytest.raises(ValueError, match=rf"sd\.{name}\.update: this optimizer was created for Dense"):
        opt.update(other, along=sd.TangentVector.zeros_like(other))
    with pytest.raises(ValueError, match=rf"sd\.{name}\.update: along= has 1 components"):
        opt.update(model, along=[tf.ones([2, 1])])
    with pytest.raises(ValueError, match=rf"sd\.{name}: learning_rate= .*-1\.0"):
        opt.learning_rate = -1.0
    assert opt.learning_rate == cls(for_=model).learning_rate  # a rejected value is not kept
    assert int(opt.step.numpy()) == 0


def _loss(y_true, y_pred):
    return tf.reduce_sum(y_true * y_pred, axis=-1)


def _fit_model(optimizer_of, jit_compile):
    model = keras.Sequential([keras.Input((2,)), sd.Dense(input_size=2, output_size=1)])
    model.compile(optimizer=optimizer_of(model.layers[0]), loss=_loss, jit_compile=jit_compile)
    return model


KERAS_CASES = [
    (sd.SGD, {"learning_rate": 0.1, "momentum": 0.9, "decay": 0.1, "nesterov": True}, True),
    (sd.Adam, {"learning_rate": 0.05, "decay": 0.1}, True),
    (sd.RMSProp, {"learning_rate": 0.05, "epsilon": 0.1, "decay": 0.1}, True),
    (sd.AdaGrad, {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 0.1}, True),
    (sd.AdaDelta, {"learning_rate": 2.0, "rho": 0.9, "epsilon": 1e-4, "decay": 0.1}, True),
    (sd.AdaMax, {"learning_rate": 0.05, "beta2": 0.9, "epsilon": 1e-3, "decay": 0.05}, True),
    (sd.AMSGrad, {"learning_rate": 0.05, "beta2": 0.9, "decay": 0.05}, True),
    (sd.RAdam, {"learning_rate": 0.05, "beta2": 0.9}, True),
    (sd.RAdam, {"learning_rate": 0.05, "beta2": 0.9}, False),
]


@pytest.mark.parametrize(
    "cls,kwargs,jit_compile",
    KERAS_CASES,
    ids=[f"{c.__name__}-{'xla' if j else 'graph'}" for c, _, j in KERAS_CASES],
)
def test_keras_form_in_model_fit_matches_s4tf(cls, kwargs, jit_compile):
    """model.fit with opt.keras_optimizer(): one sample per step, S4TF's rule, decay counted from 1."""
    model = _fit_model(lambda layer: cls(for_=layer, **kwargs).keras_optimizer(), jit_compile)
    initial = _initial(model)
    expected = REFERENCES[cls]([p.copy() for p in initial], STEPS, **kwargs)
    model.fit(XS.astype(np.float32), CS[:, None].astype(np.float32), batch_size=1, shuffle=False, verbose=0)
    assert int(model.optimizer.iterations) == len(STEPS)
    _assert_moved_as(model, initial, expected)


def test_keras_form_saves_and_loads_with_its_state(tmp_path):
    from swiftdiff.optimizers import KerasOptimizer

    model = _fit_model(lambda _: KerasOptimizer("AMSGrad", learning_rate=0.05, beta2=0.9, decay=0.05), False)
    x, y = XS.astype(np.float32), CS[:, None].astype(np.float32)
    model.fit(x[:3], y[:3], batch_size=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", custom_objects={"_loss": _loss})
    assert isinstance(loaded.optimizer, KerasOptimizer) and loaded.optimizer.rule == "AMSGrad"
    assert loaded.optimizer.hyperparameters == model.optimizer.hyperparameters
    for fitted in (model, loaded):
        fitted.fit(x[3:], y[3:], batch_size=1, shuffle=False, verbose=0)
    initial = [np.zeros((2, 1)), np.zeros(1)]
    whole = s4tf_amsgrad([p.copy() for p in initial], STEPS, 0.05, beta2=0.9, decay=0.05)
    for a, b in zip(model.trainable_variables, loaded.trainable_variables, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6)
    assert int(loaded.optimizer.iterations) == len(STEPS)
    assert not np.allclose(whole[1], 0)


def test_keras_optimizer_misuse():
    from swiftdiff.optimizers import KerasOptimizer

    with pytest.raises(ValueError, match="KerasOptimizer: rule= must be one of SGD, .*got 'Adagrad'"):
        KerasOptimizer("Adagrad")
    with pytest.raises(ValueError, match=r"sd\.AdaMax\.keras_optimizer: beta1= .*1\.5"):
        KerasOptimizer("AdaMax", beta1=1.5)
    with pytest.warns(UserWarning, match="decay=0.1 is not applied"):
        KerasOptimizer("RAdam", decay=0.1)
    assert KerasOptimizer("AdaDelta").hyperparameters == {
        "learning_rate": 1.0,
        "rho": 0.95,
        "epsilon": 1e-6,
        "decay": 0.0,
    }
