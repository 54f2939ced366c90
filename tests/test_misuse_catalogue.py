"""The misuse catalogue: every kind of wrong input across the public API gets a short Python error
(TypeError/ValueError) raised by swiftdiff itself, naming the function and the culprit."""

import keras
import pytest
import tensorflow as tf

import swiftdiff as sd


def _dense(inputs=2, outputs=1):
    return sd.Dense(input_size=inputs, output_size=outputs)


def _registered_wrong_structure():
    def f(x, y):
        return x * y

    @sd.derivative(of=f)
    def df(x, y):
        return f(x, y), lambda v: v  # one tangent for two arguments

    sd.gradient(at=(1.0, 2.0), of=f)


def _layer_tangent_of_wrong_type():
    layer = _dense()
    apply = sd.differentiable_function(from_=lambda l, x: (l(x), lambda v: (tf.ones([2, 1]), v)))
    sd.gradient(at=layer, of=lambda l: tf.reduce_sum(apply(l, tf.ones([1, 2]))))


CASES = [
    # (id, action, exception, words the message must contain)
    ("gradient-non-scalar", lambda: sd.gradient(at=tf.ones([2]), of=lambda x: x), ValueError,
     ["sd.gradient", "pullback"]),
    ("gradient-none-result", lambda: sd.gradient(at=1.0, of=lambda x: None), ValueError,
     ["sd.gradient", "pullback"]),
    ("gradient-int-point", lambda: sd.gradient(at=3, of=lambda n: n * 2.0), TypeError,
     ["sd.gradient", "'n'", "int"]),
    ("gradient-str-point", lambda: sd.gradient(at=("a", 1.0), of=lambda s, x: x), TypeError,
     ["'s'", "str"]),
    ("gradient-int-variable", lambda: sd.gradient(at=tf.Variable(3), of=lambda v: 1.0), TypeError,
     ["sd.gradient", "int32"]),
    ("missing-of", lambda: sd.pullback(at=1.0), TypeError, ["sd.pullback", "of="]),
    ("doubled-of-in", lambda: sd.gradient(at=1.0, of=tf.sin, in_=tf.cos), TypeError, ["not both"]),
    ("of-not-callable", lambda: sd.value_with_gradient(at=1.0, of="sin"), TypeError,
     ["sd.value_with_gradient", "function"]),
    ("pullback-cotangent-shape", lambda: sd.pullback(at=tf.ones([2]), of=tf.sin)(tf.ones([5])), ValueError,
     ["sd.pullback", "[5]", "[2]"]),
    ("pullback-cotangent-structure",
     lambda: sd.pullback(at=1.0, of=lambda x: (x, x))(tf.ones([])), ValueError,
     ["sd.pullback", "components"]),
    ("pullback-cotangent-dtype",
     lambda: sd.pullback(at=1.0, of=tf.sin)(tf.constant(1.0, tf.float64)), TypeError,
     ["sd.pullback", "float64"]),
    ("differential-tangent-count", lambda: sd.differential(at=(1.0, 2.0), of=lambda a, b: a * b)(1.0),
     TypeError, ["sd.differential", "one tangent per point"]),
    ("differential-tangent-dtype",
     lambda: sd.differential(at=1.0, of=tf.sin)(tf.constant(1.0, tf.float64)), TypeError,
     ["sd.differential", "float64"]),
    ("derivative-vector-point", lambda: sd.derivative(at=tf.ones([3]), of=tf.sin), ValueError,
     ["sd.derivative", "scalar"]),
    ("register-non-callable", lambda: sd.derivative(of=42)(lambda x: (x, lambda v: v)), TypeError,
     ["sd.derivative", "function"]),
    ("register-unknown-wrt", lambda: sd.derivative(of=lambda x: x, wrt="y")(lambda x: (x, lambda v: v)),
     ValueError, ["wrt='y'"]),
    ("register-wrong-structure", _registered_wrong_structure, ValueError,
     ["derivative registered for", "2 differentiable arguments"]),
    ("hook-not-callable", lambda: sd.with_derivative(tf.ones([2]), None), TypeError,
     ["sd.with_derivative", "hook"]),
    ("hook-wrong-shape",
     lambda: sd.gradient(at=tf.ones([2]), of=lambda x: tf.reduce_sum(sd.with_derivative(x, lambda g: tf.ones([2, 2])))),
     ValueError, ["sd.with_derivative", "[2, 2]"]),
    ("hook-on-integer", lambda: sd.with_derivative(tf.constant([1, 2]), lambda g: g), TypeError,
     ["sd.with_derivative", "int32"]),
    ("vjp-not-callable", lambda: sd.differentiable_function(from_=3), TypeError,
     ["sd.differentiable_function", "from_="]),
    ("vjp-returns-value-only", lambda: sd.gradient(at=1.0, of=sd.differentiable_function(from_=lambda x: x * 2.0)),
     TypeError, ["differentiable_function", "(value, pullback)"]),
    ("vjp-layer-tangent-not-tangent-vector", _layer_tangent_of_wrong_type, TypeError,
     ["TangentVector"]),
    ("checkpoint-non-callable", lambda: sd.with_recomputation_in_pullbacks(None), TypeError,
     ["sd.with_recomputation_in_pullbacks"]),
    ("without-derivative-missing-at", lambda: sd.without_derivative(of=tf.sin), TypeError,
     ["sd.without_derivative", "at="]),
    ("unbroadcasted-incompatible", lambda: sd.unbroadcasted(tf.ones([2, 3]), to=[2]), ValueError,
     ["sd.unbroadcasted"]),
    ("activation-discarding-non-layer", lambda: sd.ActivationDiscarding(tf.sin), TypeError,
     ["sd.ActivationDiscarding", "Keras layer"]),
    ("checkpointed-sequential-bad-segments",
     lambda: sd.checkpointed_sequential([keras.layers.Dense(2)], segments=3), ValueError,
     ["sd.checkpointed_sequential", "segments"]),
    ("checkpointed-sequential-bad-keep-last",
     lambda: sd.checkpointed_sequential([keras.layers.Dense(2)], keep_last_segment="yes"), TypeError,
     ["sd.checkpointed_sequential", "keep_last_segment"]),
    ("dense-bad-size", lambda: sd.Dense(input_size=-1, output_size=2), ValueError, ["sd.Dense", "input_size"]),
    ("dense-wrong-input", lambda: _dense(3, 2)(tf.ones([2, 5])), ValueError, ["sd.Dense", "3 features"]),
    ("conv-wrong-rank", lambda: sd.Conv2D(filter_shape=(3, 3, 1, 1))(tf.ones([4, 4])), ValueError,
     ["sd.Conv2D", "rank 4"]),
    ("batchnorm-wrong-features", lambda: sd.BatchNorm(feature_count=3)(tf.ones([2, 4]), training=True),
     ValueError, ["sd.BatchNorm", "3 features"]),
    ("optimizer-for-non-layer", lambda: sd.Adam(for_="model"), TypeError, ["sd.Adam", "for_="]),
    ("optimizer-negative-rate", lambda: sd.SGD(for_=_dense(), learning_rate=-1.0), ValueError,
     ["sd.SGD", "learning_rate"]),
    ("optimizer-foreign-tangent",
     lambda: sd.RMSProp(for_=_dense()).update(_dense(), along=sd.TangentVector.zeros_like(_dense())),
     ValueError, ["sd.RMSProp.update"]),
    ("tangent-vector-mismatch", lambda: sd.TangentVector.zeros_like(_dense(2, 1)) + sd.TangentVector.zeros_like(_dense(3, 1)),
     ValueError, ["TangentVector", "different layers"]),
    ("tangent-vector-wrong-count", lambda: sd.TangentVector(_dense(), [tf.ones([2, 1])]), ValueError,
     ["TangentVector", "2 trainable variables"]),
    ("move-wrong-shape", lambda: sd.move(_dense(), along=[tf.ones([3, 1]), tf.ones([1])]), ValueError,
     ["sd.move", "shape"]),
    ("sequenced-non-layer", lambda: sd.sequenced(tf.ones([1, 2]), through=(_dense(), 3)), TypeError,
     ["sd.sequenced", "through[1]"]),
    ("applied-for-backprop-non-layer", lambda: sd.applied_for_backpropagation(tf.sin, tf.ones([2])), TypeError,
     ["sd.applied_for_backpropagation", "Keras layer"]),
    ("cross-entropy-float-labels",
     lambda: sd.softmax_cross_entropy(logits=tf.ones([2, 3]), labels=tf.ones([2])), TypeError,
     ["sd.softmax_cross_entropy", "labels"]),
    ("cross-entropy-label-shape",
     lambda: sd.softmax_cross_entropy(logits=tf.ones([2, 3]), labels=tf.ones([2, 3], tf.int32)), ValueError,
     ["sd.softmax_cross_entropy", "labels of shape"]),
]


@pytest.mark.parametrize("action,exception,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_misuse_gets_a_clear_error(action, exception, words):
    with pytest.raises(exception) as info:
        action()
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert len(message) < 400 and "\n" not in message.strip(), message
    # raised by swiftdiff's own checks, never from deep inside TensorFlow or Keras
    assert "swiftdiff" in str(info.traceback[-1].path), info.traceback[-1].path


def test_catalogue_is_broad():
    assert len(CASES) >= 25
