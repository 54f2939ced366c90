"""Child process: trains a model with a registered custom derivative and a block that is wrapped in
ActivationDiscarding (or not), under MirroredStrategy on two logical CPU devices or on one device.
Prints the final weights as JSON.

Usage: python mirrored_training.py (mirrored|single) (wrapped|plain|whole|whole_plain)
    (stochastic|deterministic)

``whole`` is a functional residual model (three blocks of Dense -> Dropout -> BatchNorm, or of
Dense -> tanh) passed whole through ``sd.checkpointed(model, segments=3)``; ``whole_plain`` the
same model unchanged.

The stochastic block (Dense -> Dropout -> BatchNorm -> Dense) depends on how the batch is split
across replicas (per-replica BatchNorm statistics, per-replica dropout draws), so it is compared
with the plain block under the same strategy; the deterministic block (Dense -> tanh -> Dense) is
compared with single-device training.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

import swiftdiff as sd  # noqa: E402
from softsign import Softsign  # noqa: E402  (a layer with a registered derivative)


def build_whole(checkpointed, stochastic):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((4,))
    x = keras.layers.Dense(16, activation="tanh")(inputs)
    for index in range(3):
        if stochastic:
            h = keras.layers.Dense(16, activation="relu")(x)
            h = keras.layers.Dropout(0.3, seed=5 + index)(h)
            h = keras.layers.BatchNormalization()(h)
        else:
            h = keras.layers.Dense(16, activation="tanh")(x)
        x = keras.layers.Add()([x, h])
    model = keras.Model(inputs, keras.layers.Dense(1)(Softsign()(x)))
    if checkpointed:
        model = sd.checkpointed(model, segments=3)
        assert sum(segment.checkpointed for segment in model.checkpointing_plan) == 2
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def build(wrapped, stochastic):
    if wrapped in ("whole", "whole_plain"):
        return build_whole(wrapped == "whole", stochastic)
    wrapped = wrapped == "wrapped"
    keras.utils.set_random_seed(3)
    if stochastic:
        block = keras.Sequential(
            [
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dropout(0.3, seed=5),
                keras.layers.BatchNormalization(),
                keras.layers.Dense(8),
            ],
            name="block",
        )
    else:
        block = keras.Sequential(
            [keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(8)], name="block"
        )
    model = keras.Sequential(
        [
            keras.Input((4,)),
            sd.ActivationDiscarding(block) if wrapped else block,
            Softsign(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def main():
    rng = np.random.RandomState(0)
    x = rng.randn(64, 4).astype("float32")
    y = rng.randn(64, 1).astype("float32")
    if sys.argv[1] == "mirrored":
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
    else:
        strategy = tf.distribute.get_strategy()
    with strategy.scope():
        model = build(sys.argv[2], sys.argv[3] == "stochastic")
    model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    inner = getattr(model, "model", model)  # a CheckpointedModel's variables are its model's
    weights = [w for w in inner.weights if "seed_generator" not in w.path]
    print(json.dumps([w.numpy().tolist() for w in weights]))


if __name__ == "__main__":
    main()
