"""S4TF's optimizers, with S4TF's exact update rules: ``SGD``, ``Adam``, ``RMSProp``; and ``move``.

``optimizer.update(model, along=grads)`` updates the model's variables in place (Swift's
``update(&model, along:)``); all state lives in ``tf.Variable``s created at construction, so
``update`` also works inside ``tf.function`` and XLA. The learning rate decays as S4TF's does:
``lr_t = learning_rate / (1 + decay * step)``. ``move(model, along=)`` is the plain step under all
of them (Swift's ``model.move(along:)``); ``components_along`` reads a direction for both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import keras
import tensorflow as tf

from ._values import conform, variable_key
from .tangent_vector import TangentVector

#: A direction to move a model along: its ``TangentVector``, or one tensor per trainable variable.
Direction = TangentVector | Iterable[Any]


def components_along(variables: Sequence[Any], along: Direction, operator: str) -> list[tf.Tensor]:
    """The tensors of the direction ``along`` for ``variables``, checked.

    Shared by ``move`` and the optimizers' ``update``.

    Args:
        variables: The trainable variables to move, in the order of ``model.trainable_variables``.
        along: A ``TangentVector`` of the layer owning ``variables``, or any iterable of tensors
            (or numbers) in the order of ``variables``.
        operator: The caller's name for messages (``"sd.move"``).

    Returns:
        One tensor per variable, of the variable's dtype and a shape that fits it.

    Raises:
        TypeError: ``along`` is not iterable, or a component has the wrong dtype.
        ValueError: ``along`` is the tangent of another layer, has the wrong number of components,
            or a component has the wrong shape.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> from swiftdiff.optimizers import components_along
        >>> layer = sd.Dense(input_size=2, output_size=1)
        >>> direction = components_along(layer.trainable_variables, [tf.ones([2, 1]), [0.5]], "demo")
        >>> [tuple(t.shape) for t in direction]
        [(2, 1), (1,)]
    """
    if isinstance(along, TangentVector):
        if [variable_key(v) for v in along.layer.trainable_variables] != [variable_key(v) for v in variables]:
            raise ValueError(
                f"{operator}: along= is a tangent of {type(along.layer).__name__}, not of "
                f"the model being updated"
            )
        values = list(along)
    else:
        try:
            values = list(along)
        except TypeError:
            raise TypeError(
                f"{operator}: along= must be the model's TangentVector, got {type(along).__name__}"
            ) from None
        if len(values) != len(variables):
            raise ValueError(
                f"{operator}: along= has {len(values)} components but the model has "
                f"{len(variables)} trainable variables"
            )
    return [
        conform(
            value,
            variable.dtype,
            variable.shape,
            f"the direction for {variable.path}",
            "the variable",
            operator,
        )
        for variable, value in zip(variables, values, strict=True)
    ]


def move(model: keras.layers.Layer, *, along: Direction) -> None:
    """Swift ``model.move(along: direction)``: adds ``direction`` to the model's trainable variables.

    The variables are updated in place, also inside ``tf.function``.

    Args:
        model: The Keras layer or model to move.
        along: A ``TangentVector`` of ``model``, or any iterable of tensors in the order of
            ``model.trainable_variables``.

    Raises:
        TypeError: ``model`` is not a Keras layer, or ``along`` is not a direction of the right
            dtypes.
        ValueError: ``along`` belongs to another model or does not fit its variables' shapes.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> layer = sd.Dense(input_size=2, output_size=1)
        >>> before = layer.bias.numpy().copy()
        >>> sd.move(layer, along=sd.TangentVector(layer, [tf.ones([2, 1]), tf.ones([1])]))
        >>> (layer.bias.numpy() - before).tolist()
        [1.0]
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"sd.move: expected a Keras layer or model, got {type(model).__name__}")
    variables = list(model.trainable_variables)
    for variable, value in zip(variables, components_along(variables, along, "sd.move"), strict=True):
        variable.assign_add(value)


class _Optimizer:
    """What the optimizers share: checked arguments, the step counter, slots and ``update``."""

    _name = "Optimizer"

    def __init__(self, for_: keras.layers.Layer, learning_rate: float, decay: float):
        if not isinstance(for_, keras.layers.Layer):
            raise TypeError(
                f"sd.{self._name}: for_= must be the Keras layer or model to optimize, got "
                f"{type(for_).__name__}"
            )
        for label, value in (("learning_rate", learning_rate), ("decay", decay)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"sd.{self._name}: {label}= must be a non-negative number, got {value!r}")
        self.model = for_
        self.learning_rate = float(learning_rate)
        self.decay = float(decay)
        self._variables = list(for_.trainable_variables)
        if not self._variables:
            raise ValueError(
                f"sd.{self._name}: {type(for_).__name__} has no trainable variables yet; "
                f"build it (or give its sizes) before creating the optimizer"
            )
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")

    def _slots(self, name: str) -> list[tf.Variable]:
        return [
            tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False, name=f"{name}_{i}")
            for i, v in enumerate(self._variables)
        ]

    def _directions(self, model: keras.layers.Layer, along: Direction) -> list[tf.Tensor]:
        if model is not self.model:
            keys = [variable_key(v) for v in model.trainable_variables]
            if keys != [variable_key(v) for v in self._variables]:
                raise ValueError(
                    f"sd.{self._name}.update: this optimizer was created for "
                    f"{type(self.model).__name__}, not for {type(model).__name__}"
                )
        return components_along(self._variables, along, f"sd.{self._name}.update")

    def _learning_rate(self, dtype: tf.DType) -> tf.Tensor:
        step = tf.cast(self.step, dtype)
        return tf.cast(self.learning_rate, dtype) / (1 + tf.cast(self.decay, dtype) * step)

    def update(self, model: keras.layers.Layer, *, along: Direction) -> None:
        """Swift ``optimizer.update(&model, along: direction)``: one step, in place.

        Args:
            model: The model this optimizer was created for (or one with the same variables).
            along: The direction, usually the gradient: a ``TangentVector`` of ``model``, or one
                tensor per trainable variable in the order of ``model.trainable_variables``.

        Raises:
            TypeError: ``along`` is not a direction of the variables' dtypes.
            ValueError: ``model`` is not the optimizer's model, or ``along`` does not fit it.
        """
        directions = self._directions(model, along)
        self.step.assign_add(1)
        for index, (variable, direction) in enumerate(zip(self._variables, directions, strict=True)):
            self._apply(index, variable, direction)

    def _apply(self, index: int, variable: Any, direction: tf.Tensor) -> None:
        raise NotImplementedError


class SGD(_Optimizer):
    """Swift ``SGD(for:learningRate:momentum:decay:nesterov:)``: stochastic gradient descent.

    S4TF's rule exactly, with ``g`` the direction and ``v`` the velocity::

        lr_t = learning_rate / (1 + decay * step)
        v = momentum * v - lr_t * g
        model += (momentum * v - lr_t * g) if nesterov else v

    Args:
        for_: The Keras layer or model to optimize; its trainable variables must exist.
        learning_rate: The step size, non-negative.
        momentum: The velocity's decay, non-negative.
        decay: The learning rate's decay per step, non-negative.
        nesterov: Whether to use Nesterov momentum.

    Attributes:
        step: The number of updates so far (a ``tf.Variable``).
        velocity: One ``tf.Variable`` per trainable variable.

    Raises:
        TypeError: ``for_`` is not a Keras layer.
        ValueError: A number is negative, or ``for_`` has no trainable variables yet.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> model = sd.Dense(input_size=1, output_size=1)
        >>> opt = sd.SGD(for_=model, learning_rate=0.1)
        >>> before = float(model.bias[0])
        >>> opt.update(model, along=sd.TangentVector(model, [tf.zeros([1, 1]), tf.ones([1])]))
        >>> round(float(model.bias[0]) - before, 6)
        -0.1
    """

    _name = "SGD"

    def __init__(
        self,
        for_: keras.layers.Layer,
        learning_rate: float = 0.01,
        momentum: float = 0.0,
        decay: float = 0.0,
        nesterov: bool = False,
    ):
        super().__init__(for_, learning_rate, decay)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or momentum < 0:
            raise ValueError(f"sd.SGD: momentum= must be a non-negative number, got {momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.velocity = self._slots("velocity")

    def _apply(self, index: int, variable: Any, direction: tf.Tensor) -> None:
        lr = self._learning_rate(variable.dtype)
        momentum = tf.cast(self.momentum, variable.dtype)
        velocity = self.velocity[index]
        velocity.assign(momentum * velocity - lr * direction)
        if self.nesterov:
            variable.assign_add(momentum * velocity - lr * direction)
        else:
            variable.assign_add(tf.convert_to_tensor(velocity))


class Adam(_Optimizer):
    """Swift ``Adam(for:learningRate:beta1:beta2:epsilon:decay:)``: adaptive moment estimation.

    S4TF's rule exactly, with ``g`` the direction::

        lr_t = learning_rate / (1 + decay * step)
        step_size = lr_t * sqrt(1 - beta2^step) / (1 - beta1^step)
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
        model -= step_size * m / (sqrt(v) + epsilon)

    Args:
        for_: The Keras layer or model to optimize; its trainable variables must exist.
        learning_rate: The step size, non-negative.
        beta1: The first moments' decay, in ``[0, 1)``.
        beta2: The second moments' decay, in ``[0, 1)``.
        epsilon: Added to ``sqrt(v)``; positive.
        decay: The learning rate's decay per step, non-negative.

    Attributes:
        step: The number of updates so far (a ``tf.Variable``).
        first_moments: ``m``, one ``tf.Variable`` per trainable variable.
        second_moments: ``v``, one ``tf.Variable`` per trainable variable.

    Raises:
        TypeError: ``for_`` is not a Keras layer.
        ValueError: A number is out of range, or ``for_`` has no trainable variables yet.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> model = sd.Dense(input_size=1, output_size=1)
        >>> opt = sd.Adam(for_=model, learning_rate=0.1)
        >>> before = float(model.bias[0])
        >>> opt.update(model, along=sd.TangentVector(model, [tf.zeros([1, 1]), tf.ones([1])]))
        >>> round(float(model.bias[0]) - before, 5)
        -0.1
    """

    _name = "Adam"

    def __init__(
        self,
        for_: keras.layers.Layer,
        learning_rate: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        decay: float = 0.0,
    ):
        super().__init__(for_, learning_rate, decay)
        for label, value in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= value < 1:
                raise ValueError(f"sd.Adam: {label}= must be in [0, 1), got {value!r}")
        if not epsilon > 0:
            raise ValueError(f"sd.Adam: epsilon= must be positive, got {epsilon!r}")
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)
        self.first_moments = self._slots("first_moments")
        self.second_moments = self._slots("second_moments")

    def _apply(self, index: int, variable: Any, direction: tf.Tensor) -> None:
        dtype = variable.dtype
        step = tf.cast(self.step, dtype)
        beta1, beta2 = tf.cast(self.beta1, dtype), tf.cast(self.beta2, dtype)
        step_size = self._learning_rate(dtype) * tf.sqrt(1 - tf.pow(beta2, step)) / (1 - tf.pow(beta1, step))
        m, v = self.first_moments[index], self.second_moments[index]
        m.assign(beta1 * m + (1 - beta1) * direction)
        v.assign(beta2 * v + (1 - beta2) * direction * direction)
        variable.assign_sub(step_size * m / (tf.sqrt(v) + tf.cast(self.epsilon, dtype)))


class RMSProp(_Optimizer):
    """Swift ``RMSProp(for:learningRate:rho:epsilon:decay:)``: root-mean-square propagation.

    S4TF's rule exactly, with ``g`` the direction::

        lr_t = learning_rate / (1 + decay * step)
        alpha = rho * alpha + (1 - rho) * g^2
        model -= lr_t * g / (sqrt(alpha) + epsilon)

    Args:
        for_: The Keras layer or model to optimize; its trainable variables must exist.
        learning_rate: The step size, non-negative.
        rho: The decay of the mean square ``alpha``, in ``[0, 1)``.
        epsilon: Added to ``sqrt(alpha)``; positive.
        decay: The learning rate's decay per step, non-negative.

    Attributes:
        step: The number of updates so far (a ``tf.Variable``).
        alpha: One ``tf.Variable`` per trainable variable.

    Raises:
        TypeError: ``for_`` is not a Keras layer.
        ValueError: A number is out of range, or ``for_`` has no trainable variables yet.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> model = sd.Dense(input_size=1, output_size=1)
        >>> opt = sd.RMSProp(for_=model, learning_rate=0.1, rho=0.0)
        >>> before = float(model.bias[0])
        >>> opt.update(model, along=sd.TangentVector(model, [tf.zeros([1, 1]), tf.ones([1])]))
        >>> round(float(model.bias[0]) - before, 5)
        -0.1
    """

    _name = "RMSProp"

    def __init__(
        self,
        for_: keras.layers.Layer,
        learning_rate: float = 1e-3,
        rho: float = 0.9,
        epsilon: float = 1e-8,
        decay: float = 0.0,
    ):
        super().__init__(for_, learning_rate, decay)
        if not 0 <= rho < 1:
            raise ValueError(f"sd.RMSProp: rho= must be in [0, 1), got {rho!r}")
        if not epsilon > 0:
            raise ValueError(f"sd.RMSProp: epsilon= must be positive, got {epsilon!r}")
        self.rho, self.epsilon = float(rho), float(epsilon)
        self.alpha = self._slots("alpha")

    def _apply(self, index: int, variable: Any, direction: tf.Tensor) -> None:
        dtype = variable.dtype
        rho = tf.cast(self.rho, dtype)
        alpha = self.alpha[index]
        alpha.assign(rho * alpha + (1 - rho) * direction * direction)
        variable.assign_sub(
            self._learning_rate(dtype) * direction / (tf.sqrt(alpha) + tf.cast(self.epsilon, dtype))
        )
