"""Step time of checkpointing, measured interleaved: the 64-layer case of memory_vs_depth.py.

Separate processes per configuration are right for memory but poor for time on a shared 2-core
machine, where one run's step time drifts by tens of percent. Here, in one process per mode, the
plain model and each checkpointed model take turns, step by step, and the median of each is
reported as a ratio against the plain model's: drift hits all of them alike.

    python benchmarks/step_time.py [--depth 64] [--rounds 8]

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
    steps = {}
    for method in METHODS:
        keras.utils.set_random_seed(0)
        body = checkpointed_layers(
            method, lambda: [keras.layers.Dense(width, activation="tanh", use_bias=False) for _ in range(depth)],
            segments=max(1, round(math.sqrt(depth))))
        model = keras.Sequential([keras.Input((width,)), *body])
        steps[method] = training_step(model, mode, x, y, through_fit=False)
    for step in steps.values():  # warm up: trace and compile everything first
        step()
    times = {method: [] for method in METHODS}
    for _ in range(rounds):
        for method, step in steps.items():
            start = time.perf_counter()
            step()
            times[method].append(time.perf_counter() - start)
    print(json.dumps({method: statistics.median(values) for method, values in times.items()}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--out", default=str(HERE / "results" / "step_time"))
    args = parser.parse_args()
    from measure import run_child

    rows = []
    if os.path.exists(args.out + ".csv"):  # keep the other modes' figures when re-running some
        with open(args.out + ".csv") as handle:
            rows = [row for row in csv.DictReader(handle) if row["mode"] not in args.modes.split(",")]
            for row in rows:
                if row.get("time_ratio"):
                    row["time_ratio"] = float(row["time_ratio"])
    for mode in args.modes.split(","):
        result = run_child(__file__, [mode, args.depth, args.batch, args.width, args.rounds])
        for method in METHODS:
            if "error" in result:
                rows.append({"mode": mode, "method": method, "error": result["error"]})
                continue
            rows.append({"mode": mode, "method": method, "step_s": round(result[method], 4),
                         "time_ratio": round(result[method] / result["plain"], 3), "error": ""})
            print(rows[-1], flush=True)
    with open(args.out + ".csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["mode", "method", "step_s", "time_ratio", "error"])
        writer.writeheader()
        writer.writerows(rows)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axis = plt.subplots(figsize=(8, 4))
    for offset, method in enumerate(METHODS[1:]):
        points = [(i, r["time_ratio"]) for i, mode in enumerate(MODES) for r in rows
                  if r["mode"] == mode and r["method"] == method and r.get("time_ratio") not in (None, "")]
        if points:
            xs, ys = zip(*points)
            axis.bar([x + 0.27 * offset for x in xs], ys, width=0.27, label=method)
    axis.axhline(1.0, color="black", linewidth=0.8)
    axis.axhline(4 / 3, color="grey", linestyle="--", linewidth=0.8, label="one extra forward (4/3)")
    axis.set_xticks([i + 0.27 for i in range(len(MODES))], MODES)
    axis.set_ylabel("step time / plain (median, interleaved)")
    axis.set_title(f"{args.depth}-layer MLP, {round(math.sqrt(args.depth))} segments")
    axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out + ".png", dpi=100)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, depth, batch, width, rounds = sys.argv[2:7]
        child(mode, int(depth), int(batch), int(width), int(rounds))
    else:
        main()
