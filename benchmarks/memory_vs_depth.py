"""Question (a): peak memory vs depth for each checkpointing method and mode.

Workload (ANCHORS.md's): an n-layer MLP ``y = tanh(x @ W_i)``, W_i width x width, a batch of
batch x width float32; checkpointed methods split the stack into round(sqrt(n)) segments.
Methods: plain, tf.recompute_grad per segment, keras.RematScope(mode="full"),
sd.ActivationDiscarding per segment, sd.checkpointed_sequential (automatic segmentation).
Modes (measure.training_step): eager (GradientTape loop), function (the step in tf.function), jit
(tf.function(jit_compile=True), the optimizer update inside), fit (model.fit), fit_xla (model.fit,
compile(jit_compile=True)).

Every configuration is measured twice, each in a fresh process (measure.py explains both): the
live-tensor peak under TensorFlow's BFC allocator, pregrown (live_mib, live_ratio: the primary
figure, what a GPU reports), and peak-RSS growth in TensorFlow's default environment (rss_mib,
rss_ratio: what a user who sets nothing sees). Ratios are against the plain model of the same run.

    python -m benchmarks.memory_vs_depth [--depths 8,16,32,64,128] [--batch 8192] [--width 256]
    python -m benchmarks.memory_vs_depth --table      # the 64-layer row only: memory_64_layers

Writes benchmarks/results/memory_vs_depth.csv and .png (live-tensor ratio vs depth, one panel per
mode, default-environment RSS ratio below), or with --table memory_64_layers.csv and .png (bars per
mode). The CSV's step_s is each RSS child's own time per step in the default environment; step time
is step_time.py's question, measured interleaved.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

METHODS = ["plain", "recompute_grad", "remat_scope", "activation_discarding", "checkpointed_sequential"]
MODES = ["eager", "function", "jit", "fit", "fit_xla"]
FIELDS = ["depth", "mode", "method", "live_mib", "live_ratio", "rss_mib", "rss_ratio", "step_s", "error"]
STYLES = {
    "plain": ("o", "-"),
    "recompute_grad": ("s", "--"),
    "remat_scope": ("^", ":"),
    "activation_discarding": ("D", "-."),
    "checkpointed_sequential": ("x", "-"),
}
PANELS = (
    ("live_ratio", "live-tensor peak / plain"),
    ("rss_ratio", "peak-RSS growth / plain\n(default env, from the first step)"),
)


def child(measure, method, mode, depth, batch, width, steps):
    from .measure import start_measure

    start_measure(measure)  # first: the live-tensor peak pregrows the allocator before anything else
    import keras
    import tensorflow as tf

    from .measure import checkpointed_layers, measure_memory, training_step

    keras.utils.set_random_seed(0)
    body = checkpointed_layers(
        method,
        lambda: [keras.layers.Dense(width, activation="tanh", use_bias=False) for _ in range(depth)],
        segments=max(1, round(math.sqrt(depth))),
    )
    model = keras.Sequential([keras.Input((width,)), *body])
    x = tf.random.normal([batch, width])
    y = tf.zeros([batch, width])
    step = training_step(model, mode, x, y)
    print(json.dumps(measure_memory(measure, step, steps)))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--depths", default="8,16,32,64,128")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument(
        "--out", default=None, help="default: results/memory_vs_depth (--table: memory_64_layers)"
    )
    parser.add_argument("--table", action="store_true", help="the 64-layer row only (as --depths 64)")
    parser.add_argument(
        "--live-only", action="store_true", help="skip the default-environment RSS measure (half the time)"
    )
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot from the CSV")
    args = parser.parse_args()
    if args.table:
        args.depths = "64"
    out = args.out or str(HERE / "results" / ("memory_64_layers" if args.table else "memory_vs_depth"))
    from .measure import ratio_row, run_measures

    if args.plot_only:
        with open(out + ".csv") as handle:
            plot(list(csv.DictReader(handle)), out)
        return

    rows = []
    for depth in [int(d) for d in args.depths.split(",")]:
        for mode in args.modes.split(","):
            baseline = None
            for method in args.methods.split(","):
                results = run_measures(
                    "benchmarks.memory_vs_depth",
                    [method, mode, depth, args.batch, args.width, args.steps],
                    rss=not args.live_only,
                )
                if method == "plain":
                    baseline = results
                row = {"depth": depth, "mode": mode, "method": method, **ratio_row(results, baseline)}
                rows.append(row)
                print(row, flush=True)
    with open(out + ".csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, out)


def _number(value) -> float | None:
    return None if value in (None, "") else float(value)


def plot(rows, out):
    """Live-tensor ratio (top) and default-environment RSS ratio (bottom): against depth, one panel per
    mode, or with one depth, bars per mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = sorted({r["mode"] for r in rows}, key=MODES.index)
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    depths = sorted({int(r["depth"]) for r in rows})
    panels = [panel for panel in PANELS if any(_number(r.get(panel[0])) is not None for r in rows)]
    if len(depths) == 1:
        fig, axes = plt.subplots(
            len(panels), 1, figsize=(2 + 1.8 * len(modes), 3.5 * len(panels)), squeeze=False
        )
        width = 0.8 / len(methods)
        for axis, (key, label) in zip(axes[:, 0], panels, strict=True):
            for index, method in enumerate(methods):
                points = [
                    (modes.index(r["mode"]) + index * width, _number(r.get(key)))
                    for r in rows
                    if r["method"] == method and _number(r.get(key)) is not None
                ]
                if points:
                    axis.bar(
                        *zip(*points, strict=True),
                        width=width,
                        label=method,
                        color=f"C{METHODS.index(method)}",
                    )
            axis.set_xticks([i + 0.4 - width / 2 for i in range(len(modes))], modes)
            axis.set_ylabel(label)
            axis.set_ylim(0, 1.15)
            axis.axhline(0.25, color="gray", linewidth=0.8, linestyle=":")  # (8 + 8) / 64 at 64 layers
            axis.grid(alpha=0.3, axis="y")
        axes[0][0].set_title(f"{depths[0]} layers: memory / plain (no bar: raises)", fontsize=10)
        axes[0][0].legend(fontsize=7, ncol=2)
    else:
        fig, axes = plt.subplots(
            len(panels), len(modes), figsize=(4 * len(modes), 3.5 * len(panels)), squeeze=False
        )
        for row_axes, (key, label) in zip(axes, panels, strict=True):
            for axis, mode in zip(row_axes, modes, strict=True):
                failed = []
                for method in methods:
                    points = [
                        (int(r["depth"]), _number(r.get(key)))
                        for r in rows
                        if r["mode"] == mode and r["method"] == method and _number(r.get(key)) is not None
                    ]
                    if points:
                        marker, line = STYLES[method]
                        axis.plot(
                            *zip(*points, strict=True),
                            marker=marker,
                            linestyle=line,
                            label=method,
                            alpha=0.8,
                            color=f"C{METHODS.index(method)}",
                        )
                    elif any(r["mode"] == mode and r["method"] == method for r in rows):
                        failed.append(method)
                axis.set_title(mode + (f" ({', '.join(failed)} raises)" if failed else ""), fontsize=9)
                axis.set_xscale("log", base=2)
                axis.set_xlabel("layers")
                axis.set_ylabel(label)
                axis.set_ylim(0, 1.3)
                axis.grid(alpha=0.3)
        axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out + ".png", dpi=100)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        measure, method, mode, depth, batch, width, steps = sys.argv[2:9]
        from .measure import report

        report(child, measure, method, mode, int(depth), int(batch), int(width), int(steps))
    else:
        main()
