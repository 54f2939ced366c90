"""import swiftdiff under a non-TensorFlow Keras backend stops at once with a short, clear error."""

import os
import subprocess
import sys

import pytest


@pytest.mark.subprocess
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_keras_backend_is_refused_at_import(backend):
    env = dict(os.environ, KERAS_BACKEND=backend)
    done = subprocess.run(
        [sys.executable, "-c", "import swiftdiff"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "KERAS_BACKEND" in done.stderr and "tensorflow" in done.stderr
    assert "ImportError" in done.stderr
    # short: our own message, not a traceback from deep inside Keras or JAX
    assert len(done.stderr.splitlines()) < 12, done.stderr
    assert "keras/src" not in done.stderr
