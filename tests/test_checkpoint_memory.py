"""Proof that checkpointing discards activations: peak memory of child processes.

The live-tensor test reads TensorFlow's own allocator statistics, as a GPU reports them and as the
benchmarks measure them (benchmarks/measure.py); the others read peak RSS under the tuned settings
of measure.TUNED_RSS_ENV, where freed activation buffers leave the process.

A recomputation that common-subexpression elimination merges back into the forward pass, or a
forward pass recorded by the outer tape, keeps every activation and measures ~1.0 of plain (0.94
measured with the graph barrier removed); a real discard of a 36-layer chain in 6 segments keeps
about a third (the bound is 12/36; measured 0.43 eager, 0.33 tf.function, 0.33 XLA).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.measure import LIVE_PEAK_ENV, TUNED_RSS_ENV, child_env  # explained there

ROOT = Path(__file__).parents[1]
CHILD = [sys.executable, "-m", "tests.support.checkpoint_memory"]  # run from ROOT, as the benchmarks are
ENV = child_env(TUNED_RSS_ENV)


@pytest.mark.subprocess
@pytest.mark.parametrize("mode", ["eager", "function", "xla"])
def test_checkpointing_discards_activations(mode):
    children = {
        method: subprocess.Popen(
            [*CHILD, mode, method],
            env=ENV,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for method in ("checkpointed", "plain")
    }  # separate processes, run side by side
    figures = {}
    for method, child in children.items():
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err[-2000:]
        figures[method] = json.loads(out.strip().splitlines()[-1])["growth"]
    ratio = figures["checkpointed"] / figures["plain"]
    # plain keeps 36 activations of 4 MiB: its growth must be visible for the ratio to mean anything
    assert figures["plain"] > 100 * 2**20, figures
    assert ratio < 0.6, f"{mode}: checkpointed/plain peak memory growth = {ratio:.2f} ({figures})"


@pytest.mark.subprocess
def test_checkpointed_sequential_keeps_its_last_segment_for_free_in_eager_mode():
    """Backprop needs the last segment's activations first, so keeping them (the default) must cost
    no more peak memory than recomputing them (measured 0.279 vs 0.282 of plain at 64 layers)."""
    figures = {}
    for method in ("keras_plain", "keras_all", "keras_keep_last"):  # one at a time: 2 cores
        done = subprocess.run(
            [*CHILD, "eager", method], env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr[-2000:]
        figures[method] = json.loads(done.stdout.strip().splitlines()[-1])["growth"]
    assert figures["keras_plain"] > 100 * 2**20, figures
    assert figures["keras_keep_last"] / figures["keras_plain"] < 0.6, figures
    assert figures["keras_keep_last"] <= 1.1 * figures["keras_all"], figures


@pytest.mark.subprocess
def test_live_tensor_peak_of_fit_with_xla():
    """model.fit(jit_compile=True), the path the docs recommend for GPUs: the live-tensor peak of a
    checkpointed 36-layer stack (6 segments) stays below a bound the plain stack exceeds (measured
    74 MiB plain, 24 MiB for either method: 0.33; the bound of 12 of 36 activations is 0.33).
    Issue 12 read 0.50 here before the allocator was pregrown: measure.py explains the artefact."""
    figures = {}
    for method in ("plain", "activation_discarding", "checkpointed_sequential"):  # one at a time
        done = subprocess.run(
            [*CHILD, "live_fit_xla", method],
            env=child_env(LIVE_PEAK_ENV),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        figures[method] = json.loads(done.stdout.strip().splitlines()[-1])["growth"]
    bound = 40 * 2**20
    assert figures["plain"] > bound, figures  # 36 activations of 2 MiB: the bound means something
    assert figures["activation_discarding"] < bound, figures
    assert figures["checkpointed_sequential"] < bound, figures


@pytest.mark.subprocess
def test_memory_report_predicts_the_live_tensor_peak_of_fit():
    """sd.memory_report's predicted peak against the allocator's measured one, model.fit on a small
    residual CNN (BatchNorm, Dropout, skip connections), plain and with a budgeted plan: within the
    15% the benchmarks hold the large models to."""
    for budget in ("1", "0.5"):
        done = subprocess.run(
            [*CHILD, "live_report", budget],
            env=child_env(LIVE_PEAK_ENV),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        assert abs(figures["predicted"] / figures["measured"] - 1) <= 0.15, (budget, figures)
