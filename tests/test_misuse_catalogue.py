"""The misuse catalogue: every kind of wrong input across the public API gets a short, one-line
Python error (TypeError/ValueError) raised by swiftdiff's own checks, never from deep inside
TensorFlow or Keras, naming the function and the culprit. The one exception is a layer's input
shape: the layers declare it as a ``keras.InputSpec``, which Keras checks (naming the layer).

Each case is one row: the call, the exception type, and a regex (``re.search``) that the message
must match, naming the function (``sd.gradient``) and the argument or value at fault. ``api`` is
the public name the case misuses; every public name has a case or a reason in ``NOT_CATALOGUED``.
"""

import re
from collections.abc import Callable
from typing import NamedTuple

import keras
import pytest
import tensorflow as tf

import swiftdiff as sd


class Misuse(NamedTuple):
    id: str
    api: str  # the public name misused (a name in sd.__all__)
    call: Callable[[], object]
    exception: type
    match: str  # regex the message must match
    raised_by: str = "swiftdiff"  # the package whose check raises: "swiftdiff", or "keras" (InputSpec)


def _dense(inputs=2, outputs=1):
    return sd.Dense(input_size=inputs, output_size=outputs)


def _stack(depth=3):
    """A functional stack of ``depth`` Dense layers: ``depth - 1`` cut points."""
    inputs = keras.Input((4,))
    x = inputs
    for _ in range(depth):
        x = keras.layers.Dense(4, activation="tanh")(x)
    return keras.Model(inputs, x)


def _built_keras_dense(units):
    layer = keras.layers.Dense(units)
    layer.build((None, 2))
    return layer


def _registered_wrong_structure():
    def f(x, y):
        return x * y

    @sd.derivative(of=f)
    def df(x, y):
        return f(x, y), lambda v: v  # one tangent for two arguments

    sd.gradient(at=(1.0, 2.0), of=f)


def _register_with_unknown_wrt():
    def f(x, y):
        return x * y

    sd.derivative(of=f, wrt="z")(lambda x, y: (f(x, y), lambda v: v))


def _layer_tangent_of_wrong_type():
    layer = _dense()
    apply = sd.differentiable_function(from_=lambda layer, x: (layer(x), lambda v: (tf.ones([2, 1]), v)))
    sd.gradient(at=layer, of=lambda layer: tf.reduce_sum(apply(layer, tf.ones([1, 2]))))


def _non_scalar_gradient_in_tf_function():
    step = tf.function(lambda x: sd.gradient(at=x, of=lambda y: y * 2.0), autograph=False)
    step(tf.ones([2, 2]))


def _pullback_at_vector(cotangent):
    return lambda: sd.pullback(at=tf.ones([2]), of=lambda x: x * 2.0)(cotangent)


# One row per case, kept as a table: (id, api, call, exception, regex[, raised_by]).
# fmt: off
CASES = [
    # --- differential operators: the function, its points, its result ---
    Misuse("gradient-non-scalar", "gradient", lambda: sd.gradient(at=tf.ones([3]), of=lambda x: x * 2.0),
           ValueError, r"sd\.gradient: .*scalar.*\[3\].*sd\.pullback"),
    Misuse("gradient-none-result", "gradient", lambda: sd.gradient(at=1.0, of=lambda x: None),
           ValueError, r"sd\.gradient: .*scalar.*NoneType.*sd\.pullback"),
    Misuse("gradient-non-scalar-in-tf-function", "gradient", _non_scalar_gradient_in_tf_function,
           ValueError, r"sd\.gradient: .*scalar.*\[2, 2\].*sd\.pullback"),
    Misuse("gradient-int-point", "gradient", lambda: sd.gradient(at=3, of=lambda n: n * 2.0),
           TypeError, r"sd\.gradient: argument 'n' is int\b"),
    Misuse("gradient-bool-point", "gradient", lambda: sd.gradient(at=True, of=lambda value: value),
           TypeError, r"sd\.gradient: argument 'value' is bool\b"),
    Misuse("gradient-str-point", "gradient", lambda: sd.gradient(at=("a", 1.0), of=lambda s, x: x),
           TypeError, r"sd\.gradient: argument 's' is str\b"),
    Misuse("gradient-int-variable", "gradient", lambda: sd.gradient(at=tf.Variable(3), of=lambda v: 1.0),
           TypeError, r"sd\.gradient: argument 'v' .*int32"),
    Misuse("pullback-int-tensor-point", "pullback",
           lambda: sd.pullback(at=(1.0, tf.constant([1, 2])), of=lambda x, counts: x),
           TypeError, r"sd\.pullback: argument 'counts' .*int32"),
    Misuse("gradient-missing-of", "gradient", lambda: sd.gradient(at=1.0), TypeError, r"sd\.gradient: .*of="),
    Misuse("pullback-missing-of", "pullback", lambda: sd.pullback(at=1.0), TypeError, r"sd\.pullback: .*of="),
    Misuse("value-with-differential-missing-of", "value_with_differential",
           lambda: sd.value_with_differential(at=1.0), TypeError, r"sd\.value_with_differential: .*of="),
    Misuse("gradient-of-and-in", "gradient", lambda: sd.gradient(at=1.0, of=tf.sin, in_=tf.cos),
           TypeError, r"sd\.gradient: .*of= or in_=, not both"),
    Misuse("value-with-pullback-of-and-in", "value_with_pullback",
           lambda: sd.value_with_pullback(at=1.0, of=tf.sin, in_=tf.cos),
           TypeError, r"sd\.value_with_pullback: .*of= or in_=, not both"),
    Misuse("value-with-gradient-of-not-callable", "value_with_gradient",
           lambda: sd.value_with_gradient(at=1.0, of="sin"),
           TypeError, r"sd\.value_with_gradient: of= must be a function.*str"),
    Misuse("differential-of-not-callable", "differential", lambda: sd.differential(at=1.0, of=3.0),
           TypeError, r"sd\.differential: of= must be a function.*float"),
    # --- what the returned pullbacks and differentials are given ---
    Misuse("pullback-cotangent-shape", "pullback", _pullback_at_vector(tf.ones([5])),
           ValueError, r"sd\.pullback: the cotangent has shape \[5\] .*shape \[2\]"),
    Misuse("pullback-cotangent-too-many-components", "pullback",
           _pullback_at_vector((tf.ones([2]), tf.ones([2]))),
           ValueError, r"sd\.pullback: the cotangent has 2 components but the result has 1"),
    Misuse("pullback-cotangent-too-few-components", "pullback",
           lambda: sd.pullback(at=1.0, of=lambda x: (x, x))(tf.ones([])),
           ValueError, r"sd\.pullback: the cotangent has 1 components but the result has 2"),
    Misuse("pullback-cotangent-dtype", "pullback", _pullback_at_vector(tf.ones([2], tf.float64)),
           TypeError, r"sd\.pullback: the cotangent has dtype float64 .*float32"),
    Misuse("differential-tangent-count", "differential",
           lambda: sd.differential(at=(1.0, 2.0), of=lambda a, b: a * b)(1.0),
           TypeError, r"sd\.differential: .*one tangent per point \(2\), got 1"),
    Misuse("differential-tangent-shape", "differential",
           lambda: sd.differential(at=tf.ones([2]), of=lambda x: x)(tf.ones([3])),
           ValueError, r"sd\.differential: the tangent for argument 'x' has shape \[3\] .*shape \[2\]"),
    Misuse("differential-tangent-dtype", "differential",
           lambda: sd.differential(at=1.0, of=lambda x: tf.sin(x))(tf.constant(1.0, tf.float64)),
           TypeError, r"sd\.differential: the tangent for argument 'x' has dtype float64"),
    Misuse("derivative-vector-point", "derivative", lambda: sd.derivative(at=tf.ones([3]), of=tf.sin),
           ValueError, r"sd\.derivative: point #0 must be a floating scalar.*\[3\].*sd\.differential"),
    Misuse("value-with-derivative-vector-point", "value_with_derivative",
           lambda: sd.value_with_derivative(at=tf.ones([3]), of=tf.sin),
           ValueError, r"sd\.value_with_derivative: point #0 must be a floating scalar.*\[3\]"),
    # --- registering and customizing derivatives ---
    Misuse("derivative-without-of", "derivative", lambda: sd.derivative(),
           TypeError, r"sd\.derivative: missing of="),
    Misuse("register-non-callable", "derivative", lambda: sd.derivative(of=42)(lambda x: (x, lambda v: v)),
           TypeError, r"sd\.derivative: of= must be a function.*got int"),
    Misuse("register-unknown-wrt", "derivative", _register_with_unknown_wrt,
           ValueError, r"sd\.derivative\(of=f\): wrt='z' is not a parameter of f .*\['x', 'y'\]"),
    Misuse("register-wrong-structure", "derivative", _registered_wrong_structure,
           ValueError, r"derivative registered for \S*\bf \(df\): .*1 tangent.* 2 differentiable arguments"),
    Misuse("hook-not-callable", "with_derivative", lambda: sd.with_derivative(tf.ones([2]), None),
           TypeError, r"sd\.with_derivative: the hook must be a function.*NoneType"),
    Misuse("hook-is-a-string", "with_derivative", lambda: sd.with_derivative(tf.ones([2]), "print"),
           TypeError, r"sd\.with_derivative: the hook must be a function.*str"),
    Misuse("hook-wrong-shape", "with_derivative",
           lambda: sd.gradient(at=tf.ones([2]), of=lambda x: tf.reduce_sum(
               sd.with_derivative(x, lambda g: tf.ones([2, 2])))),
           ValueError, r"sd\.with_derivative: the hook's cotangent has shape \[2, 2\] .*\[2\]"),
    Misuse("hook-on-integer", "with_derivative", lambda: sd.with_derivative(tf.constant([1, 2]), lambda g: g),
           TypeError, r"sd\.with_derivative: the value has dtype int32"),
    Misuse("hook-on-string", "with_derivative", lambda: sd.with_derivative("x", lambda g: g),
           TypeError, r"sd\.with_derivative: the value is str\b"),
    Misuse("vjp-not-callable", "differentiable_function", lambda: sd.differentiable_function(from_=3),
           TypeError, r"sd\.differentiable_function: from_= must be a function.*int"),
    Misuse("vjp-none", "differentiable_function", lambda: sd.differentiable_function(from_=None),
           TypeError, r"sd\.differentiable_function: from_= must be a function.*NoneType"),
    Misuse("vjp-returns-value-only", "differentiable_function",
           lambda: sd.gradient(at=1.0, of=sd.differentiable_function(from_=lambda x: x * 2.0)),
           TypeError, r"sd\.differentiable_function\(from_=<lambda>\) must return \(value, pullback\)"),
    Misuse("vjp-layer-tangent-not-tangent-vector", "differentiable_function", _layer_tangent_of_wrong_type,
           TypeError, r"sd\.differentiable_function\(.*\): the tangent for argument 'layer' .*TangentVector"),
    Misuse("without-derivative-missing-at", "without_derivative", lambda: sd.without_derivative(of=tf.sin),
           TypeError, r"sd\.without_derivative: missing at="),
    Misuse("unbroadcasted-incompatible", "unbroadcasted", lambda: sd.unbroadcasted(tf.ones([2, 3]), to=[2]),
           ValueError, r"sd\.unbroadcasted: shape \[2\] does not broadcast to \[2, 3\]"),
    # --- checkpointing ---
    Misuse("checkpoint-none", "with_recomputation_in_pullbacks",
           lambda: sd.with_recomputation_in_pullbacks(None),
           TypeError, r"sd\.with_recomputation_in_pullbacks: body must be a function.*NoneType"),
    Misuse("checkpoint-int", "with_recomputation_in_pullbacks",
           lambda: sd.with_recomputation_in_pullbacks(42),
           TypeError, r"sd\.with_recomputation_in_pullbacks: body must be a function.*int"),
    Misuse("activation-discarding-non-layer", "ActivationDiscarding", lambda: sd.ActivationDiscarding(tf.sin),
           TypeError, r"sd\.ActivationDiscarding: expected a Keras layer"),
    Misuse("discarding-activations-non-layer", "discarding_activations",
           lambda: sd.discarding_activations(tf.sin),
           TypeError, r"sd\.ActivationDiscarding: expected a Keras layer"),
    Misuse("checkpointed-sequential-bad-segments", "checkpointed_sequential",
           lambda: sd.checkpointed_sequential([keras.layers.Dense(2)], segments=3),
           ValueError, r"sd\.checkpointed_sequential: segments= .*got 3"),
    Misuse("checkpointed-sequential-bad-keep-last", "checkpointed_sequential",
           lambda: sd.checkpointed_sequential([keras.layers.Dense(2)], keep_last_segment="yes"),
           TypeError, r"sd\.checkpointed_sequential: keep_last_segment= .*str"),
    Misuse("checkpointed-non-model", "checkpointed",
           lambda: sd.checkpointed(keras.layers.Dense(2)),
           TypeError, r"sd\.checkpointed: model must be a keras\.Model .*Dense"),
    Misuse("checkpointed-subclassed", "checkpointed",
           lambda: sd.checkpointed(sd.models.MLP()),
           TypeError, r"sd\.checkpointed: the layer graph of MLP .*cannot be read.*sd\.ActivationDiscarding"),
    Misuse("checkpointed-segments-out-of-range", "checkpointed",
           lambda: sd.checkpointed(_stack(), segments=9),
           ValueError, r"sd\.checkpointed: segments=9 is out of range: .*1 to 3 segments"),
    Misuse("checkpointed-segments-type", "checkpointed",
           lambda: sd.checkpointed(_stack(), segments=2.0),
           TypeError, r"sd\.checkpointed: segments= must be an int, got float"),
    Misuse("checkpointed-budget-type", "checkpointed",
           lambda: sd.checkpointed(_stack(), memory_budget="1GB"),
           TypeError, r"sd\.checkpointed: memory_budget= must be an int \(bytes\) or a float .*str"),
    Misuse("checkpointed-budget-negative", "checkpointed",
           lambda: sd.checkpointed(_stack(), memory_budget=-5),
           ValueError, r"sd\.checkpointed: memory_budget must be positive, got -5"),
    Misuse("checkpointed-budget-fraction", "checkpointed",
           lambda: sd.checkpointed(_stack(), memory_budget=1.5),
           ValueError, r"sd\.checkpointed: a fractional memory_budget must be in \(0, 1\], got 1\.5"),
    Misuse("checkpointed-budget-too-small", "checkpointed",
           lambda: sd.checkpointed(_stack(), memory_budget=0.01),
           ValueError, r"sd\.checkpointed: no plan fits memory_budget=0\.01; the smallest reachable is \d+ "),
    Misuse("memory-report-non-model", "memory_report", lambda: sd.memory_report(tf.sin, (2, 4)),
           TypeError, r"sd\.memory_report: model must be a keras\.Model"),
    Misuse("memory-report-wrong-shape", "memory_report", lambda: sd.memory_report(_stack(), (2, 5)),
           ValueError, r"sd\.memory_report: inputs of shape \(2, 5\) do not match the model's input "
           r"\(None, 4\)"),
    Misuse("memory-report-no-batch", "memory_report", lambda: sd.memory_report(_stack(), "x"),
           ValueError, r"sd\.memory_report: inputs .*"),
    # --- layers ---
    Misuse("dense-bad-size", "Dense", lambda: sd.Dense(input_size=-1, output_size=2),
           ValueError, r"sd\.Dense: input_size= .*-1"),
    Misuse("dense-wrong-input", "Dense", lambda: _dense(3, 2)(tf.ones([2, 5])),
           ValueError, r"layer 'dense(_\d+)?' is incompatible .*axis -1 .*value 3.*\(2, 5\)", "keras"),
    Misuse("conv-wrong-rank", "Conv2D", lambda: sd.Conv2D(filter_shape=(3, 3, 1, 1))(tf.ones([4, 4])),
           ValueError, r"layer 'conv2d(_\d+)?' is incompatible .*ndim=4, found ndim=2.*\(4, 4\)", "keras"),
    Misuse("max-pool-wrong-rank", "MaxPool2D", lambda: sd.MaxPool2D()(tf.ones([4, 4])),
           ValueError, r"layer 'max_pool2d(_\d+)?' is incompatible .*ndim=4, found ndim=2", "keras"),
    Misuse("max-pool-bad-pool-size", "MaxPool2D", lambda: sd.MaxPool2D(pool_size=(0, 2)),
           ValueError, r"sd\.MaxPool2D: pool_size= .*\(0, 2\)"),
    Misuse("avg-pool-wrong-rank", "AvgPool2D", lambda: sd.AvgPool2D()(tf.ones([4, 4])),
           ValueError, r"layer 'avg_pool2d(_\d+)?' is incompatible .*ndim=4, found ndim=2", "keras"),
    Misuse("dropout-bad-probability", "Dropout", lambda: sd.Dropout(probability=2.0),
           ValueError, r"sd\.Dropout: probability= .*2\.0"),
    Misuse("batchnorm-wrong-features", "BatchNorm",
           lambda: sd.BatchNorm(feature_count=3)(tf.ones([2, 4]), training=True),
           ValueError, r"layer 'batch_norm(_\d+)?' is incompatible .*axis -1 .*value 3.*\(2, 4\)", "keras"),
    Misuse("sequenced-non-layer", "sequenced", lambda: sd.sequenced(tf.ones([1, 2]), through=(_dense(), 3)),
           TypeError, r"sd\.sequenced: through\[1\] is int"),
    Misuse("applied-for-backprop-non-layer", "applied_for_backpropagation",
           lambda: sd.applied_for_backpropagation(tf.sin, tf.ones([2])),
           TypeError, r"sd\.applied_for_backpropagation: expected a Keras layer"),
    # --- optimizers and tangent vectors ---
    Misuse("optimizer-for-non-layer", "Adam", lambda: sd.Adam(for_="model"),
           TypeError, r"sd\.Adam: for_= .*str"),
    Misuse("optimizer-negative-rate", "SGD", lambda: sd.SGD(for_=_dense(), learning_rate=-1.0),
           ValueError, r"sd\.SGD: learning_rate= .*-1\.0"),
    Misuse("optimizer-foreign-tangent", "RMSProp",
           lambda: sd.RMSProp(for_=_dense()).update(_dense(), along=sd.TangentVector.zeros_like(_dense())),
           ValueError, r"sd\.RMSProp\.update: this optimizer was created for Dense"),
    Misuse("tangent-vector-mismatch", "TangentVector",
           lambda: sd.TangentVector.zeros_like(_dense(2, 1)) + sd.TangentVector.zeros_like(_dense(3, 1)),
           ValueError, r"TangentVector \+: .*different layers"),
    Misuse("tangent-vector-mismatch-keras-layers", "TangentVector",
           lambda: sd.TangentVector.zeros_like(_built_keras_dense(2))
           + sd.TangentVector.zeros_like(_built_keras_dense(3)),
           ValueError, r"TangentVector \+: .*different layers"),
    Misuse("tangent-vector-plus-float", "TangentVector",
           lambda: sd.TangentVector.zeros_like(_built_keras_dense(2)) + 1.0,
           TypeError, r"TangentVector \+: expected another TangentVector, got float"),
    Misuse("tangent-vector-wrong-count", "TangentVector",
           lambda: sd.TangentVector(_dense(), [tf.ones([2, 1])]),
           ValueError, r"TangentVector: Dense has 2 trainable variables but 1"),
    Misuse("move-wrong-shape", "move", lambda: sd.move(_dense(), along=[tf.ones([3, 1]), tf.ones([1])]),
           ValueError, r"sd\.move: .*shape \[3, 1\] .*shape \[2, 1\]"),
    # --- losses ---
    Misuse("cross-entropy-float-labels", "softmax_cross_entropy",
           lambda: sd.softmax_cross_entropy(logits=tf.ones([2, 3]), labels=tf.ones([2])),
           TypeError, r"sd\.softmax_cross_entropy: labels= .*integer"),
    Misuse("cross-entropy-label-shape", "softmax_cross_entropy",
           lambda: sd.softmax_cross_entropy(logits=tf.ones([2, 3]), labels=tf.ones([2, 3], tf.int32)),
           ValueError, r"sd\.softmax_cross_entropy: labels of shape \[2, 3\] do not match logits"),
    Misuse("cross-entropy-no-labels", "softmax_cross_entropy",
           lambda: sd.softmax_cross_entropy(logits=tf.ones([2, 3])), TypeError, r"sd\.softmax_cross_entropy"),
    Misuse("mse-shapes-do-not-broadcast", "mean_squared_error",
           lambda: sd.mean_squared_error(predicted=tf.ones([2, 3]), expected=tf.ones([4])),
           ValueError, r"sd\.mean_squared_error: expected= of shape \[4\] does not broadcast"),
    # --- more layers and optimizers (moved from test_layers) ---
    Misuse("conv-filter-shape-length", "Conv2D", lambda: sd.Conv2D(filter_shape=(3, 3, 2)),
           ValueError, r"sd\.Conv2D: filter_shape"),
    Misuse("max-pool-bad-padding", "MaxPool2D", lambda: sd.MaxPool2D(pool_size=(2, 2), padding="full"),
           ValueError, r"sd\.MaxPool2D: padding"),
    Misuse("sgd-for-a-list", "SGD", lambda: sd.SGD(for_=[1, 2]), TypeError, r"sd\.SGD: for_"),
    # --- issue 10: what would have been silently wrong ---
    Misuse("differentiable-non-function", "differentiable", lambda: sd.differentiable(42),
           TypeError, r"sd\.differentiable: expected a function"),
    Misuse("register-a-tf-function", "derivative", lambda: sd.derivative(of=tf.function(lambda x: x)),
           TypeError, r"sd\.derivative\(of=.*tf\.function"),
    Misuse("register-a-builtin", "derivative", lambda: sd.derivative(of=abs),
           TypeError, r"sd\.derivative\(of=abs\).*builtin"),
    Misuse("register-a-framework-function", "derivative", lambda: sd.derivative(of=tf.round),
           TypeError, r"tensorflow's round"),
    Misuse("gradient-same-variable-twice", "gradient",
           lambda: sd.gradient(at=(tf.Variable(1.0),) * 2, of=lambda a, b: a * b),
           ValueError, r"sd\.gradient: argument 'b' holds the variable .*argument 'a' holds too"),
    Misuse("gradient-unbuilt-layer", "gradient",
           lambda: sd.gradient(at=keras.layers.Dense(2), of=lambda layer: tf.reduce_sum(layer(tf.ones([1, 2])))),  # noqa: E501
           ValueError, r"sd\.gradient: argument 'layer' is a Dense layer that is not built"),
]
# fmt: on

#: Public names with no case, and why: each is a gap to close, or a name nothing can misuse.
NOT_CATALOGUED = {
    "ZeroDerivativeWarning": "a warning class, never called by users",
    "DerivativeRegistrationWarning": "a warning class, never called by users",
    "RecomputationWarning": "a warning class, never called by users",
    "ValueWithGradient": "a result type the operators return",
    "ValueWithPullback": "a result type the operators return",
    "ValueWithDifferential": "a result type the operators return",
    "ValueWithDerivative": "a result type the operators return",
    "AppliedForBackpropagation": "a result type applied_for_backpropagation returns",
    "MemoryReport": "a result type memory_report returns",
    "CheckpointedModel": "made by sd.checkpointed (whose misuse is catalogued); a call with the wrong number "
    "of inputs is Keras' call error around 'called with 2 input tensors; the model takes 1'",
    "models": "a module of example models",
    "Layer": "an abstract base class; calling it unsubclassed is Keras' own NotImplementedError",
    "Flatten": "takes no arguments and flattens any input",
    "relu": "a TensorFlow op: TensorFlow's own dtype errors",
    "sigmoid": "a TensorFlow op: TensorFlow's own dtype errors",
    "tanh": "a TensorFlow op: TensorFlow's own dtype errors",
    "softmax": "a TensorFlow op: TensorFlow's own dtype errors",
    "identity": "returns its input",
}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_misuse_gets_a_clear_error(case):
    with pytest.raises(case.exception) as info:
        case.call()
    message = str(info.value)
    assert re.search(case.match, message), f"{case.match!r} does not match {message!r}"
    assert len(message) < 400 and "\n" not in message.strip(), message
    # raised by the check named, never from deep inside TensorFlow or Keras
    assert f"/{case.raised_by}/" in str(info.traceback[-1].path), info.traceback[-1].path


def test_every_public_name_has_a_misuse_case_or_a_reason():
    canonical = {name for name in sd.__all__ if name not in sd.SWIFT_NAMES}
    catalogued = {case.api for case in CASES}
    assert catalogued <= canonical, f"cases name no public name: {sorted(catalogued - canonical)}"
    assert not catalogued & NOT_CATALOGUED.keys(), (
        f"catalogued after all: {sorted(catalogued & NOT_CATALOGUED.keys())}"
    )
    missing = canonical - catalogued - NOT_CATALOGUED.keys()
    assert not missing, f"public names with no misuse case and no reason: {sorted(missing)}"
    assert len({case.id for case in CASES}) == len(CASES), "two cases share an id"
