"""Reshape, Function and Embedding: forward and gradients against numpy formulas, finite differences
and keras.layers.Embedding with the same table, in eager, tf.function and XLA; Embedding's gradient
through sd.gradient, TangentVector, the sd optimizers, tf.GradientTape and model.fit; get_config and
.keras round trips; misuse errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import finite_difference, run_in


@keras.saving.register_keras_serializable(package="test_core_layers")
def cube_minus_x(x):
    return x**3 - x


# -- Reshape ---------------------------------------------------------------------------------------


def test_reshape_takes_the_whole_shape_and_differentiates(mode):
    x = np.random.RandomState(0).randn(4, 6).astype(np.float32)
    w = np.random.RandomState(1).randn(4, 3, 2).astype(np.float32)
    reshape = sd.Reshape(shape=[-1, 3, 2])

    def run(x):
        return reshape(x), sd.gradient(at=x, of=lambda x: tf.reduce_sum(tf.sin(reshape(x)) * w))

    y, grad = run_in(mode, run, tf.constant(x))
    np.testing.assert_array_equal(y, x.reshape(-1, 3, 2))
    np.testing.assert_allclose(grad, (np.cos(x.reshape(4, 3, 2)) * w).reshape(4, 6), rtol=1e-5)
    fixed = run_in(mode, sd.Reshape(shape=(2, 12)), tf.constant(x))  # the batch axis too, as in S4TF
    np.testing.assert_array_equal(fixed, x.reshape(2, 12))
    assert sd.Reshape(shape=[8, -1])(x).shape == (8, 3)
    assert sd.Reshape(shape=tf.TensorShape([3, 8]))(x).shape == (3, 8)
    assert sd.Reshape(tf.constant([2, 2, 6]))(x).shape == (2, 2, 6)  # Swift's Tensor<Int32> shape


def test_reshape_with_minus_one_first_serves_any_batch_in_keras_models(tmp_path):
    model = keras.Sequential([keras.Input((12,)), sd.Reshape(shape=[-1, 2, 6]), keras.layers.Dense(1)])
    assert model.output_shape == (None, 2, 1)
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.ones((5, 12)), np.zeros((5, 2, 1)), batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for batch in (1, 3):
        assert model(np.ones((batch, 12))).shape == (batch, 2, 1)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].shape == (-1, 2, 6) and loaded.layers[0].get_config()["shape"] == [-1, 2, 6]
    np.testing.assert_allclose(loaded(np.ones((3, 12))), model(np.ones((3, 12))), rtol=1e-6)
    shapes = [
        ([2, -1], (None, 12), (2, None)),
        ([-1, 3], (4, 6), (8, 3)),
        ([4, 3, 2], (None, 6), (4, 3, 2)),
        ([-1, 4], (None, 3, 4), (None, 4)),
    ]
    for shape, input_shape, expected in shapes:
        assert sd.Reshape(shape=shape).compute_output_shape(input_shape) == expected


def test_reshape_misuse():
    for shape in ([], [2, -1, -1], [0, 3], [2.0, 3], "23", None, [True, 2]):
        with pytest.raises(ValueError, match="sd.Reshape: shape= must be the whole target shape"):
            sd.Reshape(shape=shape)
    with pytest.raises(ValueError, match=r"sd.Reshape: inputs of shape \[4, 6\] \(24 elements\) cannot"):
        sd.Reshape(shape=[5, -1])(tf.ones([4, 6]))
    with pytest.raises(ValueError, match=r"cannot be reshaped to \[2, 2\]"):
        sd.Reshape(shape=[2, 2])(tf.ones([4, 6]))


# -- Function --------------------------------------------------------------------------------------


def test_function_applies_its_body_and_differentiates(mode):
    layer = sd.Function(lambda x: tf.sin(x) * x)
    x = np.linspace(-2, 2, 7).astype(np.float32)
    y, grad = run_in(
        mode, lambda x: sd.value_with_gradient(at=x, of=lambda x: tf.reduce_sum(layer(x))), tf.constant(x)
    )
    np.testing.assert_allclose(y, np.sum(np.sin(x) * x), rtol=1e-5)
    np.testing.assert_allclose(grad, np.cos(x) * x + np.sin(x), rtol=1e-5, atol=1e-6)
    # a nest as input, as Swift's Function<Input, Output>: gradients for both halves
    product = sd.Function(lambda pair: pair[0] * pair[1])
    a, b = tf.constant([1.0, 2.0]), tf.constant([3.0, -4.0])
    grads = run_in(
        mode, lambda a, b: sd.gradient(at=(a, b), of=lambda a, b: tf.reduce_sum(product((a, b)))), a, b
    )
    np.testing.assert_allclose(grads[0], b)
    np.testing.assert_allclose(grads[1], a)
    assert sd.gradient(at=layer, of=lambda f: tf.reduce_sum(f(tf.ones([2])))).layer is layer  # parameterless


def test_function_gradient_matches_finite_differences_in_float64():
    layer = sd.Function(cube_minus_x, dtype="float64")
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    grad = sd.gradient(at=tf.constant(x), of=lambda x: tf.reduce_sum(tf.tanh(layer(x))))
    assert grad.dtype == tf.float64
    expected = finite_difference(lambda x: tf.reduce_sum(tf.tanh(layer(tf.constant(x)))), x)
    np.testing.assert_allclose(grad, expected, rtol=1e-7)


def test_function_saves_named_bodies_and_refuses_lambdas_clearly(tmp_path):
    model = keras.Sequential(
        [keras.Input((3,)), sd.Function(cube_minus_x), keras.layers.Dense(2), sd.Function(sd.relu)]
    )
    x = tf.constant([[0.5, -1.0, 2.0]])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].body is cube_minus_x and loaded.layers[2].body is sd.relu
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
    assert sd.Function.from_config(model.layers[0].get_config()).body is cube_minus_x

    def local(x):
        return x

    def relu(x):  # named like Keras' relu: must not be saved as (and silently loaded as) that one
        return x

    for body in (lambda x: x, local, relu):
        with pytest.raises(
            TypeError, match="sd.Function: cannot save its body .*register_keras_serializable"
        ):
            keras.Sequential([keras.Input((3,)), sd.Function(body)]).save(tmp_path / "bad.keras")
    with pytest.raises(TypeError, match="sd.Function: body must be a function, got int"):
        sd.Function(3)


# -- Embedding -------------------------------------------------------------------------------------

TABLE = np.random.RandomState(4).randn(6, 3).astype(np.float32)
INDICES = np.array([[0, 5, 2, 2], [5, 5, 1, 3]], np.int32)


def _scatter_add(table_shape, indices, dy):
    """The gradient of sum(dy * table[indices]) with respect to the table, by hand."""
    grad = np.zeros(table_shape, dy.dtype)
    np.add.at(grad, indices.reshape(-1), dy.reshape(-1, table_shape[1]))
    return grad


def test_embedding_variable_and_initializer_are_s4tf_s():
    layer = sd.Embedding(vocabulary_size=50, embedding_size=8)
    assert [v.name for v in layer.trainable_variables] == ["embeddings"]
    table = layer.embeddings.numpy()
    assert table.shape == (50, 8) and table.dtype == np.float32
    assert table.min() >= 0 and table.max() < 1 and table.std() > 0.2  # uniform in [0, 1)
    assert layer(tf.constant(3)).shape == (8,) and layer(tf.constant([[1, 2, 3]])).shape == (1, 3, 8)


def test_embedding_matches_keras_embedding_forward_and_gradient(mode):
    layer = sd.Embedding(embeddings=TABLE)
    reference = keras.layers.Embedding(6, 3)
    reference.build((None,))
    reference.embeddings.assign(TABLE)
    dy = np.random.RandomState(5).randn(*INDICES.shape, 3).astype(np.float32)

    def run(indices):
        grads = sd.gradient(at=layer, of=lambda layer: tf.reduce_sum(layer(indices) * dy))
        return layer(indices), grads.embeddings

    y, grad = run_in(mode, run, tf.constant(INDICES))
    np.testing.assert_allclose(y, TABLE[INDICES])
    np.testing.assert_allclose(y, reference(INDICES), rtol=1e-6)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(reference(INDICES) * dy)
    keras_grad = tape.gradient(total, reference.embeddings)
    assert isinstance(keras_grad, tf.IndexedSlices)  # what sd densifies
    np.testing.assert_allclose(grad, tf.convert_to_tensor(keras_grad), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad, _scatter_add(TABLE.shape, INDICES, dy), rtol=1e-5, atol=1e-6)


def test_embedding_tangent_is_dense_and_feeds_sd_optimizers(mode):
    layer = sd.Embedding(embeddings=TABLE)
    optimizer = sd.SGD(for_=layer, learning_rate=0.5)

    def step(indices):
        grads = sd.gradient(at=layer, of=lambda layer: tf.reduce_sum(layer(indices) ** 2))
        assert isinstance(grads.embeddings, tf.Tensor) and not isinstance(grads.embeddings, tf.IndexedSlices)
        optimizer.update(layer, along=grads)
        return list(grads)[0]

    grad = run_in(mode, step, tf.constant(INDICES))
    expected = _scatter_add(TABLE.shape, INDICES, 2 * TABLE[INDICES])
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.embeddings.numpy(), TABLE - 0.5 * expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_embedding_trains_with_keras_fit(jit_compile):
    """fit hands Keras' optimizer the tape's IndexedSlices: one SGD step moves each row by its gradient."""
    model = keras.Sequential(
        [keras.Input((4,), dtype="int32"), sd.Embedding(embeddings=TABLE), sd.GlobalAvgPool1D()]
    )
    target = np.zeros((2, 3), np.float32)
    expected_grad = sd.gradient(  # fit's "mse": the batch mean of each example's mean squared error
        at=model, of=lambda m: tf.reduce_mean(keras.losses.mean_squared_error(target, m(INDICES)))
    ).tangent_for(model.layers[0].embeddings)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse", jit_compile=jit_compile)
    model.fit(INDICES, target, batch_size=2, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(
        model.layers[0].embeddings.numpy(), TABLE - 0.1 * expected_grad.numpy(), rtol=1e-5
    )


def test_embedding_float64_table_and_finite_differences():
    table = np.random.RandomState(6).randn(4, 2)
    layer = sd.Embedding(embeddings=table)
    assert layer.dtype == "float64" and layer.embeddings.dtype == "float64"
    indices = tf.constant([3, 0, 3])
    grad = sd.gradient(at=layer, of=lambda e: tf.reduce_sum(tf.sin(e(indices)))).embeddings
    assert grad.dtype == tf.float64

    def loss(t):
        layer.embeddings.assign(t)
        return tf.reduce_sum(tf.sin(layer(indices)))

    np.testing.assert_allclose(grad, finite_difference(loss, table), rtol=1e-7, atol=1e-9)
    assert sd.Embedding(embeddings=table, dtype="float32").embeddings.dtype == "float32"


def test_embedding_config_and_keras_file_round_trip(tmp_path):
    layer = sd.Embedding(vocabulary_size=6, embedding_size=3, embeddings_initializer="zeros", name="e")
    config = layer.get_config()
    assert (config["vocabulary_size"], config["embedding_size"]) == (6, 3)
    clone = sd.Embedding.from_config(config)
    np.testing.assert_array_equal(clone.embeddings.numpy(), np.zeros((6, 3)))
    model = keras.Sequential([keras.Input((4,), dtype="int32"), sd.Embedding(embeddings=TABLE), sd.Flatten()])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.layers[0].embeddings.numpy(), TABLE)
    np.testing.assert_array_equal(loaded(INDICES), model(INDICES))


def test_embedding_misuse():
    with pytest.raises(
        ValueError, match="sd.Embedding: pass vocabulary_size= and embedding_size=, or embeddings="
    ):
        sd.Embedding(vocabulary_size=3)
    with pytest.raises(ValueError, match="not both"):
        sd.Embedding(vocabulary_size=6, embedding_size=3, embeddings=TABLE)
    with pytest.raises(ValueError, match="sd.Embedding: vocabulary_size= must be a positive integer"):
        sd.Embedding(vocabulary_size=0, embedding_size=3)
    with pytest.raises(ValueError, match=r"must be \[vocabulary_size, embedding_size\], got shape \[6\]"):
        sd.Embedding(embeddings=np.ones(6, np.float32))
    with pytest.raises(TypeError, match="sd.Embedding: embeddings= must be of a float dtype, got int64"):
        sd.Embedding(embeddings=np.ones((2, 2), np.int64))
    layer = sd.Embedding(embeddings=TABLE)
    with pytest.raises(TypeError, match="sd.Embedding: its input must be integer indices .* got float32"):
        layer(tf.constant([1.0]))
    with pytest.raises(TypeError, match="got float32; declare keras.Input"):  # when the model is built
        keras.Sequential([keras.Input((4,)), layer])
    for index in (6, -1):
        with pytest.raises(
            ValueError, match=f"sd.Embedding: index {index} is out of range for a vocabulary of 6"
        ):
            layer(tf.constant([[0, index]]))
