"""Nothing lost: .keras and SavedModel round trips, registered derivatives after a SavedModel
reload, and model.fit interrupted and resumed with BackupAndRestore."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from tests.support import custom_functions as cf


def every_layer_model():
    keras.utils.set_random_seed(4)
    return keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            sd.Conv2D(filter_shape=(3, 3, 2, 4), padding="same", activation=sd.relu),
            sd.BatchNorm(feature_count=4),
            sd.ActivationDiscarding(
                keras.Sequential(
                    [sd.MaxPool2D(pool_size=(2, 2)), sd.AvgPool2D(pool_size=(2, 2), strides=(1, 1))]
                )
            ),
            sd.Dropout(probability=0.2, seed=1),
            sd.Flatten(),
            sd.ActivationDiscarding(sd.Dense(input_size=36, output_size=5, activation=sd.sigmoid)),
            sd.Dense(input_size=5, output_size=3, activation=sd.softmax),
        ]
    )


def test_every_layer_round_trips_through_saved_model(tmp_path):
    model = every_layer_model()
    x = tf.random.stateless_normal([2, 8, 8, 2], seed=[1, 2])
    model(x, training=True)  # moves the BatchNorm statistics
    expected = model(x).numpy()
    model.export(str(tmp_path / "saved"), verbose=False)  # Keras 3's SavedModel export
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_allclose(loaded.serve(x).numpy(), expected, rtol=1e-6)


def test_every_layer_round_trips_through_keras_file_after_training(tmp_path):
    model = every_layer_model()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = tf.random.stateless_normal([4, 8, 8, 2], seed=[3, 2]).numpy()
    model.fit(x, np.eye(3, dtype="float32")[[0, 1, 2, 0]], epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    for a, b in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@sd.derivative(of=cf.double_sin)
def double_sin_derivative(x):
    return cf.double_sin(x), lambda v: v * 42.0  # distinguishable from the true 2 cos(x)


def test_registered_derivative_survives_a_saved_model_reload(tmp_path):
    module = tf.Module()
    module.f = tf.function(lambda x: cf.double_sin(x) * 3.0, input_signature=[tf.TensorSpec([], tf.float32)])
    x = tf.constant(0.5)
    original = sd.gradient(at=x, of=module.f)
    assert float(original) == pytest.approx(126.0)
    tf.saved_model.save(
        module, str(tmp_path / "fn"), options=tf.saved_model.SaveOptions(experimental_custom_gradients=True)
    )
    loaded = tf.saved_model.load(str(tmp_path / "fn"))
    reloaded = sd.gradient(at=x, of=loaded.f)
    assert float(reloaded) == pytest.approx(float(original))


class InterruptAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def backup_model(wrapped=True, dropout=False):
    keras.utils.set_random_seed(11)
    block = keras.Sequential(
        [
            keras.layers.Dense(8, activation="relu"),
            *([keras.layers.Dropout(0.25, seed=3)] if dropout else []),
            keras.layers.Dense(4),
        ]
    )
    model = keras.Sequential(
        [
            keras.Input((5,)),
            sd.ActivationDiscarding(block) if wrapped else block,
            cf_layer(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def cf_layer():
    return keras.layers.Lambda(cf.double_sin)  # a registered custom derivative inside the model


DATA = np.random.RandomState(0)
X, Y = DATA.randn(32, 5).astype("float32"), DATA.randn(32, 1).astype("float32")
FIT = dict(epochs=4, batch_size=8, shuffle=False, verbose=0)


def interrupted_then_resumed(directory, **model_options):
    backup = keras.callbacks.BackupAndRestore(str(directory))
    with pytest.raises(RuntimeError, match="interrupted"):
        backup_model(**model_options).fit(X, Y, callbacks=[backup, InterruptAt(2)], **FIT)
    resumed = backup_model(**model_options)  # a fresh process would rebuild the model the same way
    resumed.fit(X, Y, callbacks=[backup], **FIT)
    return resumed


def test_backup_and_restore_resumes_to_the_uninterrupted_weights(tmp_path):
    reference = backup_model()
    reference.fit(X, Y, **FIT)
    resumed = interrupted_then_resumed(tmp_path / "backup")
    for a, b in zip(reference.weights, resumed.weights, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)
