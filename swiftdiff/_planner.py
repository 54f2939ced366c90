"""Where to cut a model for checkpointing: the segment memory model and the planners over it.

A model is a chain of ``n`` calls with candidate cut points (where one tensor carries everything).
A plan splits it into segments at some of those points; each segment is *checkpointed* (only its
input is kept; it is recomputed in backpropagation) or *kept* (its activations are kept, as
without checkpointing).

The memory model (Chen et al. 2016's, made exact for mixed plans): backpropagation goes through the
segments last to first. While it is in segment ``s``, alive are what the earlier segments store
(their input if checkpointed, their activations if kept) and all of segment ``s``'s activations
(recomputed or kept) plus its input. So the plan's peak is ``max_s(sum(stored[t] for t < s) +
live[s])``. Its cost is the forward work of the checkpointed segments, run twice.

``optimal_plan`` is a dynamic programme over the cut points keeping, at each point, every plan
prefix that no other beats in stored bytes, peak and cost at once (a Pareto front); it returns the
cheapest plan whose peak fits the budget, and is exact (tests compare it with brute force).
"""

from __future__ import annotations

import dataclasses
import math


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
    """

    kept: tuple
    boundary: dict
    flops: tuple
    points: tuple
    largest: tuple = ()

    @property
    def length(self) -> int:
        return len(self.kept)


@dataclasses.dataclass(frozen=True)
class Segment:
    start: int
    stop: int
    checkpointed: bool


# Backpropagation's working set beyond the kept activations, in units of the segment's largest
# activation: the incoming and outgoing cotangents and the tensor being recomputed or freed.
# Calibrated by measurement (live-tensor peak, fit, a CNN of 8 residual blocks, 2 MiB activations:
# plain 72.0 MiB measured against 66.0 predicted from kept bytes alone, checkpointed 34.0 against
# 26.0): 3 brings both within 7%.
WORKING_TENSORS = 3


def segment_figures(chain: Chain, start: int, stop: int, checkpointed: bool) -> tuple:
    """``(stored, live, cost)`` of one segment: what it keeps for the segments after it, what is
    alive while backpropagation is in it, and its recomputation's work."""
    activations = sum(chain.kept[start:stop])
    carried_in = chain.boundary.get(start, 0) if start > 0 else 0
    working = WORKING_TENSORS * max(chain.largest[start:stop], default=0)
    if checkpointed:
        return carried_in, activations + carried_in + working, sum(chain.flops[start:stop])
    return activations, activations + working, 0


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
    front = _front(chain, budget)
    if not front:
        return None
    best = min(front, key=lambda entry: (entry[2], entry[1]))
    return list(best[3])


def smallest_peak(chain: Chain) -> int:
    """The lowest peak any plan reaches: a plan reaching it is on the unbudgeted front (whatever
    beats it in stored bytes, peak and cost has no higher peak)."""
    return min(peak for _, peak, _, _ in _front(chain))


def _front(chain: Chain, budget: float = math.inf) -> list:
    """``(stored, peak, cost, plan)`` of the plans covering the whole chain with peak at most
    ``budget`` that no other such plan matches or beats in all of stored bytes, peak and cost."""
    positions = [0, *chain.points, chain.length]
    # front[j]: non-dominated (stored, peak, cost, plan) of plans covering calls [0, positions[j])
    front: list = [[] for _ in positions]
    front[0] = [(0, 0, 0, ())]
    for j in range(1, len(positions)):
        candidates = []
        for i in range(j):
            for checkpointed in (True, False):
                s, live, c = segment_figures(chain, positions[i], positions[j], checkpointed)
                for stored, peak, cost, plan in front[i]:
                    new_peak = max(peak, stored + live)
                    if new_peak <= budget:
                        segment = Segment(positions[i], positions[j], checkpointed)
                        candidates.append((stored + s, new_peak, cost + c, (*plan, segment)))
        front[j] = _pareto(candidates)
    return front[-1]


def _pareto(entries: list) -> list:
    """The entries no other entry matches or beats in all of (stored, peak, cost)."""
    entries.sort(key=lambda e: (e[0], e[1], e[2]))
    kept: list = []
    for entry in entries:
        if not any(k[0] <= entry[0] and k[1] <= entry[1] and k[2] <= entry[2] for k in kept):
            kept.append(entry)
    return kept


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
