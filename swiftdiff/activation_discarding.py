"""``ActivationDiscarding``: the tutorial's wrapper, exact for any Keras layer."""

from __future__ import annotations

import keras

from .checkpointing import with_recomputation_in_pullbacks
from .layer import Layer


@keras.saving.register_keras_serializable(package="swiftdiff")
class ActivationDiscarding(Layer):
    """Swift ``ActivationDiscarding<Wrapped>``: discards the wrapped layer's activations in the
    forward pass and recomputes them in backpropagation.

    Works for any Keras layer, blocks with Dropout and BatchNormalization included, and is exact:
    gradients and state are those of the unwrapped layer — the recomputation sees the same dropout
    mask, BatchNorm statistics and seed-generator state are updated once — in eager mode,
    ``tf.function``, XLA, ``model.fit`` (with and without ``jit_compile``), ``.keras`` saving and
    ``tf.distribute``. The wrapped layer's weights are this layer's weights.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> conv = sd.ActivationDiscarding(sd.Conv2D(filter_shape=(5, 5, 3, 6)))
        >>> conv(tf.ones([2, 16, 16, 3])).shape, len(conv.trainable_weights)
        (TensorShape([2, 12, 12, 6]), 2)
    """

    def __init__(self, wrapped, **kwargs):
        if not isinstance(wrapped, keras.layers.Layer):
            raise TypeError(f"sd.ActivationDiscarding: expected a Keras layer to wrap, got "
                            f"{type(wrapped).__name__}")
        super().__init__(**kwargs)
        self.wrapped = wrapped
        if wrapped.built:
            self.built = True

    def build(self, input_shape=None):
        # The wrapped layer's variables must exist before the first checkpointed call: the forward
        # pass runs inside a keras.StatelessScope, where no variable may be created.
        if not self.wrapped.built and input_shape is not None:
            self.wrapped.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        wrapped = self.wrapped

        def apply(inputs):
            return wrapped(inputs) if training is None else wrapped(inputs, training=training)

        apply.__name__ = f"{type(wrapped).__name__} layer"
        return with_recomputation_in_pullbacks(apply)(inputs)

    def compute_output_shape(self, input_shape):
        return self.wrapped.compute_output_shape(input_shape)

    def compute_output_spec(self, inputs, training=None):
        return self.wrapped.compute_output_spec(inputs)

    def get_config(self):
        return {**super().get_config(), "wrapped": keras.saving.serialize_keras_object(self.wrapped)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        wrapped = keras.saving.deserialize_keras_object(config.pop("wrapped"))
        return cls(wrapped, **config)


def checkpointed_sequential(layers, *, segments=None, keep_last_segment=True, name=None):
    """A deep stack of layers checkpointed in about √n segments (Chen et al. 2016), as one layer.

    The layers are split, in order, into ``segments`` contiguous runs of nearly equal length (by
    default ``round(√n)``); each run becomes an ``ActivationDiscarding`` block. The forward pass
    keeps only the segment boundaries, and backpropagation recomputes one segment at a time: about
    ``2√n`` activations alive instead of ``n``, for at most one extra forward pass. The result is a
    ``keras.Sequential`` of the blocks, so it trains with ``fit``, saves and loads like any Keras
    model.

    ``keep_last_segment=True`` (the default, as PyTorch's ``checkpoint_sequential`` does) runs the
    last segment as a plain ``keras.Sequential``: backpropagation needs its activations first, so
    recomputing them would cost time (1/``segments`` of a forward pass) and save no memory when the
    stack ends the model. When heavy layers follow the stack, its last segment's activations stay
    alive while they run; pass ``keep_last_segment=False`` to checkpoint every segment then.

    Example::

        >>> import keras, swiftdiff as sd
        >>> stack = sd.checkpointed_sequential([keras.layers.Dense(8, activation="tanh") for _ in range(9)])
        >>> [(type(block).__name__, len(getattr(block, "wrapped", block).layers)) for block in stack.layers]
        [('ActivationDiscarding', 3), ('ActivationDiscarding', 3), ('Sequential', 3)]
    """
    layers = list(layers) if isinstance(layers, (list, tuple)) else None
    if not layers or not all(isinstance(layer, keras.layers.Layer) for layer in layers):
        raise TypeError("sd.checkpointed_sequential: layers must be a non-empty list of Keras layers")
    count = len(layers)
    if segments is None:
        segments = max(1, round(count ** 0.5))
    if isinstance(segments, bool) or not isinstance(segments, int) or not 1 <= segments <= count:
        raise ValueError(f"sd.checkpointed_sequential: segments= must be an integer from 1 to "
                         f"{count} (the number of layers), got {segments!r}")
    if not isinstance(keep_last_segment, bool):
        raise TypeError(f"sd.checkpointed_sequential: keep_last_segment= must be True or False, got "
                        f"{type(keep_last_segment).__name__}")
    bounds = [round(i * count / segments) for i in range(segments + 1)]
    blocks = [keras.Sequential(layers[start:stop]) for start, stop in zip(bounds, bounds[1:])]
    checkpointed = blocks[:-1] if keep_last_segment else blocks
    blocks = [ActivationDiscarding(block) for block in checkpointed] + blocks[len(checkpointed):]
    return keras.Sequential(blocks, name=name)
