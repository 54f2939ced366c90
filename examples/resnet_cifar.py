"""swift-models' ResNet (`Models/ImageClassification/ResNet.swift`) ported line by line, on CIFAR-size input.

`ConvBN` (a bias-free convolution and a batch norm), `ResidualBlock` (basic or bottleneck, with a
1×1 projection shortcut where the shape changes) and `ResNet` with its `Depth` options (ResNet-18,
34, 50, 56, 101 and 152), all `sd.Layer` subclasses built from sd layers. As swift-models'
`Examples/ResNet-CIFAR10` does, the network is built for 32×32×3 images with
`downsampling_in_first_stage=False` (a 3×3 first convolution with 16 filters, no max pooling).

There is no CIFAR-10 download: the images are generated, each class a fixed random 32×32×3 pattern
plus noise, so that a few steps visibly learn. The same network, from the same initial weights, is
trained twice on the same batch and its loss printed at every step:

1. with the Swift-style loop — the learning phase set to training, `value_with_gradient` at the model,
   `optimizer.update(model, along=)` with `sd.SGD`, compiled with `tf.function`;
2. with Keras — the `sd.Layer` placed in a `keras.Sequential`, `compile` with Keras' SGD and sparse
   categorical cross-entropy from logits, `fit` (which passes `training=True` down to the batch norms).

Plain SGD is the same update in both, so the two loops print nearly the same losses. The default
(ResNet-18, 32 images, 8 steps) runs in well under a minute on two CPU cores.

    python examples/resnet_cifar.py [--depth resnet18] [--steps 8] [--batch-size 32]
"""

import argparse
import enum
import functools
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import quiet_tensorflow  # noqa: E402, F401  (loads TensorFlow without its start-up log lines)

# isort: split
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import swiftdiff as sd  # noqa: E402


# --8<-- [start:convbn]
class ConvBN(sd.Layer):
    def __init__(self, filter_shape, strides=(1, 1), padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.conv = sd.Conv2D(filter_shape=filter_shape, strides=strides, padding=padding, use_bias=False)
        self.norm = sd.BatchNorm(feature_count=filter_shape[3], momentum=0.9, epsilon=1e-5)

    @sd.differentiable
    def call(self, input):
        return sd.sequenced(input, through=(self.conv, self.norm))


# --8<-- [end:convbn]


# --8<-- [start:block]
class ResidualBlock(sd.Layer):
    def __init__(self, input_filters, filters, strides, use_later_stride, is_basic, **kwargs):
        super().__init__(**kwargs)
        out_filters = filters * (1 if is_basic else 4)
        self.needs_projection = (input_filters != out_filters) or (strides[0] != 1)
        # Swift needs a placeholder 1×1×1×1 ConvBN here; a Python attribute may simply be None.
        self.projection = (
            ConvBN(filter_shape=(1, 1, input_filters, out_filters), strides=strides)
            if self.needs_projection
            else None
        )

        if is_basic:
            self.early_convs = [
                ConvBN(filter_shape=(3, 3, input_filters, filters), strides=strides, padding="same"),
            ]
            self.last_conv = ConvBN(filter_shape=(3, 3, filters, out_filters), padding="same")
        else:
            if use_later_stride:
                # Configure for ResNet V1.5 (the more common implementation).
                self.early_convs = [
                    ConvBN(filter_shape=(1, 1, input_filters, filters)),
                    ConvBN(filter_shape=(3, 3, filters, filters), strides=strides, padding="same"),
                ]
            else:
                # Configure for ResNet V1 (the paper implementation).
                self.early_convs = [
                    ConvBN(filter_shape=(1, 1, input_filters, filters), strides=strides),
                    ConvBN(filter_shape=(3, 3, filters, filters), padding="same"),
                ]
            self.last_conv = ConvBN(filter_shape=(1, 1, filters, out_filters))

    @sd.differentiable
    def call(self, input):
        residual = self.projection(input) if self.needs_projection else input

        early_convs_reduced = functools.reduce(
            lambda last, layer: sd.relu(layer(last)), self.early_convs, input
        )
        last_conv_result = self.last_conv(early_convs_reduced)

        return sd.relu(last_conv_result + residual)


# --8<-- [end:block]


# --8<-- [start:resnet]
class ResNet(sd.Layer):
    """The ResNet v1 and v1.5 architectures, at the depths of `ResNet.Depth`."""

    class Depth(enum.Enum):
        resnet18 = "resnet18"
        resnet34 = "resnet34"
        resnet50 = "resnet50"
        resnet56 = "resnet56"
        resnet101 = "resnet101"
        resnet152 = "resnet152"

        @property
        def uses_basic_blocks(self):
            return self in (ResNet.Depth.resnet18, ResNet.Depth.resnet34, ResNet.Depth.resnet56)

        @property
        def layer_block_sizes(self):
            return {
                "resnet18": [2, 2, 2, 2],
                "resnet34": [3, 4, 6, 3],
                "resnet50": [3, 4, 6, 3],
                "resnet56": [9, 9, 9],
                "resnet101": [3, 4, 23, 3],
                "resnet152": [3, 8, 36, 3],
            }[self.value]

    def __init__(self, class_count, depth, downsampling_in_first_stage=True, use_later_stride=True, **kwargs):
        super().__init__(**kwargs)
        if downsampling_in_first_stage:
            input_filters = 64
            self.initial_layer = ConvBN(filter_shape=(7, 7, 3, input_filters), strides=(2, 2), padding="same")
            self.max_pool = sd.MaxPool2D(pool_size=(3, 3), strides=(2, 2), padding="same")
        else:
            input_filters = 16
            self.initial_layer = ConvBN(filter_shape=(3, 3, 3, input_filters), padding="same")
            self.max_pool = sd.MaxPool2D(pool_size=(1, 1), strides=(1, 1))  # no-op

        self.residual_blocks = []
        last_input_filter_count = input_filters
        for block_size_index, block_size in enumerate(depth.layer_block_sizes):
            for block_index in range(block_size):
                strides = (2, 2) if block_size_index > 0 and block_index == 0 else (1, 1)
                filters = input_filters * 2**block_size_index
                residual_block = ResidualBlock(
                    input_filters=last_input_filter_count,
                    filters=filters,
                    strides=strides,
                    use_later_stride=use_later_stride,
                    is_basic=depth.uses_basic_blocks,
                )
                last_input_filter_count = filters * (1 if depth.uses_basic_blocks else 4)
                self.residual_blocks.append(residual_block)

        final_filters = input_filters * 2 ** (len(depth.layer_block_sizes) - 1)
        self.avg_pool = sd.GlobalAvgPool2D()
        self.flatten = sd.Flatten()
        self.classifier = sd.Dense(
            input_size=final_filters if depth.uses_basic_blocks else final_filters * 4,
            output_size=class_count,
        )

    @sd.differentiable
    def call(self, input):
        input_layer = self.max_pool(sd.relu(self.initial_layer(input)))
        blocks_reduced = functools.reduce(lambda last, layer: layer(last), self.residual_blocks, input_layer)
        return sd.sequenced(blocks_reduced, through=(self.avg_pool, self.flatten, self.classifier))


# --8<-- [end:resnet]


def generated_cifar(count, class_count=10, seed=0):
    """`count` CIFAR-sized images (float32 `[count, 32, 32, 3]`) and their int32 labels.

    Each class is a fixed random pattern; an image is its class's pattern plus as much noise.
    """
    rng = np.random.default_rng(seed)
    patterns = rng.normal(size=(class_count, 32, 32, 3)).astype(np.float32)
    labels = (np.arange(count) % class_count).astype(np.int32)
    images = patterns[labels] + rng.normal(size=(count, 32, 32, 3)).astype(np.float32)
    return images, labels


def make_model(depth, seed):
    keras.utils.set_random_seed(seed)  # the same initial weights for both loops
    return ResNet(class_count=10, depth=ResNet.Depth(depth), downsampling_in_first_stage=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depth", default="resnet18", choices=[d.value for d in ResNet.Depth])
    parser.add_argument("--steps", type=int, default=8, help="training steps in each loop")
    parser.add_argument("--batch-size", type=int, default=32, help="the generated images, one batch")
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    images, labels = generated_cifar(args.batch_size, seed=args.seed)
    print(f"{args.depth}, {args.batch_size} generated 32×32×3 images, {args.steps} steps per loop.")

    # --8<-- [start:swift_loop]
    print("Swift-style loop:")
    model = make_model(args.depth, args.seed)
    optimizer = sd.SGD(for_=model, learning_rate=args.learning_rate)

    @tf.function
    def train_step(images, labels):
        loss, grads = sd.value_with_gradient(
            at=model, of=lambda model: sd.softmax_cross_entropy(logits=model(images), labels=labels)
        )
        optimizer.update(model, along=grads)
        return loss

    with sd.with_learning_phase(sd.LearningPhase.training):  # batch norms use the batch's statistics
        for step in range(1, args.steps + 1):
            loss = train_step(images, labels)
            print(f"Step {step}: Loss: {float(loss):.4f}", flush=True)
    # --8<-- [end:swift_loop]

    # --8<-- [start:fit]
    print("Keras model.fit:")
    keras_model = keras.Sequential([keras.Input(shape=(32, 32, 3)), make_model(args.depth, args.seed)])
    keras_model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=args.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    print_loss = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: print(f"Step {epoch + 1}: Loss: {logs['loss']:.4f}", flush=True)
    )
    # One batch per epoch, so each epoch's loss is one step's.
    keras_model.fit(
        images, labels, batch_size=args.batch_size, epochs=args.steps, verbose=0, callbacks=[print_loss]
    )
    # --8<-- [end:fit]


if __name__ == "__main__":
    main()
