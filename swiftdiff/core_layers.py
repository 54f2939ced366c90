"""S4TF's ``Reshape``, ``Function`` and ``Embedding`` layers on Keras 3.

The first two come from S4TF's ``Layers/Core.swift``, the third from ``Layers/Embedding.swift``.
Each is an ordinary Keras layer (Sequential/functional models, ``fit``, ``.keras`` files) that keeps
S4TF's meaning where Keras' namesake differs: ``Reshape(shape=)`` takes the whole shape, batch
included; ``Function(body)`` is a layer made of any function; ``Embedding`` keeps S4TF's variable
``embeddings`` ``[vocabulary_size, embedding_size]``, its uniform ``[0, 1)`` initializer, and takes
integer indices only.
"""

from __future__ import annotations

import contextlib
import math
import types
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from .layer import Layer
from .layers import Shape, _positive_int

_register = keras.saving.register_keras_serializable(package="swiftdiff")


def _target_shape(shape: Any) -> tuple[int, ...]:
    """``Reshape``'s ``shape=`` as a tuple of sizes: positive integers and at most one ``-1``."""
    if isinstance(shape, tf.TensorShape):
        shape = shape.as_list() if shape.rank is not None else None
    elif isinstance(shape, (tf.Tensor, tf.Variable, np.ndarray)):
        shape = np.asarray(shape).tolist()
    sizes: Sequence[Any] = shape if isinstance(shape, (list, tuple)) else ()
    if (
        not sizes
        or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes)
        or not all(s > 0 or s == -1 for s in sizes)
        or list(sizes).count(-1) > 1
    ):
        raise ValueError(
            f"sd.Reshape: shape= must be the whole target shape (batch included) as positive "
            f"integers and at most one -1, such as [-1, 7, 7, 64]; got {shape!r}"
        )
    return tuple(int(s) for s in sizes)


@_register
class Reshape(Layer):
    """Swift ``Reshape(shape:)``: reshapes its input to ``shape``, **the batch axis included**.

    Unlike ``keras.layers.Reshape`` (which takes the shape after the batch axis), ``shape`` is the
    whole target shape, as in S4TF. One size may be ``-1``, inferred from the others; to accept
    any batch size (as ``model.fit`` and a model declared with ``keras.Input`` need) put the
    ``-1`` first: ``sd.Reshape(shape=[-1, 7, 7, 64])``. A shape with a fixed batch size works only
    for batches of exactly that size.

    Args:
        shape: The target shape: a list or tuple of positive integers with at most one ``-1``
            (Swift's ``TensorShape``), a ``tf.TensorShape``, or a 1-D integer tensor (Swift's
            ``Tensor<Int32>``).
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        Any, with as many elements as ``shape`` holds.

    Output shape:
        ``shape`` (its ``-1`` inferred).

    Raises:
        ValueError: ``shape`` is malformed; at call, an input whose size is known does not hold
            the elements ``shape`` asks for.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.Reshape(shape=[-1, 2, 3])(tf.ones([4, 6])).shape
        TensorShape([4, 2, 3])
    """

    def __init__(self, shape: Sequence[int] | tf.TensorShape | tf.Tensor, **kwargs: Any):
        super().__init__(**kwargs)
        self.shape = _target_shape(shape)
        self.built = True

    def call(self, input):
        input = tf.convert_to_tensor(input)
        self.compute_output_shape(tuple(input.shape))  # a short error for a static mismatch
        return tf.reshape(input, self.shape)

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        sizes = list(input_shape)
        known = math.prod(s for s in sizes if s is not None)
        fixed = math.prod(s for s in self.shape if s != -1)
        if None not in sizes and (known % fixed if -1 in self.shape else known != fixed):
            raise ValueError(
                f"sd.Reshape: inputs of shape {sizes} ({known} elements) cannot be reshaped to "
                f"{list(self.shape)}"
            )
        if -1 not in self.shape:
            return self.shape
        inferred = known // fixed if None not in sizes else None  # typically the batch size
        return tuple(inferred if s == -1 else s for s in self.shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "shape": list(self.shape)}


def _body_config(body: Callable[..., Any]) -> Any:
    """``body`` serialized so that loading finds this very function, or a ``TypeError`` saying why not."""
    if isinstance(body, keras.layers.Layer):
        return keras.saving.serialize_keras_object(body)
    found = None
    if not (isinstance(body, types.FunctionType) and body.__name__ == "<lambda>"):
        config = keras.saving.serialize_keras_object(body)
        with contextlib.suppress(TypeError, ValueError):  # Keras cannot find it by that name
            found = keras.saving.deserialize_keras_object(config)
    if found is not body:
        raise TypeError(
            f"sd.Function: cannot save its body {getattr(body, '__qualname__', body)!r}: a saved "
            f"model names functions, and this one (a lambda, a local function or an unregistered "
            f"function) could not be found by its name when loading. Define it at module level "
            f"with @keras.saving.register_keras_serializable() and import that module before "
            f"loading, or use an sd or Keras function"
        )
    return config


@_register
class Function(Layer):
    """Swift ``Function(_ body:)``: a parameterless layer that applies ``body`` to its input.

    ``body`` takes the layer's input (a tensor, or any nest of tensors, as Swift's generic
    ``Function<Input, Output>``) and is differentiated like any code. As in every Keras layer,
    floating inputs are cast to the layer's dtype (``dtype="float64"`` keeps float64).

    Saving: a ``.keras`` file records ``body`` by name, so a model saves and loads when ``body``
    is an ``sd`` or Keras function (``sd.relu``), a module-level function registered with
    ``@keras.saving.register_keras_serializable()``, or a Keras layer. A lambda, a local function
    or an unregistered function works everywhere but there: ``get_config`` (hence
    ``model.save``) raises a ``TypeError`` saying so. (``keras.layers.Lambda`` stores a lambda's
    bytecode instead, which loads only with ``safe_mode=False`` and without the lambda's
    globals, such as ``tf``; swiftdiff does not.)

    Args:
        body: The function, called with the input as its one positional argument.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        Whatever ``body`` accepts.

    Output shape:
        Whatever ``body`` returns.

    Raises:
        TypeError: ``body`` is not callable; on saving, ``body`` cannot be found by name (see
            above).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> square = sd.Function(lambda x: x * x)
        >>> square(tf.constant([1.0, 3.0])).numpy().tolist()
        [1.0, 9.0]
        >>> float(sd.gradient(at=tf.constant(3.0), of=lambda x: square(x)))
        6.0
    """

    def __init__(self, body: Callable[..., Any], **kwargs: Any):
        super().__init__(**kwargs)
        if not callable(body):
            raise TypeError(f"sd.Function: body must be a function, got {type(body).__name__}")
        self.body = body
        self.built = True

    def call(self, input):
        return self.body(input)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "body": _body_config(self.body)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Function:
        config = dict(config)
        config["body"] = keras.saving.deserialize_keras_object(config["body"])
        return cls(**config)


@_register
class Embedding(Layer):
    """Swift ``Embedding(vocabularySize:embeddingSize:)``, ``Embedding(embeddings:)``: a lookup table.

    Replaces each integer index ``i`` of the input by row ``i`` of ``embeddings``. The gradient
    of ``embeddings`` is dense in what swiftdiff hands out (``sd.gradient``, ``TangentVector``,
    the ``sd`` optimizers); under ``tf.GradientTape`` and ``model.fit`` it is TensorFlow's
    ``tf.IndexedSlices``, which Keras optimizers apply sparsely.

    Indices must lie in ``[0, vocabulary_size)``: in eager mode an index outside is a
    ``ValueError``; inside ``tf.function`` the check is TensorFlow's ``tf.gather``'s (an error on
    CPU, zeros on GPU).

    Args:
        vocabulary_size: The number of rows (the largest index plus one).
        embedding_size: The length of each row.
        embeddings_initializer: The initializer of ``embeddings`` (a Keras initializer, its name,
            or a function ``(shape, dtype) -> tensor``); S4TF's uniform in ``[0, 1)`` by default.
        embeddings: Instead of the sizes, the table itself (a float tensor or array of shape
            ``[vocabulary_size, embedding_size]``), as Swift's ``Embedding(embeddings:)``; its
            dtype is the layer's unless ``dtype=`` is given.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        embeddings: ``[vocabulary_size, embedding_size]``, trainable.

    Input shape:
        Any, of an integer dtype (``int32`` or ``int64``).

    Output shape:
        ``[*input shape, embedding_size]``.

    Raises:
        ValueError: Neither the sizes nor ``embeddings`` are given, or both; a size is not a
            positive integer; ``embeddings`` is not of rank 2; in eager mode, an index is out of
            range.
        TypeError: ``embeddings`` is not of a float dtype; the input is not of an integer dtype.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> embedding = sd.Embedding(embeddings=tf.constant([[0.0, 0.5], [1.0, 1.5], [2.0, 2.5]]))
        >>> embedding(tf.constant([[2, 0]])).numpy().tolist()
        [[[2.0, 2.5], [0.0, 0.5]]]
        >>> grads = sd.gradient(at=embedding, of=lambda e: tf.reduce_sum(e(tf.constant([1, 1]))))
        >>> grads.embeddings.numpy().tolist()
        [[0.0, 0.0], [2.0, 2.0], [0.0, 0.0]]
    """

    def __init__(
        self,
        vocabulary_size: int | None = None,
        embedding_size: int | None = None,
        embeddings_initializer: Any = None,
        embeddings: Any = None,
        **kwargs: Any,
    ):
        table = None
        if embeddings is not None:
            if vocabulary_size is not None or embedding_size is not None:
                raise ValueError(
                    "sd.Embedding: pass vocabulary_size= and embedding_size=, or embeddings=, not both"
                )
            table = tf.convert_to_tensor(embeddings)
            if not table.dtype.is_floating:
                raise TypeError(f"sd.Embedding: embeddings= must be of a float dtype, got {table.dtype.name}")
            if table.shape.rank != 2:
                raise ValueError(
                    f"sd.Embedding: embeddings= must be [vocabulary_size, embedding_size], "
                    f"got shape {table.shape.as_list()}"
                )
            kwargs.setdefault("dtype", table.dtype.name)
            vocabulary_size, embedding_size = table.shape.as_list()
        elif vocabulary_size is None or embedding_size is None:
            raise ValueError(
                "sd.Embedding: pass vocabulary_size= and embedding_size=, or embeddings= (the table)"
            )
        super().__init__(**kwargs)
        self.vocabulary_size = _positive_int(vocabulary_size, "vocabulary_size", "Embedding")
        self.embedding_size = _positive_int(embedding_size, "embedding_size", "Embedding")
        self.embeddings_initializer = keras.initializers.get(
            keras.initializers.RandomUniform(0.0, 1.0)
            if embeddings_initializer is None
            else embeddings_initializer
        )
        self.embeddings = self.add_weight(
            shape=(self.vocabulary_size, self.embedding_size),
            initializer=self.embeddings_initializer,
            name="embeddings",
        )
        if table is not None:
            self.embeddings.assign(tf.cast(table, self.embeddings.dtype))
        self.built = True

    def _check_indices(self, dtype: Any) -> None:
        if not tf.as_dtype(keras.backend.standardize_dtype(dtype)).is_integer:
            raise TypeError(
                f"sd.Embedding: its input must be integer indices (int32 or int64), got "
                f"{keras.backend.standardize_dtype(dtype)}; declare keras.Input(..., dtype='int32') "
                f"or cast with tf.cast"
            )

    def call(self, input):
        input = tf.convert_to_tensor(input)
        self._check_indices(input.dtype)
        if tf.executing_eagerly() and tf.size(input) > 0:
            low, high = int(tf.reduce_min(input)), int(tf.reduce_max(input))
            if low < 0 or high >= self.vocabulary_size:
                raise ValueError(
                    f"sd.Embedding: index {low if low < 0 else high} is out of range for a "
                    f"vocabulary of {self.vocabulary_size} (indices run from 0 to "
                    f"{self.vocabulary_size - 1})"
                )
        output = tf.gather(self.embeddings, input)
        return tf.cast(output, self.compute_dtype) if output.dtype != self.compute_dtype else output

    def compute_output_shape(self, input_shape: Shape) -> tuple[int | None, ...]:
        return (*input_shape, self.embedding_size)

    def compute_output_spec(self, input: Any) -> keras.KerasTensor:
        self._check_indices(input.dtype)
        return keras.KerasTensor(self.compute_output_shape(input.shape), dtype=self.compute_dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "embedding_size": self.embedding_size,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }
