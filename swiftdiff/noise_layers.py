"""S4TF's noise layers beyond ``Dropout``: ``GaussianNoise``, ``GaussianDropout``, ``AlphaDropout``.

Regularizers active only in training, as Swift's: each resolves its ``training`` argument with the
learning phase (an explicit ``training=``, or the one ``model.fit`` passes, wins; without one the
layer follows ``sd.Context.local.learning_phase``) and is the identity in inference. Their noise is
drawn from the layer's own ``keras.random.SeedGenerator`` (``seed=`` fixes it), whose state is a
variable: ``sd.with_recomputation_in_pullbacks`` and ``sd.ActivationDiscarding`` rewind it, so a
recomputed call sees the same noise as the original one, and the draws advance once per call.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import tensorflow as tf

from .layer import Layer
from .layers import Shape, _probability, _register
from .learning_phase import training_flag

#: SELU's constants, with which Swift's AlphaDropout computes the value a dropped input takes.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class _NoiseLayer(Layer):
    """What the three share: the seed generator, the learning phase, shapes and config."""

    def __init__(self, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def _noisy(self, input):
        raise NotImplementedError

    def call(self, input, training=None):
        input = tf.convert_to_tensor(input)
        if not training_flag(training):
            return input
        return self._noisy(input)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed}


@_register
class GaussianNoise(_NoiseLayer):
    """Swift ``GaussianNoise(standardDeviation:)``: adds zero-mean normal noise while training.

    ``input + noise``, ``noise ~ Normal(0, standard_deviation)`` drawn afresh for every element and
    call; the identity at inference.

    Args:
        standard_deviation: The standard deviation of the noise; a non-negative number.
        seed: The seed of the layer's ``keras.random.SeedGenerator``; ``None`` for a random one.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        Any.

    Output shape:
        The input's.

    Raises:
        ValueError: ``standard_deviation`` is not a non-negative number.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> noise = sd.GaussianNoise(standard_deviation=0.1, seed=1)
        >>> x = tf.ones([5])
        >>> bool(tf.reduce_all(noise(x) == x)), bool(tf.reduce_all(noise(x, training=True) == x))
        (True, False)
    """

    def __init__(self, standard_deviation: float, seed: int | None = None, **kwargs: Any):
        if (
            isinstance(standard_deviation, bool)
            or not isinstance(standard_deviation, (int, float))
            or not standard_deviation >= 0
            or math.isinf(standard_deviation)
        ):
            raise ValueError(
                f"sd.GaussianNoise: standard_deviation= must be a non-negative number, got "
                f"{standard_deviation!r}"
            )
        super().__init__(seed, **kwargs)
        self.standard_deviation = float(standard_deviation)

    def _noisy(self, input):
        noise = keras.random.normal(
            tf.shape(input), stddev=self.standard_deviation, dtype=input.dtype, seed=self.seed_generator
        )
        return input + noise

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "standard_deviation": self.standard_deviation}


@_register
class GaussianDropout(_NoiseLayer):
    """Swift ``GaussianDropout(probability:)``: multiplies by one-centred normal noise while training.

    ``input * noise``, ``noise ~ Normal(1, sqrt(probability / (1 - probability)))`` (the variance of
    ``Dropout(probability:)``'s kept-and-rescaled mask); the identity at inference.

    Args:
        probability: The dropout probability the noise imitates, in ``[0, 1)``.
        seed: The seed of the layer's ``keras.random.SeedGenerator``; ``None`` for a random one.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        standard_deviation: ``sqrt(probability / (1 - probability))``, as Swift's.

    Input shape:
        Any.

    Output shape:
        The input's.

    Raises:
        ValueError: ``probability`` is not a number in ``[0, 1)``.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> drop = sd.GaussianDropout(probability=0.2, seed=1)
        >>> drop.standard_deviation
        0.5
        >>> with sd.with_learning_phase(sd.LearningPhase.training):
        ...     print(bool(tf.reduce_all(drop(tf.ones([5])) == 1)))
        False
    """

    def __init__(self, probability: float, seed: int | None = None, **kwargs: Any):
        probability = _probability(probability, "GaussianDropout")
        super().__init__(seed, **kwargs)
        self.probability = probability
        self.standard_deviation = math.sqrt(probability / (1 - probability))

    def _noisy(self, input):
        noise = keras.random.normal(
            tf.shape(input),
            mean=1.0,
            stddev=self.standard_deviation,
            dtype=input.dtype,
            seed=self.seed_generator,
        )
        return input * noise

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "probability": self.probability}


@_register
class AlphaDropout(_NoiseLayer):
    """Swift ``AlphaDropout(probability:)``: dropout that keeps SELU's mean and variance, in training.

    Each input is dropped with ``probability`` to SELU's negative saturation value
    ``alpha' = -1.6732632… * 1.0507009…``, then every element is mapped by ``a * x + b`` with
    ``a = ((1 - p) * (1 + p * alpha'^2)) ** -0.5`` and ``b = -a * alpha' * p``, so that zero-mean,
    unit-variance inputs keep those moments. The identity at inference.

    Args:
        probability: The probability of dropping each input, in ``[0, 1)``.
        seed: The seed of the layer's ``keras.random.SeedGenerator``; ``None`` for a random one.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Input shape:
        Any.

    Output shape:
        The input's.

    Raises:
        ValueError: ``probability`` is not a number in ``[0, 1)``.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> drop = sd.AlphaDropout(probability=0.5, seed=1)
        >>> len(set(drop(tf.zeros([100]), training=True).numpy().round(4).tolist()))  # kept, dropped
        2
    """

    def __init__(self, probability: float, seed: int | None = None, **kwargs: Any):
        probability = _probability(probability, "AlphaDropout")
        super().__init__(seed, **kwargs)
        self.probability = probability

    def _noisy(self, input):
        p = self.probability
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - p) * (1 + p * alpha_p**2)) ** -0.5
        b = -a * alpha_p * p
        uniform = keras.random.uniform(tf.shape(input), dtype=input.dtype, seed=self.seed_generator)
        kept = tf.cast(uniform >= p, input.dtype)
        x = input * kept + alpha_p * (1 - kept)
        return a * x + b

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "probability": self.probability}
