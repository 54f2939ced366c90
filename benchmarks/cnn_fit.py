"""Question (c): a CNN, plain vs checkpointed, trained by hand and with model.fit.

Eight 3x3 same-padded ReLU convolutions (32 channels) on 64x64x3 images, batch 64, then global
average pooling and a 10-way Dense head, sparse categorical cross-entropy, SGD(0.01).
Methods: plain; tf.recompute_grad per block of two convolutions; sd.ActivationDiscarding per block
of two convolutions; sd.checkpointed_sequential over the eight convolutions (round(sqrt(8)) = 3
segments). keras.RematScope is included to record whether it runs.
Modes (measure.training_step): eager, function, jit (hand-written steps, the optimizer update inside
the jit-compiled function), fit and fit_xla (model.fit, compile(jit_compile=False / True)).

Memory, through the step itself (model.fit for fit and fit_xla), in two fresh processes per
configuration (measure.py explains both): the live-tensor peak under TensorFlow's pregrown BFC
allocator (the primary figure, what a GPU reports) and peak-RSS growth in TensorFlow's default
environment. Step time, in the default-environment child: the hand-written step, or for fit and
fit_xla the train function model.fit compiles (train_on_batch), since a model.fit call per step adds
a flat per-call cost (~2.5 s here) that hides the steps.

    python -m benchmarks.cnn_fit [--steps 3] [--modes eager,function,jit,fit,fit_xla] [--methods ...]

Writes benchmarks/results/cnn_fit.csv and .png.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

METHODS = ["plain", "recompute_grad", "remat_scope", "activation_discarding", "checkpointed_sequential"]
MODES = ["eager", "function", "jit", "fit", "fit_xla"]
FIELDS = ["mode", "method", "live_mib", "live_ratio", "rss_mib", "rss_ratio", "step_s", "time_ratio", "error"]


def child(measure, method, mode, steps):
    from .measure import start_measure

    start_measure(measure)  # first: the live-tensor peak pregrows the allocator before anything else
    import keras
    import tensorflow as tf

    from .measure import checkpointed_layers, measure_memory, training_step

    keras.utils.set_random_seed(0)
    body = checkpointed_layers(
        method,
        lambda: [keras.layers.Conv2D(32, 3, padding="same", activation="relu") for _ in range(8)],
        segments=4,
    )
    model = keras.Sequential(
        [keras.Input((64, 64, 3)), *body, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)]
    )
    x = tf.random.normal([64, 64, 64, 3])
    y = tf.random.uniform([64], 0, 10, dtype=tf.int32)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    step = training_step(model, mode, x, y, loss=loss, learning_rate=0.01)
    result = measure_memory(measure, step, steps)
    if mode in ("fit", "fit_xla"):  # time the train function model.fit compiled, without fit's per-call cost
        model.train_on_batch(x, y)
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)
        result["step_s"] = (time.perf_counter() - start) / steps
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--out", default=str(HERE / "results" / "cnn_fit"))
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot from the CSV")
    args = parser.parse_args()
    from .measure import ratio_row, run_measures

    if args.plot_only:
        with open(args.out + ".csv") as handle:
            plot(list(csv.DictReader(handle)), args.out)
        return

    rows = []
    modes, methods = args.modes.split(","), args.methods.split(",")
    for mode in modes:
        baseline = None
        for method in methods:
            results = run_measures("benchmarks.cnn_fit", [method, mode, args.steps])
            if method == "plain":
                baseline = results
            row = {"mode": mode, "method": method, **ratio_row(results, baseline)}
            base_time = (baseline or {}).get("rss", {}).get("step_s")
            if row["step_s"] != "" and base_time:
                row["time_ratio"] = round(results["rss"]["step_s"] / base_time, 3)
            rows.append(row)
            print(row, flush=True)
    with open(args.out + ".csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, args.out)


def plot(rows, out):
    """Bars per method, one colour per mode: live-tensor ratio and default-environment RSS ratio."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = [m for m in MODES if any(r["mode"] == m for r in rows)]
    width = 0.8 / max(len(modes), 1)
    # Step time is in the CSV only: per-process timings on a shared 2-core machine are too noisy to
    # plot beside memory (step_time.py measures time, interleaved).
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, key, label in (
        (axes[0], "live_ratio", "live-tensor peak / plain"),
        (axes[1], "rss_ratio", "peak-RSS growth / plain\n(default env, from the first step)"),
    ):
        for offset, mode in enumerate(modes):
            points = [
                (i + width * offset, float(r[key]))
                for i, method in enumerate(METHODS)
                for r in rows
                if r["mode"] == mode and r["method"] == method and r.get(key) not in (None, "")
            ]
            if points:
                axis.bar(*zip(*points, strict=True), width=width, label=mode)
        axis.set_xticks(
            [i + 0.4 - width / 2 for i in range(len(METHODS))],
            [m.replace("_", "\n") for m in METHODS],
            fontsize=7,
        )
        axis.set_ylabel(label)
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.legend(fontsize=7)
    fig.suptitle("CNN (8 convolutions, 64x64x3, batch 64), memory / plain (no bar: raises)")
    fig.tight_layout()
    fig.savefig(out + ".png", dpi=100)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        from .measure import report

        report(child, sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        main()
