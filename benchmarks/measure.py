"""Shared by the benchmarks: peak-memory readings and running configurations in child processes.

How memory is measured (see also ANCHORS.md's lessons): every configuration runs in a fresh child
process; after one warm-up step (tracing and XLA compilation are not counted) the peak-RSS mark
is reset through /proc/self/clear_refs, and the growth of /proc/self/status's VmHWM over the timed
steps is reported. Children run with TF_ENABLE_ONEDNN_OPTS=0 (with oneDNN on, TensorFlow's CPU
allocator is a caching pool that keeps the warm-up step's peak resident, hiding every difference)
and MALLOC_MMAP_THRESHOLD_=131072 (glibc returns freed activation buffers). Figures are reported
as ratios against the plain model measured in the same run.
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

CHILD_ENV = {
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "MALLOC_MMAP_THRESHOLD_": "131072",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PYTHONUNBUFFERED": "1",
}


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
    """Runs ``step`` once to warm up, then ``steps`` times; returns growth (bytes) and seconds/step."""
    step()
    base = reset_peak()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - start
    return {"growth": peak() - base, "step_s": elapsed / steps}


# For timing: TensorFlow's defaults (oneDNN on, glibc's own malloc thresholds), as users run it.
TIMING_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}


def run_child(module: str, args: list, timeout: float = 1800, env: dict = CHILD_ENV) -> dict:
    """Runs ``python -m module --child args...`` from the repository root and returns the JSON it
    prints last (or an error).

    ``env`` is added to this process's environment: ``CHILD_ENV`` (the memory settings, default)
    or ``TIMING_ENV``.
    """
    env = dict({key: value for key, value in os.environ.items() if key not in CHILD_ENV}, **env)
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


def training_step(model, mode: str, x, y, *, through_fit: bool = True):
    """One SGD training step of ``model`` on ``(x, y)`` (mean squared error), as a callable.

    ``eager``: a GradientTape loop; ``function``: the same step in ``tf.function``; ``fit_xla``:
    compiled with ``jit_compile=True`` and run through ``model.fit`` (``through_fit``) or through the
    train function ``fit`` compiles (``train_on_batch``, free of fit's per-call cost, for timing).
    """
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.SGD(1e-3)
    if mode == "fit_xla":
        model.compile(optimizer=optimizer, loss="mse", jit_compile=True)
        if through_fit:
            data = tf.data.Dataset.from_tensors((x, y)).repeat()
            return lambda: model.fit(data, epochs=1, steps_per_epoch=1, verbose=0)
        return lambda: model.train_on_batch(x, y)

    def train_step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    run = tf.function(train_step) if mode == "function" else train_step
    return lambda: float(run())
