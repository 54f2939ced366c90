"""with_recomputation_in_pullbacks: same gradients as the plain function, body rerun in the
pullback, randomness replayed, state updated once, in eager, tf.function and XLA."""

import contextlib
import io
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import finite_difference, run_in


def test_gradient_equals_plain_and_finite_differences(mode):
    def body(x):
        return tf.tanh(x) * tf.sin(x) ** 2

    checkpointed = sd.with_recomputation_in_pullbacks(body)
    x = np.array([0.3, -1.2, 2.0], np.float64)
    got = run_in(
        mode, lambda x: sd.gradient(at=x, of=lambda x: tf.reduce_sum(checkpointed(x))), tf.constant(x)
    )
    plain = run_in(mode, lambda x: sd.gradient(at=x, of=lambda x: tf.reduce_sum(body(x))), tf.constant(x))
    np.testing.assert_allclose(got, plain, rtol=1e-12)
    np.testing.assert_allclose(
        got, finite_difference(lambda v: tf.reduce_sum(body(tf.constant(v))), x), rtol=1e-6
    )


def test_value_is_unchanged_and_body_reruns_once_in_the_pullback():
    out = io.StringIO()

    def body(x):
        print("body")
        return x * x

    square = sd.with_recomputation_in_pullbacks(body)
    with contextlib.redirect_stdout(out):
        value, pb = sd.value_with_pullback(at=3.0, of=square)
        assert out.getvalue() == "body\n"
        assert float(value) == 9.0
        assert float(pb(1.0)) == 6.0
    assert out.getvalue() == "body\nbody\n"


def test_several_arguments_and_nests(mode):
    f = sd.with_recomputation_in_pullbacks(lambda p, y: p["a"] * tf.exp(p["b"]) * y)

    def run(a, b, y):
        return sd.gradient(at=({"a": a, "b": b}, y), of=lambda p, y: f(p, y))

    (gp, gy) = run_in(mode, run, tf.constant(2.0), tf.constant(0.5), tf.constant(3.0))
    np.testing.assert_allclose(gp["a"], np.exp(0.5) * 3.0, rtol=1e-6)
    np.testing.assert_allclose(gp["b"], 2.0 * np.exp(0.5) * 3.0, rtol=1e-6)
    np.testing.assert_allclose(gy, 2.0 * np.exp(0.5), rtol=1e-6)


def test_gradients_reach_captured_layer_variables(mode):
    layer = keras.layers.Dense(4, activation="tanh")
    layer.build((None, 3))
    checkpointed = sd.with_recomputation_in_pullbacks(lambda x: layer(x))
    x = tf.random.stateless_normal([5, 3], seed=[1, 2])

    def grads(apply):
        def run():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(apply(x) ** 2)
            return tape.gradient(loss, layer.trainable_variables)

        return run_in(mode, run)

    for a, b in zip(grads(layer), grads(checkpointed), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_layer_as_argument(mode):
    layer = keras.layers.Dense(2)
    layer.build((None, 2))
    checkpointed = sd.with_recomputation_in_pullbacks(lambda layer, x: layer(x))
    x = tf.constant([[1.0, 2.0]])

    def run(apply):
        return lambda: list(sd.gradient(at=layer, of=lambda layer: tf.reduce_sum(apply(layer, x) ** 2)))

    for a, b in zip(
        run_in(mode, run(lambda layer, x: layer(x))), run_in(mode, run(checkpointed)), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def _block(seed):
    keras.utils.set_random_seed(seed)
    block = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dropout(0.5, seed=seed),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(3),
        ]
    )
    return block


def test_dropout_and_batchnorm_are_exact_over_two_steps(mode):
    plain, wrapped = _block(7), _block(7)
    for a, b in zip(plain.weights, wrapped.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    checkpointed = sd.with_recomputation_in_pullbacks(lambda x: wrapped(x, training=True))
    x = tf.random.stateless_normal([16, 6], seed=[3, 4])

    def step(model, apply):
        def run():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(apply(x) ** 2)
            return tape.gradient(loss, model.trainable_variables)

        return run

    plain_step = step(plain, lambda x: plain(x, training=True))
    wrapped_step = step(wrapped, checkpointed)
    if mode != "eager":
        plain_step = tf.function(plain_step, jit_compile=(mode == "xla"))
        wrapped_step = tf.function(wrapped_step, jit_compile=(mode == "xla"))
    for _ in range(2):
        for a, b in zip(plain_step(), wrapped_step(), strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
        # BatchNorm statistics and dropout seed state advanced exactly once per step
        for a, b in zip(plain.non_trainable_weights, wrapped.non_trainable_weights, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    seed_plain = plain.layers[1].seed_generator.state.numpy()
    seed_wrapped = wrapped.layers[1].seed_generator.state.numpy()
    np.testing.assert_array_equal(seed_plain, seed_wrapped)


def test_keras_random_with_seed_generator_replays(mode):
    generator = keras.random.SeedGenerator(3)
    noisy = sd.with_recomputation_in_pullbacks(lambda x: x * keras.random.normal([4], seed=generator))

    def run(x):
        before = tf.identity(generator.state.value)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = noisy(x)
        grad = tape.gradient(y, x, output_gradients=tf.ones([4]))
        return y / x, grad, before, generator.state.value

    noise, grad, before, after = run_in(mode, run, tf.constant([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(grad, noise, rtol=1e-6)  # d(x * n)/dx = n with the same n
    assert not np.array_equal(before, after)  # the state advanced (once, see the next test)


def test_seed_generator_advances_once():
    generator = keras.random.SeedGenerator(5)
    reference = keras.random.SeedGenerator(5)
    keras.random.normal([2], seed=reference)
    f = sd.with_recomputation_in_pullbacks(lambda x: x * keras.random.normal([2], seed=generator))
    sd.gradient(at=tf.ones([2]), of=lambda x: tf.reduce_sum(f(x)))
    np.testing.assert_array_equal(generator.state.numpy(), reference.state.numpy())


def test_tf_random_generator_replays_and_advances_once(mode):
    generator = tf.random.Generator.from_seed(11)
    reference = tf.random.Generator.from_seed(11)
    reference.normal([3])
    noisy = sd.with_recomputation_in_pullbacks(lambda x: x * generator.normal([3]))

    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = noisy(x)
        return y / x, tape.gradient(y, x, output_gradients=tf.ones([3]))

    noise, grad = run_in(mode, run, tf.constant([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(grad, noise, rtol=1e-6)
    np.testing.assert_array_equal(generator.state.numpy(), reference.state.numpy())


def test_op_seeded_stateful_random_ops_warn():
    noisy = sd.with_recomputation_in_pullbacks(lambda x: x * tf.random.uniform([2], seed=1))
    with pytest.warns(sd.RecomputationWarning, match="RandomUniform"):
        sd.gradient(at=tf.ones([2]), of=lambda x: tf.reduce_sum(noisy(x)))


def test_no_warning_for_replayable_bodies():
    f = sd.with_recomputation_in_pullbacks(lambda x: tf.sin(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sd.gradient(at=1.0, of=f)


def test_second_order_through_checkpoint(mode):
    f = sd.with_recomputation_in_pullbacks(lambda x: x**4)
    out = run_in(mode, lambda x: sd.gradient(at=x, of=lambda x: sd.gradient(at=x, of=f)), tf.constant(2.0))
    np.testing.assert_allclose(out, 48.0, rtol=1e-6)


def test_nested_checkpoints(mode):
    inner = sd.with_recomputation_in_pullbacks(lambda x: tf.sin(x) * x)
    outer = sd.with_recomputation_in_pullbacks(lambda x: inner(x) ** 2)
    x = 0.7
    expected = 2 * np.sin(x) * x * (np.cos(x) * x + np.sin(x))
    np.testing.assert_allclose(
        run_in(mode, lambda x: sd.gradient(at=x, of=outer), tf.constant(x)), expected, rtol=1e-5
    )


def test_forward_mode_through_checkpoint(mode):
    f = sd.with_recomputation_in_pullbacks(lambda x: tf.exp(2.0 * x))
    np.testing.assert_allclose(
        run_in(mode, lambda x: sd.derivative(at=x, of=f), tf.constant(0.5)), 2 * np.exp(1.0), rtol=1e-6
    )


def test_no_reference_cycles_keep_activations_alive():
    """Tensors held in reference cycles live until Python's cyclic GC runs: checkpointing would
    then keep activations it meant to discard (measured: 232 MiB instead of 154 with GC off)."""
    import gc

    layers = [keras.layers.Dense(16, activation="tanh") for _ in range(4)]
    model = keras.Sequential(
        [
            sd.ActivationDiscarding(keras.Sequential(layers[:2])),
            sd.ActivationDiscarding(keras.Sequential(layers[2:])),
        ]
    )
    x = tf.ones([4, 16])

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x, training=True) ** 2)
        return tape.gradient(loss, model.trainable_variables)

    step()
    gc.collect()
    gc.disable()
    try:
        step()
        sd.gradient(at=x, of=lambda x: tf.reduce_sum(sd.with_recomputation_in_pullbacks(tf.sin)(x)))
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        leaked = [o for o in gc.garbage if isinstance(o, tf.Tensor)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert leaked == []


# --- issue 10: randomness replayed however the body reaches it; the barrier changes no value ----


class _Holder:
    """A plain object: the old argument/closure scan could not see generators stored on it."""


_GLOBAL_HOLDER = _Holder()


def _generator_reaches():
    """Ways a body can reach a tf.random.Generator, each hidden from a scan of its arguments."""
    holder = _Holder()
    holder.generator = tf.random.Generator.from_seed(1)
    _GLOBAL_HOLDER.generator = tf.random.Generator.from_seed(1)
    nested = {"deep": [holder]}

    def through_helper():
        return holder.generator

    return {
        "helper-function": (holder.generator, lambda x: x * through_helper().normal([4])),
        "attribute-of-a-plain-object": (holder.generator, lambda x: x * holder.generator.normal([4])),
        "global-attribute": (_GLOBAL_HOLDER.generator, lambda x: x * _GLOBAL_HOLDER.generator.normal([4])),
        "deep-nest": (holder.generator, lambda x: x * nested["deep"][0].generator.uniform([4])),
        "two-draws": (
            holder.generator,
            lambda x: x * holder.generator.normal([4]) + holder.generator.normal([4]),
        ),
    }


@pytest.mark.parametrize("reach", sorted(_generator_reaches()))
def test_generators_are_replayed_however_the_body_reaches_them(mode, reach):
    def gradient_of(checkpoint):
        generator, body = _generator_reaches()[reach]
        wrapped = sd.with_recomputation_in_pullbacks(body) if checkpoint else body

        def run(x):
            return sd.gradient(at=x, of=lambda x: tf.reduce_sum(tf.sin(wrapped(x)))), generator.state

        return run_in(mode, run, tf.constant([1.0, 2.0, 3.0, 4.0]))

    with warnings.catch_warnings():
        warnings.simplefilter("error", sd.RecomputationWarning)
        checkpointed, state_after = gradient_of(True)
    plain, plain_state_after = gradient_of(False)  # the same numbers: both generators start at seed 1
    np.testing.assert_allclose(checkpointed, plain, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(state_after, plain_state_after)  # drawn once, not twice


def test_random_draws_inside_a_traced_tf_function_warn(mode):
    generator = tf.random.Generator.from_seed(2)
    noise = tf.function(lambda: generator.normal([2]))
    noise()  # traced before the checkpointed body runs: its draws run as one call, not op by op
    noisy = sd.with_recomputation_in_pullbacks(lambda x: x * noise())
    with pytest.warns(sd.RecomputationWarning, match="inside a tf.function"):
        run_in(mode, lambda x: sd.gradient(at=x, of=lambda x: tf.reduce_sum(noisy(x))), tf.ones([2]))


def test_binomial_draws_cannot_be_replayed_and_warn():
    generator = tf.random.Generator.from_seed(2)
    noisy = sd.with_recomputation_in_pullbacks(
        lambda x: x * tf.cast(generator.binomial([2], counts=[5.0, 5.0], probs=[0.5, 0.5]), tf.float32)
    )
    with pytest.warns(sd.RecomputationWarning, match="StatefulRandomBinomial"):
        sd.gradient(at=tf.ones([2]), of=lambda x: tf.reduce_sum(noisy(x)))


@pytest.mark.parametrize(
    "body",
    [
        lambda x: x * x,
        lambda x: tf.stack([x[0] * x[1], x[1] * x[2], x[2] * x[0]]),
    ],
    ids=["elementwise", "mixing"],
)
@pytest.mark.parametrize(
    "cotangent", [[np.nan, 1.0, 1.0], [np.inf, 1.0, -1.0], [-np.inf, 0.0, 2.0]], ids=["nan", "inf", "-inf"]
)
def test_a_non_finite_cotangent_element_poisons_only_what_a_plain_tape_poisons(mode, body, cotangent):
    x, v = tf.constant([1.0, 2.0, 3.0]), tf.constant(cotangent)

    def checkpointed(x, v):
        return sd.pullback(at=x, of=sd.with_recomputation_in_pullbacks(body))(v)

    with tf.GradientTape() as tape:
        tape.watch(x)
        y = body(x)
    np.testing.assert_array_equal(run_in(mode, checkpointed, x, v), tape.gradient(y, x, output_gradients=v))


def test_the_barrier_keeps_negative_zero_and_infinite_inputs(mode):
    # The recomputation's inputs are exactly the forward's: -0.0 keeps its sign (1/x = -inf).
    x = tf.constant([-0.0, np.inf, 2.0])
    got = run_in(
        mode,
        lambda x: sd.pullback(
            at=x, of=sd.with_recomputation_in_pullbacks(lambda x: tf.math.atan2(x, -tf.ones_like(x)))
        )(tf.ones([3])),
        x,
    )
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.math.atan2(x, -tf.ones_like(x))
    np.testing.assert_array_equal(got, tape.gradient(y, x))


def test_keyword_and_non_differentiable_arguments(mode):
    def body(x, mask, *, scale, times=2):
        return tf.where(mask, x * scale, 0.0) * float(times)

    checkpointed = sd.with_recomputation_in_pullbacks(body)

    def run(x, scale):
        mask = tf.constant([True, False, True])
        return sd.gradient(at=(x, scale), of=lambda x, s: tf.reduce_sum(checkpointed(x, mask, scale=s) ** 2))

    x, scale = tf.constant([1.0, 2.0, 3.0]), tf.constant(1.5)
    with tf.GradientTape() as tape:
        tape.watch([x, scale])
        y = tf.reduce_sum(body(x, tf.constant([True, False, True]), scale=scale) ** 2)
    expected = tape.gradient(y, [x, scale])
    got = run_in(mode, run, x, scale)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_body_that_creates_variables_in_eager_mode_is_refused_not_given_none_gradients():
    dense = keras.layers.Dense(2)  # built on its first call, inside the checkpoint
    body = sd.with_recomputation_in_pullbacks(lambda x: dense(x))
    with pytest.raises(ValueError, match=r"created variables .*Build the layer first"), tf.GradientTape():
        body(tf.ones([1, 3]))


def test_a_keras_mask_on_an_argument_reaches_the_recomputation(mode):
    # Embedding(mask_zero) -> LSTM: the padding must be masked in the recomputation too.
    keras.utils.set_random_seed(0)
    embedding, lstm = keras.layers.Embedding(5, 3, mask_zero=True), keras.layers.LSTM(2)
    tokens = tf.constant([[1, 2, 0, 0], [3, 0, 0, 0]])
    lstm(embedding(tokens))
    checkpointed = sd.with_recomputation_in_pullbacks(lambda x: lstm(x))

    def gradients(wrap):
        def run():
            return sd.gradient(at=lstm, of=lambda layer: tf.reduce_sum(wrap(embedding(tokens)) ** 2))

        return [
            g.numpy() for g in (run() if mode == "eager" else tf.function(run, jit_compile=mode == "xla")())
        ]

    for a, b in zip(gradients(checkpointed), gradients(lstm), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("wrapper", ["ActivationDiscarding", "with_recomputation_in_pullbacks"])
def test_every_variable_read_stays_ordered_with_the_update_after_grappler(wrapper):
    """Grappler's dependency optimizer removes control edges that start at a variable read; the
    recomputation's reads (and the reads of state the body updates) must reach the later writes of
    the same variables by data. Before the fix Keras' fit read an already-updated kernel in about one
    step in six (a wrong gradient, no error); this check is deterministic."""
    from support.grappler import optimized, unordered_reads

    block, generator = _block(7), tf.random.Generator.from_seed(3)
    if wrapper == "ActivationDiscarding":
        model = sd.ActivationDiscarding(block)
    else:
        body = sd.with_recomputation_in_pullbacks(lambda x: block(x * generator.normal([6]), training=True))
        model = _Applied(block, body)
    optimizer = keras.optimizers.SGD(0.1)
    optimizer.build(model.trainable_variables)
    x = tf.ones([16, 6])

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x, training=True) ** 2)
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    graph = optimized(train_step.get_concrete_function())
    assert sum(node.op == "AssignSubVariableOp" for node in graph.node) == 6  # the updates survived
    assert unordered_reads(graph) == []


class _Applied:
    """A block's variables, applied through a checkpointed function of the input."""

    def __init__(self, block, body):
        self.trainable_variables, self._body = block.trainable_variables, body

    def __call__(self, x, training):
        return self._body(x)


@pytest.mark.parametrize("wrapper", ["ActivationDiscarding", "with_recomputation_in_pullbacks"])
def test_redrawn_randomness_waits_for_the_incoming_cotangent(wrapper):
    """A random draw does not depend on the body's inputs; unless its seed waits for the cotangent, a
    graph redraws every checkpoint's dropout masks (Keras' seeds) and tf.random.Generator numbers as
    soon as backpropagation starts, and they stay alive until their segment is reached (25 of a
    6-layer Transformer's 125 MiB). Every random op of the pullback must have the cotangent among
    its ancestors; the forward's draws must not."""
    block, generator = _block(7), tf.random.Generator.from_seed(3)
    if wrapper == "ActivationDiscarding":
        model = sd.ActivationDiscarding(block)
    else:
        body = sd.with_recomputation_in_pullbacks(lambda x: block(x * generator.normal([6]), training=True))
        model = _Applied(block, body)
    x = tf.ones([16, 6])

    @tf.function
    def pullback(cotangent):
        with tf.GradientTape() as tape:
            y = model(x, training=True)
        return tape.gradient(y, model.trainable_variables, output_gradients=cotangent)

    graph = pullback.get_concrete_function(tf.TensorSpec([16, 3])).graph
    cotangent = graph.inputs[0].op
    random_ops = [
        op for op in graph.get_operations() if "Random" in op.type and "GetKeyCounter" not in op.type
    ]

    def ancestors(op):
        seen, stack = set(), [op]
        while stack:
            current = stack.pop()
            # control inputs count: a generator's draw follows the write that rewinds it
            for parent in [tensor.op for tensor in current.inputs] + list(current.control_inputs):
                if parent.name not in seen:
                    seen.add(parent.name)
                    stack.append(parent)
        return seen

    waiting = [op for op in random_ops if cotangent.name in ancestors(op)]
    expected_forward = 2 if wrapper == "with_recomputation_in_pullbacks" else 1  # dropout (+ generator)
    assert len(random_ops) == 2 * expected_forward
    assert len(waiting) == expected_forward
