"""S4TF's recurrent layers: the cells ``BasicRNNCell``, ``LSTMCell``, ``GRUCell`` and their driver
``RecurrentLayer`` (Swift's typealiases ``BasicRNN``, ``LSTM``, ``GRU``; ``RNN`` its old name).

A cell maps one time step: ``cell(input=x, state=s)`` returns an ``RNNCellOutput`` with ``.output``
and ``.state`` (Swift's ``RNNCellOutput``). The driver runs a cell over a list of time steps (Swift's
``[Cell.TimeStepInput]``), unrolled in Python as Swift's loop is, and returns the list of outputs.
Variables keep S4TF's names, layouts, initializers and gate equations, so that weights carry over
from Swift unchanged:

- ``BasicRNNCell``: ``weight`` ``[input + hidden, hidden]``, ``bias`` ``[hidden]``;
  ``h' = tanh([x, h] @ weight + bias)``.
- ``LSTMCell``: ``fused_weight`` ``[input + hidden, 4 * hidden]`` and ``fused_bias``
  ``[4 * hidden]``, gates in the order [input | update | forget | output]; the forget gate's bias
  starts at zero, as in Swift (Keras starts it at one).
- ``GRUCell``: one kernel ``[input, hidden]``, recurrent kernel ``[hidden, hidden]`` and two biases
  per gate (update, reset, output), the reset gate applied after the recurrent product (Keras'
  ``reset_after=True``).

Cells and drivers are Keras layers: gradients with ``sd.gradient`` reach ``rnn.cell``'s variables,
and they save in ``.keras`` files.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import keras
import numpy as np
import tensorflow as tf

from .layer import Layer
from .layers import _positive_int, _register


class RNNCellInput(NamedTuple):
    """Swift ``RNNCellInput(input:state:)``: a cell's input at one time step and its previous state.

    ``cell(sd.RNNCellInput(input=x, state=s))`` is ``cell(input=x, state=s)``.

    Attributes:
        input: The input at the time step, ``[batch, input_size]``.
        state: The previous state.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> cell = sd.BasicRNNCell(input_size=2, hidden_size=3)
        >>> cell(sd.RNNCellInput(input=tf.ones([1, 2]), state=tf.zeros([1, 3]))).output.shape
        TensorShape([1, 3])
    """

    input: Any
    state: Any


class RNNCellOutput(NamedTuple):
    """Swift ``RNNCellOutput(output:state:)``: what a cell returns for one time step.

    Attributes:
        output: The output at the time step.
        state: The new state, to pass to the next time step.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> result = sd.GRUCell(input_size=2, hidden_size=3)(input=tf.ones([1, 2]), state=tf.zeros([1, 3]))
        >>> type(result).__name__, result.output.shape
        ('RNNCellOutput', TensorShape([1, 3]))
    """

    output: Any
    state: Any


def _static_shape(value: Any) -> list[int | None] | None:
    """The static shape of a tensor, ``KerasTensor`` or array (``None`` where unknown)."""
    shape = getattr(value, "shape", None)
    shape = tf.TensorShape(np.shape(value) if shape is None else shape)
    return shape.as_list() if shape.rank is not None else None


def _batch_size(for_: Any, layer: str) -> Any:
    """The batch size of ``zero_state(for_=)``: an ``int``, or the first axis of a time-step input."""
    if isinstance(for_, int) and not isinstance(for_, bool):
        return _positive_int(for_, "for_", f"{layer}.zero_state")
    if isinstance(for_, bool) or not hasattr(for_, "shape"):
        raise TypeError(
            f"sd.{layer}.zero_state: for_= must be a time-step input [batch, features] or a batch "
            f"size, got {type(for_).__name__}"
        )
    shape = _static_shape(for_)
    if shape is not None and len(shape) != 2:
        raise ValueError(
            f"sd.{layer}.zero_state: for_= must be a time-step input [batch, features], got shape {shape}"
        )
    return shape[0] if shape is not None and shape[0] is not None else tf.shape(for_)[0]


class RecurrentLayerCell(Layer):
    """Swift ``protocol RecurrentLayerCell``: the base of recurrent cells, built-in or your own.

    A cell defines ``call(self, input, state)``, returning an ``sd.RNNCellOutput(output=,
    state=)``, and ``zero_state(self, for_)``, the initial state for a time-step input (or a batch
    size). It is called as ``cell(input=x, state=s)`` or, as in Swift, with one
    ``sd.RNNCellInput``; ``sd.RecurrentLayer`` runs it over a sequence.

    Examples:
        Swift's ``BasicRNNCell`` without its bias, as a custom cell:

        >>> import tensorflow as tf, swiftdiff as sd
        >>> class Cell(sd.RecurrentLayerCell):
        ...     def __init__(self, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.weight = self.add_weight(shape=(3, 2), name="weight")
        ...     def call(self, input, state):
        ...         new = tf.tanh(tf.concat([input, state], 1) @ self.weight)
        ...         return sd.RNNCellOutput(output=new, state=new)
        ...     def zero_state(self, for_):
        ...         return tf.zeros([tf.shape(for_)[0], 2])
        >>> outputs = sd.RecurrentLayer(Cell())([tf.ones([4, 1])] * 5)
        >>> len(outputs), outputs[-1].shape
        (5, TensorShape([4, 2]))
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Swift's cell(RNNCellInput(input:state:)) is cell(input, state).
        if len(args) == 1 and isinstance(args[0], RNNCellInput) and "state" not in kwargs:
            args = tuple(args[0])
        self._check_call(*args, **kwargs)
        return super().__call__(*args, **kwargs)

    def _check_call(self, *args: Any, **kwargs: Any) -> None:
        """Checks a call's arguments before Keras runs it, as Keras checks an ``InputSpec``.

        Errors raised here reach the caller as they are; raised in ``call``, Keras would wrap them
        in a report of the call's arguments. Nothing to check for a cell of unknown kind.
        """

    def zero_state(self, for_: Any) -> Any:
        """Swift ``zeroState(for:)``: a zero state for the time-step input ``for_`` (or a batch size).

        Args:
            for_: A time-step input ``[batch, features]``, as in Swift, or the batch size.

        Returns:
            The zero state.
        """
        raise NotImplementedError(f"sd.{type(self).__name__}: a recurrent cell defines zero_state(for_)")

    def zeroState(self, for_: Any) -> Any:
        """Swift ``zeroState(for:)``; see ``zero_state``."""
        return self.zero_state(for_)


def _check_batch(state: Any, step_shape: Any, who: str, steps: str) -> None:
    """A ``ValueError`` when a state's static batch size is not its time step's."""
    batch = step_shape[0] if step_shape else None
    shape = _static_shape(state)
    if batch is not None and shape and shape[0] not in (None, batch):
        raise ValueError(f"{who} has a batch of {shape[0]} but {steps} one of {batch}")


class _SizedCell(RecurrentLayerCell):
    """What S4TF's three cells share: their sizes, argument checks and config."""

    def __init__(self, input_size: int, hidden_size: int, **kwargs: Any):
        layer = type(self).__name__
        input_size = _positive_int(input_size, "input_size", layer)
        hidden_size = _positive_int(hidden_size, "hidden_size", layer)
        super().__init__(**kwargs)
        self.input_size, self.hidden_size = input_size, hidden_size

    def _check_call(self, input: Any = None, state: Any = None, *args: Any, **kwargs: Any) -> None:
        self._check_shape(input, "input", self.input_size)
        input_shape = _static_shape(input)
        for part in self._state_parts(state):
            self._check_shape(part, "state", self.hidden_size)
            _check_batch(part, input_shape, f"sd.{type(self).__name__}: state=", "input=")

    def _state_parts(self, state: Any) -> list:
        """The tensors of a state (one; the LSTM's two)."""
        return [state]

    def _check_shape(self, value: Any, label: str, size: int) -> None:
        """A ``TypeError`` if ``value`` is missing, a ``ValueError`` if it is not ``[batch, size]``."""
        if value is None:
            raise TypeError(
                f"sd.{type(self).__name__}: {label}= is missing; call cell(input=x, state=s), with "
                f"s = cell.zero_state(for_=x) to start"
            )
        shape = _static_shape(value)
        if shape is not None and (len(shape) != 2 or shape[1] not in (None, size)):
            raise ValueError(f"sd.{type(self).__name__}: {label}= must be [batch, {size}], got shape {shape}")

    def _zeros(self, for_: Any) -> Any:
        return tf.zeros(
            tf.stack([_batch_size(for_, type(self).__name__), self.hidden_size]), self.compute_dtype
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_size": self.input_size, "hidden_size": self.hidden_size}


@_register
class BasicRNNCell(_SizedCell):
    """Swift ``BasicRNNCell(inputSize:hiddenSize:seed:)``: ``h' = tanh([x, h] @ weight + bias)``.

    The output is the new state.

    Args:
        input_size: The number of features of each time-step input.
        hidden_size: The number of features of the state.
        seed: The seed of ``weight``'s Glorot uniform initializer; ``None`` for a random one.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        weight: ``[input_size + hidden_size, hidden_size]``, Glorot uniform; the input's rows first.
        bias: ``[hidden_size]``, zeros.

    Call arguments:
        input: ``[batch, input_size]``.
        state: ``[batch, hidden_size]``.

    Returns (from a call):
        ``sd.RNNCellOutput(output=h', state=h')``, ``h'`` of shape ``[batch, hidden_size]``.

    Raises:
        ValueError: A size is not a positive integer; at call, ``input`` or ``state`` has the wrong
            shape.
        TypeError: At call, ``state`` is missing.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> cell = sd.BasicRNNCell(input_size=2, hidden_size=3)
        >>> x = tf.ones([4, 2])
        >>> cell(input=x, state=cell.zero_state(for_=x)).state.shape
        TensorShape([4, 3])
    """

    def __init__(self, input_size: int, hidden_size: int, seed: int | None = None, **kwargs: Any):
        super().__init__(input_size, hidden_size, **kwargs)
        self.seed = seed
        self.weight = self.add_weight(
            shape=(self.input_size + self.hidden_size, self.hidden_size),
            initializer=keras.initializers.GlorotUniform(seed),
            name="weight",
        )
        self.bias = self.add_weight(shape=(self.hidden_size,), initializer="zeros", name="bias")
        self.built = True

    def call(self, input, state):
        new = tf.tanh(tf.matmul(tf.concat([input, state], 1), self.weight) + self.bias)
        return RNNCellOutput(output=new, state=new)

    def zero_state(self, for_: Any) -> Any:
        """Swift ``zeroState(for:)``: zeros ``[batch, hidden_size]``.

        Args:
            for_: A time-step input ``[batch, input_size]``, as in Swift, or the batch size.

        Returns:
            The zero state.

        Raises:
            TypeError, ValueError: ``for_`` is neither.
        """
        return self._zeros(for_)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed}


@_register
class LSTMCell(_SizedCell):
    """Swift ``LSTMCell(inputSize:hiddenSize:)``: a long short-term memory cell.

    With ``[i, u, f, o]`` the four quarters of ``[x, h] @ fused_weight + fused_bias`` (Swift's gate
    order [input | update | forget | output]): ``c' = c * sigmoid(f) + sigmoid(i) * tanh(u)`` and
    ``h' = tanh(c') * sigmoid(o)``. The output is the new state ``LSTMCell.State(cell=c',
    hidden=h')``, as in Swift.

    Args:
        input_size: The number of features of each time-step input.
        hidden_size: The number of features of the hidden and cell states.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        fused_weight: ``[input_size + hidden_size, 4 * hidden_size]``, Glorot uniform; the input's
            rows first, the gates' columns in the order input, update, forget, output.
        fused_bias: ``[4 * hidden_size]``, zeros (the forget gate's included, as in Swift).
        input_weight, update_weight, forget_weight, output_weight: Swift's views of one gate's
            columns of ``fused_weight`` (read-only tensors).
        input_bias, update_bias, forget_bias, output_bias: the same of ``fused_bias``.
        State: Swift's ``LSTMCell.State(cell:hidden:)``, a named tuple.

    Call arguments:
        input: ``[batch, input_size]``.
        state: An ``LSTMCell.State`` of ``[batch, hidden_size]`` (a plain pair is refused: Keras'
            order is ``(hidden, cell)``, S4TF's ``(cell, hidden)``).

    Returns (from a call):
        ``sd.RNNCellOutput(output=new_state, state=new_state)``.

    Raises:
        ValueError: A size is not a positive integer; at call, ``input`` or a state has the wrong
            shape.
        TypeError: At call, ``state`` is missing or not a ``(cell, hidden)`` pair.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> cell = sd.LSTMCell(input_size=2, hidden_size=3)
        >>> state = sd.LSTMCell.State(cell=tf.zeros([4, 3]), hidden=tf.zeros([4, 3]))
        >>> result = cell(input=tf.ones([4, 2]), state=state)
        >>> result.output.hidden.shape, tuple(cell.fused_weight.shape)
        (TensorShape([4, 3]), (5, 12))
    """

    class State(NamedTuple):
        """Swift ``LSTMCell.State(cell:hidden:)``: an LSTM's cell state and hidden state.

        Both are ``[batch, hidden_size]``. The LSTM's output at each time step is its whole state.

        Attributes:
            cell: The cell state ``c``.
            hidden: The hidden state ``h``.

        Examples:
            >>> import tensorflow as tf, swiftdiff as sd
            >>> state = sd.LSTMCell.State(cell=tf.zeros([1, 2]), hidden=tf.ones([1, 2]))
            >>> state.hidden.numpy().tolist()
            [[1.0, 1.0]]
        """

        cell: Any
        hidden: Any

    def __init__(self, input_size: int, hidden_size: int, **kwargs: Any):
        super().__init__(input_size, hidden_size, **kwargs)
        self.fused_weight = self.add_weight(
            shape=(self.input_size + self.hidden_size, 4 * self.hidden_size),
            initializer="glorot_uniform",
            name="fused_weight",
        )
        self.fused_bias = self.add_weight(
            shape=(4 * self.hidden_size,), initializer="zeros", name="fused_bias"
        )
        self.built = True

    def _gate(self, variable: Any, index: int) -> Any:
        size = self.hidden_size
        return tf.convert_to_tensor(variable)[..., index * size : (index + 1) * size]

    input_weight = property(lambda self: self._gate(self.fused_weight, 0), doc="Swift ``inputWeight``.")
    update_weight = property(lambda self: self._gate(self.fused_weight, 1), doc="Swift ``updateWeight``.")
    forget_weight = property(lambda self: self._gate(self.fused_weight, 2), doc="Swift ``forgetWeight``.")
    output_weight = property(lambda self: self._gate(self.fused_weight, 3), doc="Swift ``outputWeight``.")
    input_bias = property(lambda self: self._gate(self.fused_bias, 0), doc="Swift ``inputBias``.")
    update_bias = property(lambda self: self._gate(self.fused_bias, 1), doc="Swift ``updateBias``.")
    forget_bias = property(lambda self: self._gate(self.fused_bias, 2), doc="Swift ``forgetBias``.")
    output_bias = property(lambda self: self._gate(self.fused_bias, 3), doc="Swift ``outputBias``.")

    def _state_parts(self, state: Any) -> list:
        # A plain pair is refused: Keras' LSTM states are (hidden, cell), S4TF's (cell, hidden), and a
        # pair in the other order would run with the two swapped, silently.
        if state is not None and not isinstance(state, LSTMCell.State):
            raise TypeError(
                f"sd.LSTMCell: state= must be an sd.LSTMCell.State(cell=, hidden=) (not a plain pair, "
                f"whose order cannot be told), got {type(state).__name__}"
            )
        return [None] if state is None else list(state)

    def call(self, input, state):
        cell, hidden = state
        fused = tf.matmul(tf.concat([input, hidden], 1), self.fused_weight) + self.fused_bias
        input_gate, update_gate, forget_gate, output_gate = tf.split(fused, 4, axis=1)
        new_cell = cell * tf.sigmoid(forget_gate) + tf.sigmoid(input_gate) * tf.tanh(update_gate)
        new_hidden = tf.tanh(new_cell) * tf.sigmoid(output_gate)
        new_state = LSTMCell.State(cell=new_cell, hidden=new_hidden)
        return RNNCellOutput(output=new_state, state=new_state)

    def zero_state(self, for_: Any) -> Any:
        """Swift ``zeroState(for:)``: ``LSTMCell.State`` of zeros ``[batch, hidden_size]``.

        Args:
            for_: A time-step input ``[batch, input_size]``, as in Swift, or the batch size.

        Returns:
            The zero state.

        Raises:
            TypeError, ValueError: ``for_`` is neither.
        """
        zeros = self._zeros(for_)
        return LSTMCell.State(cell=zeros, hidden=zeros)


@_register
class GRUCell(_SizedCell):
    """Swift ``GRUCell(inputSize:hiddenSize:kernelInitializer:biasInitializer:)``: a gated recurrent unit.

    S4TF's reset-after form: ``z = sigmoid(x @ update_kernel + update_bias + h @
    update_recurrent_kernel + update_recurrent_bias)``, ``r`` the same with the ``reset_``
    variables, ``n = tanh(x @ output_kernel + output_bias + r * (h @ output_recurrent_kernel +
    output_recurrent_bias))`` and ``h' = z * h + (1 - z) * n``. The output is the new state.

    Args:
        input_size: The number of features of each time-step input.
        hidden_size: The number of features of the state.
        kernel_initializer: The initializer of the six kernels (a Keras initializer or its name);
            Glorot uniform, as Swift's.
        bias_initializer: The initializer of the six biases; zeros, as Swift's.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ``dtype=``, ...).

    Attributes:
        update_kernel, reset_kernel, output_kernel: ``[input_size, hidden_size]``.
        update_recurrent_kernel, reset_recurrent_kernel, output_recurrent_kernel:
            ``[hidden_size, hidden_size]``.
        update_bias, reset_bias, output_bias: ``[hidden_size]``, added to the input's product.
        update_recurrent_bias, reset_recurrent_bias, output_recurrent_bias: ``[hidden_size]``,
            added to the state's product.

    Call arguments:
        input: ``[batch, input_size]``.
        state: ``[batch, hidden_size]``.

    Returns (from a call):
        ``sd.RNNCellOutput(output=h', state=h')``.

    Raises:
        ValueError: A size is not a positive integer or an initializer is unknown; at call,
            ``input`` or ``state`` has the wrong shape.
        TypeError: At call, ``state`` is missing.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> cell = sd.GRUCell(input_size=2, hidden_size=3)
        >>> cell(input=tf.ones([4, 2]), state=cell.zero_state(for_=4)).output.shape
        TensorShape([4, 3])
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ):
        super().__init__(input_size, hidden_size, **kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

        def add(name: str, shape: tuple[int, ...], initializer: Any) -> Any:
            return self.add_weight(shape=shape, initializer=initializer, name=name)

        # Swift's declaration order (that of trainable_variables): the kernels, then the biases.
        kernel, recurrent = (self.input_size, self.hidden_size), (self.hidden_size, self.hidden_size)
        bias, kernels, biases = (self.hidden_size,), self.kernel_initializer, self.bias_initializer
        self.update_kernel = add("update_kernel", kernel, kernels)
        self.update_recurrent_kernel = add("update_recurrent_kernel", recurrent, kernels)
        self.reset_kernel = add("reset_kernel", kernel, kernels)
        self.reset_recurrent_kernel = add("reset_recurrent_kernel", recurrent, kernels)
        self.output_kernel = add("output_kernel", kernel, kernels)
        self.output_recurrent_kernel = add("output_recurrent_kernel", recurrent, kernels)
        self.update_bias = add("update_bias", bias, biases)
        self.update_recurrent_bias = add("update_recurrent_bias", bias, biases)
        self.reset_bias = add("reset_bias", bias, biases)
        self.reset_recurrent_bias = add("reset_recurrent_bias", bias, biases)
        self.output_bias = add("output_bias", bias, biases)
        self.output_recurrent_bias = add("output_recurrent_bias", bias, biases)
        self.built = True

    def call(self, input, state):
        x, h = input, state
        update = tf.sigmoid(
            (tf.matmul(x, self.update_kernel) + self.update_bias)
            + (tf.matmul(h, self.update_recurrent_kernel) + self.update_recurrent_bias)
        )
        reset = tf.sigmoid(
            (tf.matmul(x, self.reset_kernel) + self.reset_bias)
            + (tf.matmul(h, self.reset_recurrent_kernel) + self.reset_recurrent_bias)
        )
        output = tf.tanh(
            (tf.matmul(x, self.output_kernel) + self.output_bias)
            + reset * (tf.matmul(h, self.output_recurrent_kernel) + self.output_recurrent_bias)
        )
        new = update * h + (1 - update) * output
        return RNNCellOutput(output=new, state=new)

    def zero_state(self, for_: Any) -> Any:
        """Swift ``zeroState(for:)``: zeros ``[batch, hidden_size]``.

        Swift's returns ``[1, input_size]`` whatever the batch (a slip that only works when the two
        sizes agree); this returns the state the cell takes.

        Args:
            for_: A time-step input ``[batch, input_size]``, as in Swift, or the batch size.

        Returns:
            The zero state.

        Raises:
            TypeError, ValueError: ``for_`` is neither.
        """
        return self._zeros(for_)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


@_register
class RecurrentLayer(Layer):
    """Swift ``RecurrentLayer(_:)`` (deprecated name ``RNN``): runs a cell over a sequence.

    ``rnn(steps, initial_state=s)`` feeds the cell each time step with the state the previous one
    returned, starting from ``s`` (the cell's ``zero_state`` for the first step if not given), and
    returns the list of the cell's outputs, one per step (Swift's ``[Cell.TimeStepOutput]``; for an
    LSTM a list of ``LSTMCell.State``). ``rnn.last_output(from_=steps, initial_state=s)`` is the
    last of them. The loop is unrolled, as Swift's is.

    ``steps`` is a list (or tuple) of ``[batch, features]`` tensors, Swift's
    ``[Cell.TimeStepInput]``. A Keras-style ``[batch, time, features]`` tensor is accepted too, with
    a static number of time steps, and means the list of its time slices; the result is a list
    either way. No steps give no outputs.

    ``sd.BasicRNN``, ``sd.LSTM`` and ``sd.GRU`` (Swift's typealiases for ``RecurrentLayer`` of the
    three cells) are subclasses that accept only their cell; ``RecurrentLayer`` accepts any cell: a
    Keras layer with ``call(input, state)`` returning an ``sd.RNNCellOutput`` and ``zero_state``.

    Args:
        cell: The cell (Swift's unlabelled argument).
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ...).

    Attributes:
        cell: The cell; its variables are the layer's.

    Raises:
        TypeError: ``cell`` is not a recurrent cell (of the driver's kind); at call, ``steps`` is
            neither a list of time steps nor a ``[batch, time, features]`` tensor.
        ValueError: At call (checked before it runs), a time step is not ``[batch, input_size]`` (the
            message gives its index) or the initial state has the wrong shape (the cell's message);
            a ``[batch, time, features]`` tensor's time is unknown; ``last_output`` of no steps.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> rnn = sd.RecurrentLayer(sd.GRUCell(input_size=2, hidden_size=3))
        >>> outputs = rnn([tf.ones([4, 2])] * 5)
        >>> len(outputs), outputs[-1].shape
        (5, TensorShape([4, 3]))
    """

    _swift = "RecurrentLayer"
    _cell_type: type | None = None

    def __init__(self, cell: Any, **kwargs: Any):
        if self._cell_type is not None and not isinstance(cell, self._cell_type):
            raise TypeError(
                f"sd.{self._swift}: cell must be an sd.{self._cell_type.__name__}, got {type(cell).__name__}"
            )
        if not isinstance(cell, keras.layers.Layer) or not callable(getattr(cell, "zero_state", None)):
            raise TypeError(
                f"sd.{self._swift}: cell must be a recurrent cell (a Keras layer with zero_state, such "
                f"as sd.LSTMCell), got {type(cell).__name__}"
            )
        # Keras casts a layer's floating inputs to its dtype: the cell's, not the default float32.
        kwargs.setdefault("dtype", cell.dtype_policy)
        super().__init__(**kwargs)
        self.cell = cell
        self.built = True

    def _step_shapes(self, steps: Any) -> list:
        """The static shape of each time step, ``None`` where unknown; errors for what is not steps."""
        if isinstance(steps, (list, tuple)):
            return [_static_shape(step) for step in steps]
        shape = _static_shape(steps) if hasattr(steps, "shape") else None
        if shape is not None and len(shape) == 3:
            if shape[1] is None:
                raise ValueError(
                    f"sd.{self._swift}: a [batch, time, features] input needs a static number of time "
                    f"steps, got shape {shape}; pass a list of [batch, features] tensors"
                )
            return [[shape[0], shape[2]]] * shape[1]
        raise TypeError(
            f"sd.{self._swift}: steps must be a list of [batch, features] tensors (Swift's "
            f"[TimeStepInput]) or a [batch, time, features] tensor, got "
            f"{'shape ' + str(shape) if shape is not None else type(steps).__name__}"
        )

    def __call__(self, steps: Any = None, *args: Any, **kwargs: Any) -> Any:
        # Checked before Keras runs the call, as the cell checks its own (see _check_call).
        shapes = self._step_shapes(steps)
        if not shapes:  # no steps: no outputs, as in Swift (Keras cannot call a layer on an empty list)
            return []
        size = getattr(self.cell, "input_size", None)
        for index, shape in enumerate(shapes):
            if shape is not None and (len(shape) != 2 or (size and shape[1] not in (None, size))):
                expected = f"[batch, {size}]" if size else "[batch, features]"
                raise ValueError(f"sd.{self._swift}: time step {index} must be {expected}, got shape {shape}")
        initial_state = kwargs.get("initial_state", args[0] if args else None)
        state_parts = getattr(self.cell, "_state_parts", None)
        if initial_state is not None and state_parts is not None:
            for part in state_parts(initial_state):
                self.cell._check_shape(part, "state", self.cell.hidden_size)
                _check_batch(part, shapes[0], f"sd.{self._swift}: initial_state=", "the time steps")
        return super().__call__(steps, *args, **kwargs)

    def call(self, steps, initial_state=None):
        steps = list(steps) if isinstance(steps, (list, tuple)) else tf.unstack(steps, axis=1)
        state = self.cell.zero_state(steps[0]) if initial_state is None else initial_state
        outputs = []
        for step in steps:
            result = self.cell(input=step, state=state)
            state = result.state
            outputs.append(result.output)
        return outputs

    def last_output(self, from_: Any, initial_state: Any = None) -> Any:
        """Swift ``lastOutput(from:initialState:)``: the output of the last time step.

        Args:
            from_: The time steps, as for a call.
            initial_state: The state before the first step; the cell's zero state if ``None``.

        Returns:
            The cell's output at the last step.

        Raises:
            ValueError: ``from_`` holds no time step.
        """
        outputs = self(from_, initial_state=initial_state)
        if not outputs:
            raise ValueError(f"sd.{self._swift}.last_output: from_= must hold at least one time step")
        return outputs[-1]

    def lastOutput(self, from_: Any, initial_state: Any = None) -> Any:
        """Swift ``lastOutput(from:initialState:)``; see ``last_output``."""
        return self.last_output(from_, initial_state)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cell": keras.saving.serialize_keras_object(self.cell)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RecurrentLayer:
        config = dict(config)
        cell = keras.saving.deserialize_keras_object(config.pop("cell"))
        return cls(cell, **config)


#: Swift's deprecated name of ``RecurrentLayer``.
RNN = RecurrentLayer


@_register
class BasicRNN(RecurrentLayer):
    """Swift ``BasicRNN`` (``RecurrentLayer<BasicRNNCell>``): runs a ``BasicRNNCell`` over a sequence.

    See ``sd.RecurrentLayer`` for the call, ``last_output`` and the accepted time steps.

    Args:
        cell: An ``sd.BasicRNNCell``.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ...).

    Raises:
        TypeError: ``cell`` is not an ``sd.BasicRNNCell``.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> rnn = sd.BasicRNN(sd.BasicRNNCell(input_size=2, hidden_size=3))
        >>> rnn.last_output(from_=tf.ones([4, 6, 2])).shape  # [batch, time, features]
        TensorShape([4, 3])
    """

    _swift = "BasicRNN"
    _cell_type = BasicRNNCell


@_register
class LSTM(RecurrentLayer):
    """Swift ``LSTM`` (``RecurrentLayer<LSTMCell>``): runs an ``LSTMCell`` over a sequence.

    Each output is the cell's ``LSTMCell.State`` after that step (``.hidden`` is what Keras' LSTM
    returns). See ``sd.RecurrentLayer`` for the call, ``last_output`` and the accepted time steps.

    Args:
        cell: An ``sd.LSTMCell``.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ...).

    Raises:
        TypeError: ``cell`` is not an ``sd.LSTMCell``.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> lstm = sd.LSTM(sd.LSTMCell(input_size=2, hidden_size=3))
        >>> steps = [tf.ones([4, 2])] * 5
        >>> last = lstm.last_output(from_=steps, initial_state=lstm.cell.zero_state(for_=steps[0]))
        >>> last.hidden.shape, last.cell.shape
        (TensorShape([4, 3]), TensorShape([4, 3]))
    """

    _swift = "LSTM"
    _cell_type = LSTMCell


@_register
class GRU(RecurrentLayer):
    """Swift ``GRU`` (``RecurrentLayer<GRUCell>``): runs a ``GRUCell`` over a sequence.

    See ``sd.RecurrentLayer`` for the call, ``last_output`` and the accepted time steps.

    Args:
        cell: An ``sd.GRUCell``.
        **kwargs: Passed to ``keras.layers.Layer`` (``name=``, ...).

    Raises:
        TypeError: ``cell`` is not an ``sd.GRUCell``.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> gru = sd.GRU(sd.GRUCell(input_size=2, hidden_size=3))
        >>> [output.shape for output in gru([tf.ones([4, 2])] * 2)]
        [TensorShape([4, 3]), TensorShape([4, 3])]
    """

    _swift = "GRU"
    _cell_type = GRUCell
