"""Question (b): what sd.gradient / sd.value_with_pullback cost over a raw tf.GradientTape.

Small functions (a scalar polynomial, a 64x64 matmul chain, a 3-layer MLP on a batch of 32),
eagerly and inside tf.function. Each figure is the median of many timed repetitions, as a ratio
against the raw tape measured in the same run, interleaved to cancel drift.

    python -m benchmarks.operator_overhead [--repeats 2000]

Writes benchmarks/results/operator_overhead.csv and .png.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

import swiftdiff as sd  # noqa: E402

HERE = Path(__file__).resolve().parent


def workloads():
    rng = tf.random.Generator.from_seed(0)
    w = [rng.normal([64, 64]) * 0.1 for _ in range(3)]
    mlp = [rng.normal([32, 64]) * 0.1, rng.normal([64, 64]) * 0.1, rng.normal([64, 1]) * 0.1]
    batch = rng.normal([32, 32])

    def poly(x):
        return x * x * x + 2.0 * x

    def chain(x):
        for m in w:
            x = tf.tanh(x @ m)
        return tf.reduce_sum(x)

    def net(x):
        h = batch
        for m in mlp:
            h = tf.nn.relu(h @ m)
        return tf.reduce_sum(h) * x

    return [
        ("polynomial", poly, tf.constant(1.5)),
        ("matmul_chain", chain, rng.normal([64, 64])),
        ("mlp", net, tf.constant(1.0)),
    ]


def raw_tape(f):
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        return tape.gradient(y, x)

    return grad


def raw_pullback(f):
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        return tape.gradient(y, x, output_gradients=tf.ones_like(y))

    return grad


def variants(f):
    return {
        "raw_tape": raw_tape(f),
        "sd.gradient": lambda x: sd.gradient(at=x, of=f),
        "raw_tape_with_cotangent": raw_pullback(f),
        "sd.value_with_pullback": lambda x: sd.value_with_pullback(at=x, of=f).pullback(1.0),
    }


def time_interleaved(functions: dict, x, repeats: int) -> dict:
    samples = {name: [] for name in functions}
    for fn in functions.values():  # warm up (traces tf.functions)
        for _ in range(20):
            fn(x)
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            result = fn(x)
            if hasattr(result, "numpy"):
                result.numpy()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--out", default=str(HERE / "results" / "operator_overhead"))
    args = parser.parse_args()
    rows = []
    for name, f, x in workloads():
        for mode in ("eager", "function"):
            fns = variants(f)
            if mode == "function":
                fns = {k: tf.function(v) for k, v in fns.items()}
            times = time_interleaved(fns, x, args.repeats)
            for variant, baseline in (
                ("sd.gradient", "raw_tape"),
                ("sd.value_with_pullback", "raw_tape_with_cotangent"),
            ):
                row = {
                    "workload": name,
                    "mode": mode,
                    "operator": variant,
                    "us": round(times[variant] * 1e6, 1),
                    "baseline_us": round(times[baseline] * 1e6, 1),
                    "ratio": round(times[variant] / times[baseline], 3),
                }
                rows.append(row)
                print(row, flush=True)
    with open(args.out + ".csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(8, 4))
    labels = [f"{r['workload']}\n{r['mode']}\n{r['operator'].split('.')[1]}" for r in rows]
    axis.bar(
        range(len(rows)),
        [r["ratio"] for r in rows],
        color=["C0" if r["mode"] == "eager" else "C1" for r in rows],
    )
    axis.axhline(1.0, color="black", linewidth=0.8)
    axis.set_xticks(range(len(rows)), labels, fontsize=6)
    axis.set_ylabel("time / raw tf.GradientTape")
    axis.set_title("swiftdiff operator overhead (median of interleaved runs)")
    fig.tight_layout()
    fig.savefig(args.out + ".png", dpi=100)


if __name__ == "__main__":
    main()
