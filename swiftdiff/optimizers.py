"""S4TF's optimizers, with S4TF's exact update rules: ``SGD``, ``Adam``, ``RMSProp``, ``AdaGrad``,
``AdaDelta``, ``AdaMax``, ``AMSGrad``, ``RAdam``; and ``move``.

``optimizer.update(model, along=grads)`` updates the model's variables in place (Swift's
``update(&model, along:)``); all state lives in ``tf.Variable``s created at construction, so
``update`` also works inside ``tf.function`` and XLA, and a hyperparameter set between steps
(``opt.learning_rate = 1e-4``) takes effect there too. Where S4TF decays the learning rate it does so
as ``lr_t = learning_rate / (1 + decay * step)``, counting steps from 1. ``move(model, along=)`` is
the plain step under all of them (Swift's ``model.move(along:)``); ``components_along`` reads a
direction for both.

Each optimizer's rule is one pure function (``_rule``) that ``update`` and the Keras form share:
``optimizer.keras_optimizer()`` (a ``KerasOptimizer``) applies S4TF's rule in ``model.compile`` /
``model.fit``. Keras' built-in optimizers of the same names differ from S4TF's in places (epsilon
placement, defaults, no ``decay``); each class's docstring says where.
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

import keras
import numpy as np
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


class _Hyperparameter:
    """A number an optimizer is configured with, checked on every assignment.

    Reading it gives the Python float. The update rule reads a ``float64`` ``tf.Variable`` holding
    the same value instead, so that a value set between steps (``opt.learning_rate = 1e-4``, as S4TF
    programs set ``optimizer.learningRate``) takes effect inside ``tf.function`` and XLA steps traced
    before, rather than the value captured when they were traced. ``fixed=True`` marks what S4TF
    only takes at construction (AdaGrad's ``initial_accumulator_value``).
    """

    def __init__(self, low: float, high: float = math.inf, *, open_low=False, open_high=False, fixed=False):
        self.low, self.high, self.open_low, self.open_high, self.fixed = low, high, open_low, open_high, fixed
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def describe(self) -> str:
        if self.high == math.inf:
            return "a positive number" if self.open_low else "a non-negative number"
        left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
        return f"a number in {left}{self.low:g}, {self.high:g}{right}"

    def check(self, operator: str, value: Any) -> float:
        """``value`` as a float, or a short error naming ``operator`` and the hyperparameter."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{operator}: {self.name}= must be {self.describe()}, got {type(value).__name__}")
        number = float(value)
        below = number <= self.low if self.open_low else number < self.low
        above = number >= self.high if self.open_high else number > self.high
        if math.isnan(number) or below or above:
            raise ValueError(f"{operator}: {self.name}= must be {self.describe()}, got {value!r}")
        return number

    def __get__(self, optimizer: Any, owner: Any = None) -> Any:
        if optimizer is None:
            return self
        return optimizer._values[self.name]

    def __set__(self, optimizer: Any, value: Any) -> None:
        if self.fixed and self.name in optimizer._values:
            raise AttributeError(
                f"sd.{optimizer._name}: {self.name} is fixed when the optimizer is created, as in S4TF"
            )
        number = self.check(f"sd.{optimizer._name}", value)
        optimizer._values[self.name] = number
        if self.fixed:
            return
        held = optimizer._held.get(self.name)
        if held is None:
            optimizer._held[self.name] = tf.Variable(
                number, dtype=tf.float64, trainable=False, name=self.name
            )
        else:
            held.assign(number)


_NON_NEGATIVE = {"low": 0.0}
_POSITIVE = {"low": 0.0, "open_low": True}
_DECAY_RATE = {"low": 0.0, "high": 1.0, "open_high": True}


class _Optimizer:
    """What the optimizers share: checked hyperparameters, the step counter, slots and ``update``.

    A subclass names its hyperparameters (``_hyperparameters``, in signature order; each a
    ``_Hyperparameter`` on the class unless listed in ``_flags``) and its slots, and gives S4TF's
    rule for one variable as ``_rule``: a pure function of the hyperparameters, the step, the
    direction and the slots' values, returning the variable's increment and the slots' new values.
    ``update`` and the Keras form (``KerasOptimizer``) both apply that one rule.
    """

    _name = "Optimizer"
    _hyperparameters: tuple[str, ...] = ()
    _flags: tuple[str, ...] = ()  # bool hyperparameters, read when a step is traced
    _slot_names: tuple[str, ...] = ()

    learning_rate = _Hyperparameter(**_NON_NEGATIVE)

    def __init__(self, for_: keras.layers.Layer, **hyperparameters: Any):
        self._values: dict[str, float] = {}
        self._held: dict[str, tf.Variable] = {}
        if not isinstance(for_, keras.layers.Layer):
            raise TypeError(
                f"sd.{self._name}: for_= must be the Keras layer or model to optimize, got "
                f"{type(for_).__name__}"
            )
        for name, value in hyperparameters.items():
            setattr(self, name, value)
        self.model = for_
        self._variables = list(for_.trainable_variables)
        if not self._variables:
            raise ValueError(
                f"sd.{self._name}: {type(for_).__name__} has no trainable variables yet; "
                f"build it (or give its sizes) before creating the optimizer"
            )
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        for slot in self._slot_names:
            fill = self._slot_fill(self.hyperparameters, slot)
            setattr(
                self,
                slot,
                [
                    tf.Variable(
                        tf.fill(v.shape, tf.constant(fill, v.dtype)), trainable=False, name=f"{slot}_{i}"
                    )
                    for i, v in enumerate(self._variables)
                ],
            )

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The hyperparameters by keyword, in the order of the signature."""
        return {name: getattr(self, name) for name in self._hyperparameters}

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={value!r}" for name, value in self.hyperparameters.items())
        return f"sd.{self._name}(for_={type(self.model).__name__}, {settings})"

    @staticmethod
    def _slot_fill(hyperparameters: dict[str, Any], slot: str) -> float:
        return 0.0

    @staticmethod
    def _rule(
        h: Any, step: tf.Tensor, g: tf.Tensor, slots: Sequence[tf.Tensor]
    ) -> tuple[Any, tuple[Any, ...]]:
        raise NotImplementedError

    def _directions(self, model: keras.layers.Layer, along: Direction) -> list[tf.Tensor]:
        if model is not self.model:
            keys = [variable_key(v) for v in model.trainable_variables]
            if keys != [variable_key(v) for v in self._variables]:
                raise ValueError(
                    f"sd.{self._name}.update: this optimizer was created for "
                    f"{type(self.model).__name__}, not for {type(model).__name__}"
                )
        return components_along(self._variables, along, f"sd.{self._name}.update")

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
            dtype = variable.dtype
            h = SimpleNamespace(
                **{name: tf.cast(held, dtype) for name, held in self._held.items()},
                **{name: getattr(self, name) for name in self._flags},
            )
            slots = [getattr(self, slot)[index] for slot in self._slot_names]
            increment, values = self._rule(
                h, tf.cast(self.step, dtype), direction, [tf.convert_to_tensor(s) for s in slots]
            )
            for slot, value in zip(slots, values, strict=True):
                slot.assign(value)
            variable.assign_add(increment)

    def keras_optimizer(self, **keras_arguments: Any) -> KerasOptimizer:
        """A Keras optimizer applying this optimizer's rule and hyperparameters, for ``model.compile``.

        It keeps its own state (Keras creates it when training starts), so it starts afresh: from
        step 1, with this optimizer's initial slots. Its learning rate is Keras' (settable, or a
        schedule), to which S4TF's ``decay`` still applies.

        Args:
            **keras_arguments: Passed to ``keras.optimizers.Optimizer`` (``clipnorm=``, ``name=``, ...).

        Returns:
            A ``KerasOptimizer``.

        Examples:
            >>> import keras, swiftdiff as sd
            >>> model = keras.Sequential([sd.Dense(input_size=2, output_size=1)])
            >>> opt = sd.Adam(for_=model, learning_rate=0.01)
            >>> model.compile(optimizer=opt.keras_optimizer(), loss="mse")
            >>> model.optimizer.rule, model.optimizer.hyperparameters["beta2"]
            ('Adam', 0.999)
        """
        return KerasOptimizer(self._name, **self.hyperparameters, **keras_arguments)


def _decayed(h: Any, step: tf.Tensor) -> tf.Tensor:
    """S4TF's decayed learning rate ``learning_rate / (1 + decay * step)``."""
    return h.learning_rate / (1 + h.decay * step)


class SGD(_Optimizer):
    """Swift ``SGD(for:learningRate:momentum:decay:nesterov:)``: stochastic gradient descent.

    S4TF's rule exactly, with ``g`` the direction and ``v`` the velocity::

        lr_t = learning_rate / (1 + decay * step)
        v = momentum * v - lr_t * g
        model += (momentum * v - lr_t * g) if nesterov else v

    Keras' ``SGD`` has the same momentum and Nesterov rule; it has no ``decay`` (use
    ``keras_optimizer()`` for S4TF's).

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
        TypeError: ``for_`` is not a Keras layer, or a hyperparameter is not a number.
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
    _hyperparameters = ("learning_rate", "momentum", "decay", "nesterov")
    _flags = ("nesterov",)
    _slot_names = ("velocity",)
    momentum = _Hyperparameter(**_NON_NEGATIVE)
    decay = _Hyperparameter(**_NON_NEGATIVE)

    def __init__(
        self,
        for_: keras.layers.Layer,
        learning_rate: float = 0.01,
        momentum: float = 0.0,
        decay: float = 0.0,
        nesterov: bool = False,
    ):
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"sd.SGD: nesterov= must be True or False, got {type(nesterov).__name__}")
        self.nesterov = bool(nesterov)
        super().__init__(for_, learning_rate=learning_rate, momentum=momentum, decay=decay)

    @staticmethod
    def _rule(
        h: Any, step: tf.Tensor, g: tf.Tensor, slots: Sequence[tf.Tensor]
    ) -> tuple[Any, tuple[Any, ...]]:
        lr = _decayed(h, step)
        velocity = h.momentum * slots[0] - lr * g
        return (h.momentum * velocity - lr * g if h.nesterov else velocity), (velocity,)


class Adam(_Optimizer):
    """Swift ``Adam(for:learningRate:beta1:beta2:epsilon:decay:)``: adaptive moment estimation.

    S4TF's rule exactly, with ``g`` the direction::

        lr_t = learning_rate / (1 + decay * step)
        step_size = lr_t * sqrt(1 - beta2^step) / (1 - beta1^step)
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
        model -= step_size * m / (sqrt(v) + epsilon)

    Keras' ``Adam`` has the same rule (epsilon added to ``sqrt(v)`` before bias correction); it
    defaults to ``epsilon=1e-7`` and has no ``decay``.

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
        TypeError: ``for_`` is not a Keras layer, or a hyperparameter is not a number.
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
    _hyperparameters = ("learning_rate", "beta1", "beta2", "epsilon", "decay")
    _slot_names = ("first_moments", "second_moments")
    beta1 = _Hyperparameter(**_DECAY_RATE)
    beta2 = _Hyperparameter(**_DECAY_RATE)
    epsilon = _Hyperparameter(**_POSITIVE)
    decay = _Hyperparameter(**_NON_NEGATIVE)

    def __init__(
        self,
        for_: keras.layers.Layer,
        learning_rate: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        decay: float = 0.0,
    ):
        super().__init__(
            for_, learning_rate=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon, decay=decay
        )

    @staticmethod
    def _rule(
        h: Any, step: tf.Tensor, g: tf.Tensor, slots: Sequence[tf.Tensor]
    ) -> tuple[Any, tuple[Any, ...]]:
        step_size = _decayed(h, step) * tf.sqrt(1 - h.beta2**step) / (1 - h.beta1**step)
        m = h.beta1 * slots[0] + (1 - h.beta1) * g
        v = h.beta2 * slots[1] + (1 - h.beta2) * g * g
        return -step_size * m / (tf.sqrt(v) + h.epsilon), (m, v)


class RMSProp(_Optimizer):
    """Swift ``RMSProp(for:learningRate:rho:epsilon:decay:)``: root-mean-square propagation.

    S4TF's rule exactly, with ``g`` the direction::

        lr_t = learning_rate / (1 + decay * step)
        alpha = rho * alpha + (1 - rho) * g^2
        model -= lr_t * g / (sqrt(alpha) + epsilon)

    Keras' ``RMSprop`` divides by ``sqrt(alpha + epsilon)`` instead (epsilon inside the root,
    default ``1e-7``) and has no ``decay``.

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
        TypeError: ``for_`` is not a Keras layer, or a hyperparameter is not a number.
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
    _hyperparameters = ("learning_rate", "rho", "epsilon", "decay")
    _slot_names = ("alpha",)
    rho = _Hyperparameter(**_DECAY_RATE)
    epsilon = _Hyperparameter(**_POSITIVE)
    decay = _Hyperparameter(**_NON_NEGATIVE)

    def __init__(
        self,
        for_: keras.layers.Layer,
        learning_rate: float = 1e-3,
        rho: float = 0.9,
        epsilon: float = 1e-8,
        decay: float = 0.0,
    ):
        super().__init__(for_, learning_rate=learning_rate, rho=rho, epsilon=epsilon, decay=decay)

    @staticmethod
    def _rule(
        h: Any, step: tf.Tensor, g: tf.Tensor, slots: Sequence[tf.Tensor]
    ) -> tuple[Any, tuple[Any, ...]]:
        alpha = h.rho * slots[0] + (1 - h.rho) * g * g
        return -_decayed(h, step) * g / (tf.sqrt(alpha) + h.epsilon), (alpha,)


class AdaGrad(_Optimizer):
    """Swift ``AdaGrad(for:learningRate:initialAccumulatorValue:epsilon:)``: adaptive gradients.

    S4TF's rule exactly, with ``g`` the direction; the accumulator starts at
    ``initial_accumulator_value`` and there is no decay::

        accumulator = accumulator + g^2
        model -= learning_rate * g / (sqrt(accumulator) + epsilon)

    Keras' ``Adagrad`` divides by ``sqrt(accumulator + epsilon)`` instead (epsilon inside the root)
    and defaults to ``epsilon=1e-7``; its other defaults are S4TF's. ``keras_optimizer()`` gives
    S4TF's rule to ``model.compile``.

    Args:
        for_: The Keras layer or model to optimize; its trainable variables must exist.
        learning_rate: The step size, non-negative.
        initial_accumulator_value: The accumulator's starting value, non-negative; fixed once the
            optimizer exists, as in S4TF.
        epsilon: Added to ``sqrt(accumulator)``; positive.

    Attributes:
        step: The number of updates so far (a ``tf.Variable``).
        accumulator: The running sum of squared directions, one ``tf.Variable`` per trainable
            variable.

    Raises:
        TypeError: ``for_`` is not a Keras layer, or a hyperparameter is not a number.
        ValueError: A number is out of range, or ``for_`` has no trainable variables yet.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> model = sd.Dense(input_size=1, output_size=1)
        >>> opt = sd.AdaGrad(for_=model, learning_rate=0.1)
        >>> before = float(model.bias[0])
        >>> opt.update(model, along=sd.TangentVector(model, [tf.zeros([1, 1]), tf.ones([1])]))
        >>> round(float(model.bias[0]) - before, 5)  # -0.1 * 1 / (sqrt(0.1 + 1) + 1e-8)
        -0.09535
    """

    _name = "AdaGrad"
    _hyperparameters = ("learning_rate", "initial_accumulator_value", "epsilon")
    _slot_names = ("accumulator",)
    initial_accumulator_value = _Hyperparameter(**_NON_NEGATIVE, fixed=True)
    epsilon = _Hyperparameter(**_POSITIVE)

    def __init__(
        self,
        for_: keras.layers.Layer,
        learning_rate: float = 1e-3,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-8,
    ):
        super().__init__(
            for_,
            learning_rate=learning_rate,
            initial_accumulator_value=initial_accumulator_value,
            epsilon=epsilon,
        )

    @staticmethod
    def _slot_fill(hyperparameters: dict[str, Any], slot: str) -> float:
        return float(hyperparameters["initial_accumulator_value"])

    @staticmethod
    def _rule(
        h: Any, step: tf.Tensor, g: tf.Tensor, slots: Sequence[tf.Tensor]
    ) -> tuple[Any, tuple[Any, ...]]:
        accumulator = slots[0] + g * g
        return -h.learning_rate * g / (tf.sqrt(accumulator) + h.epsilon), (accumulator,)


class AdaDelta(_Optimizer):
    """Swift ``AdaDelta(for:learningRate:rho:epsilon:decay:)``: AdaGrad with a moving window.

    S4TF's rule exactly, with ``g`` the direction; the accumulated delta is updated with the step
    before the learning rate scales it::

        lr_t = learning_rate / (1 + decay * step)
        average_squared = rho * average_squared + (1 - rho) * g^2
        delta = g * sqrt(accumulated_delta + epsilon) / sqrt(average_squared + epsilon)
        model -= lr_t * delta
        accumulated_delta = rho * accumulated_delta + (1 - rho) * delta^2

    Keras' ``Adadelta`` has the same rule (epsilon inside both roots) but defaults to
    ``learning_rate=0.001`` and ``epsilon=1e-7`` (S4TF: ``1`` and ``1e-6``) and has no ``decay``.

    Args:
        for_: The Keras layer or model to optimize; its trainable variables must exist.
        learning_rate: The step size, non-negative.
        rho: The decay of both averages, in ``[0, 1]``.
        epsilon: Added inside both square roots; positive.
        decay: The learning rate's decay per step, non-negative.

    Attributes:
        step: The number of updates so far (a ``tf.Variable``).
        average_squared: One ``tf.Variable`` per trainable variable.
        accumulated_delta: One ``tf.Variable`` per trainable variable.

    Raises:
        TypeError: ``for_`` is not a Keras layer, or a hyperparameter is not a number.
        ValueError: A number is out of range, or ``for_`` has no trainable variables yet.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> model = sd.Dense(input_size=1, output_size=1)
        >>> opt = sd.AdaDelta(for_=model)
        >>> before = float(model.bias[0])
        >>> opt.update(model, along=sd.TangentVector(model, [tf.zeros([1, 1]), tf.ones([1])]))
        >>> round(float(model.bias[0]) - before, 6)  # -sqrt(1e-6) / sqrt(0.05 + 1e-6)
        -0.004472
    """

    _name = "AdaDelta"
    _hyperparameters = ("learning_rate", "rho", "epsilon", "decay")
    _slot_names = ("average_squared", "accumulated_delta")
    rho = _Hyperparameter(low=0.0, high=1.0)
    epsilon = _Hyperparameter(**_POSITIVE)
    decay = _Hyperparameter(**_NON_NEGATIVE)

    def __init__(
        self,
        for_: keras.layers.Layer,
        learning_rate: float = 1.0,
        rho: float = 0.95,
        epsilon: float = 1e-6,
        decay: float = 0.0,
    ):
        super().__init__(for_, learning_rate=learning_rate, rho=rho, epsilon=epsilon, decay=decay)

    @staticmethod
    def _rule(
        h: Any, step: tf.Tensor, g: tf.Tensor, slots: Sequence[tf.Tensor]
    ) -> tuple[Any, tuple[Any, ...]]:
        average_squared = h.rho * slots[0] + (1 - h.rho) * g * g
        delta = g * tf.sqrt(slots[1] + h.epsilon) / tf.sqrt(average_squared + h.epsilon)
        accumulated_delta = h.rho * slots[1] + (1 - h.rho) * delta * delta
        return -_decayed(h, step) * delta, (average_squared, accumulated_delta)


class AdaMax(_Optimizer):
    """Swift ``AdaMax(for:learningRate:beta1:beta2:epsilon:decay:)``: Adam with the infinity norm.

    S4TF's rule exactly, with ``g`` the direction (note S4TF's default learning rate, ``0.002``)::

        lr_t = learning_rate / (1 + decay * step)
        step_size = lr_t / (1 - beta1^step)
        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g|)
        model -= step_size * m / (u + epsilon)

    Keras' ``Adamax`` has the same rule but defaults to ``learning_rate=0.001`` and
    ``epsilon=1e-7`` and has no ``decay``.

    Args:
        for_: The Keras layer or model to optimize; its trainable variables must exist.
        learning_rate: The step size, non-negative.
        beta1: The first moments' decay, in ``[0, 1)``.
        beta2: The infinity norm's decay, in ``[0, 1)``.
        epsilon: Added to ``u``; positive.
        decay: The learning rate's decay per step, non-negative.

    Attributes:
        step: The number of updates so far (a ``tf.Variable``).
        first_moments: ``m``, one ``tf.Variable`` per trainable variable.
        infinity_norm: ``u``, one ``tf.Variable`` per trainable variable.

    Raises:
        TypeError: ``for_`` is not a Keras layer, or a hyperparameter is not a number.
        ValueError: A number is out of range, or ``for_`` has no trainable variables yet.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> model = sd.Dense(input_size=1, output_size=1)
        >>> opt = sd.AdaMax(for_=model)
        >>> before = float(model.bias[0])
        >>> opt.update(model, along=sd.TangentVector(model, [tf.zeros([1, 1]), tf.ones([1])]))
        >>> round(float(model.bias[0]) - before, 6)
        -0.002
    """

    _name = "AdaMax"
    _hyperparameters = ("learning_rate", "beta1", "beta2", "epsilon", "decay")
    _slot_names = ("first_moments", "infinity_norm")
    beta1 = _Hyperparameter(**_DECAY_RATE)
    beta2 = _Hyperparameter(**_DECAY_RATE)
    epsilon = _Hyperparameter(**_POSITIVE)
    decay = _Hyperparameter(**_NON_NEGATIVE)

    def __init__(
        self,
        for_: keras.layers.Layer,
        learning_rate: float = 0.002,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        decay: float = 0.0,
    ):
        super().__init__(
            for_, learning_rate=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon, decay=decay
        )

    @staticmethod
    def _rule(
        h: Any, step: tf.Tensor, g: tf.Tensor, slots: Sequence[tf.Tensor]
    ) -> tuple[Any, tuple[Any, ...]]:
        step_size = _decayed(h, step) / (1 - h.beta1**step)
        m = h.beta1 * slots[0] + (1 - h.beta1) * g
        u = tf.maximum(h.beta2 * slots[1], tf.abs(g))
        return -step_size * m / (u + h.epsilon), (m, u)


class AMSGrad(_Optimizer):
    """Swift ``AMSGrad(for:learningRate:beta1:beta2:epsilon:decay:)``: Adam with the largest ``v`` so far.

    S4TF's rule exactly, with ``g`` the direction::

        lr_t = learning_rate / (1 + decay * step)
        step_size = lr_t * sqrt(1 - beta2^step) / (1 - beta1^step)
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
        v_max = max(v_max, v)
        model -= step_size * m / (sqrt(v_max) + epsilon)

    Keras' ``Adam(amsgrad=True)`` has the same rule but defaults to ``epsilon=1e-7`` and has no
    ``decay``.

    Args:
        for_: The Keras layer or model to optimize; its trainable variables must exist.
        learning_rate: The step size, non-negative.
        beta1: The first moments' decay, in ``[0, 1)``.
        beta2: The second moments' decay, in ``[0, 1)``.
        epsilon: Added to ``sqrt(v_max)``; positive.
        decay: The learning rate's decay per step, non-negative.

    Attributes:
        step: The number of updates so far (a ``tf.Variable``).
        first_moments: ``m``, one ``tf.Variable`` per trainable variable.
        second_moments: ``v``, one ``tf.Variable`` per trainable variable.
        second_moments_max: ``v_max``, one ``tf.Variable`` per trainable variable.

    Raises:
        TypeError: ``for_`` is not a Keras layer, or a hyperparameter is not a number.
        ValueError: A number is out of range, or ``for_`` has no trainable variables yet.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> model = sd.Dense(input_size=1, output_size=1)
        >>> opt = sd.AMSGrad(for_=model, learning_rate=0.1)
        >>> before = float(model.bias[0])
        >>> opt.update(model, along=sd.TangentVector(model, [tf.zeros([1, 1]), tf.ones([1])]))
        >>> round(float(model.bias[0]) - before, 5)
        -0.1
    """

    _name = "AMSGrad"
    _hyperparameters = ("learning_rate", "beta1", "beta2", "epsilon", "decay")
    _slot_names = ("first_moments", "second_moments", "second_moments_max")
    beta1 = _Hyperparameter(**_DECAY_RATE)
    beta2 = _Hyperparameter(**_DECAY_RATE)
    epsilon = _Hyperparameter(**_POSITIVE)
    decay = _Hyperparameter(**_NON_NEGATIVE)

    def __init__(
        self,
        for_: keras.layers.Layer,
        learning_rate: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        decay: float = 0.0,
    ):
        super().__init__(
            for_, learning_rate=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon, decay=decay
        )

    @staticmethod
    def _rule(
        h: Any, step: tf.Tensor, g: tf.Tensor, slots: Sequence[tf.Tensor]
    ) -> tuple[Any, tuple[Any, ...]]:
        step_size = _decayed(h, step) * tf.sqrt(1 - h.beta2**step) / (1 - h.beta1**step)
        m = h.beta1 * slots[0] + (1 - h.beta1) * g
        v = h.beta2 * slots[1] + (1 - h.beta2) * g * g
        v_max = tf.maximum(slots[2], v)
        return -step_size * m / (tf.sqrt(v_max) + h.epsilon), (m, v, v_max)


class RAdam(_Optimizer):
    """Swift ``RAdam(for:learningRate:beta1:beta2:epsilon:decay:)``: rectified Adam.

    S4TF's rule exactly, with ``g`` the direction. The step is Adam's, scaled by the rectification
    ``r``, once the approximate length of the moving average ``rho_t`` reaches 5; before that it is
    momentum alone::

        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2^step / (1 - beta2^step)
        if rho_t >= 5:
            r = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            model -= r * learning_rate * sqrt(1 - beta2^step) / (1 - beta1^step) * m / (sqrt(v) + epsilon)
        else:
            model -= learning_rate / (1 - beta1^step) * m

    With the default ``beta2=0.999`` the first rectified step is step 6. S4TF's ``RAdam`` takes a
    ``decay`` but never applies it, and neither does this port: a non-zero ``decay`` warns.
    Keras 3 has no rectified Adam; ``keras_optimizer()`` gives S4TF's rule to ``model.compile``.

    Args:
        for_: The Keras layer or model to optimize; its trainable variables must exist.
        learning_rate: The step size, non-negative.
        beta1: The first moments' decay, in ``[0, 1)``.
        beta2: The second moments' decay, in ``[0, 1)``.
        epsilon: Added to ``sqrt(v)``; positive.
        decay: Accepted and kept, as in S4TF, but not applied (see above); non-negative.

    Attributes:
        step: The number of updates so far (a ``tf.Variable``).
        first_moments: ``m``, one ``tf.Variable`` per trainable variable.
        second_moments: ``v``, one ``tf.Variable`` per trainable variable.

    Raises:
        TypeError: ``for_`` is not a Keras layer, or a hyperparameter is not a number.
        ValueError: A number is out of range, or ``for_`` has no trainable variables yet.

    Warns:
        UserWarning: ``decay`` is not zero.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> model = sd.Dense(input_size=1, output_size=1)
        >>> opt = sd.RAdam(for_=model, learning_rate=0.1)
        >>> before = float(model.bias[0])
        >>> opt.update(model, along=sd.TangentVector(model, [tf.zeros([1, 1]), tf.ones([1])]))
        >>> round(float(model.bias[0]) - before, 5)  # step 1 is not rectified: -0.1 / (1 - 0.9) * 0.1
        -0.1
    """

    _name = "RAdam"
    _hyperparameters = ("learning_rate", "beta1", "beta2", "epsilon", "decay")
    _slot_names = ("first_moments", "second_moments")
    beta1 = _Hyperparameter(**_DECAY_RATE)
    beta2 = _Hyperparameter(**_DECAY_RATE)
    epsilon = _Hyperparameter(**_POSITIVE)
    decay = _Hyperparameter(**_NON_NEGATIVE)

    def __init__(
        self,
        for_: keras.layers.Layer,
        learning_rate: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        decay: float = 0.0,
    ):
        super().__init__(
            for_, learning_rate=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon, decay=decay
        )
        _warn_if_radam_decays("sd.RAdam", self.decay)

    @staticmethod
    def _rule(
        h: Any, step: tf.Tensor, g: tf.Tensor, slots: Sequence[tf.Tensor]
    ) -> tuple[Any, tuple[Any, ...]]:
        beta1_power, beta2_power = h.beta1**step, h.beta2**step
        m = h.beta1 * slots[0] + (1 - h.beta1) * g
        v = h.beta2 * slots[1] + (1 - h.beta2) * g * g
        rho_inf = 2 / (1 - h.beta2) - 1
        rho_t = rho_inf - 2 * step * beta2_power / (1 - beta2_power)
        # Both branches are computed and one is selected, so that the step stays one graph under XLA;
        # the unselected rectification may be NaN (rho_t < 4), which tf.where never lets through.
        rectification = tf.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        momentum_step = h.learning_rate / (1 - beta1_power)
        adapted = -(rectification * momentum_step * tf.sqrt(1 - beta2_power)) * m / (tf.sqrt(v) + h.epsilon)
        return tf.where(rho_t >= 5, adapted, -momentum_step * m), (m, v)


def _warn_if_radam_decays(operator: str, decay: float) -> None:
    if decay != 0:
        warnings.warn(
            f"{operator}: decay={decay!r} is not applied: S4TF's RAdam keeps decay but never uses it, "
            f"and this port follows S4TF exactly",
            UserWarning,
            stacklevel=3,
        )


_RULES: dict[str, type[_Optimizer]] = {
    rule._name: rule for rule in (SGD, Adam, RMSProp, AdaGrad, AdaDelta, AdaMax, AMSGrad, RAdam)
}


@keras.saving.register_keras_serializable(package="swiftdiff")
class KerasOptimizer(keras.optimizers.Optimizer):
    """A Keras optimizer applying one of swiftdiff's S4TF update rules, for ``model.compile``.

    ``rule`` names the S4TF optimizer (``"AdaGrad"``, ``"RAdam"``, ...); its hyperparameters are
    given by keyword with S4TF's defaults, exactly as to ``sd.AdaGrad(for_=...)``, and applied by the
    same rule. Keras' own arguments (``clipnorm=``, ``name=``, ...) pass through. The learning rate
    is Keras' (settable, or a schedule); S4TF's ``decay`` applies on top of it, counting steps from 1
    as S4TF does. Usually made by ``optimizer.keras_optimizer()``. It saves and loads with the model.

    Args:
        rule: The S4TF optimizer's name: one of ``SGD``, ``Adam``, ``RMSProp``, ``AdaGrad``,
            ``AdaDelta``, ``AdaMax``, ``AMSGrad``, ``RAdam``.
        learning_rate: A non-negative number or a Keras schedule; ``None`` for S4TF's default.
        **arguments: The rule's other hyperparameters, then Keras' optimizer arguments.

    Raises:
        ValueError: ``rule`` is unknown, or a hyperparameter is out of range.
        TypeError: A hyperparameter is not a number.

    Examples:
        >>> import keras, numpy as np, swiftdiff as sd
        >>> from swiftdiff.optimizers import KerasOptimizer
        >>> model = keras.Sequential([keras.Input((2,)), sd.Dense(input_size=2, output_size=1)])
        >>> model.compile(optimizer=KerasOptimizer("AdaGrad", learning_rate=0.1), loss="mse")
        >>> history = model.fit(np.ones((4, 2)), np.zeros((4, 1)), epochs=2, verbose=0)
        >>> model.optimizer.rule, int(model.optimizer.iterations)
        ('AdaGrad', 2)
        >>> model.optimizer.hyperparameters["initial_accumulator_value"]
        0.1
    """

    def __init__(self, rule: str, learning_rate: Any = None, **arguments: Any):
        if rule not in _RULES:
            raise ValueError(
                f"swiftdiff KerasOptimizer: rule= must be one of {', '.join(_RULES)}, got {rule!r}"
            )
        optimizer = _RULES[rule]
        defaults = inspect.signature(optimizer.__init__).parameters
        operator = f"sd.{rule}.keras_optimizer"
        hyperparameters: dict[str, Any] = {}
        for name in optimizer._hyperparameters:
            value = learning_rate if name == "learning_rate" else arguments.pop(name, None)
            if value is None:
                value = defaults[name].default
            if name in optimizer._flags:
                if not isinstance(value, (bool, np.bool_)):
                    raise TypeError(f"{operator}: {name}= must be True or False, got {type(value).__name__}")
                value = bool(value)
            elif not (name == "learning_rate" and callable(value)):  # a schedule is Keras' to check
                value = getattr(optimizer, name).check(operator, value)
            hyperparameters[name] = value
        if rule == "RAdam":
            _warn_if_radam_decays(operator, hyperparameters["decay"])
        arguments.setdefault("name", rule.lower())
        super().__init__(learning_rate=hyperparameters.pop("learning_rate"), **arguments)
        self.rule = rule
        self._optimizer = optimizer
        self._fixed = hyperparameters  # all but the learning rate, which Keras holds

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The rule's hyperparameters by keyword, the current learning rate first."""
        rate = self._learning_rate
        current = float(rate.numpy()) if isinstance(rate, keras.Variable) else rate
        return {"learning_rate": current, **self._fixed}

    def build(self, variables: list[Any]) -> None:
        if self.built:
            return
        super().build(variables)
        names = [f"{self.rule.lower()}_{slot}" for slot in self._optimizer._slot_names]
        fills = [self._optimizer._slot_fill(self._fixed, slot) for slot in self._optimizer._slot_names]
        slots = self.add_optimizer_variables(
            variables, names, initializer=[keras.initializers.Constant(fill) for fill in fills]
        )
        self._slots = list(slots) if isinstance(slots, tuple) else [slots]

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        slots = [slot[index] for slot in self._slots]
        h = SimpleNamespace(
            learning_rate=tf.cast(learning_rate, dtype),
            **{
                name: value if name in self._optimizer._flags else tf.constant(value, dtype)
                for name, value in self._fixed.items()
            },
        )
        step = tf.cast(self.iterations + 1, dtype)
        gradient = tf.cast(tf.convert_to_tensor(gradient), dtype)
        increment, values = self._optimizer._rule(h, step, gradient, [tf.convert_to_tensor(s) for s in slots])
        for slot, value in zip(slots, values, strict=True):
            self.assign(slot, value)
        self.assign_add(variable, increment)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(rule=self.rule, **self._fixed)
        return config
