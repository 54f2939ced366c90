"""Where to cut a model for checkpointing: the segment memory model and the planners over it.

A model is a chain of ``n`` calls with candidate cut points (where one tensor carries everything).
A plan splits it into segments at some of those points; each segment is *checkpointed* (only its
input is kept; it is recomputed in backpropagation) or *kept* (its activations are kept, as
without checkpointing).

The memory model (Chen et al. 2016's, made exact for mixed plans): backpropagation goes through
the segments last to first. While it is at call ``i`` of segment ``s``, alive are what the earlier
segments store (their input if checkpointed, their activations if kept, and where a kept segment's
gradients read the tensor carried into it, that tensor), segment ``s``'s input if it was
recomputed, the activations of ``s`` kept for calls ``i`` onwards (recomputed or kept; those of
the calls after ``i`` are freed) and the working set of call ``i``'s backward pass (cotangents,
temporaries, its weight gradients: TensorFlow applies each weight's update as soon as its gradient
exists, measured in ``fit`` with and without XLA). So the plan's peak is
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
        kept: bytes kept for backpropagation, per call: each tensor some gradient reads is counted
            at the first call (in the forward order) whose gradient reads it, so that it is alive
            while backpropagation is at that call or a later one.
        boundary: for each cut point, the bytes of the one tensor carried across it.
        flops: the forward work of each call (any consistent unit).
        points: the candidate cut points (positions between calls), increasing.
        working: bytes backpropagation through each call holds beyond what is kept: cotangents,
            temporaries and weight gradients (``memory_report`` traces them).
        readers: for each cut point, ``(first, first_after)``: the first call whose gradient reads
            the carried tensor, and the first at or after the point (``None``: no such call). In a
            model, ``first`` is the call that makes the tensor (just before the point) or
            ``first_after``, and ``first_after`` comes before the next cut point (else the tensor
            would be carried across that one too).
    """

    kept: tuple
    boundary: dict
    flops: tuple
    points: tuple
    working: tuple = ()
    readers: dict = dataclasses.field(default_factory=dict)

    @property
    def length(self) -> int:
        return len(self.kept)


@dataclasses.dataclass(frozen=True)
class Segment:
    start: int
    stop: int
    checkpointed: bool


def segment_figures(chain: Chain, start: int, stop: int, checkpointed: bool, held: bool = False) -> tuple:
    """``(stored, live, cost, holds)`` of one segment: what it keeps for the segments after it, what
    is alive while backpropagation is in it, its recomputation's work, and whether it keeps the
    tensor carried out of it (which the next segment then need not); ``held``: whether the
    segment before keeps the tensor carried in. ``_segment_table`` says how they are counted."""
    return _segment_table(chain, [start, stop])[0][1][checkpointed, held]


def figures(chain: Chain, plan) -> tuple:
    """``(peak, cost)`` of a plan (a sequence of ``Segment`` covering the chain)."""
    stored = peak = cost = 0
    held = False
    for segment in plan:
        s, live, c, held = segment_figures(chain, segment.start, segment.stop, segment.checkpointed, held)
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
    """Plan prefixes ending at one position, as arrays: their stored bytes, peak and cost, whether
    their last segment keeps the tensor carried out of it, and how each was reached (the previous
    position's index, the last segment's kind, the entry it extends in the previous position's
    front)."""

    stored: np.ndarray
    peak: np.ndarray
    cost: np.ndarray
    holds: np.ndarray
    start: np.ndarray
    checkpointed: np.ndarray
    parent: np.ndarray
    positions: list
    earlier: list  # the fronts of the positions before this one


_FIELDS = ("stored", "peak", "cost", "holds", "start", "checkpointed", "parent")


def _front(chain: Chain, budget: float, *, by_cost: bool) -> _Front:
    """The plans covering the whole chain with peak at most ``budget`` that are not dominated.

    What a plan prefix passes on is its stored bytes (later segments' peaks add to them), its peak,
    its cost, and whether it keeps the tensor carried on (then the next segment does not count it
    again). With ``by_cost`` the aim is the least cost, then the least peak: a prefix is dropped
    when another that keeps the carried tensor alike stores no more and is no worse in (cost, peak)
    compared in that order; whatever extends the dropped one extends the other as well, within the
    budget, to a plan no worse. Without ``by_cost`` the aim is the least peak: a prefix is dropped
    when another that keeps the carried tensor alike stores no more and peaks no higher. Either way
    what is kept is a staircase in two keys per kind, small enough for models with a hundred cut
    points (a front in all three figures, the first planner's, grew to hundreds of thousands of
    prefixes on MobileNetV2's 74). Vectorized with NumPy: a few thousand prefixes per position are
    common.
    """
    positions = [0, *chain.points, chain.length]
    table = _segment_table(chain, positions)
    zero = np.zeros(1, dtype=np.int64)
    fronts = [
        _Front(zero, zero, zero, np.zeros(1, dtype=bool), zero, np.zeros(1, dtype=bool), zero, positions, [])
    ]
    for j in range(1, len(positions)):
        parts: dict = {name: [] for name in _FIELDS}
        for i in range(j):
            earlier = fronts[i]
            for held in (False, True):
                among = np.flatnonzero(earlier.holds == held)
                if not len(among):
                    continue
                for checkpointed in (True, False):
                    s, live, c, holds = table[i][j][checkpointed, held]
                    fits = among[earlier.stored[among] + live <= budget]
                    if not len(fits):
                        continue
                    stored = earlier.stored[fits]
                    parts["stored"].append(stored + s)
                    parts["peak"].append(np.maximum(earlier.peak[fits], stored + live))
                    parts["cost"].append(earlier.cost[fits] + c)
                    parts["holds"].append(np.full(len(fits), holds))
                    parts["start"].append(np.full(len(fits), i, dtype=np.int64))
                    parts["checkpointed"].append(np.full(len(fits), checkpointed))
                    parts["parent"].append(fits)
        if not parts["stored"]:
            empty = {
                name: np.zeros(0, dtype=bool if name in ("holds", "checkpointed") else np.int64)
                for name in _FIELDS
            }
            fronts.append(_Front(**empty, positions=positions, earlier=fronts))
            continue
        arrays = {name: np.concatenate(values) for name, values in parts.items()}
        key = _lexical_rank(arrays["cost"], arrays["peak"]) if by_cost else arrays["peak"]
        keep = np.concatenate(
            [
                kind[_staircase(arrays["stored"][kind], key[kind])]
                for kind in (np.flatnonzero(~arrays["holds"]), np.flatnonzero(arrays["holds"]))
            ]
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
    if not len(stored):
        return np.zeros(0, dtype=np.int64)
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
    """The figures of every segment between two of ``positions``:
    ``table[i][j][checkpointed, held] = (stored, live, cost, holds)``, in one pass from each start.

    Backpropagation goes through a segment from its last call to its first; at a call, alive are
    the tensors kept for that call and the calls after it in the segment (``Chain.kept``), the
    call's working set, and the tensor carried into the segment where the segment needs it (for its
    whole backward pass: a slight over-count when its first reader is further in). A checkpointed
    segment needs it as the input of its recomputation, which is its own tensor (a copy while the
    segment before still reads the original), and costs its forward work again; it stores the
    carried tensor for the segments after it unless ``held``: the segment before is kept and its
    own gradients read that tensor, so it stores it already. A kept segment stores its activations,
    and the carried tensor too when one of its calls' gradients reads it and it is not ``held``.
    ``holds``: whether this segment, kept, holds the tensor it carries out in that sense.
    """
    working = chain.working or (0,) * chain.length
    table: list = []
    for i, start in enumerate(positions):
        row: dict = {}
        carried = chain.boundary.get(start, 0) if start > 0 else 0
        first, first_after = chain.readers.get(start, (None, None)) if start > 0 else (None, None)
        kept_so_far = work = busiest = 0  # busiest: the most alive at one call besides what is carried in
        for j in range(i + 1, len(positions)):
            stop = positions[j]
            for position in range(positions[j - 1], stop):
                kept = chain.kept[position]
                if position == first:  # the carried tensor, counted below as what is carried in
                    kept -= carried
                kept_so_far += kept
                work += chain.flops[position]
                busiest = max(busiest, kept_so_far + working[position])
            out_first = chain.readers.get(stop, (None, None))[0]
            holds = out_first is not None and start <= out_first < stop
            cells: dict = {}
            for held in (False, True):
                before = _carried_in(carried, first_after, stop, held)
                cells[False, held] = (before + kept_so_far, before + busiest, 0, holds)
                # A checkpointed segment's recomputation has its own input; held, the original is
                # stored by the segment before.
                cells[True, held] = (0 if held else carried, carried + busiest, work, False)
            row[j] = cells
        table.append(row)
    return table


def _carried_in(carried, first_after, stop, held) -> int:
    """Bytes of the tensor carried into a kept segment ending at ``stop`` that the segment holds
    for its whole backward pass (see ``_segment_table``)."""
    if held:
        return 0
    return carried if first_after is not None and first_after < stop else 0


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
