"""Child process: peak resident-memory growth of a checkpointed vs a plain tanh MLP.

Usage: python checkpoint_memory.py MODE [LAYERS SEGMENTS BATCH WIDTH]
MODE is eager, function or xla. Prints one JSON line {"checkpointed": bytes, "plain": bytes}.

The checkpointed model runs first, then the plain one, in the same process: peak RSS only grows, so
each figure is the peak after that model's steps minus the RSS before any step (tracing and
compilation included). Run with MALLOC_MMAP_THRESHOLD_=131072 so that glibc returns freed
activation buffers to the system and the plain model's peak is not hidden by reuse.
"""

import json
import os
import resource
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

import swiftdiff as sd  # noqa: E402


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    mode = sys.argv[1]
    layers, segments, batch, width = (int(a) for a in (sys.argv[2:6] or (36, 6, 8192, 128)))
    rng = tf.random.Generator.from_seed(0)
    weights = [tf.Variable(rng.normal([width, width]) / width ** 0.5) for _ in range(layers)]
    x = rng.normal([batch, width])

    def chain(h, ws):
        for w in ws:
            h = tf.tanh(h @ w)
        return h

    per = layers // segments
    pieces = [weights[i * per:(i + 1) * per] for i in range(segments)]
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

    results = {}
    base = peak_bytes()
    for name, loss_fn in (("checkpointed", checkpointed_loss), ("plain", plain_loss)):
        run = step(loss_fn)
        for _ in range(3):
            float(run(x))
        results[name] = peak_bytes() - base
    print(json.dumps(results))


if __name__ == "__main__":
    main()
