#!/usr/bin/env bash
# The checkpointing memory benchmark on a GPU, in well under 5 minutes.
#
# Peak device memory comes from tf.config.experimental.get_memory_info("GPU:0")["peak"], reset
# before the timed steps; each configuration runs in its own process. Workload: the 64-layer tanh
# MLP (8192 x 256 activations, 8 segments of 8) of benchmarks/memory_vs_depth.py, in eager mode,
# tf.function and model.fit(jit_compile=True). Usage, from the repository root on a GPU machine:
#     bash benchmarks/gpu_check.sh            # prints one JSON line per run and a ratio table
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; fi
"$PY" - <<'PYEOF'
import json, os, subprocess, sys
CHILD = r'''
import json, sys, time
import keras, tensorflow as tf
import swiftdiff as sd
method, mode = sys.argv[1], sys.argv[2]
assert tf.config.list_physical_devices("GPU"), "no GPU visible to TensorFlow"
keras.utils.set_random_seed(0)
depth, width, batch = 64, 256, 8192
layers = [keras.layers.Dense(width, activation="tanh", use_bias=False) for _ in range(depth)]
if method == "plain":
    body = layers
elif method == "recompute_grad":
    class RG(keras.layers.Layer):
        def __init__(self, block): super().__init__(); self.block = block
        def call(self, x): return tf.recompute_grad(lambda h: self.block(h))(x)
    body = [RG(keras.Sequential(layers[i:i + 8])) for i in range(0, depth, 8)]
else:
    body = [sd.checkpointed_sequential(layers, segments=8)]
model = keras.Sequential([keras.Input((width,)), *body])
x = tf.random.normal([batch, width]); y = tf.zeros([batch, width])
opt = keras.optimizers.SGD(1e-3)
if mode == "fit_xla":
    model.compile(optimizer=opt, loss="mse", jit_compile=True)
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    step = lambda: model.fit(data, epochs=1, steps_per_epoch=1, verbose=0)
else:
    def train():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        g = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(g, model.trainable_variables))
        return loss
    run = tf.function(train) if mode == "function" else train
    step = lambda: float(run())
step()
tf.config.experimental.reset_memory_stats("GPU:0")
base = tf.config.experimental.get_memory_info("GPU:0")["current"]
start = time.perf_counter()
for _ in range(3):
    step()
elapsed = (time.perf_counter() - start) / 3
print(json.dumps({"method": method, "mode": mode,
                  "growth": tf.config.experimental.get_memory_info("GPU:0")["peak"] - base,
                  "step_s": elapsed}))
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
