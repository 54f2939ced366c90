"""ActivationDiscarding is exact: the wrapped layer's gradients, state and training history, in
eager mode, tf.function, XLA, model.fit, .keras files and MirroredStrategy."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd


def block(seed=7):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dropout(0.5, seed=seed),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(3),
        ]
    )


def test_wrapped_block_equals_unwrapped_over_two_steps(mode):
    plain_block, wrapped_block = block(), block()
    plain, wrapped = plain_block, sd.ActivationDiscarding(wrapped_block)
    # the wrapped layer's weights are the wrapper's own
    assert [id(w) for w in wrapped.weights] == [id(w) for w in wrapped_block.weights]
    assert len(wrapped.trainable_weights) == len(plain.trainable_weights) == 6
    x = tf.random.stateless_normal([16, 6], seed=[3, 4])
    optimizers = [sd.SGD(for_=plain, learning_rate=0.1), sd.SGD(for_=wrapped, learning_rate=0.1)]

    def make_step(model, optimizer):
        def step():
            grads = sd.gradient(at=model, of=lambda m: tf.reduce_sum(m(x, training=True) ** 2))
            optimizer.update(model, along=grads)
            return list(grads)

        if mode == "eager":
            return step
        return tf.function(step, jit_compile=(mode == "xla"))

    steps = [make_step(plain, optimizers[0]), make_step(wrapped, optimizers[1])]
    for _ in range(2):
        expected, got = (s() for s in steps)
        for a, b in zip(expected, got, strict=True):
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)
        for a, b in zip(plain.non_trainable_weights, wrapped.non_trainable_weights, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())  # BN statistics, seed state


@pytest.mark.parametrize("jit_compile", [False, True])
def test_model_fit_history_equals_unwrapped(jit_compile):
    rng = np.random.RandomState(0)
    x, y = rng.randn(64, 6).astype("float32"), rng.randn(64, 3).astype("float32")
    results = []
    for wrap in (False, True):
        inner = block()
        model = keras.Sequential([keras.Input((6,)), sd.ActivationDiscarding(inner) if wrap else inner])
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", jit_compile=jit_compile)
        history = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
        results.append((history.history["loss"], [w.numpy() for w in model.weights]))
    np.testing.assert_allclose(
        results[1][0], results[0][0], rtol=1e-4
    )  # 3 epochs: float32 reassociation (oneDNN threads) drifts ~1e-5
    for a, b in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_keras_file_round_trip(tmp_path):
    model = keras.Sequential([keras.Input((6,)), sd.ActivationDiscarding(block()), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 6), "float32"), np.zeros((8, 1), "float32"), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[0], sd.ActivationDiscarding)
    x = np.random.RandomState(1).randn(4, 6).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    for a, b in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_discarding_activations_of_any_keras_layer():
    dense = keras.layers.Dense(4)
    wrapped = sd.discarding_activations(dense)
    x = tf.ones([2, 3])
    y = wrapped(x)  # builds the wrapped layer on first call
    assert y.shape == (2, 4) and dense.built
    assert wrapped.trainable_weights == dense.trainable_weights


class CountingConv(sd.Conv2D):
    calls = 0

    def call(self, input):
        CountingConv.calls += 1
        return super().call(input)


class TutorialModel(sd.Layer):
    """Section 6's model, its convolution counting its applications."""

    def __init__(self, discard=True, **kwargs):
        super().__init__(**kwargs)
        keras.utils.set_random_seed(1)
        conv = CountingConv(filter_shape=(5, 5, 3, 6))
        self.conv = conv.discarding_activations() if discard else conv
        self.max_pool = sd.MaxPool2D(pool_size=(2, 2), strides=(2, 2))
        self.flatten = sd.Flatten()
        self.dense = sd.Dense(input_size=36 * 6, output_size=10)

    def call(self, input):
        return sd.sequenced(input, through=(self.conv, self.max_pool, self.flatten, self.dense))


def train_step(model, opt, x, y):
    logits, backprop = model.applied_for_backpropagation(x)
    loss, dl_dy = sd.value_with_gradient(
        at=logits, of=lambda logits: sd.softmax_cross_entropy(logits=logits, labels=y)
    )
    d_theta, _ = backprop(dl_dy)
    opt.update(model, along=d_theta)
    return float(loss), d_theta


def test_tutorial_section_6_conv_runs_exactly_twice_per_step_and_matches_plain():
    x = tf.random.stateless_normal([10, 16, 16, 3], seed=[0, 1])
    y = tf.range(10)
    plain, discarding = TutorialModel(discard=False), TutorialModel(discard=True)
    for a, b in zip(plain.trainable_variables, discarding.trainable_variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    opts = sd.SGD(for_=plain), sd.SGD(for_=discarding)
    losses = []
    for _ in range(5):
        CountingConv.calls = 0
        loss_plain, grads_plain = train_step(plain, opts[0], x, y)
        assert CountingConv.calls == 1
        CountingConv.calls = 0
        loss, grads = train_step(discarding, opts[1], x, y)
        assert CountingConv.calls == 2  # once applying the layer, once in backpropagation
        np.testing.assert_allclose(loss, loss_plain, rtol=1e-6)
        for a, b in zip(grads_plain, grads, strict=True):
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-7)
        losses.append(loss)
    assert losses[-1] < losses[0]


def make_recomputed_in_gradient(original):
    return sd.differentiable_function(
        from_=lambda x, y: (original(x, y), lambda v: sd.pullback(at=(x, y), of=original)(v))
    )


class UserActivationDiscarding(sd.Layer):
    """The tutorial's own wrapper, written as user code on make_recomputed_in_gradient."""

    def __init__(self, wrapped, **kwargs):
        super().__init__(**kwargs)
        self.wrapped = wrapped

    def call(self, input):
        apply = make_recomputed_in_gradient(lambda layer, input: layer(input))
        return apply(self.wrapped, input)


def test_user_written_wrapper_gives_the_plain_gradients():
    x = tf.random.stateless_normal([10, 16, 16, 3], seed=[2, 1])
    y = tf.range(10)
    plain = TutorialModel(discard=False)
    user = TutorialModel(discard=False)
    user.conv = UserActivationDiscarding(user.conv)
    CountingConv.calls = 0
    _, grads_user = train_step(user, sd.SGD(for_=user), x, y)
    assert CountingConv.calls == 2
    _, grads_plain = train_step(plain, sd.SGD(for_=plain), x, y)
    for a, b in zip(grads_plain, grads_user, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-7)


def test_tutorial_cnn_model_trains_with_fit_with_and_without_jit():
    x = tf.random.stateless_normal([20, 16, 16, 3], seed=[4, 4]).numpy()
    y = np.arange(20) % 10
    histories = []
    for discard in (False, True):
        for jit in (False, True):
            keras.utils.set_random_seed(2)
            model = sd.models.CNN(discard_activations=discard)
            model.compile(
                optimizer=keras.optimizers.SGD(0.01),
                jit_compile=jit,
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            )
            history = model.fit(x, y, epochs=2, batch_size=10, shuffle=False, verbose=0)
            histories.append(history.history["loss"])
    for history in histories[1:]:
        np.testing.assert_allclose(history, histories[0], rtol=1e-5)


def test_checkpointed_sequential_segments_and_exactness(mode, tmp_path):
    def stack(seed):
        keras.utils.set_random_seed(seed)
        return [keras.layers.Dense(6, activation="tanh") for _ in range(10)] + [
            keras.layers.Dropout(0.3, seed=seed),
            keras.layers.BatchNormalization(),
        ]

    plain = keras.Sequential([keras.Input((6,)), *stack(5)])
    checkpointed = sd.checkpointed_sequential(stack(5))
    # round(√12) = 3 segments; the last one runs plainly (its activations are needed first).
    assert [
        (type(block).__name__, len(getattr(block, "wrapped", block).layers)) for block in checkpointed.layers
    ] == [("ActivationDiscarding", 4)] * 2 + [("Sequential", 4)]
    every = sd.checkpointed_sequential(stack(5), segments=6, keep_last_segment=False)
    assert [type(block).__name__ for block in every.layers] == ["ActivationDiscarding"] * 6
    x = tf.random.stateless_normal([8, 6], seed=[7, 7])

    def grads(model):
        def run():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(model(x, training=True) ** 2)
            return tape.gradient(loss, model.trainable_variables)

        return run if mode == "eager" else tf.function(run, jit_compile=(mode == "xla"))

    expected = [g.numpy() for g in grads(plain)()]
    for model in (checkpointed, every):
        for a, b in zip(expected, grads(model)(), strict=True):
            np.testing.assert_allclose(b.numpy(), a, rtol=1e-5, atol=1e-6)
        for a, b in zip(plain.non_trainable_weights, model.non_trainable_weights, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    if mode == "eager":
        checkpointed.save(tmp_path / "stack.keras")
        loaded = keras.models.load_model(tmp_path / "stack.keras")
        np.testing.assert_allclose(loaded(x), checkpointed(x), rtol=1e-6)


# --- every call argument: Keras masks, several inputs, keyword tensors, layers built in their first call


def _gradient_step(mode, model, loss, sources):
    """``(loss value, gradients of loss(model) w.r.t. sources())`` in ``mode``, dense."""

    def step():
        with tf.GradientTape() as tape:
            value = loss(model)
        grads = tape.gradient(value, sources())
        return value, [None if g is None else tf.convert_to_tensor(g) for g in grads]

    return step if mode == "eager" else tf.function(step, jit_compile=(mode == "xla"))


def _assert_same_gradients(expected, got):
    (expected_value, expected_grads), (value, grads) = expected, got
    np.testing.assert_allclose(value.numpy(), expected_value.numpy(), rtol=1e-6)
    assert len(grads) == len(expected_grads) and all(g is not None for g in grads)
    for a, b in zip(expected_grads, grads, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)


TOKENS = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 0, 0, 0, 0], [6, 1, 2, 3, 4, 5], [0, 0, 0, 0, 0, 0]], "int32")


def masked_model(wrap, return_sequences=True):
    """Embedding(mask_zero) -> LSTM (wrapped or not) -> a layer that reads the propagated mask."""
    keras.utils.set_random_seed(11)
    tokens = keras.Input((6,), dtype="int32")
    lstm = keras.layers.LSTM(4, return_sequences=return_sequences)
    embedded = keras.layers.Embedding(7, 3, mask_zero=True)(tokens)
    hidden = (sd.ActivationDiscarding(lstm) if wrap else lstm)(embedded)
    if return_sequences:
        hidden = keras.layers.GlobalAveragePooling1D()(hidden)  # a masked mean: needs the mask
    return keras.Model(tokens, keras.layers.Dense(2)(hidden))


def test_keras_mask_is_forwarded_and_propagates_like_the_unwrapped_layer(mode):
    plain = masked_model(wrap=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wrapped = masked_model(wrap=True)
    assert not [w for w in caught if "mask" in str(w.message)], [str(w.message) for w in caught]
    wrapped.set_weights(plain.get_weights())
    assert isinstance(wrapped.layers[2], sd.ActivationDiscarding) and wrapped.layers[2].supports_masking
    x = tf.constant(TOKENS)
    target = tf.random.stateless_normal([4, 2], seed=[5, 6])

    def loss(model):
        return tf.reduce_sum((model(x, training=True) - target) ** 2)

    expected = _gradient_step(mode, plain, loss, lambda: plain.trainable_variables)()
    got = _gradient_step(mode, wrapped, loss, lambda: wrapped.trainable_variables)()
    _assert_same_gradients(expected, got)


def test_masked_model_fit_equals_unwrapped(tmp_path):
    """Bug 9's model under fit (a tf.function): the weights drifted from the unwrapped model's."""
    rng = np.random.RandomState(3)
    x = np.concatenate([TOKENS] * 4)
    y = rng.randn(len(x), 2).astype("float32")
    weights = []
    for wrap in (False, True):
        model = masked_model(wrap, return_sequences=False)  # bug 9's model: Embedding -> LSTM(4)
        if wrap:
            model.set_weights(weights[0])
        else:
            weights.append(model.get_weights())
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", jit_compile=False)
        model.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(weights[1], weights[2], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "masked.keras")
    loaded = keras.models.load_model(tmp_path / "masked.keras")
    assert isinstance(loaded.layers[2], sd.ActivationDiscarding)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def attention_pair(dropout=0.5):
    """Two MultiHeadAttention layers with equal weights and dropout seeds, the second wrapped."""
    q, v = tf.ones([2, 3, 4]), tf.ones([2, 5, 4])
    plain = keras.layers.MultiHeadAttention(num_heads=2, key_dim=2, dropout=dropout, seed=9)
    inner = keras.layers.MultiHeadAttention(num_heads=2, key_dim=2, dropout=dropout, seed=9)
    plain(q, v), inner(q, v)
    inner.set_weights(plain.get_weights())
    return plain, sd.ActivationDiscarding(inner)


@pytest.mark.parametrize("keywords", ["positional", "key_and_attention_mask", "value_keyword"])
def test_multi_input_layer_gets_every_argument_and_gradient(mode, keywords):
    plain, wrapped = attention_pair()
    q = tf.random.stateless_normal([2, 3, 4], seed=[1, 2])
    v = tf.random.stateless_normal([2, 5, 4], seed=[3, 4])
    k = tf.random.stateless_normal([2, 5, 4], seed=[5, 6])
    attention_mask = tf.constant(np.tril(np.ones([3, 5], bool), 1)[None].repeat(2, axis=0))
    points = [tf.Variable(q), tf.Variable(v), tf.Variable(k)]

    def loss(layer):
        q, v, k = points
        if keywords == "positional":
            y = layer(q, v, training=True)
        elif keywords == "value_keyword":
            y = layer(q, value=v, training=True)
        else:
            y = layer(q, v, key=k, attention_mask=attention_mask, training=True)
        return tf.reduce_sum(tf.sin(y))

    def sources(layer):
        return lambda: points[: 3 if keywords == "key_and_attention_mask" else 2] + layer.trainable_variables

    got = _gradient_step(mode, wrapped, loss, sources(wrapped))()
    expected = _gradient_step(mode, plain, loss, sources(plain))()
    _assert_same_gradients(expected, got)


def test_multi_input_layer_shapes_functional_model_and_keras_file(tmp_path):
    _, wrapped = attention_pair(dropout=0.0)
    assert wrapped.compute_output_shape((2, 3, 4), (2, 5, 4)) == (2, 3, 4)
    query, value = keras.Input((3, 4)), keras.Input((5, 4))
    model = keras.Model([query, value], wrapped(query, value, key=value))
    assert tuple(model.output.shape) == (None, 3, 4)
    inputs = [
        np.random.RandomState(0).randn(2, 3, 4).astype("float32"),
        np.random.RandomState(1).randn(2, 5, 4).astype("float32"),
    ]
    model.save(tmp_path / "attention.keras")
    loaded = keras.models.load_model(tmp_path / "attention.keras")
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0), rtol=1e-6)


def seeded(seed):
    return keras.initializers.RandomNormal(seed=seed)  # equal values on every call: equal layers


class SublayersBlock(keras.layers.Layer):
    """Sublayers created in __init__, no build: they create their variables in the first call. Its
    call takes no training argument; its Dropout reads it from the enclosing call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(
            5, activation="tanh", kernel_initializer=seeded(1), bias_initializer=seeded(2)
        )
        self.dropout = keras.layers.Dropout(0.5, seed=3)
        self.out = keras.layers.Dense(2, kernel_initializer=seeded(4))

    def call(self, x):
        return self.out(self.dropout(self.hidden(x)))


class SwiftStyleBlock(sd.Layer):
    """An sd.Layer (whose build only marks it built) holding Keras layers that build on first call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.norm = keras.layers.LayerNormalization(gamma_initializer=seeded(5), beta_initializer=seeded(6))
        self.dense = keras.layers.Dense(3, kernel_initializer=seeded(7))

    def call(self, input):
        return self.dense(self.norm(input))


@pytest.mark.parametrize("block", [SublayersBlock, SwiftStyleBlock])
def test_layer_that_creates_variables_in_its_first_call(mode, block):
    plain, wrapped = block(), sd.ActivationDiscarding(block())
    assert not wrapped.wrapped.weights  # nothing built yet: the first step below builds it
    x = tf.random.stateless_normal([4, 3], seed=[8, 9])

    def loss(layer):
        return tf.reduce_sum(layer(x, training=True) ** 2)

    expected = _gradient_step(mode, plain, loss, lambda: plain.trainable_variables)()
    got = _gradient_step(mode, wrapped, loss, lambda: wrapped.trainable_variables)()
    assert len(wrapped.trainable_variables) == len(plain.trainable_variables) == 4
    _assert_same_gradients(expected, got)
    optimizer = keras.optimizers.SGD(0.1)
    optimizer.apply_gradients(zip(got[1], wrapped.trainable_variables, strict=True))  # no "No gradients"


def test_wrapper_casts_inputs_as_the_wrapped_layer_does():
    """A float64 layer's inputs are not rounded to float32 on their way through the wrapper."""
    plain = keras.layers.Dense(1, dtype="float64", kernel_initializer="ones")
    wrapped = sd.ActivationDiscarding(keras.layers.Dense(1, dtype="float64", kernel_initializer="ones"))
    x = tf.Variable([[1.0 + 1e-12, 1.0]], dtype=tf.float64)

    def loss(layer):
        return tf.reduce_sum(tf.sin(1e12 * (layer(x) - 2.0)))

    expected = _gradient_step("eager", plain, loss, lambda: [x, *plain.trainable_variables])()
    got = _gradient_step("eager", wrapped, loss, lambda: [x, *wrapped.trainable_variables])()
    assert expected[0].numpy() != 0.0  # the 1e-12 counts: rounded to float32, it is lost
    _assert_same_gradients(expected, got)
    assert wrapped.compute_dtype == "float64"
