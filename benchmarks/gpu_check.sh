#!/usr/bin/env bash
# The checkpointing memory table on a GPU, in about five minutes.
#
# The same procedure as the CPU benchmarks (benchmarks/measure.py): each configuration in a fresh
# process, one warm-up step, tf.config.experimental.reset_memory_stats("GPU:0"), three steps, then
# get_memory_info("GPU:0")["peak"] minus ["current"] at the reset: the live-tensor peak, the figure
# that decides an out-of-memory error. TensorFlow's default GPU settings (the allocator reserves the
# device's memory as one region, so no pregrowing is needed; TF_FORCE_GPU_ALLOW_GROWTH unset).
# Workload: memory_vs_depth.py's 64-layer tanh MLP (8192 x 256 activations, 8 segments), every
# method in every mode (eager, tf.function, jit with the optimizer update inside, model.fit,
# model.fit(jit_compile=True)). Usage, from the repository root on a GPU machine:
#     bash benchmarks/gpu_check.sh        # one JSON line per configuration, then a ratio table
# GPU_CHECK_DEPTH / GPU_CHECK_BATCH make it smaller; GPU_CHECK_MODES / GPU_CHECK_METHODS select.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; fi
unset TF_FORCE_GPU_ALLOW_GROWTH TF_CPU_ALLOCATOR_USE_BFC
DEPTH=${GPU_CHECK_DEPTH:-64}
BATCH=${GPU_CHECK_BATCH:-8192}
MODES=${GPU_CHECK_MODES:-eager,function,jit,fit,fit_xla}
METHODS=${GPU_CHECK_METHODS:-plain,recompute_grad,remat_scope,activation_discarding,checkpointed_sequential}
OUT=${GPU_CHECK_OUT:-benchmarks/results/gpu_check.jsonl}
: > "$OUT"
for mode in ${MODES//,/ }; do
  for method in ${METHODS//,/ }; do
    line=$(TF_CPP_MIN_LOG_LEVEL=3 timeout 300 "$PY" -m benchmarks.memory_vs_depth --child gpu \
      "$method" "$mode" "$DEPTH" "$BATCH" 256 3 2>/dev/null | grep '^{' | tail -1 || true)
    echo "{\"mode\": \"$mode\", \"method\": \"$method\", \"result\": ${line:-\{\"error\": \"no output\"\}}}" | tee -a "$OUT"
  done
done
"$PY" - "$OUT" <<'PYEOF'
import json, sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
plain = {r["mode"]: r["result"] for r in rows if r["method"] == "plain" and "growth" in r["result"]}
print(f"{'mode':9} {'method':24} {'peak MiB':>9} {'peak/plain':>10} {'time/plain':>10}")
for r in rows:
    result, base = r["result"], plain.get(r["mode"])
    if "growth" not in result:
        print(f"{r['mode']:9} {r['method']:24} {result.get('error', '')[:70]}")
        continue
    ratio = result["growth"] / base["growth"] if base else float("nan")
    time = result["step_s"] / base["step_s"] if base else float("nan")
    print(f"{r['mode']:9} {r['method']:24} {result['growth'] / 2**20:9.1f} {ratio:10.3f} {time:10.3f}")
PYEOF
