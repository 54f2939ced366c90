"""Per-thread state shared by the operators and the customization helpers.

TensorFlow has no notion of "the function being differentiated right now", but Swift's semantics
need three pieces of it:

* whether ``without_derivative`` was called while the function ran (it silences
  ``ZeroDerivativeWarning``, Swift's compile-time warning done at run time);
* whether the function runs under a forward-mode operator (``with_derivative`` hooks act in reverse
  mode only, so forward mode must not install them);
* which registered functions are currently computing their own derivative (a derivative that calls
  the function it differentiates must reach the original, not recurse into itself);
* the name of the operator the user called (``sd.gradient``), for messages: operators composed
  inside it (``gradient`` is ``value_with_gradient``'s gradient) keep the outer name, and a user
  function it runs starts afresh (an operator nested in it names itself);
* the last ``with_derivative`` token, which chains hooks so that they run in reverse order of
  creation, as Swift's pullbacks do (TensorFlow's tape would otherwise visit them breadth-first).

Everything is thread-local, so differentiation from several threads never mixes.
"""

from __future__ import annotations

import contextlib
import threading

_state = threading.local()


def _get(name, default):
    return getattr(_state, name, default)


def without_derivative_count() -> int:
    return _get("without_derivative_count", 0)


def note_without_derivative() -> None:
    _state.without_derivative_count = without_derivative_count() + 1


def hooks_enabled() -> bool:
    return _get("hooks_enabled", True)


class differentiating:
    """Marks that a user function runs under a forward (hooks off) or reverse operator.

    A class rather than a ``@contextmanager`` generator: it is entered on every operator call.
    """

    __slots__ = ("_forward", "_previous")

    def __init__(self, *, forward: bool):
        self._forward = forward

    def __enter__(self):
        self._previous = (
            getattr(_state, "hooks_enabled", True),
            getattr(_state, "hook_token", None),
            getattr(_state, "operator", None),
        )
        _state.hooks_enabled = not self._forward
        _state.hook_token = None
        _state.operator = None

    def __exit__(self, *exc):
        _state.hooks_enabled, _state.hook_token, _state.operator = self._previous
        return False


def operator_name(default: str = "sd") -> str:
    """The public operator being run (for messages)."""
    return getattr(_state, "operator", None) or default


class naming:
    """Names the public operator being run, unless an outer one (composing it) already did."""

    __slots__ = ("_name", "_previous")

    def __init__(self, name: str):
        self._name = name

    def __enter__(self):
        self._previous = getattr(_state, "operator", None)
        if self._previous is None:
            _state.operator = self._name

    def __exit__(self, *exc):
        _state.operator = self._previous
        return False


def hook_token():
    return _get("hook_token", None)


def set_hook_token(token) -> None:
    _state.hook_token = token


def is_deriving(function) -> bool:
    return function in _get("deriving", ())


@contextlib.contextmanager
def deriving(function):
    """While active, calls of the registered ``function`` run the original body."""
    previous = _get("deriving", frozenset())
    _state.deriving = previous | {function}
    try:
        yield
    finally:
        _state.deriving = previous
