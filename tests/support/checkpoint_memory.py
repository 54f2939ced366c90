"""Child process: peak memory of a checkpointed vs a plain tanh MLP.

Usage, from the repository root:
    python -m tests.support.checkpoint_memory MODE METHOD [LAYERS SEGMENTS BATCH WIDTH]
    python -m tests.support.checkpoint_memory live_fit_xla METHOD [LAYERS SEGMENTS BATCH WIDTH]
    python -m tests.support.checkpoint_memory live_report BUDGET

The third form prints sd.memory_report's predicted peak and the measured live-tensor peak of
model.fit (no XLA) on a small residual CNN (BatchNorm, ReLU, Dropout, skip connections): the plain
model for BUDGET 1, else sd.checkpointed(model, memory_budget=BUDGET).

The second form prints the live-tensor peak (bytes, as {"growth": ...}) of one model.fit step with
jit_compile=True of a Keras Dense tanh stack, after a warm-up step, measured as the benchmarks
measure it (benchmarks/measure.py: TensorFlow's BFC allocator, pregrown, reset_memory_stats and
get_memory_info). METHOD is plain, activation_discarding (sd.ActivationDiscarding per segment) or
checkpointed_sequential. Run it with benchmarks.measure.LIVE_PEAK_ENV.

The first form measures peak resident memory. MODE is eager, function or xla; METHOD is checkpointed
or plain (tf.Variables and sd.with_recomputation_in_pullbacks), or keras_plain, keras_all or
keras_keep_last (Keras Dense layers; sd.checkpointed_sequential with keep_last_segment=False / True).
Prints one JSON line {"growth": bytes}: the peak resident memory during three training steps minus
the resident memory before them, after one warm-up step (so tracing and XLA compilation are not
counted).

Each method runs in a process of its own: memory freed by one model would hide the other's peak.
The peak is read from /proc/self/status (VmHWM); ru_maxrss would not do, since Linux carries the
parent's high-water mark into a forked child, and a child of a large pytest process would then
measure nothing. Run with benchmarks.measure.TUNED_RSS_ENV: TF_ENABLE_ONEDNN_OPTS=0 (with oneDNN on,
TensorFlow's CPU allocator is a caching pool that keeps the warm-up step's peak resident) and
MALLOC_MMAP_THRESHOLD_=131072 (so that glibc returns freed activation buffers to the system).
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks import measure  # noqa: E402  (the benchmarks' readings)

if sys.argv[1:2] in (["live_fit_xla"], ["live_report"]):
    measure.start_measure("live", pregrow_mib=1024)  # before TensorFlow allocates anything

import tensorflow as tf  # noqa: E402

import swiftdiff as sd  # noqa: E402


def live_fit_xla(method, layers=36, segments=6, batch=4096, width=128):
    """The live-tensor peak of one ``model.fit(jit_compile=True)`` step, after a warm-up step."""
    import keras

    keras.utils.set_random_seed(0)
    body = measure.checkpointed_layers(
        method,
        lambda: [keras.layers.Dense(width, activation="tanh", use_bias=False) for _ in range(layers)],
        segments=segments,
    )
    model = keras.Sequential([keras.Input((width,)), *body])
    step = measure.training_step(model, "fit_xla", tf.random.normal([batch, width]), tf.zeros([batch, width]))
    print(json.dumps({"growth": measure.measure_live_peak(step, 1)["growth"]}))


def live_report(budget):
    """``{"measured": bytes, "predicted": bytes}`` of one ``model.fit`` step of a residual CNN."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(32, 3, padding="same")(inputs)
    for _ in range(6):
        y = keras.layers.Conv2D(32, 3, padding="same")(x)
        y = keras.layers.ReLU()(keras.layers.BatchNormalization()(y))
        y = keras.layers.Dropout(0.2)(y)
        y = keras.layers.Conv2D(32, 3, padding="same")(y)
        x = keras.layers.ReLU()(keras.layers.Add()([x, keras.layers.BatchNormalization()(y)]))
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x)))
    if budget < 1:
        model = sd.checkpointed(model, memory_budget=budget, batch_size=32)
    batch = tf.random.normal([32, 32, 32, 3])
    predicted = sd.memory_report(model, batch.shape).peak_bytes
    step = measure.training_step(model, "fit", batch, tf.zeros([32, 10]), through_fit=False)
    print(json.dumps({"measured": measure.measure_live_peak(step, 3)["growth"], "predicted": predicted}))


def main():
    mode, method = sys.argv[1], sys.argv[2]
    if mode == "live_report":
        live_report(float(method))
        return
    if mode == "live_fit_xla":
        live_fit_xla(method, *(int(a) for a in sys.argv[3:7]))
        return
    layers, segments, batch, width = (int(a) for a in (sys.argv[3:7] or (36, 6, 8192, 128)))
    rng = tf.random.Generator.from_seed(0)
    weights = [tf.Variable(rng.normal([width, width]) / width**0.5) for _ in range(layers)]
    x = rng.normal([batch, width])

    def chain(h, ws):
        for w in ws:
            h = tf.tanh(h @ w)
        return h

    per = layers // segments
    pieces = [weights[i * per : (i + 1) * per] for i in range(segments)]

    def segment(ws):
        def body(h):
            return chain(h, ws)

        return sd.with_recomputation_in_pullbacks(body)

    checkpointed_segments = [segment(ws) for ws in pieces]

    def plain_loss(x):
        return tf.reduce_sum(chain(x, weights))

    def checkpointed_loss(x):
        h = x
        for segment in checkpointed_segments:
            h = segment(h)
        return tf.reduce_sum(h)

    def step(loss_fn):
        def run(x):
            with tf.GradientTape() as tape:
                loss = loss_fn(x)
            grads = tape.gradient(loss, weights)
            return tf.add_n([tf.reduce_sum(g) for g in grads])

        if mode == "eager":
            return run
        return tf.function(run, jit_compile=(mode == "xla"))

    if method.startswith("keras_"):
        import keras

        dense = [keras.layers.Dense(width, activation="tanh", use_bias=False) for _ in range(layers)]
        stack = (
            dense
            if method == "keras_plain"
            else [
                sd.checkpointed_sequential(
                    dense, segments=segments, keep_last_segment=(method == "keras_keep_last")
                )
            ]
        )
        model = keras.Sequential([keras.Input((width,)), *stack])
        weights = model.trainable_variables

        def keras_loss(x):
            return tf.reduce_sum(model(x))

        run = step(keras_loss)
    else:
        run = step(checkpointed_loss if method == "checkpointed" else plain_loss)
    float(run(x))
    base = measure.reset_peak()
    for _ in range(3):
        float(run(x))
    print(json.dumps({"growth": measure.peak() - base}))


if __name__ == "__main__":
    main()
