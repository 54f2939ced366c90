"""``sd.checkpointed``: checkpointing a whole Keras model, cut where one tensor carries everything."""

from __future__ import annotations

import math

import keras
import numpy as np

from . import _planner
from ._model_graph import ModelGraph, model_graph
from ._platform_internals import get_keras_mask, set_keras_mask
from .checkpointing import with_recomputation_in_pullbacks
from .memory_report import Analysis

_WHO = "sd.checkpointed"
# The batch size a fraction or a segment count is planned for when neither the model's input nor
# batch_size= fixes it: Keras' fit default. The plan depends on it through what does not grow with
# the batch (the weight gradients and the copies of weights being updated in a call's working set):
# pass batch_size= for a plan made for another batch size.
_DEFAULT_BATCH = 32


@keras.saving.register_keras_serializable(package="swiftdiff")
class CheckpointedModel(keras.Model):
    """The model ``sd.checkpointed`` returns (beyond S4TF): ``model`` run segment by segment.

    Each checkpointed segment runs through ``sd.with_recomputation_in_pullbacks`` (exact as
    ``ActivationDiscarding`` is: same dropout masks, BatchNorm statistics updated once).

    It holds ``model`` itself, so the layers and variables are the original's: training one trains
    the other. It saves and loads as ``.keras`` (the original model and the plan).

    Args:
        model: the functional or Sequential model.
        plan: ``[[start, stop, checkpointed], ...]``: segments of the model's calls, in order.
        **kwargs: ``keras.Model`` arguments (``name=``).

    Attributes:
        model: the original model.
        checkpointing_plan: the segments (``start``, ``stop``, ``checkpointed``).

    Examples:
        >>> import keras, tensorflow as tf, swiftdiff as sd
        >>> inputs = keras.Input((4,))
        >>> x = keras.layers.Dense(8, activation="tanh")(inputs)
        >>> x = keras.layers.Dense(8, activation="tanh")(x)
        >>> plain = keras.Model(inputs, keras.layers.Dense(1)(x))
        >>> model = sd.checkpointed(plain, segments=2)
        >>> bool(tf.reduce_all(model(tf.ones([2, 4])) == plain(tf.ones([2, 4]))))
        True
    """

    # How a checkpointed segment is recomputed (a subclass may swap it: the benchmarks measure
    # tf.recompute_grad over the same segments).
    _recompute = staticmethod(with_recomputation_in_pullbacks)

    def __init__(self, model, plan, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self._graph = model_graph(model, _WHO)
        self.checkpointing_plan = [_planner.Segment(int(a), int(b), bool(c)) for a, b, c in plan]
        covered = [(s.start, s.stop) for s in self.checkpointing_plan]
        bounds = [0] + [stop for _, stop in covered]
        points = set(self._graph.cut_points())
        if (
            not covered
            or [start for start, _ in covered] != bounds[:-1]
            or bounds[-1] != len(self._graph.calls)
            or any(b not in points for b in bounds[1:-1])
        ):
            raise ValueError(
                f"{_WHO}: the plan {plan!r} does not cover the model in segments between cut points"
            )
        self._runs = [self._run_of(segment) for segment in self.checkpointing_plan]
        self.built = True

    def _run_of(self, segment) -> tuple:
        """``(calls, keys, results)``: a segment's calls, the keys of the tensors it takes (the one
        carried in, then the model inputs it reads) and of those it gives (checkpointed only)."""
        graph: ModelGraph = self._graph
        calls = graph.calls[segment.start : segment.stop]
        if not segment.checkpointed:
            return calls, None, None
        carried = [graph.carried(segment.start)] if segment.start > 0 else []
        keys = carried + graph.input_keys_used(segment.start, segment.stop)
        last = segment.stop == len(graph.calls)
        results = list(dict.fromkeys(graph.outputs)) if last else [graph.carried(segment.stop)]
        return calls, keys, results

    def call(self, inputs, training=None):
        graph: ModelGraph = self._graph
        flat = keras.tree.flatten(inputs)
        if len(flat) != len(graph.inputs):
            raise ValueError(
                f"{self.name}: called with {len(flat)} input tensors; the model takes {len(graph.inputs)}"
            )
        values = dict(zip(graph.inputs, flat, strict=True))
        for calls, keys, results in self._runs:
            if keys is None:  # kept: run as the plain model runs
                for call in calls:
                    call.run(values, training)
                continue
            run, masks = _segment_runner(calls, keys, results, training, self._recompute)
            for key, value in zip(results, run(*[values[key] for key in keys]), strict=True):
                if masks.get(key) is not None:  # a Keras mask rides on the tensor the segment made
                    set_keras_mask(value, masks[key])
                values[key] = value
        return keras.tree.pack_sequence_as(graph.output_structure, [values[key] for key in graph.outputs])

    def compute_output_spec(self, inputs, training=None):
        return self.model.compute_output_spec(inputs)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "model": keras.saving.serialize_keras_object(self.model),
            "plan": [[s.start, s.stop, s.checkpointed] for s in self.checkpointing_plan],
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        model = keras.saving.deserialize_keras_object(config.pop("model"))
        return cls(model, **config)


def _segment_runner(calls, keys, results, training, recompute):
    """The function of one segment (its input tensors in, its result tensors out) checkpointed by
    ``recompute``, and a dict its forward pass fills with the Keras masks of its results: a mask
    rides on a tensor as an attribute, and the tensors a checkpointed function returns are new ones."""
    masks: dict = {}

    def segment(*tensors):
        values = dict(zip(keys, tensors, strict=True))
        for call in calls:
            call.run(values, training)
        if not masks:  # the forward pass (the recomputation, later, finds the same masks)
            masks.update({key: get_keras_mask(values[key]) for key in results})
        return [values[key] for key in results]

    segment.__name__ = f"segment of {calls[0].layer.name}..{calls[-1].layer.name}"
    return recompute(segment), masks


def checkpointed(model, *, segments=None, memory_budget=None, batch_size=None):
    """A whole Keras model checkpointed segment by segment, sharing its layers (beyond S4TF).

    Segments are cut only where one tensor carries everything from one part of the model to the
    rest (between residual blocks, dense blocks, Transformer layers); nested functional models are
    opened. The result computes exactly what ``model`` computes, trains with ``fit`` (with and
    without ``jit_compile``), saves as ``.keras``; its layers and variables are ``model``'s.

    * ``segments=k``: ``k`` segments of about equal activation memory (by bytes), every one
      recomputed but the last (backpropagation needs the last one's activations first).
    * ``memory_budget=``: bytes (an ``int``; the batch size must be known: from the model's input,
      or ``batch_size=``), or a ``float`` in (0, 1], a fraction of the plain model's predicted peak
      (for the batch size known, else ``batch_size=``, else 32, Keras' fit default). The peak is a
      training step's: activations kept for backpropagation and each call's working set (cotangents,
      temporaries, weight gradients; ``sd.memory_report`` says how they are found). The planner
      picks the cut points and which segments to recompute so that the predicted peak fits with
      the least recomputation.
    * neither: about √n segments (n layer calls), balanced by bytes.

    A model with no cut point gets one segment (which saves nothing; ``sd.memory_report`` says so).

    Args:
        model: a functional or Sequential ``keras.Model`` (built).
        segments: the number of segments, from 1 to the number of cut points + 1.
        memory_budget: the peak memory of a training step to fit, bytes or a fraction.
        batch_size: the batch size the plan is for, when the model's input does not fix it (needed
            for a budget in bytes).

    Returns:
        A ``CheckpointedModel``.

    Raises:
        TypeError: ``model`` is not a Keras model whose graph can be read; an argument's type.
        ValueError: ``segments`` out of range; a budget ≤ 0, above 1 as a fraction, or below what
            any plan reaches (the message names the smallest that can be met).

    Examples:
        >>> import keras, swiftdiff as sd
        >>> inputs = keras.Input((16,))
        >>> x = inputs
        >>> for _ in range(12):
        ...     x = keras.layers.Add()([x, keras.layers.Dense(16, activation="relu")(x)])
        >>> model = sd.checkpointed(keras.Model(inputs, x), memory_budget=0.5)
        >>> planned, plain = sd.memory_report(model, (32, 16)), sd.memory_report(model.model, (32, 16))
        >>> planned.peak_bytes <= 0.5 * plain.peak_bytes
        True
    """
    graph = model_graph(model, _WHO)
    if segments is not None and memory_budget is not None:
        raise ValueError(f"{_WHO}: give segments= or memory_budget=, not both")
    if segments is not None and (isinstance(segments, bool) or not isinstance(segments, (int, np.integer))):
        raise TypeError(f"{_WHO}: segments= must be an int, got {type(segments).__name__}")
    if memory_budget is not None and (
        isinstance(memory_budget, bool)
        or not isinstance(memory_budget, (int, float, np.integer, np.floating))
    ):
        raise TypeError(
            f"{_WHO}: memory_budget= must be an int (bytes) or a float (fraction), "
            f"got {type(memory_budget).__name__}"
        )
    if memory_budget is not None and memory_budget <= 0:
        raise ValueError(f"{_WHO}: memory_budget must be positive, got {memory_budget}")
    points = graph.cut_points()
    if segments is not None and not 1 <= segments <= len(points) + 1:
        raise ValueError(
            f"{_WHO}: segments={segments} is out of range: this model can be cut into 1 to {len(points) + 1} "
            f"segments ({len(points)} cut points)"
        )
    batch = _batch(model, memory_budget, batch_size)
    chain = Analysis(graph, batch).chain()
    if memory_budget is None:
        count = (
            segments if segments is not None else min(len(points) + 1, max(1, round(math.sqrt(chain.length))))
        )
        plan = _planner.balanced_plan(chain, int(count))
    else:
        plan = _plan_for_budget(chain, memory_budget)
    return CheckpointedModel(
        model, [[s.start, s.stop, s.checkpointed] for s in plan], name=f"{model.name}_checkpointed"
    )


def _batch(model, memory_budget, batch_size) -> int:
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"{_WHO}: batch_size= must be a positive int, got {batch_size!r}")
        return int(batch_size)
    fixed = {x.shape[0] for x in model.inputs if x.shape and x.shape[0] is not None}
    if len(fixed) == 1:
        return int(fixed.pop())
    if isinstance(memory_budget, (int, np.integer)):
        raise ValueError(
            f"{_WHO}: a memory_budget in bytes needs the batch size: pass batch_size=, or a fraction of "
            f"the plain model's memory (a float in (0, 1])"
        )
    return _DEFAULT_BATCH


def _plan_for_budget(chain, memory_budget):
    plain_peak, _ = _planner.figures(chain, [_planner.Segment(0, chain.length, False)])
    if isinstance(memory_budget, (float, np.floating)):
        if not 0 < memory_budget <= 1:
            raise ValueError(f"{_WHO}: a fractional memory_budget must be in (0, 1], got {memory_budget}")
        budget = memory_budget * plain_peak
    else:  # bytes; checkpointed() has refused a budget <= 0
        budget = memory_budget
    plan = _planner.optimal_plan(chain, budget)
    if plan is None:
        smallest = _planner.smallest_peak(chain)
        raise ValueError(
            f"{_WHO}: no plan fits memory_budget={memory_budget!r}; "
            f"the smallest reachable is {smallest} bytes "
            f"({smallest / plain_peak:.3f} of the plain model's {plain_peak})"
        )
    return plan
