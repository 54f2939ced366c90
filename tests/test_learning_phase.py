"""S4TF's learning phase: sd.Context.local.learning_phase, sd.with_learning_phase. Layers called
without training= follow it; an explicit training= and model.fit win; the phase is thread-local;
a checkpointed layer recomputes in the phase of its forward pass."""

import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import run_in


@pytest.fixture(autouse=True)
def inference_phase():
    sd.Context.local.learning_phase = sd.LearningPhase.inference
    yield
    sd.Context.local.learning_phase = sd.LearningPhase.inference


def dropped(layer, x):
    return bool(tf.reduce_any(layer(x) == 0))


def test_the_phase_starts_as_inference_and_is_set_by_assignment_or_by_swifts_spelling():
    assert sd.Context.local.learning_phase is sd.LearningPhase.inference
    sd.Context.local.learningPhase = sd.LearningPhase.training
    assert sd.Context.local.learning_phase is sd.LearningPhase.training
    assert sd.withLearningPhase is sd.with_learning_phase


def test_dropout_and_batchnorm_without_training_follow_the_phase():
    drop = sd.Dropout(probability=0.5, seed=1)
    bn = sd.BatchNorm(feature_count=2, momentum=0.0)
    x = tf.constant([[1.0, 2.0], [3.0, 6.0]])
    assert not dropped(drop, tf.ones([200]))
    np.testing.assert_allclose(bn(x).numpy(), x.numpy() / np.sqrt(1.001), rtol=1e-6)  # running stats
    with sd.with_learning_phase(sd.LearningPhase.training):
        assert dropped(drop, tf.ones([200]))
        y = bn(x).numpy()
    np.testing.assert_allclose(y, [[-1, -1], [1, 1]], atol=1e-3)  # batch statistics
    np.testing.assert_allclose(bn.running_mean.numpy(), [2.0, 4.0])  # momentum 0: the batch's


def test_an_explicit_training_argument_wins_over_the_phase():
    drop = sd.Dropout(probability=0.5, seed=1)
    assert bool(tf.reduce_any(drop(tf.ones([200]), training=True) == 0))
    with sd.with_learning_phase(sd.LearningPhase.training):
        assert bool(tf.reduce_all(drop(tf.ones([200]), training=False) == 1))


def test_model_fit_trains_in_training_whatever_the_phase():
    """fit passes training=True to every layer: dropout drops although the phase is inference."""
    model = keras.Sequential([keras.Input((64,)), sd.Dropout(probability=0.9, seed=2)])
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(logs["loss"])

    model.compile(loss="mse", optimizer="sgd", run_eagerly=True)
    x = np.ones([8, 64], np.float32)
    model.fit(x, x, epochs=1, verbose=0, callbacks=[Record()])
    assert seen[0] > 0.5  # identity would give 0; dropping 90% gives about 0.9 + 0.1 * 81
    assert model.evaluate(x, x, verbose=0) == 0.0  # evaluate is inference


def test_with_learning_phase_restores_the_previous_phase_even_when_the_block_raises():
    with pytest.raises(RuntimeError), sd.with_learning_phase(sd.LearningPhase.training):
        raise RuntimeError
    assert sd.Context.local.learning_phase is sd.LearningPhase.inference
    with sd.with_learning_phase(sd.LearningPhase.training):
        with sd.with_learning_phase(sd.LearningPhase.inference):
            assert sd.Context.local.learning_phase is sd.LearningPhase.inference
        assert sd.Context.local.learning_phase is sd.LearningPhase.training


def test_the_phase_is_thread_local():
    sd.Context.local.learning_phase = sd.LearningPhase.training
    other = []
    thread = threading.Thread(target=lambda: other.append(sd.Context.local.learning_phase))
    thread.start()
    thread.join()
    assert other == [sd.LearningPhase.inference]
    assert sd.Context.local.learning_phase is sd.LearningPhase.training


def test_a_checkpointed_layer_recomputes_in_the_phase_of_its_forward_pass(mode):
    """The pullback runs after the with block: the recomputation must still drop the same units."""
    layer = sd.ActivationDiscarding(sd.Dropout(probability=0.5, seed=3))

    def forward_then_pull(x):
        with sd.with_learning_phase(sd.LearningPhase.training):
            y, pullback = sd.value_with_pullback(at=x, of=layer)
        return y, pullback(tf.ones_like(y))

    y, grad = run_in(mode, forward_then_pull, tf.ones([200]))
    assert 0 < np.count_nonzero(y) < 200
    np.testing.assert_array_equal(grad, y)  # d(mask * x * 2)/dx = mask * 2 = y at x = 1


def test_a_phase_that_is_not_a_learning_phase_is_a_type_error():
    with pytest.raises(TypeError, match="sd.with_learning_phase"), sd.with_learning_phase("training"):
        pass
    with pytest.raises(TypeError, match="learning_phase"):
        sd.Context.local.learning_phase = True
