"""Child process: one worker of a MultiWorkerMirroredStrategy cluster (TF_CONFIG in the
environment), or a single process when run with "single". Trains a model with ActivationDiscarding
and a registered custom derivative with a custom loop (Keras 3's model.fit does not run under
MultiWorkerMirroredStrategy: it fails converting PerReplica values, with or without swiftdiff).
Each replica takes its shard of every global batch and scales its loss by the global batch size,
so the all-reduced gradient equals the single-process one. Prints the final weights as JSON
(worker 0 and single only)."""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import swiftdiff as sd  # noqa: E402
from softsign import Softsign  # noqa: E402  (a layer with a registered derivative)


def main():
    single = sys.argv[1] == "single"
    strategy = tf.distribute.get_strategy() if single else tf.distribute.MultiWorkerMirroredStrategy()
    rng = np.random.RandomState(0)
    x = rng.randn(64, 4).astype("float32")
    y = rng.randn(64, 1).astype("float32")
    with strategy.scope():
        keras.utils.set_random_seed(3)
        block = keras.Sequential([keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(8)])
        model = keras.Sequential(
            [keras.Input((4,)), sd.ActivationDiscarding(block), Softsign(), keras.layers.Dense(1)]
        )
        optimizer = keras.optimizers.SGD(0.1)
        optimizer.build(model.trainable_variables)
    replicas = strategy.num_replicas_in_sync

    def replica_step(xb, yb):
        index = tf.distribute.get_replica_context().replica_id_in_sync_group
        xs, ys = xb[index::replicas], yb[index::replicas]
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(xs, training=True) - ys)) / tf.cast(
                tf.shape(xb)[0], tf.float32
            )
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))

    @tf.function
    def step(xb, yb):
        strategy.run(replica_step, args=(xb, yb))

    for _ in range(2):
        for start in range(0, 64, 16):
            step(tf.constant(x[start : start + 16]), tf.constant(y[start : start + 16]))
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    if single or task.get("index") == 0:
        print(json.dumps([w.numpy().tolist() for w in model.weights]))


if __name__ == "__main__":
    main()
