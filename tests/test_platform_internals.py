"""The TensorFlow/Keras internals swiftdiff relies on are probed at import; a change is an ImportError."""

import keras
import pytest
import tensorflow as tf

from swiftdiff import _platform_internals as internals


def test_the_probe_finds_todays_versions_as_assumed():
    assert internals._probe() == []
    internals.verify()  # does not raise
    assert internals.verified


def test_a_keras_layer_without_its_recorded_call_signature_is_an_import_error(monkeypatch):
    monkeypatch.delattr(keras.layers.Layer, "_call_has_context_arg", raising=False)
    original = keras.layers.Layer.__init__

    def forgetting(self, *args, **kwargs):
        original(self, *args, **kwargs)
        del self._call_has_context_arg

    monkeypatch.setattr(keras.layers.Layer, "__init__", forgetting)
    with pytest.raises(ImportError, match="call signature"):
        internals.verify_at_import()


def test_a_keras_variable_without_a_tape_watchable_handle_is_an_import_error(monkeypatch):
    monkeypatch.setattr(internals, "keras_variable_handle", lambda variable: None)
    with pytest.raises(
        ImportError, match=rf"TensorFlow {tf.__version__} with Keras {keras.__version__}.*_value"
    ):
        internals.verify()


def test_a_stateless_scope_that_no_longer_records_assignments_is_an_import_error(monkeypatch):
    # What a Keras release that routed scoped assignments elsewhere would look like: the real
    # variable changes and add_update is never called (BatchNorm statistics would be lost silently).
    monkeypatch.setattr(
        keras.StatelessScope, "add_update", lambda self, update: update[0]._direct_assign(update[1])
    )
    with pytest.raises(ImportError, match="changes the real variable"):
        internals.verify()


def test_a_stateless_scope_that_ignores_its_state_mapping_is_an_import_error(monkeypatch):
    original = keras.StatelessScope.__init__

    def ignoring(self, state_mapping=None, **kwargs):
        original(self, state_mapping=None, **kwargs)

    monkeypatch.setattr(keras.StatelessScope, "__init__", ignoring)
    with pytest.raises(ImportError, match="state_mapping"):
        internals.verify()
