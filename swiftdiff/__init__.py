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
from .activations import identity, relu, sigmoid, softmax, tanh  # noqa: E402
from .checkpointing import with_recomputation_in_pullbacks  # noqa: E402
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
from .losses import mean_squared_error, softmax_cross_entropy  # noqa: E402
from .memory_report import MemoryReport, memory_report  # noqa: E402
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
from .optimizers import SGD, Adam, RMSProp, move  # noqa: E402
from .tangent_vector import TangentVector  # noqa: E402
from .whole_model import CheckpointedModel, checkpointed  # noqa: E402

# >>> LAYERS-CONV imports
# <<< LAYERS-CONV imports
# >>> LAYERS-POOL imports
# <<< LAYERS-POOL imports
# >>> LAYERS-NORM imports
# <<< LAYERS-NORM imports
# >>> LOSSES-ACTIVATIONS imports
# <<< LOSSES-ACTIVATIONS imports
# >>> OPTIMIZERS imports
# <<< OPTIMIZERS imports

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
    # >>> LAYERS-CONV aliases
    # <<< LAYERS-CONV aliases
    # >>> LAYERS-POOL aliases
    # <<< LAYERS-POOL aliases
    # >>> LAYERS-NORM aliases
    # <<< LAYERS-NORM aliases
    # >>> LOSSES-ACTIVATIONS aliases
    # <<< LOSSES-ACTIVATIONS aliases
    # >>> OPTIMIZERS aliases
    # <<< OPTIMIZERS aliases
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
    # >>> LAYERS-CONV names
    # <<< LAYERS-CONV names
    # >>> LAYERS-POOL names
    # <<< LAYERS-POOL names
    # >>> LAYERS-NORM names
    # <<< LAYERS-NORM names
    # >>> LOSSES-ACTIVATIONS names
    # <<< LOSSES-ACTIVATIONS names
    # >>> OPTIMIZERS names
    # <<< OPTIMIZERS names
    *SWIFT_NAMES,
]
