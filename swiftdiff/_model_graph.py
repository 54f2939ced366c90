"""A Keras model's layer graph as a list of calls in order, and where it can be cut.

``sd.checkpointed`` and ``sd.memory_report`` need the same thing: the model's layer calls in an
order that runs it, with nested functional models opened, and the positions after which a single
tensor carries everything the rest of the model needs (besides the model's own inputs, which every
segment may read). Keras records the graph (each ``KerasTensor`` knows the node that made it, each
node its call's arguments); it has no public API for it, so the access goes through
``_platform_internals``.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from ._platform_internals import inbound_node, keras_history, model_structure, node_call


@dataclasses.dataclass(frozen=True)
class Ref:
    """A placeholder for the tensor with key ``key`` in a recorded call's arguments."""

    key: int


@dataclasses.dataclass
class Call:
    """One layer call: ``layer(*args, **kwargs)`` with ``Ref`` leaves, producing ``outputs``."""

    layer: keras.layers.Layer
    args: tuple
    kwargs: dict
    inputs: list  # keys of the tensors it reads, in order, without repeats
    outputs: list  # keys of the tensors it makes (its outputs, flattened)
    specs: list  # the KerasTensors of its outputs (shape without the batch size, dtype)

    @property
    def trainable_variables(self) -> list:
        """The layer's trainable variables; none for a Keras operation (``x + y`` or another
        ``keras.ops`` function applied to a model's tensors is recorded as a call too)."""
        return list(getattr(self.layer, "trainable_variables", ()))

    def run(self, values: dict, training):
        """Runs the call on ``values`` (key -> tensor); stores and returns its outputs."""

        def fill(leaf):
            return values[leaf.key] if isinstance(leaf, Ref) else leaf

        args = tf.nest.map_structure(fill, self.args)
        kwargs = tf.nest.map_structure(fill, self.kwargs)
        if training is not None and _takes_training(self.layer):
            # As Keras' functional models do: the call's training flag replaces the recorded one
            # (Keras records training=False while building). Explicit here: the recomputation runs
            # outside Keras' call context.
            kwargs["training"] = training
        outputs = self.layer(*args, **kwargs)
        for key, value in zip(self.outputs, keras.tree.flatten(outputs), strict=True):
            values[key] = value
        return outputs


def _takes_training(layer) -> bool:
    return bool(getattr(layer, "_call_has_training_arg", False))


def _is_functional(layer) -> bool:
    """A model whose graph Keras recorded (functional, or a Sequential built with its input shape)."""
    if not isinstance(layer, keras.Model):
        return False
    try:
        return bool(layer.inputs) and bool(layer.outputs) and keras_history(layer.outputs[0]) is not None
    except (AttributeError, ValueError):
        return False


class ModelGraph:
    """The calls of a functional model in an order that runs it, nested functional models opened.

    Attributes:
        calls: the ``Call`` s, in order.
        inputs: the keys of the model's input tensors (flattened).
        outputs: the keys of its output tensors (flattened).
        output_structure: the nest of its outputs.
        input_structure: the nest of its inputs.
    """

    def __init__(self, model: keras.Model):
        self.model = model
        self.input_structure, self.output_structure = model_structure(model)
        self.calls: list[Call] = []
        self._alias: dict[int, int] = {}
        self.inputs = [id(x) for x in model.inputs]
        self.outputs = self._read(model, {})
        self.specs = {
            key: spec for call in self.calls for key, spec in zip(call.outputs, call.specs, strict=True)
        }
        for key, tensor in zip(self.inputs, model.inputs, strict=True):
            self.specs[key] = tensor
        self._cut_points = self._find_cut_points()

    def _key(self, tensor, substitution: dict) -> int:
        key = substitution.get(id(tensor), id(tensor))
        while key in self._alias:
            key = self._alias[key]
        return key

    def _read(self, model, substitution: dict) -> list:
        """Appends ``model``'s calls (its inputs mapped by ``substitution``); returns its output keys."""
        order: list = []
        done: set = set()
        model_inputs = {id(x) for x in model.inputs}

        def visit(tensor):
            history = keras_history(tensor)
            if history is None or id(tensor) in model_inputs:
                return
            node = inbound_node(history[0], history[1])
            if id(node) in done:
                return
            done.add(id(node))
            _, _, input_tensors, _, is_input = node_call(node)
            if is_input:
                return
            for x in input_tensors:
                visit(x)
            order.append((history[0], node))

        for output in model.outputs:
            visit(output)
        for layer, node in order:
            args, kwargs, input_tensors, output_tensors, _ = node_call(node)
            if _is_functional(layer) and set(kwargs) <= {"training", "mask"} and len(args) == 1:
                inner_inputs = keras.tree.flatten(args[0])
                if len(inner_inputs) == len(layer.inputs):
                    inner = {
                        id(i): self._key(o, substitution)
                        for i, o in zip(layer.inputs, inner_inputs, strict=True)
                    }
                    inner_outputs = self._read(layer, inner)
                    for outer, key in zip(output_tensors, inner_outputs, strict=True):
                        self._alias[id(outer)] = key
                    continue
            keys = []
            for x in input_tensors:
                key = self._key(x, substitution)
                if key not in keys:
                    keys.append(key)

            def ref(leaf, substitution=substitution):
                return Ref(self._key(leaf, substitution)) if isinstance(leaf, keras.KerasTensor) else leaf

            self.calls.append(
                Call(
                    layer=layer,
                    args=tf.nest.map_structure(ref, tuple(args)),
                    kwargs=tf.nest.map_structure(ref, dict(kwargs)),
                    inputs=keys,
                    outputs=[id(x) for x in output_tensors],
                    specs=list(output_tensors),
                )
            )
        return [self._key(x, substitution) for x in model.outputs]

    def cut_points(self) -> list[int]:
        """Positions ``p`` (0 < p < len(calls)) such that one tensor made by the calls before ``p``
        carries everything the calls from ``p`` on and the outputs need (model inputs aside)."""
        return list(self._cut_points)

    def _find_cut_points(self) -> list[int]:
        last_use: dict[int, int] = {}
        for position, call in enumerate(self.calls):
            for key in call.inputs:
                last_use[key] = position
        end = len(self.calls)
        for key in self.outputs:
            last_use[key] = end
        inputs = set(self.inputs)
        points = []
        live: set = set()
        for position, call in enumerate(self.calls[:-1], start=0):
            live.update(call.outputs)
            live = {key for key in live if last_use.get(key, -1) > position}
            if len(live - inputs) == 1:
                points.append(position + 1)
        return points

    def carried(self, point: int) -> int:
        """The key of the one tensor live across ``point`` (a cut point)."""
        made = {key for call in self.calls[:point] for key in call.outputs}
        needed = {key for call in self.calls[point:] for key in call.inputs} | set(self.outputs)
        (key,) = made & needed
        return key

    def input_keys_used(self, start: int, stop: int) -> list[int]:
        """The model inputs read by the calls in ``[start, stop)`` or output directly, in input order."""
        used = {key for call in self.calls[start:stop] for key in call.inputs}
        if stop == len(self.calls):
            used |= set(self.outputs)
        return [key for key in self.inputs if key in used]


def model_graph(model, who: str) -> ModelGraph:
    """``model``'s graph, or a short ``TypeError`` naming ``who`` when it cannot be read."""
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"{who}: model must be a keras.Model (functional or Sequential), got {type(model).__name__}"
        )
    if not _is_functional(model):
        raise TypeError(
            f"{who}: the layer graph of {type(model).__name__} {model.name!r} cannot be read (a subclassed "
            f"model, or a Sequential built without its input shape). Build it functionally or with "
            f"keras.Input, or wrap its blocks in sd.ActivationDiscarding."
        )
    graph = ModelGraph(model)
    if not graph.calls:
        raise TypeError(f"{who}: model {model.name!r} has no layers to run")
    return graph
