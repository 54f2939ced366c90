"""The few TensorFlow and Keras internals swiftdiff needs, in one place.

Each is used because no public API does the job:

* ``stop_recording``: pauses *every* active ``tf.GradientTape`` (the public
  ``GradientTape.stop_recording`` pauses only a tape you own). Checkpointing needs it: in eager mode
  ``tf.custom_gradient`` lets outer tapes record the forward pass, which would keep every activation
  alive (measured: 0.92 of the plain model's memory instead of 0.3).
* ``could_possibly_record``: tells a registered function whether any tape is active, so an
  undifferentiated call runs the original body exactly as written.
* ``add_op_callback`` / ``remove_op_callback``: lets checkpointing notice op-seeded stateful random
  ops, whose numbers cannot be replayed on recomputation, and warn.
"""

from tensorflow.python.eager import record as _record
from tensorflow.python.framework import op_callbacks as _op_callbacks

stop_recording = _record.stop_recording
could_possibly_record = _record.could_possibly_record
add_op_callback = _op_callbacks.add_op_callback
remove_op_callback = _op_callbacks.remove_op_callback

# Keras: the active ``keras.StatelessScope`` (Keras exports the class, not the accessor). Checkpointing
# nests its own scopes inside a caller's (``stateless_call``) and must see the caller's values.
from keras.src.backend.common.stateless_scope import get_stateless_scope  # noqa: E402, F401
