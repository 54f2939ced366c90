"""``ActivationDiscarding``: the tutorial's wrapper, exact for any Keras layer."""

from __future__ import annotations

import inspect

import keras
import numpy as np
import tensorflow as tf

from ._platform_internals import mirror_call_signature
from .checkpointing import with_recomputation_in_pullbacks


def _call_signature(layer) -> inspect.Signature:
    """The call signature Keras works from for ``layer`` (a wrapper's is its wrapped layer's)."""
    return getattr(layer, "_call_signature", None) or inspect.signature(layer.call)


def _mirror_call_signature(layer, wrapped):
    """Makes Keras treat ``layer.call(*args, **kwargs)`` as if it had ``wrapped.call``'s signature.

    Keras' ``Layer.__call__`` binds the arguments to the call signature it recorded, resolves
    ``training`` (explicit, else the enclosing layer's, else the default), fills ``mask=`` (or
    ``query_mask=``, ``value_mask=``, ...) from the inputs' Keras masks, and takes the first
    argument and its mask for ``compute_mask``. Recording the wrapped layer's signature makes all of
    that happen for the wrapper exactly as for the wrapped layer, so ``call`` receives the arguments
    Keras would pass to ``wrapped.call``, masks included. ``training`` is added when the wrapped
    ``call`` lacks it: its sublayers (Dropout, BatchNorm) read it from the enclosing call, which the
    recomputation in the pullback runs outside of, so it is resolved here and passed explicitly to
    both runs.
    """
    signature = _call_signature(wrapped)
    parameters = list(signature.parameters.values())
    if "training" not in signature.parameters:
        at = next((i for i, p in enumerate(parameters) if p.kind is p.VAR_KEYWORD), len(parameters))
        parameters.insert(at, inspect.Parameter("training", inspect.Parameter.KEYWORD_ONLY, default=None))
        signature = signature.replace(parameters=parameters)
    mirror_call_signature(layer, signature, getattr(wrapped, "_call_context_args", ()))


def _is_array(value) -> bool:
    return tf.is_tensor(value) or isinstance(value, (np.ndarray, keras.Variable, keras.KerasTensor))


def _symbolic(value):
    """``value`` with each tensor replaced by a new ``KerasTensor`` of its shape and dtype."""

    def spec(leaf):
        if not _is_array(leaf):
            return leaf
        sparse = isinstance(leaf, tf.SparseTensor) or bool(getattr(leaf, "sparse", False))
        return keras.KerasTensor(tuple(leaf.shape), dtype=tf.as_dtype(leaf.dtype).name, sparse=sparse)

    return tf.nest.map_structure(spec, value)


@keras.saving.register_keras_serializable(package="swiftdiff")
class ActivationDiscarding(keras.layers.Layer):
    """Swift ``ActivationDiscarding<Wrapped>``: discards the wrapped layer's activations in the
    forward pass and recomputes them in backpropagation.

    Works for any Keras layer, blocks with Dropout and BatchNormalization included, and is exact:
    gradients and state are those of the unwrapped layer — the recomputation sees the same dropout
    mask, BatchNorm statistics and seed-generator state are updated once — in eager mode,
    ``tf.function``, XLA, ``model.fit`` (with and without ``jit_compile``), ``.keras`` saving and
    ``tf.distribute``. The wrapped layer's weights are this layer's weights.

    The wrapper is called exactly as the wrapped layer is: every positional and keyword argument of
    its ``call`` is forwarded (several inputs, as ``MultiHeadAttention(query, value, key=...)``
    takes; ``training=``; ``mask=`` and the Keras masks of the inputs, which also propagate to the
    layers downstream as the wrapped layer's ``compute_mask`` says). Gradients reach every floating
    tensor argument, keyword ones included; masks and other non-floating arguments pass through.
    A wrapped layer that creates its variables in its first call (sublayers, no ``build``) is built
    on the wrapper's first call.

    Args:
        wrapped: the Keras layer (or model) whose activations are discarded.
        **kwargs: ``keras.layers.Layer`` arguments (``name=``, ...).

    Raises:
        TypeError: ``wrapped`` is not a Keras layer.

    Examples:
        >>> import keras, tensorflow as tf, swiftdiff as sd
        >>> conv = sd.ActivationDiscarding(sd.Conv2D(filter_shape=(5, 5, 3, 6)))
        >>> conv(tf.ones([2, 16, 16, 3])).shape, len(conv.trainable_weights)
        (TensorShape([2, 12, 12, 6]), 2)
        >>> attention = sd.ActivationDiscarding(keras.layers.MultiHeadAttention(num_heads=2, key_dim=2))
        >>> attention(tf.ones([1, 3, 4]), tf.ones([1, 5, 4]), key=tf.ones([1, 5, 4])).shape
        TensorShape([1, 3, 4])
    """

    def __init__(self, wrapped, **kwargs):
        if not isinstance(wrapped, keras.layers.Layer):
            raise TypeError(
                f"sd.ActivationDiscarding: expected a Keras layer to wrap, got {type(wrapped).__name__}"
            )
        # Keras casts a layer's floating inputs to its dtype policy's before its call: the wrapper
        # must cast as the wrapped layer would, not round float64 inputs to the default float32.
        kwargs.setdefault("dtype", wrapped.dtype_policy)
        super().__init__(**kwargs)
        self.wrapped = wrapped
        _mirror_call_signature(self, wrapped)
        if wrapped.built:
            self.built = True

    @property
    def supports_masking(self):
        """Whether Keras masks propagate through: as through the wrapped layer."""
        wrapped = getattr(self, "wrapped", None)
        return wrapped is not None and wrapped.supports_masking

    @supports_masking.setter
    def supports_masking(self, value):
        # Set by Keras' and sd.Layer's constructors; the wrapped layer decides.
        pass

    def compute_mask(self, inputs, previous_mask):
        """The wrapped layer's output mask (Keras calls this with the first input and its mask)."""
        return self.wrapped.compute_mask(inputs, previous_mask)

    def build(self, *args, **kwargs):
        # Keras calls build() with no shapes here (build's signature names none of the call's
        # arguments): the wrapped layer is built on the first call instead, where all its arguments
        # are known; see _build_wrapped.
        self.built = True

    def _build_wrapped(self, args, kwargs):
        """Builds the wrapped layer by calling it on symbolic copies of the arguments; returns its spec.

        Why before the checkpointed call: its forward pass runs inside a ``keras.StatelessScope``,
        where a variable created (by a layer that builds its sublayers in its first call) stays
        uninitialized until the scope closes. The forward pass then reads its initializer's output
        instead of the variable, and in eager mode no gradient reaches any of them (``None`` for
        every one, and ``apply_gradients`` fails). Why symbolically: it is how Keras itself builds a
        layer without a ``build`` method. It runs ``build`` with every input's shape (a layer of
        several inputs needs them all, which ``build(input_shape)`` is not given) and traces
        ``call`` once, creating every variable, without computing anything or updating any state
        (no BatchNorm statistics, no seed drawn), so the first step stays the unwrapped layer's.
        Done once, while the wrapped layer is not built.
        """
        if tf.is_tensor(kwargs.get("training")):  # a traced flag cannot steer the symbolic call
            kwargs = {**kwargs, "training": None}
        return self.wrapped(*_symbolic(args), **_symbolic(kwargs))

    def call(self, *args, **kwargs):
        wrapped = self.wrapped
        if not wrapped.built:
            self._build_wrapped(args, kwargs)

        def apply(*args, **kwargs):
            return wrapped(*args, **kwargs)

        # Every floating argument, keyword ones (key=, value=) included, is differentiated; masks
        # and flags pass through (with_recomputation_in_pullbacks binds them to apply's signature).
        apply.__name__ = f"{type(wrapped).__name__} layer"
        return with_recomputation_in_pullbacks(apply)(*args, **kwargs)

    def compute_output_shape(self, *args, **kwargs):
        return self.wrapped.compute_output_shape(*args, **kwargs)

    def compute_output_spec(self, *args, **kwargs):
        if not self.wrapped.built:
            return _symbolic(self._build_wrapped(args, kwargs))
        if "training" not in _call_signature(self.wrapped).parameters:
            kwargs.pop("training", None)  # added by _mirror_call_signature; not the wrapped's
        # New KerasTensors: the wrapped layer's spec is this layer's, not a node of the model.
        return _symbolic(self.wrapped.compute_output_spec(*args, **kwargs))

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

    Examples:
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
        segments = max(1, round(count**0.5))
    if isinstance(segments, bool) or not isinstance(segments, int) or not 1 <= segments <= count:
        raise ValueError(
            f"sd.checkpointed_sequential: segments= must be an integer from 1 to "
            f"{count} (the number of layers), got {segments!r}"
        )
    if not isinstance(keep_last_segment, bool):
        raise TypeError(
            f"sd.checkpointed_sequential: keep_last_segment= must be True or False, got "
            f"{type(keep_last_segment).__name__}"
        )
    bounds = [round(i * count / segments) for i in range(segments + 1)]
    blocks = [keras.Sequential(layers[start:stop]) for start, stop in zip(bounds, bounds[1:], strict=False)]
    checkpointed = blocks[:-1] if keep_last_segment else blocks
    blocks = [ActivationDiscarding(block) for block in checkpointed] + blocks[len(checkpointed) :]
    return keras.Sequential(blocks, name=name)
