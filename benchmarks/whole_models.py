"""Issue 13: whole models nobody here wrote, checkpointed by ``sd.checkpointed``, trained with fit.

Models: keras.applications ResNet50, DenseNet121 and MobileNetV2 (``weights=None``, 128x128x3
inputs, 10 classes) and a Transformer encoder (6 layers of MultiHeadAttention (4 heads of 32) +
feed-forward (512, GELU) + LayerNormalization + Dropout 0.1, d_model 128, sequence 256); batch 16,
sparse categorical cross-entropy, SGD(0.01).

Methods:
  * ``plain``: the model as built.
  * ``sd_default``: ``sd.checkpointed(model)`` (about sqrt(n) segments balanced by bytes).
  * ``sd_<f>``: ``sd.checkpointed(model, memory_budget=f)``, ``f`` a fraction of the plain model's
    predicted peak; ``sd_min``: the smallest budget the planner can meet.
  * ``recompute_grad``: every segment between two adjacent cut points through ``tf.recompute_grad``
    instead of swiftdiff's recomputation (ResNet50: 40 segments, 24 of them one call, an Add or a
    ReLU between blocks; DenseNet121: 80, one per dense layer; the Transformer: 28): TensorFlow's
    own checkpointing at the finest cut sd.checkpointed could make, not a user's per-block choice
    (it redraws dropout masks and updates BatchNorm statistics twice).
  * ``remat_scope``: the model built inside ``keras.RematScope(mode="full")``.
Modes: ``fit`` and ``fit_xla`` (``compile(jit_compile=False / True)``); fit_xla measures only
``XLA_METHODS`` unless ``--all-in-xla`` (each configuration compiles for minutes).

Each configuration runs in a fresh process under the live-tensor measure of measure.py (the
primary figure, what a GPU reports: TensorFlow's BFC allocator, pregrown, ``get_memory_info``'s
peak over two ``model.fit`` steps after a warm-up step); ``step_s`` is that child's time per step
of the train function fit compiles (``train_on_batch``). ``time_ratio`` comes from one more child,
in TensorFlow's default environment, that compiles the plain and the wrapped model (sharing
variables) and runs one step of each in turn, ``--rounds`` times: the median ratio (separate
processes on a shared 2-core machine drift by tens of percent; ``--time-only`` redoes these). ``--rss`` adds
default-environment peak-RSS growth for plain and ``sd_default`` (a second process each).

Beside each measured peak the CSV has ``sd.memory_report``'s predicted peak for the same plan
(``predicted_mib``, ``error_pct``: predicted / measured - 1), and a column ``exact`` from one extra
child per model: the largest relative difference between the plain model's gradients and BatchNorm
statistics after one training step and those of the ``sd_min`` plan (same weights, same seed;
``exact_child`` says how gradients that are rounding noise around 0 are compared).

    python -m benchmarks.whole_models [--models resnet50,...] [--methods plain,sd_default,...]
        [--modes fit,fit_xla] [--steps 2] [--rss]
    python -m benchmarks.whole_models --plot-only

Writes benchmarks/results/whole_models.csv and whole_models.png (per model: measured peak and
step time against the planned budget).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

MODELS = ["resnet50", "densenet121", "mobilenetv2", "transformer"]
METHODS = ["plain", "sd_default", "sd_0.75", "sd_0.6", "sd_0.5", "sd_min", "recompute_grad", "remat_scope"]
MODES = ["fit", "fit_xla"]
# Under XLA each configuration compiles the train step (minutes for DenseNet121 on 2 cores): the
# budget sweep runs in fit only, fit_xla measures these.
XLA_METHODS = ["plain", "sd_default", "sd_min", "recompute_grad", "remat_scope"]
BATCH = 16
FIELDS = [
    "model",
    "mode",
    "method",
    "budget",
    "segments",
    "live_mib",
    "live_ratio",
    "predicted_mib",
    "predicted_ratio",
    "error_pct",
    "step_s",
    "time_ratio",
    "rss_mib",
    "rss_ratio",
    "exact",
    "error",
]


def build(name: str):
    """The benchmark model ``name`` (weights from a fixed seed), a batch and its labels."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    if name == "transformer":
        inputs = keras.Input((256, 128))
        x = inputs
        for _ in range(6):
            attended = keras.layers.MultiHeadAttention(num_heads=4, key_dim=32, dropout=0.1)(x, x)
            x = keras.layers.LayerNormalization()(x + keras.layers.Dropout(0.1)(attended))
            hidden = keras.layers.Dense(512, activation="gelu")(x)
            x = keras.layers.LayerNormalization()(
                x + keras.layers.Dropout(0.1)(keras.layers.Dense(128)(hidden))
            )
        outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.GlobalAveragePooling1D()(x))
        model = keras.Model(inputs, outputs, name="transformer_encoder")
        shape = (BATCH, 256, 128)
    else:
        application = {
            "resnet50": keras.applications.ResNet50,
            "densenet121": keras.applications.DenseNet121,
            "mobilenetv2": keras.applications.MobileNetV2,
        }[name]
        model = application(weights=None, input_shape=(128, 128, 3), classes=10)
        shape = (BATCH, 128, 128, 3)
    x = tf.random.stateless_normal(shape, seed=[1, 2])
    y = tf.random.stateless_uniform([BATCH], seed=[3, 4], maxval=10, dtype=tf.int32)
    return model, x, y


def budget_of(method: str, model) -> tuple:
    """``(memory_budget, fraction)``: what ``sd_<f>`` asks ``sd.checkpointed`` for (the fraction
    ``f``) and that budget as a fraction of the plain model's predicted peak; ``sd_min``: the
    smallest peak the planner can meet, in bytes (a fraction multiplied back can land below it by
    rounding); ``(None, None)`` for the default plan."""
    from swiftdiff import _planner
    from swiftdiff._model_graph import model_graph
    from swiftdiff.memory_report import Analysis

    if method == "sd_min":
        chain = Analysis(model_graph(model, "benchmark"), BATCH).chain()
        plain, _ = _planner.figures(chain, [_planner.Segment(0, chain.length, False)])
        smallest = _planner.smallest_peak(chain)
        return smallest, smallest / plain
    if method.startswith("sd_") and method != "sd_default":
        return float(method[3:]), float(method[3:])
    return None, None


def wrapped(name: str, method: str):
    """``(model, x, y, budget, plan)`` for one method (``plan``: segments of an sd or recompute_grad
    model)."""
    import keras

    if method == "remat_scope":
        with keras.RematScope(mode="full"):
            model, x, y = build(name)
        return model, x, y, None, None
    model, x, y = build(name)
    if method == "plain":
        return model, x, y, 1.0, None
    other, budget, plan = wrap(model, method)
    return other, x, y, budget, plan


def wrap(model, method: str):
    """``(model wrapped by method, budget, plan)``, sharing ``model``'s variables."""
    import swiftdiff as sd
    from swiftdiff._model_graph import model_graph

    if method == "recompute_grad":
        graph = model_graph(model, "benchmark")
        bounds = [0, *graph.cut_points(), len(graph.calls)]
        return recompute_grad_model(model, [[a, b, True] for a, b in itertools.pairwise(bounds)]), None, None
    budget, fraction = budget_of(method, model)
    checkpointed = sd.checkpointed(model, memory_budget=budget, batch_size=BATCH)
    return checkpointed, fraction, checkpointed.checkpointing_plan


def recompute_grad_model(model, plan):
    """A CheckpointedModel whose segments go through ``tf.recompute_grad`` instead of swiftdiff's
    recomputation (the class is made in the child that measures it, after TensorFlow's import)."""
    import tensorflow as tf

    import swiftdiff as sd

    class RecomputeGradModel(sd.CheckpointedModel):
        _recompute = staticmethod(tf.recompute_grad)

    return RecomputeGradModel(model, plan)


def predicted_peaks(model, x) -> tuple:
    """``sd.memory_report``'s predicted peaks: the plan's and the plain model's."""
    import swiftdiff as sd

    report = sd.memory_report(model, x.shape)
    return report.peak_bytes, report.plain_peak_bytes


def child(measure, name, method, mode, steps):
    from .measure import start_measure

    start_measure(measure)  # first: the live-tensor peak pregrows the allocator before anything else
    import keras

    from .measure import measure_memory, training_step

    model, x, y, budget, plan = wrapped(name, method)
    # Predicted for sd's plans and the plain model (the recompute_grad stand-in is a CheckpointedModel
    # too, but its memory is TensorFlow's recomputation's, which the report does not model).
    known = method == "plain" or method.startswith("sd_")
    predicted, plain_predicted = predicted_peaks(model, x) if known else (None, None)
    loss = keras.losses.SparseCategoricalCrossentropy()
    step = training_step(model, mode, x, y, loss=loss, learning_rate=0.01)
    result = measure_memory(measure, step, steps)
    model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    result["step_s"] = (time.perf_counter() - start) / steps
    result.update(predicted=predicted, plain_predicted=plain_predicted, budget=budget)
    result["segments"] = len(plan) if plan else None
    print(json.dumps(result))


def time_child(name, method, mode, rounds):
    """Step time of ``method`` over the plain model's, interleaved in one process: both compiled
    (fit's train function, run by train_on_batch), one step of each in turn, the median of the
    per-round ratios (separate processes on a shared 2-core machine drift by tens of percent)."""
    import statistics

    import keras

    plain, x, y = build(name)
    other, _, _ = wrap(plain, method)
    for model in (plain, other):
        model.compile(
            optimizer=keras.optimizers.SGD(0.01),
            loss=keras.losses.SparseCategoricalCrossentropy(),
            jit_compile=(mode == "fit_xla"),
        )
        model.train_on_batch(x, y)
    ratios, plain_times = [], []
    for _ in range(rounds):
        times = []
        for model in (plain, other):
            start = time.perf_counter()
            model.train_on_batch(x, y)
            times.append(time.perf_counter() - start)
        ratios.append(times[1] / times[0])
        plain_times.append(times[0])
    print(json.dumps({"time_ratio": statistics.median(ratios), "plain_s": statistics.median(plain_times)}))


def exact_child(name):
    """Largest relative difference, gradients and BatchNorm statistics after one step, plain vs
    ``sd_min`` (same weights; the same seed for dropout), in a tf.function."""
    import keras
    import numpy as np
    import tensorflow as tf

    import swiftdiff as sd

    plain, x, y = build(name)
    checkpointed = sd.checkpointed(plain, memory_budget=budget_of("sd_min", plain)[0], batch_size=BATCH)
    loss = keras.losses.SparseCategoricalCrossentropy()
    variables = plain.trainable_variables
    statistics = [v for v in plain.non_trainable_variables if "moving" in v.path]
    start = [v.numpy() for v in plain.variables]

    def one_step(model):
        for variable, value in zip(plain.variables, start, strict=True):
            variable.assign(value)
        keras.utils.set_random_seed(5)

        @tf.function
        def gradients():
            with tf.GradientTape() as tape:
                value = loss(y, model(x, training=True))
            return tape.gradient(value, plain.trainable_variables)

        grads = [g.numpy() for g in gradients()]
        return grads + [v.numpy() for v in statistics]

    reference, ours = one_step(plain), one_step(checkpointed)
    # Each array's largest difference relative to its largest value, floored at 1e-3 of the largest
    # gradient of the model (or statistic): some gradients are rounding noise around a true 0 (a
    # BatchNorm beta feeding another BatchNorm through a linear layer: ~1e-6 against gradients of
    # ~10 in MobileNetV2), whose relative differences say nothing.
    gradient_scale = max(float(np.max(np.abs(a))) for a in reference[: len(variables)])
    statistic_scale = max((float(np.max(np.abs(a))) for a in reference[len(variables) :]), default=0.0)
    worst = 0.0
    for index, (a, b) in enumerate(zip(reference, ours, strict=True)):
        scale = gradient_scale if index < len(variables) else statistic_scale
        floor = max(float(np.max(np.abs(a))), 1e-3 * scale, 1e-30)
        worst = max(worst, float(np.max(np.abs(a - b))) / floor)
    print(json.dumps({"exact": worst, "compared": len(variables) + len(statistics)}))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument(
        "--rss", action="store_true", help="add default-environment RSS for plain, sd_default"
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument(
        "--time-only", action="store_true", help="redo the interleaved step times of the CSV's rows"
    )
    parser.add_argument("--all-in-xla", action="store_true", help="every method in fit_xla too")
    parser.add_argument("--out", default=str(HERE / "results" / "whole_models"))
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot from the CSV")
    args = parser.parse_args()
    from .measure import DEFAULT_ENV, LIVE_PEAK_ENV, run_child

    if args.plot_only or args.time_only:
        with open(args.out + ".csv") as handle:
            rows = list(csv.DictReader(handle))
        if args.time_only:
            for row in rows:
                if row["method"] != "plain" and not row["error"]:
                    row["time_ratio"] = interleaved_time(
                        row["model"], row["method"], row["mode"], args.rounds
                    )
                    print(row, flush=True)
                    write(rows, args.out)
        plot(rows, args.out)
        return
    rows = []
    for name in args.models.split(","):
        exact = run_child("benchmarks.whole_models", ["exact", name], env=DEFAULT_ENV)
        print(name, exact, flush=True)
        for mode in args.modes.split(","):
            base: dict = {}
            for method in args.methods.split(","):
                if mode == "fit_xla" and method not in XLA_METHODS and not args.all_in_xla:
                    continue
                live = run_child(
                    "benchmarks.whole_models", ["live", name, method, mode, args.steps], env=LIVE_PEAK_ENV
                )
                rss = {}
                if args.rss and method in ("plain", "sd_default") and "error" not in live:
                    rss = run_child("benchmarks.whole_models", ["rss", name, method, mode, args.steps])
                if method == "plain":
                    base = {"live": live, "rss": rss}
                rows.append(row_of(name, mode, method, live, rss, base, exact))
                if "error" not in live:
                    rows[-1]["time_ratio"] = (
                        1.0 if method == "plain" else interleaved_time(name, method, mode, args.rounds)
                    )
                print(rows[-1], flush=True)
            write(rows, args.out)
    plot(rows, args.out)


def interleaved_time(name, method, mode, rounds):
    from .measure import DEFAULT_ENV, run_child

    timed = run_child("benchmarks.whole_models", ["time", name, method, mode, rounds], env=DEFAULT_ENV)
    return round(timed["time_ratio"], 3) if "time_ratio" in timed else ""


def row_of(name, mode, method, live, rss, base, exact) -> dict:
    mib = 2**20
    row: dict = {"model": name, "mode": mode, "method": method, "error": live.get("error", "")}
    if "growth" in live:
        row["live_mib"] = round(live["growth"] / mib, 1)
        row["step_s"] = round(live["step_s"], 3)
        row["budget"] = "" if live.get("budget") is None else round(live["budget"], 3)
        row["segments"] = live.get("segments") or ""
        if "growth" in base.get("live", {}):
            row["live_ratio"] = round(live["growth"] / base["live"]["growth"], 3)
        if live.get("predicted"):
            row["predicted_mib"] = round(live["predicted"] / mib, 1)
            row["error_pct"] = round(100 * (live["predicted"] / live["growth"] - 1), 1)
            row["predicted_ratio"] = round(live["predicted"] / live["plain_predicted"], 3)
    if "growth" in rss:
        row["rss_mib"] = round(rss["growth"] / mib, 1)
        if "growth" in base.get("rss", {}):
            row["rss_ratio"] = round(rss["growth"] / base["rss"]["growth"], 3)
    if method == "sd_min":
        row["exact"] = exact.get("exact", exact.get("error", ""))
    return row


def write(rows, out):
    with open(out + ".csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def plot(rows, out):
    """Per model, against the budget asked for (a fraction of the plain model's predicted peak;
    ``sd_min``: the smallest the planner meets): the measured live-tensor peak / plain (top) and the
    step time / plain (bottom) of the budgeted plans, one line per mode; ``sd.checkpointed``'s
    default plan (~sqrt(n) segments) as a star at its predicted peak; tf.recompute_grad over every
    cut point as a dotted line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def number(value):
        return float(value) if value not in ("", None) else None

    models = [m for m in MODELS if any(r["model"] == m for r in rows)]
    fig, axes = plt.subplots(2, max(len(models), 1), figsize=(4 * max(len(models), 1), 7), squeeze=False)
    for column, name in enumerate(models):
        top, bottom = axes[0][column], axes[1][column]
        for mode, colour in zip(MODES, ("tab:blue", "tab:orange"), strict=True):
            mine = [r for r in rows if r["model"] == name and r["mode"] == mode and not r.get("error")]
            budgeted = sorted(
                (number(r["budget"]), number(r["live_ratio"]), number(r["time_ratio"]))
                for r in mine
                if r["method"].startswith("sd_") and r["method"] != "sd_default" and r.get("live_ratio")
            )
            if budgeted:
                budgets, peaks, times = zip(*budgeted, strict=True)
                top.plot(budgets, peaks, "o-", color=colour, label=f"sd.checkpointed(budget), {mode}")
                if all(t is not None for t in times):
                    bottom.plot(budgets, times, "o-", color=colour, label=mode)
            for r in mine:
                # top: the peak (labelled), bottom: the step time, for the default plan (a star at its
                # predicted peak) and tf.recompute_grad over every cut point (a dotted line)
                for axis, key, labelled in ((top, "live_ratio", True), (bottom, "time_ratio", False)):
                    if number(r[key]) is None:
                        continue
                    if r["method"] == "sd_default":
                        label = f"default plan, {mode}" if labelled else None
                        axis.plot(
                            number(r["predicted_ratio"]),
                            number(r[key]),
                            "*",
                            color=colour,
                            markersize=10,
                            label=label,
                        )
                    if r["method"] == "recompute_grad":
                        label = f"tf.recompute_grad, every cut point, {mode}" if labelled else None
                        axis.axhline(number(r[key]), color=colour, linestyle=":", label=label)
        top.plot([0, 1], [0, 1], color="grey", linewidth=0.6, label="peak = budget")
        top.set_title(name)
        top.set_ylabel("measured live-tensor peak / plain")
        bottom.set_ylabel("step time / plain (interleaved)")
        for axis in (top, bottom):
            axis.set_xlabel("memory budget (fraction of the predicted plain peak)")
        top.legend(fontsize=6)
    fig.suptitle("sd.checkpointed on models nobody here wrote: peak and step time vs budget (batch 16)")
    fig.tight_layout()
    fig.savefig(out + ".png", dpi=100)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        from .measure import report

        if sys.argv[2] == "exact":
            report(exact_child, sys.argv[3])
        elif sys.argv[2] == "time":
            report(time_child, sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
        else:
            report(child, sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
    else:
        main()
