"""Every TensorFlow and Keras internal swiftdiff relies on, in one place, checked at import.

Each is used because no public API does the job:

* ``stop_recording``: pauses *every* active ``tf.GradientTape`` (the public
  ``GradientTape.stop_recording`` pauses only a tape you own). Checkpointing needs it: in eager mode
  ``tf.custom_gradient`` lets outer tapes record the forward pass, which would keep every activation
  alive (measured: 0.92 of the plain model's memory instead of 0.3).
* ``record_operation`` and ``VariableWatcher``: what ``tf.custom_gradient`` does in eager mode,
  done by ``custom_gradient_call`` itself. ``tf.custom_gradient``'s eager gradient function keeps
  the call's outputs (to restore their structure) until the tape is released, so a checkpointed
  block's output stayed alive through the backward pass even when nothing needed it (measured on
  the CNN of benchmarks/cnn_fit.py: 288 MiB, 256 MiB without it).
* ``could_possibly_record``: tells a registered function whether any tape is active, so an
  undifferentiated call runs the original body exactly as written.
* ``add_op_callback`` / ``remove_op_callback``: let checkpointing see the random ops a body runs
  (to replay ``tf.random.Generator`` draws and to warn about op-seeded ops it cannot replay).
* ``function_definition``: the ``FunctionDef`` behind a function-call op, so checkpointing can tell
  whether a compiled function called by a body draws random numbers it cannot replay.
* ``keras_variable_handle``: the ``tf.Variable`` inside a ``keras.Variable`` (``_value``), which is
  what a ``tf.GradientTape`` watches and what ``tf.custom_gradient`` hands to gradient functions.
* ``get_keras_mask`` / ``set_keras_mask``: a Keras mask rides on a tensor as an attribute; the
  recomputation's inputs are new tensors in graphs and must carry the forward inputs' masks.
* ``mirror_call_signature``: the call-signature attributes Keras' ``Layer.__init__`` derives from
  ``call`` (``ActivationDiscarding`` takes its wrapped layer's, so that Keras binds arguments,
  resolves ``training`` and fills ``mask=`` for it exactly as for the wrapped layer).
* ``keras_history``, ``inbound_node``, ``node_call``, ``model_structure``: how a Keras functional
  model records its graph (a ``KerasTensor``'s producing node, the node's recorded call arguments,
  the nests of the model's inputs and outputs). ``sd.checkpointed`` reads a model's layer graph to
  find where one tensor carries everything; Keras has no public API for the graph.
* ``get_stateless_scope`` and the behaviour of ``keras.StatelessScope``: an assignment inside the
  scope is routed to ``add_update`` and seen through ``get_current_value``, the real variable is
  untouched, and ``state_mapping`` maps variables to the values read inside the scope. Exact
  recomputation (same dropout masks, BatchNorm statistics updated once) rests on it.

``verify()`` checks all of it. If a TensorFlow or Keras release changed any of this, swiftdiff fails
with an ``ImportError`` naming the versions and what changed, instead of checkpointing silently
dropping state updates. The attribute checks run at import. The behavioural probe (a scoped
assignment, a variable's handle) runs ops, so it runs at import only when TensorFlow's runtime is
already started, and otherwise at the first checkpointed call: starting the runtime at import would
break programs that must configure it first (``MultiWorkerMirroredStrategy`` needs collective ops
set up at program start).
"""

from __future__ import annotations

import inspect
import threading

import keras
import tensorflow as tf
from keras.src.backend.common.masking import get_keras_mask, set_keras_mask  # noqa: F401 (re-export)
from keras.src.backend.common.stateless_scope import get_stateless_scope  # noqa: F401 (re-export)
from tensorflow.python.eager import context as _context
from tensorflow.python.eager import record as _record
from tensorflow.python.framework import op_callbacks as _op_callbacks

stop_recording = _record.stop_recording
could_possibly_record = _record.could_possibly_record
record_operation = _record.record_operation
VariableWatcher = _record.VariableWatcher
add_op_callback = _op_callbacks.add_op_callback
remove_op_callback = _op_callbacks.remove_op_callback


def function_definition(name: str, graph=None):
    """The ``FunctionDef`` of a traced function by name, from ``graph``'s library or the eager context."""
    function = graph._get_function(name) if graph is not None else None  # noqa: SLF001
    if function is not None:
        return getattr(function, "cached_definition", None) or function.definition
    try:
        return _context.context().get_function_def(name)
    except Exception:  # noqa: BLE001 - not registered in the eager context
        return None


def keras_variable_handle(variable):
    """The ``tf.Variable`` a ``keras.Variable`` wraps on the TensorFlow backend (None otherwise)."""
    inner = getattr(variable, "_value", None)
    return inner if isinstance(inner, tf.Variable) else None


def keras_history(tensor):
    """``(operation, node_index, tensor_index)`` of a ``KerasTensor``, or ``None``."""
    return getattr(tensor, "_keras_history", None)


def inbound_node(operation, node_index: int):
    """The node of ``operation``'s ``node_index``-th call in a functional graph."""
    return operation._inbound_nodes[node_index]


def node_call(node) -> tuple:
    """``(args, kwargs, input_tensors, output_tensors, is_input)`` recorded by a Keras node."""
    return (
        node.arguments.args,
        node.arguments.kwargs,
        list(node.input_tensors),
        list(node.outputs),
        node.is_input,
    )


def model_structure(model) -> tuple:
    """The nests of a functional model's inputs and outputs (``model.inputs``/``outputs`` are flat).

    A ``keras.Sequential`` has one input and one output and takes and returns them bare (it keeps
    no ``_outputs_struct`` of its own)."""
    if isinstance(model, keras.Sequential):
        return model.inputs[0], model.outputs[0]
    return getattr(model, "_inputs_struct", model.inputs), getattr(model, "_outputs_struct", model.outputs)


_CALL_SIGNATURE_ATTRIBUTES = (
    "_call_signature",
    "call_signature_parameters",
    "_call_has_training_arg",
    "_call_has_mask_arg",
    "_call_context_args",
    "_call_has_context_arg",
)


def mirror_call_signature(layer, signature: inspect.Signature, context_args=()) -> None:
    """Makes Keras treat ``layer``'s ``call`` as having ``signature`` (what ``Layer.__init__`` records).

    Keras' ``Layer.__call__`` works from these: it binds arguments to the signature, resolves
    ``training`` and fills ``mask=`` (``query_mask=``, ...) from the inputs' Keras masks. Keras' own
    ``_register_call_context_args`` updates them the same way.
    """
    names = list(signature.parameters)
    context_args = set(layer._call_context_args) | set(context_args)
    layer._call_signature = signature
    layer.call_signature_parameters[:] = names
    layer._call_has_training_arg = "training" in names
    layer._call_has_mask_arg = "mask" in names
    layer._call_context_args = context_args
    layer._call_has_context_arg.clear()
    layer._call_has_context_arg.update({arg: arg in names for arg in context_args})


def _static_problems() -> list[str]:
    """What no longer holds, found without running any TensorFlow op."""
    problems = []
    layer = keras.layers.Layer()
    missing = [name for name in _CALL_SIGNATURE_ATTRIBUTES if not hasattr(layer, name)]
    if missing:
        problems.append(f"keras.layers.Layer no longer records its call signature in {missing}")
    for name in ("add_update", "get_current_value"):
        if not callable(getattr(keras.StatelessScope, name, None)):
            problems.append(f"keras.StatelessScope.{name} is gone")
    import keras.src.ops.node as keras_node

    for name in ("arguments", "input_tensors", "outputs", "is_input"):
        if name not in dir(keras_node.Node) and name not in keras_node.Node.__init__.__code__.co_names:
            problems.append(f"keras' functional graph Node no longer has {name}")
    if not hasattr(keras.layers.Layer(), "_inbound_nodes"):
        problems.append("keras layers no longer record their calls in _inbound_nodes")
    for name in ("stop_recording", "could_possibly_record", "record_operation", "VariableWatcher"):
        if not callable(getattr(_record, name, None)):
            problems.append(f"tensorflow.python.eager.record.{name} is gone")
    return problems


def _probe() -> list[str]:
    """What no longer holds of the behaviour above (empty when everything is as assumed)."""
    problems = _static_problems()
    variable = keras.Variable(1.0, trainable=False, name="swiftdiff_probe")
    if keras_variable_handle(variable) is None:
        problems.append("keras.Variable no longer wraps a tf.Variable in `_value`")
    updates = []

    class Recording(keras.StatelessScope):
        def add_update(self, update):
            updates.append(update)
            super().add_update(update)

    try:
        with Recording(state_mapping=[(variable, tf.constant(5.0))]) as scope:
            if get_stateless_scope() is not scope:
                problems.append("get_stateless_scope() does not return the active StatelessScope")
            seen = float(variable.value)
            variable.assign(7.0)
            current = scope.get_current_value(variable)
        if seen != 5.0:
            problems.append("StatelessScope(state_mapping=...) no longer substitutes a variable's value")
        if not updates or updates[0][0] is not variable:
            problems.append("an assignment inside a StatelessScope no longer calls add_update")
        if current is None or float(current) != 7.0:
            problems.append("StatelessScope.get_current_value no longer returns the scoped assignment")
        if float(variable.numpy()) != 1.0:
            problems.append("an assignment inside a StatelessScope now changes the real variable")
    except Exception as error:  # any failure of the probe is a changed internal
        problems.append(f"the StatelessScope probe failed: {type(error).__name__}: {error}")
    tensor = tf.constant(1.0)
    set_keras_mask(tensor, tf.constant(True))
    if get_keras_mask(tensor) is None:
        problems.append("a Keras mask set on a tensor is no longer read back")
    return problems


verified = False


def _raise(problems: list[str]) -> None:
    raise ImportError(
        f"swiftdiff does not support TensorFlow {tf.__version__} with Keras {keras.__version__}: "
        + "; ".join(problems)
        + ". Exact checkpointing depends on it; use the versions named in "
        "the README (TensorFlow 2.21, Keras 3.15) or report this."
    )


def verify() -> None:
    """Raises ``ImportError`` when the internals above do not behave as swiftdiff assumes.

    The probe runs in a thread of its own: it starts in eager mode, with no ``tf.function`` being
    traced, no Keras ``StatelessScope`` and no distribution strategy (all thread-local), wherever
    the first checkpointed call happens (inside ``fit``, a replica, a trace).
    """
    global verified
    problems: list[str] = []

    def probe():
        try:
            problems.extend(_probe())
        except Exception as error:  # noqa: BLE001 - reported below, never swallowed
            problems.append(f"the probe failed: {type(error).__name__}: {error}")

    thread = threading.Thread(target=probe, name="swiftdiff-probe")
    thread.start()
    thread.join()
    if problems:
        _raise(problems)
    verified = True


def verify_at_import() -> None:
    """The attribute checks now; the behavioural probe now only if TensorFlow's runtime is started."""
    problems = _static_problems()
    if problems:
        _raise(problems)
    context = _context.context_safe()
    if context is not None and getattr(context, "_initialized", False):
        verify()
