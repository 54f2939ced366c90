"""Step time of checkpointing, measured interleaved: the 64-layer case of memory_vs_depth.py.

Separate processes per configuration are right for memory but poor for time on a shared 2-core
machine, where one run's step time drifts by tens of percent. Here, in one process per mode, the
plain model and each checkpointed model take turns, step by step, and the median of each is
reported as a ratio against the plain model's: drift hits all of them alike.

The plain model's forward pass alone (the loss, no tape) takes its turn too: its share f of a
plain training step gives the cost of recomputing, in the same run. Recomputing every segment
costs one extra forward pass, 1 + f (4/3 only when the backward pass costs twice the forward);
``sd.checkpointed_sequential`` keeps the last of its s segments, 1 + f(s - 1)/s.

Timing runs in TensorFlow's default environment (oneDNN on, glibc's malloc as configured), as
users run it; ``--env memory`` uses memory_vs_depth.py's settings instead (see measure.py).

    python benchmarks/step_time.py [--depth 64] [--rounds 8] [--modes eager,function,fit_xla]

Writes benchmarks/results/step_time.csv and .png.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

METHODS = ["plain", "recompute_grad", "activation_discarding", "checkpointed_sequential"]
MODES = ["eager", "function", "fit_xla"]


def child(mode, depth, batch, width, rounds):
    import keras
    import tensorflow as tf

    from measure import checkpointed_layers, training_step

    x = tf.random.normal([batch, width])
    y = tf.zeros([batch, width])
    steps, plain = {}, None
    for method in METHODS:
        keras.utils.set_random_seed(0)
        body = checkpointed_layers(
            method, lambda: [keras.layers.Dense(width, activation="tanh", use_bias=False) for _ in range(depth)],
            segments=max(1, round(math.sqrt(depth))))
        model = keras.Sequential([keras.Input((width,)), *body])
        plain = plain or model
        steps[method] = training_step(model, mode, x, y, through_fit=False)

    def forward():
        return tf.reduce_mean(tf.square(plain(x, training=True) - y))

    if mode != "eager":
        forward = tf.function(forward, jit_compile=(mode == "fit_xla"))
    steps["forward"] = lambda: float(forward())
    for step in steps.values():  # warm up: trace and compile everything first
        step()
    times = {method: [] for method in steps}
    for _ in range(rounds):
        for method, step in steps.items():
            start = time.perf_counter()
            step()
            times[method].append(time.perf_counter() - start)
    print(json.dumps({method: statistics.median(values) for method, values in times.items()}))


FIELDS = ["mode", "method", "step_s", "time_ratio", "forward_fraction", "bound", "env", "error"]


def bound(method: str, forward_fraction: float, segments: int) -> float:
    """The step-time ratio of recomputing ``method``'s segments once more, from the measured f."""
    if method == "plain":
        return 1.0
    recomputed = (segments - 1) / segments if method == "checkpointed_sequential" else 1.0
    return 1 + forward_fraction * recomputed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--env", choices=["default", "memory"], default="default")
    parser.add_argument("--out", default=str(HERE / "results" / "step_time"))
    args = parser.parse_args()
    from measure import CHILD_ENV, TIMING_ENV, run_child

    segments = max(1, round(math.sqrt(args.depth)))
    modes = args.modes.split(",")
    rows = []
    if os.path.exists(args.out + ".csv"):  # keep the other modes' figures when re-running some
        with open(args.out + ".csv") as handle:
            rows = [row for row in csv.DictReader(handle) if row["mode"] not in modes]
    for mode in modes:
        result = run_child(__file__, [mode, args.depth, args.batch, args.width, args.rounds],
                           env=TIMING_ENV if args.env == "default" else CHILD_ENV)
        for method in METHODS:
            if "error" in result:
                rows.append({"mode": mode, "method": method, "env": args.env, "error": result["error"]})
                continue
            fraction = result["forward"] / result["plain"]
            rows.append({"mode": mode, "method": method, "step_s": round(result[method], 4),
                         "time_ratio": round(result[method] / result["plain"], 3),
                         "forward_fraction": round(fraction, 3),
                         "bound": round(bound(method, fraction, segments), 3), "env": args.env, "error": ""})
            print(rows[-1], flush=True)
    with open(args.out + ".csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, args)


def plot(rows, args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    width = 0.27
    fig, axis = plt.subplots(figsize=(8, 4))
    for offset, method in enumerate(METHODS[1:]):
        found = [(i, r) for i, mode in enumerate(MODES) for r in rows
                 if r["mode"] == mode and r["method"] == method and r.get("time_ratio") not in (None, "")]
        if not found:
            continue
        bars = axis.bar([i + width * offset for i, _ in found], [float(r["time_ratio"]) for _, r in found],
                        width=width, label=method)
        for (i, r), bar in zip(found, bars):  # the one-extra-forward cost, from this run's f
            axis.hlines(float(r["bound"]), i + width * (offset - 0.5), i + width * (offset + 0.5),
                        color="black", linewidth=1.5, label="recomputation cost 1 + f·(share recomputed)"
                        if (i, offset) == (found[0][0], 0) else None)
    axis.axhline(1.0, color="black", linewidth=0.8)
    axis.axhline(1.35, color="grey", linestyle="--", linewidth=0.8, label="target 1.35")
    axis.set_xticks([i + width for i in range(len(MODES))], MODES)
    axis.set_ylabel("step time / plain (median, interleaved)")
    axis.set_title(f"{args.depth}-layer MLP, {round(math.sqrt(args.depth))} segments")
    axis.legend(fontsize=8, loc="upper right")
    axis.set_ylim(0.8, None)
    fig.tight_layout()
    fig.savefig(args.out + ".png", dpi=100)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, depth, batch, width, rounds = sys.argv[2:7]
        child(mode, int(depth), int(batch), int(width), int(rounds))
    else:
        main()
