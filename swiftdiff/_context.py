"""Per-thread state shared by the operators and the customization helpers.

TensorFlow has no notion of "the function being differentiated right now", but Swift's semantics
need several pieces of it:

* whether ``without_derivative`` was called while the function ran (it silences
  ``ZeroDerivativeWarning``, Swift's compile-time warning done at run time);
* whether the function runs under a forward-mode operator (``with_derivative`` hooks act in reverse
  mode only, so forward mode must not install them; a registered function called there starts from
  its registered differential);
* which differentiation a hook belongs to (``level``): a hook rewrites the cotangents of the reverse
  pass of the operator it was created under, and passes them through unchanged when an outer
  differentiation (forward-over-reverse, reverse-over-reverse) differentiates the identity it is;
* whether forward mode's transposition of a pullback is running (``transposing``): every cotangent
  is then linear in zeros, so the pullback of a function with a registered differential need not
  run (only its derivative, the differential, is used);
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

    Each use is one differentiation, identified by ``level`` (hooks created under it belong to it).
    A class rather than a ``@contextmanager`` generator: it is entered on every operator call.
    """

    __slots__ = ("_forward", "_previous", "level")

    def __init__(self, *, forward: bool):
        self._forward = forward
        self.level = object()

    def __enter__(self):
        self._previous = (
            getattr(_state, "hooks_enabled", True),
            getattr(_state, "hook_token", None),
            getattr(_state, "operator", None),
            getattr(_state, "level", None),
            getattr(_state, "owner", _OWN_LEVEL),
            getattr(_state, "transposing", False),
        )
        _state.hooks_enabled = not self._forward
        _state.hook_token = None
        _state.operator = None
        _state.level = self.level
        _state.owner = _OWN_LEVEL
        _state.transposing = False
        return self

    def __exit__(self, *exc):
        (
            _state.hooks_enabled,
            _state.hook_token,
            _state.operator,
            _state.level,
            _state.owner,
            _state.transposing,
        ) = self._previous
        return False


class pulling:
    """While the pullback of the differentiation ``level`` runs: a reverse pass (its hooks act, code
    it runs again installs hooks) or, with ``transposing=True``, forward mode's transposition of it
    (no hook acts or is installed)."""

    __slots__ = ("_level", "_transposing", "_previous")

    def __init__(self, level, *, transposing: bool = False):
        self._level, self._transposing = level, transposing

    def __enter__(self):
        self._previous = (
            getattr(_state, "hooks_enabled", True),
            getattr(_state, "hook_token", None),
            getattr(_state, "level", None),
            getattr(_state, "owner", _OWN_LEVEL),
            getattr(_state, "transposing", False),
        )
        _state.hooks_enabled = not self._transposing
        _state.hook_token = None
        _state.level = self._level
        _state.owner = _OWN_LEVEL
        _state.transposing = self._transposing

    def __exit__(self, *exc):
        (
            _state.hooks_enabled,
            _state.hook_token,
            _state.level,
            _state.owner,
            _state.transposing,
        ) = self._previous
        return False


_OWN_LEVEL = object()  # hooks created now belong to the running differentiation (``level``)


def level():
    """The differentiation whose function or pullback is running (None outside every operator)."""
    return getattr(_state, "level", None)


def hook_owner():
    """The differentiation a hook created now belongs to: the running one, unless code is being run
    again for another (``owning``)."""
    owner = getattr(_state, "owner", _OWN_LEVEL)
    return level() if owner is _OWN_LEVEL else owner


class owning:
    """Hooks created inside belong to ``owner``: a checkpoint's recomputation re-creates the hooks of
    the differentiation its forward run belonged to, whichever pass runs it."""

    __slots__ = ("_owner", "_previous")

    def __init__(self, owner):
        self._owner = owner

    def __enter__(self):
        self._previous = getattr(_state, "owner", _OWN_LEVEL)
        _state.owner = self._owner

    def __exit__(self, *exc):
        _state.owner = self._previous
        return False


def transposing() -> bool:
    """Whether forward mode's transposition of a pullback is running: every cotangent is then a
    linear function of zeros, and only derivatives with respect to them are used."""
    return getattr(_state, "transposing", False)


def forward_mode() -> bool:
    """Whether the innermost operator is a forward-mode one (or its transposition is running)."""
    return not getattr(_state, "hooks_enabled", True)


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
