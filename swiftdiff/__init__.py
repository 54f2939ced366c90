"""swiftdiff: Swift for TensorFlow's differentiable-programming API on TensorFlow 2 and Keras 3.

``import swiftdiff as sd``. Every public name is also exported under its exact Swift spelling
(``sd.valueWithPullback is sd.value_with_pullback``) so that S4TF code ports line by line.
"""

import os as _os

_requested_backend = _os.environ.get("KERAS_BACKEND", "").strip()
if _requested_backend and _requested_backend.lower() != "tensorflow":
    raise ImportError(
        f"swiftdiff needs Keras' TensorFlow backend, but KERAS_BACKEND={_requested_backend!r}. "
        f"Set KERAS_BACKEND=tensorflow (or unset it) before importing swiftdiff."
    )

import keras as _keras  # noqa: E402

if _keras.backend.backend() != "tensorflow":
    raise ImportError(
        f"swiftdiff needs Keras' TensorFlow backend, but Keras is configured for "
        f"{_keras.backend.backend()!r} (see ~/.keras/keras.json). Set KERAS_BACKEND=tensorflow "
        f"before importing swiftdiff."
    )

from . import _platform_internals  # noqa: E402

_platform_internals.verify_at_import()  # an ImportError naming the versions if an internal changed

from . import models  # noqa: E402
from .activation_discarding import ActivationDiscarding, checkpointed_sequential  # noqa: E402
from .activations import (  # noqa: E402
    elu,
    gelu,
    hard_sigmoid,
    hard_swish,
    identity,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    softmax,
    softplus,
    softsign,
    swish,
    tanh,
)
from .checkpointing import with_recomputation_in_pullbacks  # noqa: E402
from .convolution_layers import (  # noqa: E402
    Conv1D,
    Conv3D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
    TransposedConv1D,
    TransposedConv2D,
    TransposedConv3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from .core_layers import Embedding, Function, Reshape  # noqa: E402
from .customization import (  # noqa: E402
    derivative,
    differentiable,
    differentiable_function,
    unbroadcasted,
    with_derivative,
    without_derivative,
)
from .diagnostics import (  # noqa: E402
    DerivativeRegistrationWarning,
    RecomputationWarning,
    ZeroDerivativeWarning,
)
from .layer import (  # noqa: E402
    AppliedForBackpropagation,
    Layer,
    applied_for_backpropagation,
    discarding_activations,
    sequenced,
)
from .layers import AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D  # noqa: E402
from .learning_phase import Context, LearningPhase, with_learning_phase  # noqa: E402
from .losses import (  # noqa: E402
    categorical_hinge_loss,
    hinge_loss,
    huber_loss,
    kullback_leibler_divergence,
    l1_loss,
    l2_loss,
    log_cosh_loss,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson_loss,
    sigmoid_cross_entropy,
    softmax_cross_entropy,
    squared_hinge_loss,
)
from .memory_report import MemoryReport, memory_report  # noqa: E402
from .noise_layers import AlphaDropout, GaussianDropout, GaussianNoise  # noqa: E402
from .normalization_layers import GroupNorm, InstanceNorm, LayerNorm  # noqa: E402
from .operators import (  # noqa: E402
    ValueWithDerivative,
    ValueWithDifferential,
    ValueWithGradient,
    ValueWithPullback,
    differential,
    gradient,
    pullback,
    value_with_derivative,
    value_with_differential,
    value_with_gradient,
    value_with_pullback,
)
from .optimizers import SGD, AdaDelta, AdaGrad, Adam, AdaMax, AMSGrad, RAdam, RMSProp, move  # noqa: E402
from .pooling_layers import (  # noqa: E402
    AvgPool1D,
    AvgPool3D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalAvgPool3D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPool3D,
    MaxPool1D,
    MaxPool3D,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
)
from .recurrent_layers import (  # noqa: E402
    GRU,
    LSTM,
    RNN,
    BasicRNN,
    BasicRNNCell,
    GRUCell,
    LSTMCell,
    RecurrentLayer,
    RecurrentLayerCell,
    RNNCellInput,
    RNNCellOutput,
)
from .tangent_vector import TangentVector  # noqa: E402
from .whole_model import CheckpointedModel, checkpointed  # noqa: E402

__version__ = "0.1.0"

#: Swift spelling -> canonical Python name. Each alias is the same object as its canonical name.
SWIFT_NAMES = {
    "valueWithPullback": "value_with_pullback",
    "valueWithGradient": "value_with_gradient",
    "valueWithDifferential": "value_with_differential",
    "valueWithDerivative": "value_with_derivative",
    "withoutDerivative": "without_derivative",
    "withDerivative": "with_derivative",
    "withRecomputationInPullbacks": "with_recomputation_in_pullbacks",
    "differentiableFunction": "differentiable_function",
    "appliedForBackpropagation": "applied_for_backpropagation",
    "discardingActivations": "discarding_activations",
    "softmaxCrossEntropy": "softmax_cross_entropy",
    "meanSquaredError": "mean_squared_error",
    "checkpointedSequential": "checkpointed_sequential",
    "memoryReport": "memory_report",
    "withLearningPhase": "with_learning_phase",
    "l1Loss": "l1_loss",
    "l2Loss": "l2_loss",
    "meanAbsoluteError": "mean_absolute_error",
    "meanSquaredLogarithmicError": "mean_squared_logarithmic_error",
    "meanAbsolutePercentageError": "mean_absolute_percentage_error",
    "hingeLoss": "hinge_loss",
    "squaredHingeLoss": "squared_hinge_loss",
    "categoricalHingeLoss": "categorical_hinge_loss",
    "logCoshLoss": "log_cosh_loss",
    "poissonLoss": "poisson_loss",
    "kullbackLeiblerDivergence": "kullback_leibler_divergence",
    "sigmoidCrossEntropy": "sigmoid_cross_entropy",
    "huberLoss": "huber_loss",
    "logSoftmax": "log_softmax",
    "logSigmoid": "log_sigmoid",
    "leakyRelu": "leaky_relu",
    "hardSigmoid": "hard_sigmoid",
    "hardSwish": "hard_swish",
}

for _swift, _python in SWIFT_NAMES.items():
    globals()[_swift] = globals()[_python]

__all__ = [
    "TangentVector",
    "ZeroDerivativeWarning",
    "DerivativeRegistrationWarning",
    "RecomputationWarning",
    "ValueWithGradient",
    "ValueWithPullback",
    "ValueWithDifferential",
    "ValueWithDerivative",
    "gradient",
    "value_with_gradient",
    "pullback",
    "value_with_pullback",
    "differential",
    "value_with_differential",
    "derivative",
    "value_with_derivative",
    "differentiable",
    "differentiable_function",
    "without_derivative",
    "with_derivative",
    "unbroadcasted",
    "with_recomputation_in_pullbacks",
    "Layer",
    "AppliedForBackpropagation",
    "applied_for_backpropagation",
    "sequenced",
    "discarding_activations",
    "ActivationDiscarding",
    "checkpointed_sequential",
    "checkpointed",
    "CheckpointedModel",
    "memory_report",
    "MemoryReport",
    "Dense",
    "Conv2D",
    "MaxPool2D",
    "AvgPool2D",
    "Flatten",
    "Dropout",
    "BatchNorm",
    "SGD",
    "Adam",
    "RMSProp",
    "move",
    "models",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "identity",
    "softmax_cross_entropy",
    "mean_squared_error",
    "Context",
    "LearningPhase",
    "with_learning_phase",
    "Conv1D",
    "Conv3D",
    "TransposedConv1D",
    "TransposedConv2D",
    "TransposedConv3D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
    "MaxPool1D",
    "MaxPool3D",
    "AvgPool1D",
    "AvgPool3D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalAvgPool3D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPool3D",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
    "Reshape",
    "Function",
    "Embedding",
    "LayerNorm",
    "GroupNorm",
    "InstanceNorm",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "BasicRNNCell",
    "LSTMCell",
    "GRUCell",
    "RNNCellInput",
    "RNNCellOutput",
    "RecurrentLayerCell",
    "RecurrentLayer",
    "RNN",
    "BasicRNN",
    "LSTM",
    "GRU",
    "l1_loss",
    "l2_loss",
    "mean_absolute_error",
    "mean_squared_logarithmic_error",
    "mean_absolute_percentage_error",
    "hinge_loss",
    "squared_hinge_loss",
    "categorical_hinge_loss",
    "log_cosh_loss",
    "poisson_loss",
    "kullback_leibler_divergence",
    "sigmoid_cross_entropy",
    "huber_loss",
    "log_softmax",
    "log_sigmoid",
    "elu",
    "selu",
    "leaky_relu",
    "relu6",
    "gelu",
    "swish",
    "softplus",
    "softsign",
    "hard_sigmoid",
    "hard_swish",
    "mish",
    "AdaGrad",
    "AdaDelta",
    "AdaMax",
    "AMSGrad",
    "RAdam",
    *SWIFT_NAMES,
]
