"""Proof that checkpointing discards activations: peak RSS of child processes.

A recomputation that common-subexpression elimination merges back into the forward pass, or a
forward pass recorded by the outer tape, keeps every activation and measures ~1.0 of plain; a real
discard of a 36-layer chain in 6 segments keeps about a third (the bound is 12/36).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = Path(__file__).parent / "support" / "checkpoint_memory.py"


@pytest.mark.subprocess
@pytest.mark.parametrize("mode", ["eager", "function", "xla"])
def test_checkpointing_discards_activations(mode):
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, str(CHILD), mode], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    ratio = figures["checkpointed"] / figures["plain"]
    # plain keeps 36 activations of 4 MiB: its growth must be visible for the ratio to mean anything
    assert figures["plain"] > 100 * 2 ** 20, figures
    assert ratio < 0.65, f"{mode}: checkpointed/plain peak memory growth = {ratio:.2f} ({figures})"
