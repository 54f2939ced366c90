"""Shared by the benchmarks: memory readings and running configurations in child processes.

Every configuration runs in a fresh child process, once per measure, and every figure is reported
as a ratio against the plain model measured in the same run. Two measures, in separate processes:

**Live-tensor peak (the primary figure).** TensorFlow's own allocator statistics: the children run
with ``TF_CPU_ALLOCATOR_USE_BFC=true`` (``LIVE_PEAK_ENV``), so that CPU tensors come from the same
best-fit-with-coalescing (BFC) allocator a GPU uses; after one warm-up step (tracing and XLA
compilation are not counted) ``tf.config.experimental.reset_memory_stats("CPU:0")`` resets the
peak, and the figure is ``get_memory_info("CPU:0")["peak"]`` after the timed steps minus
``["current"]`` at the reset: the bytes of live tensors, independent of malloc and of oneDNN, the
figure ``get_memory_info("GPU:0")`` gives on a GPU and the one that decides an out-of-memory error
there.

Before anything else is allocated, the child makes the allocator's first region one large untouched
block (``pregrow_allocator``), as a GPU's allocator has by default (it reserves nearly all device
memory up front). Without it the figure is an accounting artefact of how the CPU allocator grows:
with ``TF_CPU_ALLOCATOR_USE_BFC=true`` allow_growth is forced on and regions are added one at a
time, each the next power of two, and BFC does not split a free chunk smaller than twice the request
unless more than 128 MiB would be left over (bfc_allocator.cc, ``kMaxInternalFragmentation``). A
compiled step's XLA temp buffer is one request: on the 64-layer MLP of memory_vs_depth.py
(8192 x 256, 8 segments) XLA's buffer assignment (``XLA_FLAGS=--xla_dump_to``, the memory-usage
reports) gives model.fit(jit_compile=True) a 520.75 MiB temp buffer for the plain model and
128.50 MiB for ``sd.ActivationDiscarding`` per segment, 0.247 of plain. The plain model's request
is split inside a 1 GiB region; the checkpointed one lands in a 256 MiB region whose 127.5 MiB tail
is neither twice the request nor over 128 MiB, so it is not split and ``bytes_in_use`` counts
256 MiB: 0.50 of plain, the figure issue 12 reported, although XLA uses 128.50 MiB. From one big
region every large request is split and the allocator counts what XLA uses. The region is never
touched, but BFC's bookkeeping for it (an 8-byte handle per 256 bytes) costs 1/32 of its size in
resident memory: that is why the two measures run in separate processes.

**Peak-RSS growth in TensorFlow's default environment (beside it).** What a user who sets nothing
sees in ``top``: the children run with none of the memory settings (``DEFAULT_ENV``: no
``TF_CPU_ALLOCATOR_USE_BFC``, no ``TF_ENABLE_ONEDNN_OPTS``, no ``MALLOC_`` variables); before the
warm-up step the peak-RSS mark is reset through /proc/self/clear_refs, and the growth of
/proc/self/status's VmHWM over the warm-up and timed steps is reported, tracing and XLA compilation
included. Counting only after the warm-up step would measure nothing here: the CPU allocator and
glibc keep the warm-up step's memory, so the timed steps grow by ~0 MiB for every method. The
figure mixes live tensors with compilation and caching and is higher than the live-tensor ratio
(under XLA, compilation adds ~190 MiB to every method on the 64-layer MLP).

Earlier figures (before issue 12) were RSS growth under ``TUNED_RSS_ENV`` (oneDNN off, glibc's mmap
threshold lowered), a setting no user has; it is kept only for the RSS regression tests
(tests/test_checkpoint_memory.py) and for ``step_time.py --env tuned``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository root, from which ``benchmarks`` imports

# Live-tensor peak: TensorFlow's BFC allocator on the CPU, pregrown in the child (pregrow_allocator).
LIVE_PEAK_ENV = {"TF_CPU_ALLOCATOR_USE_BFC": "true", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
# TensorFlow's default environment, as users run it: for peak RSS and for timing.
DEFAULT_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
# The former memory settings: with oneDNN on, TensorFlow's CPU allocator is a caching pool that keeps
# the warm-up step's peak resident, and glibc keeps freed activation buffers unless its mmap threshold
# is lowered. No user runs this way; no published figure uses it.
TUNED_RSS_ENV = {
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "MALLOC_MMAP_THRESHOLD_": "131072",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PYTHONUNBUFFERED": "1",
}
# The child's environment for each measure; "gpu" is the live-tensor peak of a GPU (gpu_check.sh),
# whose allocator needs no setting: it reserves the device's memory as one region.
MEASURES = {"live": LIVE_PEAK_ENV, "rss": DEFAULT_ENV, "gpu": DEFAULT_ENV}


def _tuned(key: str) -> bool:
    """Whether an inherited variable changes TensorFlow's or glibc's memory behaviour (and so must not
    leak from the parent into a child that measures the default environment)."""
    return key in ("TF_ENABLE_ONEDNN_OPTS", "TF_CPU_ALLOCATOR_USE_BFC", "GLIBC_TUNABLES") or key.startswith(
        "MALLOC_"
    )


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> int:
    """Resets the peak-RSS mark to the current RSS and returns the current RSS (bytes)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    return _status("VmRSS")


def peak() -> int:
    return _status("VmHWM")


def measure_steps(step, steps: int) -> dict:
    """Runs ``step`` once to warm up, then ``steps`` times; returns the peak-RSS growth (bytes) from
    before the warm-up step (tracing and compilation included: what a user's process reaches) and
    seconds/step over the timed steps."""
    base = reset_peak()
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - start
    return {"growth": peak() - base, "step_s": elapsed / steps}


# The pregrown region (MiB): well over twice the largest live peak measured here (the 128-layer plain
# MLP's ~1 GiB), so that every request is split from it.
PREGROW_MIB = 4096


def pregrow_allocator(mib: int = PREGROW_MIB) -> None:
    """Makes the BFC allocator's first region ``mib`` MiB: call first thing in a child running under
    ``LIVE_PEAK_ENV``, before any tensor or model is built (the module docstring says why).

    The block is allocated uninitialized and freed at once: its pages are never touched.
    """
    import tensorflow as tf

    reserve = tf.raw_ops.Empty(shape=[mib, 1 << 20], dtype=tf.uint8, init=False)
    del reserve


def measure_live_peak(step, steps: int, device: str = "CPU:0") -> dict:
    """Runs ``step`` once to warm up, then ``steps`` times; returns the allocator's live-tensor peak
    over the timed steps (``peak`` minus ``current`` at the reset after the warm-up step, bytes) and
    seconds/step. On a CPU it needs ``LIVE_PEAK_ENV`` and ``pregrow_allocator()`` first."""
    import tensorflow as tf

    step()
    tf.config.experimental.reset_memory_stats(device)
    base = tf.config.experimental.get_memory_info(device)["current"]
    start = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - start
    top = tf.config.experimental.get_memory_info(device)["peak"]
    if top <= 0:
        raise RuntimeError(f"no allocator statistics on {device}: is TF_CPU_ALLOCATOR_USE_BFC=true set?")
    return {"growth": top - base, "step_s": elapsed / steps}


def start_measure(measure: str, pregrow_mib: int = PREGROW_MIB) -> None:
    """First thing in a measuring child: checks that the environment matches ``measure`` ("live",
    "rss" or "gpu") and, for the CPU's live-tensor peak, pregrows the allocator."""
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {sorted(MEASURES)}, not {measure!r}")
    bfc = os.environ.get("TF_CPU_ALLOCATOR_USE_BFC", "").lower() in ("1", "true")
    if bfc != (measure == "live") or (measure != "live" and any(_tuned(key) for key in os.environ)):
        raise RuntimeError(f"the {measure} measure needs the environment of measure.MEASURES[{measure!r}]")
    if measure == "live":
        pregrow_allocator(pregrow_mib)
    if measure == "gpu":
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            raise RuntimeError("the gpu measure needs a GPU visible to TensorFlow")


def measure_memory(measure: str, step, steps: int) -> dict:
    """What ``measure`` says: the live-tensor peak of the CPU (``live``) or of the first GPU
    (``gpu``), or peak-RSS growth from before the first step (``rss``)."""
    if measure == "rss":
        return measure_steps(step, steps)
    return measure_live_peak(step, steps, "GPU:0" if measure == "gpu" else "CPU:0")


def child_env(env: dict) -> dict:
    """This process's environment without the variables that tune TensorFlow's or glibc's memory
    behaviour, plus ``env`` (one of ``MEASURES``' values or ``TUNED_RSS_ENV``)."""
    return dict({key: value for key, value in os.environ.items() if not _tuned(key)}, **env)


def report(child, *args) -> None:
    """Runs a measuring child's ``child(*args)``; prints ``{"error": ...}`` (one informative line) if
    it raises, so the CSV says why (keras.RematScope raises in graphs)."""
    try:
        child(*args)
    except Exception as error:
        print(json.dumps({"error": error_summary(error)}))


def run_child(module: str, args: list, timeout: float = 1800, env: dict = DEFAULT_ENV) -> dict:
    """Runs ``python -m module --child args...`` from the repository root and returns the JSON it
    prints last (or an error).

    ``env`` is added to this process's environment, from which every variable that tunes TensorFlow's
    or glibc's memory behaviour is removed first: ``DEFAULT_ENV`` (default), ``LIVE_PEAK_ENV`` or
    ``TUNED_RSS_ENV``.
    """
    env = child_env(env)
    try:
        done = subprocess.run(
            [sys.executable, "-m", module, "--child", *map(str, args)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}
    lines = [line for line in done.stdout.strip().splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        errors = [
            line.strip()
            for line in done.stderr.splitlines()
            if line.strip().split(":", 1)[0].endswith(("Error", "Exception"))
        ]
        last = (errors or done.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": last[:200]}
    return json.loads(lines[-1])


def run_measures(module: str, args: list, timeout: float = 1800, *, rss: bool = True) -> dict:
    """Runs ``python -m module --child MEASURE args...`` once per measure, one after the other, each
    in its environment (``MEASURES``); returns ``{"live": result, "rss": result}``. A configuration
    that fails under the live measure (``keras.RematScope`` raises in graphs) is not run again;
    with ``rss=False`` the RSS measure is skipped (its columns stay empty)."""
    results = {"live": run_child(module, ["live", *args], timeout, LIVE_PEAK_ENV)}
    if "error" in results["live"]:
        results["rss"] = results["live"]
    else:
        results["rss"] = run_child(module, ["rss", *args], timeout) if rss else {}
    return results


def ratio_row(results: dict, baseline: dict | None) -> dict:
    """The CSV columns of one configuration measured by ``run_measures``, against ``baseline`` (the
    plain model's results of the same run): live_mib and live_ratio (the live-tensor peak), rss_mib and
    rss_ratio (default-environment peak-RSS growth), step_s (the RSS child's seconds per step, in the
    default environment), error."""
    row: dict = {}
    for measure in ("live", "rss"):
        result = results[measure]
        row[f"{measure}_mib"] = round(result["growth"] / 2**20, 1) if "growth" in result else ""
        base = (baseline or {}).get(measure, {})
        row[f"{measure}_ratio"] = (
            round(result["growth"] / max(base["growth"], 1), 3)
            if "growth" in result and "growth" in base
            else ""
        )
    row["step_s"] = round(results["rss"]["step_s"], 4) if "step_s" in results["rss"] else ""
    row["error"] = results["live"].get("error") or results["rss"].get("error", "")
    return row


def error_summary(error: BaseException) -> str:
    """One informative line for an exception: Keras wraps the cause in "Exception encountered when
    calling X.call()." and tf.function in "in user code:", so the first line alone says nothing."""
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(error)).splitlines()]
    lines = [line for line in lines if line]
    for index, line in enumerate(lines[:-1]):
        if "Exception encountered when calling" in line:
            return f"{type(error).__name__}: {lines[index + 1]}"[:200]
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:200]


def checkpointed_layers(method: str, make_layers, segments: int) -> list:
    """The layers of a benchmark model for one checkpointing method.

    ``plain``; ``remat_scope`` (layers built inside ``keras.RematScope(mode="full")``);
    ``checkpointed_sequential`` (swiftdiff's automatic ~sqrt(n) segmentation); ``recompute_grad``
    and ``activation_discarding`` (``segments`` contiguous blocks, each wrapped in a layer calling
    ``tf.recompute_grad`` or in ``sd.ActivationDiscarding``).
    """
    import keras
    import tensorflow as tf

    import swiftdiff as sd

    class RecomputeGrad(keras.layers.Layer):
        """A block whose call goes through tf.recompute_grad (TensorFlow's own checkpointing)."""

        def __init__(self, block, **kwargs):
            super().__init__(**kwargs)
            self.block = block

        def call(self, x):
            return tf.recompute_grad(lambda h: self.block(h))(x)

    if method == "plain":
        return make_layers()
    if method == "remat_scope":
        with keras.RematScope(mode="full"):
            return make_layers()
    if method == "checkpointed_sequential":
        return [sd.checkpointed_sequential(make_layers())]
    layers = make_layers()
    bounds = [round(i * len(layers) / segments) for i in range(segments + 1)]
    wrap = RecomputeGrad if method == "recompute_grad" else sd.ActivationDiscarding
    return [wrap(keras.Sequential(layers[a:b])) for a, b in pairwise(bounds)]


MODES = ["eager", "function", "jit", "fit", "fit_xla"]


def training_step(
    model, mode: str, x, y, *, loss="mse", learning_rate: float = 1e-3, through_fit: bool = True
):
    """One SGD training step of ``model`` on ``(x, y)`` as a callable; ``loss`` is a Keras loss
    (mean squared error by default).

    Hand-written steps (a GradientTape, the gradients applied with ``optimizer.apply``):
    ``eager``; ``function``, the step in ``tf.function``; ``jit``, in ``tf.function(jit_compile=True)``
    with the optimizer update inside the compiled function. Keras' train step: ``fit`` and ``fit_xla``
    (``compile(jit_compile=False / True)``), run through ``model.fit`` (``through_fit``) or through the
    train function ``fit`` compiles (``train_on_batch``, free of fit's per-call cost, for timing).
    """
    import keras
    import tensorflow as tf

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    optimizer = keras.optimizers.SGD(learning_rate)
    loss_object = keras.losses.get(loss)
    if mode in ("fit", "fit_xla"):
        model.compile(optimizer=optimizer, loss=loss_object, jit_compile=(mode == "fit_xla"))
        if through_fit:
            data = tf.data.Dataset.from_tensors((x, y)).repeat()
            return lambda: model.fit(data, epochs=1, steps_per_epoch=1, verbose=0)
        return lambda: model.train_on_batch(x, y)

    variables = model.trainable_variables
    optimizer.build(variables)  # its variables exist before any tf.function traces the step

    def train_step():
        with tf.GradientTape() as tape:
            value = tf.reduce_mean(loss_object(y, model(x, training=True)))  # a loss function is per sample
        optimizer.apply(tape.gradient(value, variables), variables)
        return value

    run = train_step if mode == "eager" else tf.function(train_step, jit_compile=(mode == "jit"))
    return lambda: float(run())
