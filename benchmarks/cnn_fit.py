"""Question (c): a CNN trained with model.fit, plain vs checkpointed.

Eight 3x3 same-padded ReLU convolutions (32 channels) on 64x64x3 images, batch 64, then global
average pooling and a 10-way Dense head, trained with model.fit with and without jit_compile.
Memory is measured through model.fit; step time through the train function model.fit compiles
(train_on_batch), since a model.fit call per step adds a flat per-call cost.
Methods: plain; tf.recompute_grad per block of two convolutions; sd.ActivationDiscarding per block
of two convolutions; sd.checkpointed_sequential over the eight convolutions (round(sqrt(8)) = 3
segments). keras.RematScope is included to record whether it runs.

    python -m benchmarks.cnn_fit [--steps 3]

Writes benchmarks/results/cnn_fit.csv and .png.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

METHODS = ["plain", "recompute_grad", "remat_scope", "activation_discarding", "checkpointed_sequential"]
MODES = ["fit", "fit_xla"]


def child(method, mode, steps):
    import keras
    import tensorflow as tf

    from .measure import checkpointed_layers, measure_steps

    keras.utils.set_random_seed(0)
    body = checkpointed_layers(
        method,
        lambda: [keras.layers.Conv2D(32, 3, padding="same", activation="relu") for _ in range(8)],
        segments=4,
    )
    model = keras.Sequential(
        [keras.Input((64, 64, 3)), *body, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        jit_compile=(mode == "fit_xla"),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x = tf.random.normal([64, 64, 64, 3])
    y = tf.random.uniform([64], 0, 10, dtype=tf.int32)
    data = tf.data.Dataset.from_tensors((x, y)).repeat()

    def step():
        model.fit(data, epochs=1, steps_per_epoch=1, verbose=0)

    result = measure_steps(step, steps)  # memory: through model.fit itself
    # Time: model.fit's compiled train function called directly, interleaving nothing else; a whole
    # model.fit call per step adds a flat per-call cost (seen here as ~2.5 s) that hides the steps.
    import time

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
    parser.add_argument("--out", default=str(HERE / "results" / "cnn_fit"))
    args = parser.parse_args()
    from .measure import run_child

    rows = []
    for mode in MODES:
        baseline = None
        for method in METHODS:
            result = run_child("benchmarks.cnn_fit", [method, mode, args.steps])
            if method == "plain":
                baseline = result
            row = {
                "mode": mode,
                "method": method,
                "growth_mib": round(result.get("growth", float("nan")) / 2**20, 1),
                "step_s": round(result.get("step_s", float("nan")), 4),
                "error": result.get("error", ""),
            }
            if baseline and "growth" in baseline and "growth" in result:
                row["memory_ratio"] = round(result["growth"] / max(baseline["growth"], 1), 3)
                row["time_ratio"] = round(result["step_s"] / baseline["step_s"], 3)
            rows.append(row)
            print(row, flush=True)
    fields = ["mode", "method", "growth_mib", "step_s", "memory_ratio", "time_ratio", "error"]
    with open(args.out + ".csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, key, label in (
        (axes[0], "memory_ratio", "peak memory growth / plain"),
        (axes[1], "time_ratio", "step time / plain"),
    ):
        for offset, mode in enumerate(MODES):
            points = [
                (i, r.get(key))
                for i, method in enumerate(METHODS)
                for r in rows
                if r["mode"] == mode and r["method"] == method and r.get(key) is not None
            ]
            if points:
                xs, ys = zip(*points, strict=True)
                axis.bar([x + 0.4 * offset for x in xs], ys, width=0.4, label=mode)
        axis.set_xticks(
            [i + 0.2 for i in range(len(METHODS))], [m.replace("_", "\n") for m in METHODS], fontsize=7
        )
        axis.set_ylabel(label)
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.legend(fontsize=8)
    fig.suptitle("CNN (8 convolutions, 64x64x3, batch 64) trained with model.fit")
    fig.tight_layout()
    fig.savefig(args.out + ".png", dpi=100)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
