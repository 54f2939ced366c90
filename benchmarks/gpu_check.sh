#!/usr/bin/env bash
# The checkpointing memory benchmark on a GPU, in well under 5 minutes.
#
# Peak device memory comes from tf.config.experimental.get_memory_info("GPU:0")["peak"], reset
# before the timed steps; each configuration runs in its own process. Workload: the 64-layer tanh
# MLP (8192 x 256 activations, 8 segments of 8) of benchmarks/memory_vs_depth.py, in eager mode,
# tf.function and model.fit(jit_compile=True). Usage, from the repository root on a GPU machine:
#     bash benchmarks/gpu_check.sh            # prints one JSON line per run and a ratio table
# The models and training steps are benchmarks.measure's (checkpointed_layers, training_step). On a CPU,
# GPU_CHECK_DRY_RUN=1 GPU_CHECK_DEPTH=8 GPU_CHECK_BATCH=64 runs everything but the memory readings.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; fi
"$PY" - <<'PYEOF'
import json, os, subprocess, sys
CHILD = r'''
import json, os, sys, time
import keras, tensorflow as tf
from benchmarks.measure import checkpointed_layers, training_step
method, mode = sys.argv[1], sys.argv[2]
dry_run = os.environ.get("GPU_CHECK_DRY_RUN") == "1"  # on a CPU: everything but the memory readings
assert dry_run or tf.config.list_physical_devices("GPU"), "no GPU visible to TensorFlow"
depth = int(os.environ.get("GPU_CHECK_DEPTH", 64))
batch, width = int(os.environ.get("GPU_CHECK_BATCH", 8192)), 256
keras.utils.set_random_seed(0)
body = checkpointed_layers(
    method, lambda: [keras.layers.Dense(width, activation="tanh", use_bias=False) for _ in range(depth)],
    segments=8)
model = keras.Sequential([keras.Input((width,)), *body])
step = training_step(model, mode, tf.random.normal([batch, width]), tf.zeros([batch, width]))
step()
memory = (lambda key: 0) if dry_run else (lambda key: tf.config.experimental.get_memory_info("GPU:0")[key])
if not dry_run:
    tf.config.experimental.reset_memory_stats("GPU:0")
base = memory("current")
start = time.perf_counter()
for _ in range(3):
    step()
elapsed = (time.perf_counter() - start) / 3
print(json.dumps({"method": method, "mode": mode, "growth": memory("peak") - base, "step_s": elapsed}))
'''
results = {}
for mode in ("eager", "function", "fit_xla"):
    for method in ("plain", "recompute_grad", "checkpointed_sequential"):
        done = subprocess.run([sys.executable, "-c", CHILD, method, mode], capture_output=True, text=True,
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=240)
        lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
        if not lines:
            print(json.dumps({"method": method, "mode": mode, "error": done.stderr.strip().splitlines()[-1:]}))
            continue
        result = json.loads(lines[-1]); results[(mode, method)] = result
        print(json.dumps(result), flush=True)
print("mode      method                   memory/plain  time/plain")
for (mode, method), r in results.items():
    base = results.get((mode, "plain"))
    if base:
        print(f"{mode:9} {method:24} {r['growth'] / max(base['growth'], 1):12.3f} {r['step_s'] / base['step_s']:11.3f}")
PYEOF
