"""TangentVector, Swift's synthesized ``Model.TangentVector``: it mirrors the layer, feeds Keras
optimizers, is a vector space, and is a tf.nest node (so it can leave a tf.function)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd


def test_tangent_vector_mirrors_the_model():
    model = sd.models.MLP()
    grads = sd.gradient(at=model, of=lambda m: tf.reduce_sum(m(tf.ones([4, 2]))))
    assert grads.layer1.weight.shape == (2, 10) and grads.layer2.bias.shape == (1,)
    assert [tuple(t.shape) for t in grads] == [tuple(v.shape) for v in model.trainable_variables]
    keras_opt = keras.optimizers.SGD(0.1)
    before = model.layer2.bias.numpy().copy()
    keras_opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
    np.testing.assert_allclose(model.layer2.bias.numpy(), before - 0.1 * grads.layer2.bias.numpy(), rtol=1e-6)


def test_tangent_vector_arithmetic():
    model = sd.Dense(input_size=2, output_size=2)
    a = sd.TangentVector(model, [tf.ones([2, 2]), tf.ones([2])])
    b = sd.TangentVector(model, [2 * tf.ones([2, 2]), 3 * tf.ones([2])])
    np.testing.assert_array_equal((a + b).bias, [4.0, 4.0])
    np.testing.assert_array_equal((b - a).weight, np.ones([2, 2]))
    np.testing.assert_array_equal((-a).bias, [-1.0, -1.0])
    np.testing.assert_array_equal((a * 3.0).bias, [3.0, 3.0])
    np.testing.assert_array_equal((0.5 * b).bias, [1.5, 1.5])
    np.testing.assert_array_equal(a.scaled(by=4.0).weight, 4 * np.ones([2, 2]))
    zeros = sd.TangentVector.zeros_like(model)
    for tangent, variable in zip(zeros, model.trainable_variables, strict=True):
        np.testing.assert_array_equal(tangent, np.zeros(variable.shape))
    with pytest.raises(TypeError, match="scaled"):
        a.scaled(by=tf.ones([2]))


def test_components_follow_the_trainable_variables():
    model = sd.models.MLP()
    values = [tf.fill(v.shape, float(i)) for i, v in enumerate(model.trainable_variables)]
    tangent = sd.TangentVector(model, values)
    assert tangent.layer is model and len(tangent) == len(values)
    for variable, value in zip(model.trainable_variables, values, strict=True):
        np.testing.assert_array_equal(tangent.tangent_for(variable), value)
    assert isinstance(tangent.layer2, sd.TangentVector) and tangent.layer2.layer is model.layer2
    np.testing.assert_array_equal(tangent.layer2.bias, values[3])
    with pytest.raises(AttributeError, match="nothing"):
        tangent.nothing  # noqa: B018 (the attribute access is what raises)
    with pytest.raises(KeyError):
        tangent.tangent_for(sd.Dense(input_size=1, output_size=1).weight)


def test_tangent_vector_is_a_nest_node():
    model = sd.Dense(input_size=2, output_size=2)
    tangent = sd.TangentVector(model, [tf.ones([2, 2]), tf.ones([2])])
    assert len(tf.nest.flatten(tangent)) == 2
    doubled = tf.nest.map_structure(lambda t: 2 * t, tangent)
    assert isinstance(doubled, sd.TangentVector) and doubled.layer is model
    np.testing.assert_array_equal(doubled.bias, [2.0, 2.0])
    leaving = tf.function(lambda: sd.TangentVector(model, [tf.zeros([2, 2]), tf.ones([2])]))()
    assert isinstance(leaving, sd.TangentVector) and leaving.layer is model
    np.testing.assert_array_equal(leaving.bias, [1.0, 1.0])
