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
    # --- issue 14: the rest of swift-apis ---
    Misuse("conv1d-size-and-tensor", "Conv1D",
           lambda: sd.Conv1D(filter_shape=(3, 2, 4), filter=tf.ones([3, 2, 4])),
           TypeError, r"sd\.Conv1D: .*not both"),
    Misuse("conv3d-two-strides", "Conv3D", lambda: sd.Conv3D(filter_shape=(1, 1, 1, 2, 2), strides=(1, 2)),
           ValueError, r"sd\.Conv3D: strides= must be 3"),
    Misuse("transposed-conv1d-bias-shape", "TransposedConv1D",
           lambda: sd.TransposedConv1D(filter=tf.ones([2, 3, 2]), bias=tf.ones([2])),
           ValueError, r"sd\.TransposedConv1D: bias= must have shape \[3\]"),
    Misuse("transposed-conv2d-causal", "TransposedConv2D",
           lambda: sd.TransposedConv2D(filter_shape=(2, 2, 3, 2), padding="causal"),
           ValueError, r"sd\.TransposedConv2D: padding="),
    Misuse("transposed-conv3d-rank", "TransposedConv3D",
           lambda: sd.TransposedConv3D(filter=tf.ones([2, 2, 3, 1])),
           ValueError, r"sd\.TransposedConv3D: filter= must have rank 5"),
    Misuse("depthwise-integer-filter", "DepthwiseConv2D",
           lambda: sd.DepthwiseConv2D(filter=tf.ones([2, 2, 3, 1], tf.int32)),
           TypeError, r"sd\.DepthwiseConv2D: filter= must be floating"),
    Misuse("separable-channels", "SeparableConv2D",
           lambda: sd.SeparableConv2D(depthwise_filter_shape=(3, 3, 2, 2), pointwise_filter_shape=(1, 1, 3, 4)),  # noqa: E501
           ValueError, r"sd\.SeparableConv2D: the pointwise filter"),
    Misuse("separable-conv1d-channels", "SeparableConv1D",
           lambda: sd.SeparableConv1D(depthwise_filter_shape=(3, 2, 2), pointwise_filter_shape=(1, 3, 4)),
           ValueError, r"sd\.SeparableConv1D: the pointwise filter \[1, 3, 4\] must take"),
    Misuse("zero-padding1d-negative", "ZeroPadding1D", lambda: sd.ZeroPadding1D(padding=-1),
           ValueError, r"sd\.ZeroPadding1D: padding= must be a non-negative integer or a pair"),
    Misuse("zero-padding2d-one-integer", "ZeroPadding2D", lambda: sd.ZeroPadding2D(padding=1),
           ValueError, r"sd\.ZeroPadding2D: padding= must be 2 pairs"),
    Misuse("zero-padding3d-two-axes", "ZeroPadding3D", lambda: sd.ZeroPadding3D(padding=((1, 1), (1, 1))),
           ValueError, r"sd\.ZeroPadding3D: padding= must be 3 pairs"),
    Misuse("maxpool1d-zero", "MaxPool1D", lambda: sd.MaxPool1D(pool_size=0),
           ValueError, r"sd\.MaxPool1D: pool_size= must be a positive integer, got 0"),
    Misuse("avgpool1d-tuple-stride", "AvgPool1D", lambda: sd.AvgPool1D(pool_size=2, stride=(1, 2)),
           ValueError, r"sd\.AvgPool1D: stride= must be a positive integer"),
    Misuse("maxpool3d-two-sizes", "MaxPool3D", lambda: sd.MaxPool3D(pool_size=(2, 2), strides=(1, 1, 1)),
           ValueError, r"sd\.MaxPool3D: pool_size= must be 3 positive integers"),
    Misuse("avgpool3d-padding", "AvgPool3D", lambda: sd.AvgPool3D(pool_size=2, padding="full"),
           ValueError, r"sd\.AvgPool3D: padding= must be 'valid' or 'same'"),
    Misuse("global-avg-pool1d-rank", "GlobalAvgPool1D", lambda: sd.GlobalAvgPool1D()(tf.ones([2, 3])),
           ValueError, r"global_avg_pool1d.*expected ndim=3", "keras"),
    Misuse("global-avg-pool2d-rank", "GlobalAvgPool2D", lambda: sd.GlobalAvgPool2D()(tf.ones([2, 3, 4])),
           ValueError, r"global_avg_pool2d.*expected ndim=4", "keras"),
    Misuse("global-avg-pool3d-rank", "GlobalAvgPool3D", lambda: sd.GlobalAvgPool3D()(tf.ones([2, 3])),
           ValueError, r"global_avg_pool3d.*expected ndim=5", "keras"),
    Misuse("global-max-pool1d-rank", "GlobalMaxPool1D", lambda: sd.GlobalMaxPool1D()(tf.ones([2])),
           ValueError, r"global_max_pool1d.*expected ndim=3", "keras"),
    Misuse("global-max-pool2d-rank", "GlobalMaxPool2D", lambda: sd.GlobalMaxPool2D()(tf.ones([2, 3])),
           ValueError, r"global_max_pool2d.*expected ndim=4", "keras"),
    Misuse("global-max-pool3d-rank", "GlobalMaxPool3D", lambda: sd.GlobalMaxPool3D()(tf.ones([2, 3])),
           ValueError, r"global_max_pool3d.*expected ndim=5", "keras"),
    Misuse("upsampling1d-zero", "UpSampling1D", lambda: sd.UpSampling1D(size=0),
           ValueError, r"sd\.UpSampling1D: size= must be a positive integer"),
    Misuse("upsampling2d-tuple", "UpSampling2D", lambda: sd.UpSampling2D(size=(2, 2)),
           ValueError, r"sd\.UpSampling2D: size= must be a positive integer"),
    Misuse("upsampling3d-negative", "UpSampling3D", lambda: sd.UpSampling3D(size=-1),
           ValueError, r"sd\.UpSampling3D: size= must be a positive integer, got -1"),
    Misuse("reshape-two-unknowns", "Reshape", lambda: sd.Reshape(shape=[-1, -1]),
           ValueError, r"sd\.Reshape: shape= .*at most one -1"),
    Misuse("function-not-callable", "Function", lambda: sd.Function(42),
           TypeError, r"sd\.Function: body must be a function, got int"),
    Misuse("embedding-empty-vocabulary", "Embedding",
           lambda: sd.Embedding(vocabulary_size=0, embedding_size=2),
           ValueError, r"sd\.Embedding: vocabulary_size= must be a positive integer, got 0"),
    Misuse("learning-phase-bool", "Context", lambda: setattr(sd.Context.local, "learning_phase", True),
           TypeError, r"sd\.Context\.local\.learning_phase must be sd\.LearningPhase"),
    Misuse("with-learning-phase-string", "with_learning_phase",
           lambda: sd.with_learning_phase("training").__enter__(),
           TypeError, r"sd\.with_learning_phase: the phase must be sd\.LearningPhase"),
    Misuse("gelu-integers", "gelu",
           lambda: sd.gelu(tf.constant([1, 2])), TypeError, r"sd\.gelu: x must be floating"),
    Misuse("elu-integers", "elu",
           lambda: sd.elu(tf.constant([1, 2])), TypeError, r"sd\.elu: x must be floating"),
    Misuse("selu-integers", "selu",
           lambda: sd.selu(tf.constant([1, 2])), TypeError, r"sd\.selu: x must be floating"),
    Misuse("relu6-integers", "relu6", lambda: sd.relu6(tf.constant([1, 2])),
           TypeError, r"sd\.relu6: x must be floating"),
    Misuse("swish-integers", "swish", lambda: sd.swish(tf.constant([1, 2])),
           TypeError, r"sd\.swish: x must be floating"),
    Misuse("softplus-integers", "softplus", lambda: sd.softplus(tf.constant([1, 2])),
           TypeError, r"sd\.softplus: x must be floating"),
    Misuse("softsign-integers", "softsign", lambda: sd.softsign(tf.constant([1, 2])),
           TypeError, r"sd\.softsign: x must be floating"),
    Misuse("hard-sigmoid-integers", "hard_sigmoid", lambda: sd.hard_sigmoid(tf.constant([1, 2])),
           TypeError, r"sd\.hard_sigmoid: x must be floating"),
    Misuse("hard-swish-integers", "hard_swish", lambda: sd.hard_swish(tf.constant([1, 2])),
           TypeError, r"sd\.hard_swish: x must be floating"),
    Misuse("mish-integers", "mish",
           lambda: sd.mish(tf.constant([1, 2])), TypeError, r"sd\.mish: x must be floating"),
    Misuse("leaky-relu-string-alpha", "leaky_relu", lambda: sd.leaky_relu(1.0, alpha="0.1"),
           TypeError, r"sd\.leaky_relu: alpha="),
    Misuse("log-sigmoid-integers", "log_sigmoid", lambda: sd.log_sigmoid(tf.constant([1, 2])),
           TypeError, r"sd\.log_sigmoid: x must be floating"),
    Misuse("log-softmax-scalar", "log_softmax", lambda: sd.log_softmax(1.0),
           ValueError, r"sd\.log_softmax: x is a scalar"),
    Misuse("l1-loss-shapes", "l1_loss", lambda: sd.l1_loss(predicted=tf.ones([2]), expected=tf.ones([3])),
           ValueError, r"sd\.l1_loss: expected= of shape \[3\] does not broadcast"),
    Misuse("l2-loss-dtypes", "l2_loss",
           lambda: sd.l2_loss(predicted=tf.ones([2, 3]), expected=tf.ones([2, 3], tf.float64)),
           TypeError, r"sd\.l2_loss: expected= has dtype float64 but predicted= has dtype float32"),
    Misuse("mae-dtypes", "mean_absolute_error",
           lambda: sd.mean_absolute_error(predicted=tf.ones([2]), expected=tf.ones([2], tf.float64)),
           TypeError, r"sd\.mean_absolute_error: expected= has dtype float64"),
    Misuse("msle-integers", "mean_squared_logarithmic_error",
           lambda: sd.mean_squared_logarithmic_error(predicted=tf.constant([1, 2]), expected=[1.0, 2.0]),
           TypeError, r"sd\.mean_squared_logarithmic_error: predicted= must be floating"),
    Misuse("mape-string", "mean_absolute_percentage_error",
           lambda: sd.mean_absolute_percentage_error(predicted=tf.ones([2]), expected="a"),
           TypeError, r"sd\.mean_absolute_percentage_error: expected= must be a floating tensor"),
    Misuse("hinge-shapes", "hinge_loss",
           lambda: sd.hinge_loss(predicted=tf.ones([2, 3]), expected=tf.ones([4])),
           ValueError, r"sd\.hinge_loss: expected= of shape \[4\] does not broadcast"),
    Misuse("squared-hinge-reduction-name", "squared_hinge_loss",
           lambda: sd.squared_hinge_loss(predicted=tf.ones([2]), expected=tf.ones([2]), reduction="average"),
           ValueError, r"sd\.squared_hinge_loss: reduction= must be 'sum', 'mean', 'none'"),
    Misuse("categorical-hinge-scalar", "categorical_hinge_loss",
           lambda: sd.categorical_hinge_loss(predicted=1.0, expected=1.0),
           ValueError, r"sd\.categorical_hinge_loss: predicted= is a scalar"),
    Misuse("log-cosh-reduction-int", "log_cosh_loss",
           lambda: sd.log_cosh_loss(predicted=tf.ones([2]), expected=tf.ones([2]), reduction=3),
           TypeError, r"sd\.log_cosh_loss: reduction= .*got int 3"),
    Misuse("poisson-shapes", "poisson_loss",
           lambda: sd.poisson_loss(predicted=tf.ones([2, 3]), expected=tf.ones([4])),
           ValueError, r"sd\.poisson_loss: expected= of shape \[4\] does not broadcast"),
    Misuse("kl-dtypes", "kullback_leibler_divergence",
           lambda: sd.kullback_leibler_divergence(predicted=tf.ones([2]), expected=tf.ones([2], tf.float64)),
           TypeError, r"sd\.kullback_leibler_divergence: expected= has dtype float64"),
    Misuse("sigmoid-ce-integer-labels", "sigmoid_cross_entropy",
           lambda: sd.sigmoid_cross_entropy(logits=tf.ones([2]), labels=tf.constant([1, 0])),
           TypeError, r"sd\.sigmoid_cross_entropy: labels= has dtype int32"),
    Misuse("huber-negative-delta", "huber_loss",
           lambda: sd.huber_loss(predicted=tf.ones([2]), expected=tf.ones([2]), delta=-1.0),
           ValueError, r"sd\.huber_loss: delta= must be positive, got -1\.0"),
    Misuse("adagrad-negative-accumulator", "AdaGrad",
           lambda: sd.AdaGrad(for_=_dense(), initial_accumulator_value=-1.0),
           ValueError, r"sd\.AdaGrad: initial_accumulator_value= .*-1\.0"),
    Misuse("adadelta-rho-above-one", "AdaDelta", lambda: sd.AdaDelta(for_=_dense(), rho=1.5),
           ValueError, r"sd\.AdaDelta: rho= .*\[0, 1\].*1\.5"),
    Misuse("adamax-beta1-one", "AdaMax", lambda: sd.AdaMax(for_=_dense(), beta1=1.0),
           ValueError, r"sd\.AdaMax: beta1= .*\[0, 1\).*1\.0"),
    Misuse("amsgrad-string-rate", "AMSGrad", lambda: sd.AMSGrad(for_=_dense(), learning_rate="0.1"),
           TypeError, r"sd\.AMSGrad: learning_rate= .*str"),
    Misuse("radam-zero-epsilon", "RAdam", lambda: sd.RAdam(for_=_dense(), epsilon=0.0),
           ValueError, r"sd\.RAdam: epsilon= must be a positive number, got 0\.0"),
    # --- issue 14: normalization, noise and recurrent layers (LAYERS-NORM) ---
    Misuse("layer-norm-without-axis", "LayerNorm", lambda: sd.LayerNorm(feature_count=3),
           TypeError, r"sd\.LayerNorm: axis= is required"),
    Misuse("layer-norm-wrong-feature-count", "LayerNorm",
           lambda: sd.LayerNorm(feature_count=3, axis=-1, name="ln")(tf.ones([2, 4])),
           ValueError, r"layer 'ln' is incompatible .*axis -1 .* value 3", raised_by="keras"),
    Misuse("group-norm-indivisible-groups", "GroupNorm", lambda: sd.GroupNorm(feature_count=6, group_count=4),
           ValueError, r"sd\.GroupNorm: feature_count= \(6\) must be a multiple of group_count= \(4\)"),
    Misuse("instance-norm-batch-axis", "InstanceNorm", lambda: sd.InstanceNorm(feature_count=4, axis=0),
           ValueError, r"sd\.InstanceNorm: axis= cannot be the batch axis 0"),
    Misuse("gaussian-noise-negative-deviation", "GaussianNoise",
           lambda: sd.GaussianNoise(standard_deviation=-1.0),
           ValueError, r"sd\.GaussianNoise: standard_deviation= must be a non-negative number"),
    Misuse("gaussian-dropout-probability-one", "GaussianDropout", lambda: sd.GaussianDropout(probability=1.0),
           ValueError, r"sd\.GaussianDropout: probability= must be a number in \[0, 1\)"),
    Misuse("alpha-dropout-negative-probability", "AlphaDropout", lambda: sd.AlphaDropout(probability=-0.1),
           ValueError, r"sd\.AlphaDropout: probability= must be a number in \[0, 1\)"),
    Misuse("basic-rnn-cell-zero-size", "BasicRNNCell", lambda: sd.BasicRNNCell(input_size=0, hidden_size=2),
           ValueError, r"sd\.BasicRNNCell: input_size= must be a positive integer"),
    Misuse("lstm-cell-state-not-a-pair", "LSTMCell",
           lambda: sd.LSTMCell(input_size=2, hidden_size=3)(input=tf.ones([1, 2]), state=tf.zeros([1, 3])),
           TypeError, r"sd\.LSTMCell: state= must be an sd\.LSTMCell\.State"),
    Misuse("gru-cell-without-state", "GRUCell",
           lambda: sd.GRUCell(input_size=2, hidden_size=3)(input=tf.ones([1, 2])),
           TypeError, r"sd\.GRUCell: state= is missing"),
    Misuse("recurrent-layer-of-a-dense", "RecurrentLayer",
           lambda: sd.RecurrentLayer(sd.Dense(input_size=2, output_size=2)),
           TypeError, r"sd\.RecurrentLayer: cell must be a recurrent cell .* got Dense"),
    Misuse("rnn-last-output-of-no-steps", "RNN",
           lambda: sd.RNN(sd.GRUCell(input_size=2, hidden_size=3)).last_output(from_=[]),
           ValueError, r"sd\.RecurrentLayer\.last_output: from_= must hold at least one time step"),
    Misuse("basic-rnn-steps-not-a-sequence", "BasicRNN",
           lambda: sd.BasicRNN(sd.BasicRNNCell(input_size=2, hidden_size=3))(tf.ones([1, 2])),
           TypeError, r"sd\.BasicRNN: steps must be a list of \[batch, features\] tensors"),
    Misuse("gru-state-of-another-batch", "GRU",
           lambda: sd.GRU(sd.GRUCell(input_size=2, hidden_size=3))([tf.ones([4, 2])], initial_state=tf.zeros([2, 3])),  # noqa: E501
           ValueError, r"sd\.GRU: initial_state= has a batch of 2 but the time steps one of 4"),
    Misuse("lstm-of-a-gru-cell", "LSTM", lambda: sd.LSTM(sd.GRUCell(input_size=2, hidden_size=3)),
           TypeError, r"sd\.LSTM: cell must be an sd\.LSTMCell, got GRUCell"),
    Misuse("gru-wrong-step-size", "GRU",
           lambda: sd.GRU(sd.GRUCell(input_size=2, hidden_size=3))([tf.ones([1, 5])]),
           ValueError, r"sd\.GRU: time step 0 must be \[batch, 2\], got shape \[1, 5\]"),
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
    "LearningPhase": "an enum: Python's own ValueError names a value that is not a phase",
    "RNNCellInput": "a named tuple (Swift's struct) a cell's call unpacks; Python checks its fields",
    "RNNCellOutput": "a named tuple (Swift's struct) a cell's call returns",
    "RecurrentLayerCell": "an abstract base class; a subclass without zero_state gets NotImplementedError "
    "naming it",
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
