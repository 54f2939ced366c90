"""The global table of registered derivatives: original function -> differentiable replacement.

Kept apart from the registration logic so that the operators can consult it without importing it.
A lock makes registration and lookup safe from several threads.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_replacements: dict = {}


def resolve(function):
    """The function to call for ``function``: its registered replacement, if any.

    Lock-free: a dict lookup is atomic in CPython, and writers hold the lock. This runs on every
    operator call, where the lock's cost showed in the overhead benchmark.
    """
    try:
        return _replacements.get(function, function)
    except TypeError:  # an unhashable callable cannot have been registered
        return function


def update(original, make):
    """Registers ``make(previous)`` for ``original``, atomically: ``make`` gets the replacement
    registered so far (or None) and returns ``(replacement, detail)``. Returns ``(previous, detail)``.
    """
    with _lock:
        previous = _replacements.get(original)
        replacement, detail = make(previous)
        _replacements[original] = replacement
        return previous, detail


def original_of(function):
    """``function`` itself, or the original behind a registered replacement."""
    return getattr(function, "__swiftdiff_original__", function)
