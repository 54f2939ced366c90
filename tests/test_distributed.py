"""Beyond one device and one process: ActivationDiscarding under MirroredStrategy (two logical
CPUs), MultiWorkerMirroredStrategy with two local workers on loopback ports, and the derivative
registry under concurrent registration and differentiation from threads."""

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd

CHILD = Path(__file__).parent / "support" / "multiworker_training.py"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.subprocess
def test_multi_worker_mirrored_strategy_equals_single_process():
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    workers = [
        subprocess.Popen(
            [sys.executable, str(CHILD), "worker"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})),
        )
        for i in range(2)
    ]
    try:
        outputs = [worker.communicate(timeout=300) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
    single = subprocess.run(
        [sys.executable, str(CHILD), "single"], capture_output=True, text=True, timeout=300, env=env
    )
    assert single.returncode == 0, single.stderr[-3000:]
    distributed = json.loads(outputs[0][0].strip().splitlines()[-1])
    reference = json.loads(single.stdout.strip().splitlines()[-1])
    assert len(distributed) == len(reference) == 6
    for a, b in zip(reference, distributed, strict=True):
        np.testing.assert_allclose(np.array(b), np.array(a), rtol=1e-5, atol=1e-6)


def test_registry_is_safe_under_concurrent_registration_and_differentiation():
    errors, results = [], {}
    barrier = threading.Barrier(8)

    def worker(index):
        try:
            factor = float(index + 1)

            def f(x):
                return x * x

            barrier.wait()

            @sd.derivative(of=f)
            def df(x):
                return f(x), lambda v: v * factor

            got = [float(sd.gradient(at=2.0, of=f)) for _ in range(20)]
            got += [float(sd.derivative(at=2.0, of=f)) for _ in range(5)]
            # hooks and without_derivative bookkeeping are per thread
            got += [float(sd.gradient(at=3.0, of=lambda x: sd.with_derivative(x, lambda g: g * factor)))]
            results[index] = (factor, got)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for factor, got in results.values():
        assert got == [factor] * len(got)


def test_same_function_registered_from_many_threads_ends_with_one_derivative():
    def g(x):
        return tf.sin(x)

    def register(factor):
        sd.derivative(of=g)(lambda x: (g(x), lambda v: v * factor))

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.DerivativeRegistrationWarning)
        threads = [threading.Thread(target=register, args=(float(i),)) for i in range(1, 9)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    value = float(sd.gradient(at=0.5, of=g))
    assert value in [float(i) for i in range(1, 9)]


# --- MirroredStrategy, in child processes with two logical CPU devices ----------------------------

MIRRORED_CHILD = Path(__file__).parent / "support" / "mirrored_training.py"


def _train(*args):
    done = subprocess.run(
        [sys.executable, str(MIRRORED_CHILD), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [np.array(w) for w in json.loads(done.stdout.strip().splitlines()[-1])]


def _assert_trains_alike(reference, other, rtol, atol):
    """Trains both configurations of mirrored_training.py and compares their final weights."""
    expected, weights = _train(*reference), _train(*other)
    assert len(weights) == len(expected)
    for a, b in zip(expected, weights, strict=True):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)
    return weights


@pytest.mark.subprocess
def test_mirrored_strategy_equals_single_device_training():
    _assert_trains_alike(
        ("single", "wrapped", "deterministic"), ("mirrored", "wrapped", "deterministic"), 1e-5, 1e-6
    )


@pytest.mark.subprocess
def test_mirrored_strategy_with_dropout_and_batchnorm_equals_unwrapped():
    _assert_trains_alike(
        ("mirrored", "plain", "stochastic"), ("mirrored", "wrapped", "stochastic"), 1e-6, 1e-7
    )


@pytest.mark.subprocess
def test_a_checkpointed_whole_model_under_mirrored_strategy_equals_single_device_training():
    _assert_trains_alike(
        ("single", "whole_plain", "deterministic"), ("mirrored", "whole", "deterministic"), 1e-5, 1e-6
    )


@pytest.mark.subprocess
def test_a_checkpointed_whole_model_with_dropout_and_batchnorm_under_mirrored_strategy_equals_plain():
    weights = _assert_trains_alike(
        ("mirrored", "whole_plain", "stochastic"), ("mirrored", "whole", "stochastic"), 1e-6, 1e-7
    )
    assert len(weights) > 10
