"""Question (a): peak memory vs depth for each checkpointing method and mode.

Workload (ANCHORS.md's): an n-layer MLP ``y = tanh(x @ W_i)``, W_i width x width, a batch of
batch x width float32; checkpointed methods split the stack into round(sqrt(n)) segments.
Methods: plain, tf.recompute_grad per segment, keras.RematScope(mode="full"),
sd.ActivationDiscarding per segment, sd.checkpointed_sequential (automatic segmentation).
Modes: eager (GradientTape loop), function (tf.function step), fit_xla (model.fit, jit_compile=True).

    python -m benchmarks.memory_vs_depth [--depths 8,16,32,64,128] [--batch 8192] [--width 256]

Writes benchmarks/results/memory_vs_depth.csv and .png (memory ratio vs depth, one line per method).
The CSV's step_s is each child's own time under the memory settings (oneDNN off, glibc returning
freed buffers), which slow some configurations more than others: step time is step_time.py's
question, measured interleaved in TensorFlow's default environment.
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
MODES = ["eager", "function", "fit_xla"]


def child(method, mode, depth, batch, width, steps):
    import keras
    import tensorflow as tf

    from .measure import checkpointed_layers, measure_steps, training_step

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
    result = measure_steps(step, steps)
    print(json.dumps(result))


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
    parser.add_argument("--out", default=str(HERE / "results" / "memory_vs_depth"))
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot from the CSV")
    args = parser.parse_args()
    from .measure import run_child

    if args.plot_only:
        with open(args.out + ".csv") as handle:
            rows = [
                {
                    k: (float(v) if k == "memory_ratio" and v else int(v) if k == "depth" else v)
                    for k, v in row.items()
                }
                for row in csv.DictReader(handle)
            ]
        plot(rows, args.out)
        return

    rows = []
    for depth in [int(d) for d in args.depths.split(",")]:
        for mode in args.modes.split(","):
            baseline = None
            for method in args.methods.split(","):
                result = run_child(
                    "benchmarks.memory_vs_depth", [method, mode, depth, args.batch, args.width, args.steps]
                )
                if method == "plain":
                    baseline = result
                row = {
                    "depth": depth,
                    "mode": mode,
                    "method": method,
                    "growth_mib": round(result.get("growth", float("nan")) / 2**20, 1),
                    "step_s": round(result.get("step_s", float("nan")), 4),
                    "error": result.get("error", ""),
                }
                if baseline and "growth" in baseline and "growth" in result:
                    row["memory_ratio"] = round(result["growth"] / max(baseline["growth"], 1), 3)
                rows.append(row)
                print(row, flush=True)
    write(rows, args.out)


def write(rows, out):
    fields = ["depth", "mode", "method", "growth_mib", "step_s", "memory_ratio", "error"]
    with open(out + ".csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, out)


def plot(rows, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = sorted({r["mode"] for r in rows}, key=MODES.index)
    fig, axes = plt.subplots(1, len(modes), figsize=(5 * len(modes), 4), squeeze=False)
    styles = {
        "plain": ("o", "-"),
        "recompute_grad": ("s", "--"),
        "remat_scope": ("^", ":"),
        "activation_discarding": ("D", "-."),
        "checkpointed_sequential": ("x", "-"),
    }
    for axis, mode in zip(axes[0], modes, strict=True):
        failed = []
        for method in METHODS:
            points = [
                (r["depth"], r["memory_ratio"])
                for r in rows
                if r["mode"] == mode and r["method"] == method and r.get("memory_ratio") not in (None, "")
            ]
            if points:
                marker, line = styles[method]
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
        axis.set_title(mode + (f" ({', '.join(failed)} raises)" if failed else ""), fontsize=10)
        axis.set_xscale("log", base=2)
        axis.set_xlabel("layers")
        axis.set_ylabel("peak memory growth / plain")
        axis.set_ylim(0, 1.3)
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out + ".png", dpi=100)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        method, mode, depth, batch, width, steps = sys.argv[2:8]
        child(method, mode, int(depth), int(batch), int(width), int(steps))
    else:
        main()
