"""S4TF's "Model training walkthrough" (Iris classification), ported to swiftdiff.

Three Dense layers, SGD, softmax cross-entropy, a Swift-style training loop: `value_with_gradient`
at the model, then `optimizer.update(model, along=grads)`, compiled with tf.function. The small
Iris CSVs ship in examples/data (nothing is downloaded).

    python examples/model_training_walkthrough.py [--epochs 500]
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import swiftdiff as sd  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
CLASS_NAMES = ["Iris setosa", "Iris versicolor", "Iris virginica"]


def load(name):
    """(features [n, 4] float32, labels [n] int32) from one of the shipped CSVs."""
    rows = np.loadtxt(os.path.join(DATA, name), delimiter=",", skiprows=1)
    return rows[:, :4].astype(np.float32), rows[:, 4].astype(np.int32)


# --8<-- [start:model]
class IrisModel(sd.Layer):
    def __init__(self, hidden_size=10, **kwargs):
        super().__init__(**kwargs)
        self.layer1 = sd.Dense(input_size=4, output_size=hidden_size, activation=sd.relu)
        self.layer2 = sd.Dense(input_size=hidden_size, output_size=hidden_size, activation=sd.relu)
        self.layer3 = sd.Dense(input_size=hidden_size, output_size=3)

    @sd.differentiable
    def call(self, input):
        return sd.sequenced(input, through=(self.layer1, self.layer2, self.layer3))


# --8<-- [end:model]


def accuracy(predictions, truths):
    return float(
        tf.reduce_mean(
            tf.cast(tf.equal(tf.argmax(predictions, axis=1, output_type=tf.int32), truths), tf.float32)
        )
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--report-every", type=int, default=50)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    train_x, train_y = load("iris_training.csv")
    test_x, test_y = load("iris_test.csv")
    print(f"Training on {len(train_x)} examples, testing on {len(test_x)}.")

    model = IrisModel()
    optimizer = sd.SGD(for_=model, learning_rate=0.01)
    dataset = tf.data.Dataset.from_tensor_slices((train_x, train_y)).shuffle(120, seed=0).batch(32)

    # --8<-- [start:step]
    @tf.function
    def train_step(x, y):
        loss, grads = sd.value_with_gradient(
            at=model, of=lambda model: sd.softmax_cross_entropy(logits=model(x), labels=y)
        )
        optimizer.update(model, along=grads)
        return loss, model(x)

    # --8<-- [end:step]

    progress = keras.utils.Progbar(
        args.epochs, stateful_metrics=["loss", "accuracy"], verbose=1 if sys.stdout.isatty() else 0
    )
    for epoch in range(1, args.epochs + 1):
        losses, accuracies = [], []
        for x, y in dataset:
            loss, logits = train_step(x, y)
            losses.append(float(loss))
            accuracies.append(accuracy(logits, y))
        epoch_loss, epoch_accuracy = float(np.mean(losses)), float(np.mean(accuracies))
        progress.update(epoch, [("loss", epoch_loss), ("accuracy", epoch_accuracy)])
        if epoch % args.report_every == 0 or epoch == 1:
            print(f"Epoch {epoch}: Loss: {epoch_loss:.6f}, Accuracy: {epoch_accuracy:.3f}", flush=True)

    print(f"Test batch accuracy: {accuracy(model(test_x), test_y):.3f}")
    unlabeled = tf.constant([[5.1, 3.3, 1.7, 0.5], [5.9, 3.0, 4.2, 1.5], [6.9, 3.1, 5.4, 2.1]])
    for i, logits in enumerate(model(unlabeled)):
        probabilities = tf.nn.softmax(logits).numpy()
        best = int(np.argmax(probabilities))
        print(f"Example {i} prediction: {CLASS_NAMES[best]} ({probabilities[best]:.3f})")


if __name__ == "__main__":
    main()
