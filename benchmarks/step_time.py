"""Step time vs depth of checkpointing, measured interleaved, on memory_vs_depth.py's workload.

Separate processes per configuration are right for memory but poor for time on a shared 2-core
machine, where one run's step time drifts by tens of percent. Here, in one process per mode, the
plain model and each checkpointed model take turns, step by step, and the median of each is
reported as a ratio against the plain model's (time_ratio; time_ratio_min compares the fastest
steps, the least disturbed by other load): drift hits all of them alike.

The plain model's forward pass alone (the loss, no tape) takes its turn too: its share f of a
plain training step gives the cost of recomputing, in the same run. Recomputing every segment
costs one extra forward pass, 1 + f (4/3 only when the backward pass costs twice the forward);
``sd.checkpointed_sequential`` keeps the last of its s segments, 1 + f(s - 1)/s.

Timing runs in TensorFlow's default environment (oneDNN on, glibc's malloc as configured), as
users run it; ``--env tuned`` uses measure.py's TUNED_RSS_ENV instead (oneDNN off, glibc's mmap
threshold lowered: the settings of the memory figures before issue 12).

    python -m benchmarks.step_time [--depths 8,16,32,64,128] [--rounds 8] [--modes eager,function,fit_xla]

Writes benchmarks/results/step_time.csv and .png (time ratio vs depth, one panel per mode).
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

METHODS = ["plain", "recompute_grad", "remat_scope", "activation_discarding", "checkpointed_sequential"]
MODES = ["eager", "function", "fit_xla"]


def child(mode, depth, batch, width, rounds):
    import keras
    import tensorflow as tf

    from .measure import checkpointed_layers, error_summary, training_step

    x = tf.random.normal([batch, width])
    y = tf.zeros([batch, width])
    steps, errors, plain = {}, {}, None
    for method in METHODS:
        keras.utils.set_random_seed(0)
        try:
            body = checkpointed_layers(
                method,
                lambda: [keras.layers.Dense(width, activation="tanh", use_bias=False) for _ in range(depth)],
                segments=max(1, round(math.sqrt(depth))),
            )
            model = keras.Sequential([keras.Input((width,)), *body])
            step = training_step(model, mode, x, y, through_fit=False)
            step()  # warm up: trace and compile first
        except Exception as error:  # keras.RematScope raises in tf.function and fit: record it
            errors[method] = error_summary(error)
            continue
        if method == "plain":
            plain = model
        steps[method] = step

    def forward():
        return tf.reduce_mean(tf.square(plain(x, training=True) - y))

    if mode != "eager":
        forward = tf.function(forward, jit_compile=(mode == "fit_xla"))
    steps["forward"] = lambda: float(forward())
    steps["forward"]()
    times = {method: [] for method in steps}
    for _ in range(rounds):
        for method, step in steps.items():
            start = time.perf_counter()
            step()
            times[method].append(time.perf_counter() - start)
    print(
        json.dumps(
            {
                "median": {method: statistics.median(values) for method, values in times.items()},
                "min": {method: min(values) for method, values in times.items()},
                "errors": errors,
            }
        )
    )


FIELDS = [
    "depth",
    "mode",
    "method",
    "step_s",
    "time_ratio",
    "time_ratio_min",
    "forward_fraction",
    "bound",
    "env",
    "error",
]


def bound(method: str, forward_fraction: float, segments: int) -> float | str:
    """The step-time ratio of recomputing ``method``'s segments once more, from the measured f
    ("" where there is none to compare with)."""
    if method == "plain":
        return 1.0
    if method == "remat_scope":  # keeps every activation in eager mode (memory_vs_depth: 1.00 of plain)
        return ""
    recomputed = (segments - 1) / segments if method == "checkpointed_sequential" else 1.0
    return round(1 + forward_fraction * recomputed, 3)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--depths", default="8,16,32,64,128")
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--env", choices=["default", "tuned"], default="default")
    parser.add_argument("--out", default=str(HERE / "results" / "step_time"))
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot from the CSV")
    args = parser.parse_args()
    from .measure import DEFAULT_ENV, TUNED_RSS_ENV, run_child

    depths, modes = [int(d) for d in args.depths.split(",")], args.modes.split(",")
    rows = []
    if os.path.exists(args.out + ".csv"):  # keep the figures of the configurations not re-run
        with open(args.out + ".csv") as handle:
            rows = [
                row
                for row in csv.DictReader(handle)
                if row.get("depth")
                and (args.plot_only or not (int(row["depth"]) in depths and row["mode"] in modes))
            ]
    if not args.plot_only:
        for depth in depths:
            segments = max(1, round(math.sqrt(depth)))
            for mode in modes:
                result = run_child(
                    "benchmarks.step_time",
                    [mode, depth, args.batch, args.width, args.rounds],
                    env=DEFAULT_ENV if args.env == "default" else TUNED_RSS_ENV,
                )
                for method in METHODS:
                    row = {"depth": depth, "mode": mode, "method": method, "env": args.env}
                    error = result.get("error") or result.get("errors", {}).get(method)
                    if error:
                        rows.append({**row, "error": error})
                        continue
                    median, fastest = result["median"], result["min"]
                    fraction = median["forward"] / median["plain"]
                    rows.append(
                        {
                            **row,
                            "step_s": round(median[method], 4),
                            "time_ratio": round(median[method] / median["plain"], 3),
                            "time_ratio_min": round(fastest[method] / fastest["plain"], 3),
                            "forward_fraction": round(fraction, 3),
                            "bound": bound(method, fraction, segments),
                            "error": "",
                        }
                    )
                    print(rows[-1], flush=True)
        rows.sort(key=lambda r: (int(r["depth"]), MODES.index(r["mode"]), METHODS.index(r["method"])))
        with open(args.out + ".csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS, restval="")
            writer.writeheader()
            writer.writerows(rows)
    plot(rows, args.out)


def plot(rows, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = [mode for mode in MODES if any(r["mode"] == mode for r in rows)]
    fig, axes = plt.subplots(1, len(modes), figsize=(5 * len(modes), 4), squeeze=False, sharey=True)
    for axis, mode in zip(axes[0], modes, strict=True):
        for index, method in enumerate(METHODS[1:], start=1):
            found = sorted(
                (int(r["depth"]), float(r["time_ratio"]), r["bound"])
                for r in rows
                if r["mode"] == mode and r["method"] == method and r.get("time_ratio")
            )
            if not found:
                continue
            depths, ratios, bounds = zip(*found, strict=True)
            axis.plot(depths, ratios, marker="o", color=f"C{index}", label=method)
            if method in ("activation_discarding", "checkpointed_sequential"):  # recompute_grad: as the first
                axis.plot(
                    depths,
                    [float(b) for b in bounds],
                    linestyle=":",
                    color=f"C{index}",
                    label=f"1 + f·(share recomputed), {method}",
                )
        axis.axhline(1.35, color="grey", linestyle="--", linewidth=0.8, label="target 1.35")
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.set_title(mode, fontsize=10)
        axis.set_xscale("log", base=2)
        axis.set_xlabel("layers (round(√n) segments)")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("step time / plain (median, interleaved)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out + ".png", dpi=100)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, depth, batch, width, rounds = sys.argv[2:7]
        child(mode, int(depth), int(batch), int(width), int(rounds))
    else:
        main()
