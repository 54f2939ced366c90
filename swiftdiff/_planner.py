"""Where to cut a model for checkpointing: the segment memory model and the planners over it.

A model is a chain of ``n`` calls with candidate cut points (where one tensor carries everything).
A plan splits it into segments at some of those points; each segment is *checkpointed* (only its
input is kept; it is recomputed in backpropagation) or *kept* (its activations are kept, as
without checkpointing).

The memory model (Chen et al. 2016's, made exact for mixed plans, plus the weight gradients):
backpropagation goes through the segments last to first. While it is at call ``i`` of segment ``s``,
alive are what the earlier segments store (their input if checkpointed, their activations if kept),
segment ``s``'s input if it was recomputed, the activations of ``s`` up to call ``i`` (recomputed or
kept; those after ``i`` are freed), the weight gradients of calls ``i`` onwards (an optimizer applies
them only when all are computed) and a working set of cotangents. So the plan's peak is
``max_s(sum(stored[t] for t < s) + live[s])`` with ``live[s]`` the largest of those sums over the
calls of ``s``. Its cost is the forward work of the checkpointed segments, run twice.

``optimal_plan`` is a dynamic programme over the cut points keeping, at each point, the plan
prefixes no other beats (``_front`` says in what); it returns the cheapest plan whose peak fits the
budget, and is exact (tests compare it with brute force).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Chain:
    """What the planner knows of a model.

    Attributes:
        kept: bytes each call's outputs keep for backpropagation (0 when its backward needs none).
        boundary: for each cut point, the bytes of the one tensor carried across it.
        flops: the forward work of each call (any consistent unit).
        points: the candidate cut points (positions between calls), increasing.
        largest: bytes of each call's largest output: backpropagation through a call holds
            cotangents of about that size besides what is kept (see ``WORKING_TENSORS``).
        gradients: bytes of the weight gradients each call's backward pass produces (a shared
            layer's at its last call, which backpropagation reaches first).
    """

    kept: tuple
    boundary: dict
    flops: tuple
    points: tuple
    largest: tuple = ()
    gradients: tuple = ()

    @property
    def length(self) -> int:
        return len(self.kept)


@dataclasses.dataclass(frozen=True)
class Segment:
    start: int
    stop: int
    checkpointed: bool


# Backpropagation's working set beyond the kept activations and the weight gradients, in units of
# the largest output of the call backpropagation is at: the incoming and outgoing cotangents and the
# tensor being recomputed or freed. Calibrated by measurement (live-tensor peak, fit): on a CNN of 8
# residual blocks (2 MiB activations) plain 72.0 MiB measured, 66.0 predicted from kept bytes
# alone, checkpointed 34.0 against 26.0; 3 brings both within 7%. benchmarks/whole_models.py
# checks it on ResNet50, DenseNet121, MobileNetV2 and a Transformer encoder.
WORKING_TENSORS = 3


def segment_figures(chain: Chain, start: int, stop: int, checkpointed: bool) -> tuple:
    """``(stored, live, cost)`` of one segment: what it keeps for the segments after it, what is
    alive while backpropagation is in it, and its recomputation's work (``_segment_table`` says
    how they are counted)."""
    return _segment_table(chain, [start, stop])[0][1][checkpointed]


def figures(chain: Chain, plan) -> tuple:
    """``(peak, cost)`` of a plan (a sequence of ``Segment`` covering the chain)."""
    stored = peak = cost = 0
    for segment in plan:
        s, live, c = segment_figures(chain, segment.start, segment.stop, segment.checkpointed)
        peak = max(peak, stored + live)
        stored += s
        cost += c
    return peak, cost


def optimal_plan(chain: Chain, budget: float = math.inf):
    """The cheapest plan whose peak is at most ``budget`` (ties: the lower peak), or ``None``."""
    front = _front(chain, budget, by_cost=True)
    if not len(front.stored):
        return None
    return _plan_of(front, int(np.lexsort((front.peak, front.cost))[0]))


def smallest_peak(chain: Chain) -> int:
    """The lowest peak any plan reaches."""
    return int(_front(chain, math.inf, by_cost=False).peak.min())


@dataclasses.dataclass
class _Front:
    """Plan prefixes ending at one position, as arrays: their stored bytes, peak and cost, and how
    each was reached (the previous position's index, the last segment's kind, the entry it extends
    in the previous position's front)."""

    stored: np.ndarray
    peak: np.ndarray
    cost: np.ndarray
    start: np.ndarray
    checkpointed: np.ndarray
    parent: np.ndarray
    positions: list
    earlier: list  # the fronts of the positions before this one


def _front(chain: Chain, budget: float, *, by_cost: bool) -> _Front:
    """The plans covering the whole chain with peak at most ``budget`` that are not dominated.

    What a plan prefix passes on is its stored bytes (later segments' peaks add to them), its peak
    and its cost. With ``by_cost`` the aim is the least cost, then the least peak: a prefix is
    dropped when another stores no more and is no worse in (cost, peak) compared in that order;
    whatever extends the dropped one extends the other as well, within the budget, to a plan no
    worse. Without ``by_cost`` the aim is the least peak: a prefix is dropped when another stores no
    more and peaks no higher. Either way what is kept is a staircase in two keys, small enough for
    models with a hundred cut points (a front in all three figures, the first planner's, grew to
    hundreds of thousands of prefixes on MobileNetV2's 74). Vectorized with NumPy: a few thousand
    prefixes per position are common.
    """
    positions = [0, *chain.points, chain.length]
    table = _segment_table(chain, positions)
    empty = np.zeros(0, dtype=np.int64)
    zero = np.zeros(1, dtype=np.int64)
    fronts = [_Front(zero, zero, zero, zero, np.zeros(1, dtype=bool), zero, positions, [])]
    for j in range(1, len(positions)):
        parts: dict = {name: [] for name in ("stored", "peak", "cost", "start", "checkpointed", "parent")}
        for i in range(j):
            earlier = fronts[i]
            for checkpointed in (True, False):
                s, live, c = table[i][j][checkpointed]
                fits = np.flatnonzero(earlier.stored + live <= budget)
                if not len(fits):
                    continue
                stored = earlier.stored[fits]
                parts["stored"].append(stored + s)
                parts["peak"].append(np.maximum(earlier.peak[fits], stored + live))
                parts["cost"].append(earlier.cost[fits] + c)
                parts["start"].append(np.full(len(fits), i, dtype=np.int64))
                parts["checkpointed"].append(np.full(len(fits), checkpointed))
                parts["parent"].append(fits)
        if not parts["stored"]:
            fronts.append(
                _Front(empty, empty, empty, empty, np.zeros(0, dtype=bool), empty, positions, fronts)
            )
            continue
        arrays = {name: np.concatenate(values) for name, values in parts.items()}
        keep = _staircase(
            arrays["stored"], _lexical_rank(arrays["cost"], arrays["peak"]) if by_cost else arrays["peak"]
        )
        fronts.append(
            _Front(
                **{name: values[keep] for name, values in arrays.items()}, positions=positions, earlier=fronts
            )
        )
    return fronts[-1]


def _lexical_rank(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """For each pair ``(first, second)``, its rank in lexical order (equal pairs, equal ranks)."""
    order = np.lexsort((second, first))
    a, b = first[order], second[order]
    distinct = np.concatenate(([True], (a[1:] != a[:-1]) | (b[1:] != b[:-1])))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.cumsum(distinct)
    return rank


def _staircase(stored: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Indices of the entries that no other entry matches or beats in both ``stored`` and ``key``
    (one of equal entries is kept)."""
    order = np.lexsort((key, stored))
    ordered = key[order]
    best_before = np.minimum.accumulate(np.concatenate(([np.iinfo(np.int64).max], ordered[:-1])))
    return order[ordered < best_before]


def _plan_of(front: _Front, index: int) -> list:
    plan = []
    j = len(front.positions) - 1
    while j > 0:
        i = int(front.start[index])
        plan.append(Segment(front.positions[i], front.positions[j], bool(front.checkpointed[index])))
        index, front, j = int(front.parent[index]), front.earlier[i], i
    return plan[::-1]


def _segment_table(chain: Chain, positions: list) -> list:
    """The figures of every segment between two of ``positions``, ``table[i][j][checkpointed]`` =
    ``(stored, live, cost)``, in one pass from each start.

    A kept segment stores its activations; a checkpointed one its input (the tensor carried in)
    and costs its forward work again. ``live``: the most alive at one call of the segment beyond
    what earlier segments store: the activations kept up to that call (those after it are freed),
    the weight gradients of that call onwards, ``WORKING_TENSORS`` of its largest tensor, and the
    input of a checkpointed segment.
    """
    gradients = chain.gradients or (0,) * chain.length
    largest = chain.largest or (0,) * chain.length
    table: list = []
    for i, start in enumerate(positions):
        row: dict = {}
        carried_in = chain.boundary.get(start, 0) if start > 0 else 0
        later = sum(gradients[start:])  # the weight gradients alive when backpropagation is at ``start``
        kept_so_far = busiest = work = 0
        for j in range(i + 1, len(positions)):
            for position in range(positions[j - 1], positions[j]):
                kept_so_far += chain.kept[position]
                busiest = max(busiest, kept_so_far + later + WORKING_TENSORS * largest[position])
                later -= gradients[position]
                work += chain.flops[position]
            row[j] = {True: (carried_in, busiest + carried_in, work), False: (kept_so_far, busiest, 0)}
        table.append(row)
    return table


def balanced_plan(chain: Chain, segments: int) -> list:
    """``segments`` segments of about equal activation bytes, cut at the nearest cut points; all
    checkpointed but the last (backpropagation needs the last segment's activations first: keeping
    them costs no peak memory and saves its recomputation)."""
    total = sum(chain.kept) or 1
    cumulative = [0]
    for kept in chain.kept:
        cumulative.append(cumulative[-1] + kept)
    chosen: list = []
    available = list(chain.points)
    for k in range(1, segments):
        target = total * k / segments
        if not available:
            break
        point = min(available, key=lambda p: (abs(cumulative[p] - target), p))
        chosen.append(point)
        available = [p for p in available if p > point]  # cuts stay in order
    bounds = [0, *chosen, chain.length]
    return [
        Segment(start, stop, checkpointed=index < len(bounds) - 2)
        for index, (start, stop) in enumerate(zip(bounds, bounds[1:], strict=False))
    ]
