"""S4TF's optimizers, with S4TF's exact update rules: ``SGD``, ``Adam``, ``RMSProp``.

``optimizer.update(model, along=grads)`` updates the model's variables in place (Swift's
``update(&model, along:)``); all state lives in ``tf.Variable``s created at construction, so
``update`` also works inside ``tf.function`` and XLA. The learning rate decays as S4TF's does:
``lr_t = learning_rate / (1 + decay * step)``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .tangent_vector import _variable_key, components_along


class _Optimizer:
    _name = "Optimizer"

    def __init__(self, for_, learning_rate, decay):
        if not isinstance(for_, keras.layers.Layer):
            raise TypeError(f"sd.{self._name}: for_= must be the Keras layer or model to optimize, got "
                            f"{type(for_).__name__}")
        for label, value in (("learning_rate", learning_rate), ("decay", decay)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"sd.{self._name}: {label}= must be a non-negative number, got {value!r}")
        self.model = for_
        self.learning_rate = float(learning_rate)
        self.decay = float(decay)
        self._variables = list(for_.trainable_variables)
        if not self._variables:
            raise ValueError(f"sd.{self._name}: {type(for_).__name__} has no trainable variables yet; "
                             f"build it (or give its sizes) before creating the optimizer")
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")

    def _slots(self, name):
        return [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False, name=f"{name}_{i}")
                for i, v in enumerate(self._variables)]

    def _directions(self, model, along):
        if model is not self.model:
            keys = [_variable_key(v) for v in model.trainable_variables]
            if keys != [_variable_key(v) for v in self._variables]:
                raise ValueError(f"sd.{self._name}.update: this optimizer was created for "
                                 f"{type(self.model).__name__}, not for {type(model).__name__}")
        return components_along(self._variables, along, f"sd.{self._name}.update")

    def _learning_rate(self, dtype):
        step = tf.cast(self.step, dtype)
        return tf.cast(self.learning_rate, dtype) / (1 + tf.cast(self.decay, dtype) * step)

    def update(self, model, *, along):
        """Swift ``optimizer.update(&model, along: direction)``: one step, in place."""
        directions = self._directions(model, along)
        self.step.assign_add(1)
        for index, (variable, direction) in enumerate(zip(self._variables, directions)):
            self._apply(index, variable, direction)

    def _apply(self, index, variable, direction):
        raise NotImplementedError


class SGD(_Optimizer):
    """Swift ``SGD(for:learningRate:momentum:decay:nesterov:)``, S4TF's rule exactly::

        lr_t = learning_rate / (1 + decay * step)
        v = momentum * v - lr_t * g
        model += (momentum * v - lr_t * g) if nesterov else v

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> model = sd.Dense(input_size=1, output_size=1)
        >>> opt = sd.SGD(for_=model, learning_rate=0.1)
        >>> before = float(model.bias[0])
        >>> opt.update(model, along=sd.TangentVector(model, [tf.zeros([1, 1]), tf.ones([1])]))
        >>> round(float(model.bias[0]) - before, 6)
        -0.1
    """
    _name = "SGD"

    def __init__(self, for_, learning_rate=0.01, momentum=0.0, decay=0.0, nesterov=False):
        super().__init__(for_, learning_rate, decay)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or momentum < 0:
            raise ValueError(f"sd.SGD: momentum= must be a non-negative number, got {momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.velocity = self._slots("velocity")

    def _apply(self, index, variable, direction):
        lr = self._learning_rate(variable.dtype)
        momentum = tf.cast(self.momentum, variable.dtype)
        velocity = self.velocity[index]
        velocity.assign(momentum * velocity - lr * direction)
        if self.nesterov:
            variable.assign_add(momentum * velocity - lr * direction)
        else:
            variable.assign_add(tf.convert_to_tensor(velocity))


class Adam(_Optimizer):
    """Swift ``Adam(for:learningRate:beta1:beta2:epsilon:decay:)``, S4TF's rule exactly::

        lr_t = learning_rate / (1 + decay * step)
        step_size = lr_t * sqrt(1 - beta2^step) / (1 - beta1^step)
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2
        model -= step_size * m / (sqrt(v) + epsilon)

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> model = sd.Dense(input_size=1, output_size=1)
        >>> opt = sd.Adam(for_=model, learning_rate=0.1)
        >>> before = float(model.bias[0])
        >>> opt.update(model, along=sd.TangentVector(model, [tf.zeros([1, 1]), tf.ones([1])]))
        >>> round(float(model.bias[0]) - before, 5)
        -0.1
    """
    _name = "Adam"

    def __init__(self, for_, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, decay=0.0):
        super().__init__(for_, learning_rate, decay)
        for label, value in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= value < 1:
                raise ValueError(f"sd.Adam: {label}= must be in [0, 1), got {value!r}")
        if not epsilon > 0:
            raise ValueError(f"sd.Adam: epsilon= must be positive, got {epsilon!r}")
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)
        self.first_moments = self._slots("first_moments")
        self.second_moments = self._slots("second_moments")

    def _apply(self, index, variable, direction):
        dtype = variable.dtype
        step = tf.cast(self.step, dtype)
        beta1, beta2 = tf.cast(self.beta1, dtype), tf.cast(self.beta2, dtype)
        step_size = self._learning_rate(dtype) * tf.sqrt(1 - tf.pow(beta2, step)) / (1 - tf.pow(beta1, step))
        m, v = self.first_moments[index], self.second_moments[index]
        m.assign(beta1 * m + (1 - beta1) * direction)
        v.assign(beta2 * v + (1 - beta2) * direction * direction)
        variable.assign_sub(step_size * m / (tf.sqrt(v) + tf.cast(self.epsilon, dtype)))


class RMSProp(_Optimizer):
    """Swift ``RMSProp(for:learningRate:rho:epsilon:decay:)``, S4TF's rule exactly::

        lr_t = learning_rate / (1 + decay * step)
        alpha = rho * alpha + (1 - rho) * g^2
        model -= lr_t * g / (sqrt(alpha) + epsilon)

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> model = sd.Dense(input_size=1, output_size=1)
        >>> opt = sd.RMSProp(for_=model, learning_rate=0.1, rho=0.0)
        >>> before = float(model.bias[0])
        >>> opt.update(model, along=sd.TangentVector(model, [tf.zeros([1, 1]), tf.ones([1])]))
        >>> round(float(model.bias[0]) - before, 5)
        -0.1
    """
    _name = "RMSProp"

    def __init__(self, for_, learning_rate=1e-3, rho=0.9, epsilon=1e-8, decay=0.0):
        super().__init__(for_, learning_rate, decay)
        if not 0 <= rho < 1:
            raise ValueError(f"sd.RMSProp: rho= must be in [0, 1), got {rho!r}")
        if not epsilon > 0:
            raise ValueError(f"sd.RMSProp: epsilon= must be positive, got {epsilon!r}")
        self.rho, self.epsilon = float(rho), float(epsilon)
        self.alpha = self._slots("alpha")

    def _apply(self, index, variable, direction):
        dtype = variable.dtype
        rho = tf.cast(self.rho, dtype)
        alpha = self.alpha[index]
        alpha.assign(rho * alpha + (1 - rho) * direction * direction)
        variable.assign_sub(self._learning_rate(dtype) * direction
                            / (tf.sqrt(alpha) + tf.cast(self.epsilon, dtype)))
