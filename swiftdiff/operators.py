"""Swift's differential operators (``DifferentialOperators.swift``) on ``tf.GradientTape``.

Every operator is derived from one core, ``_value_with_pullback``, exactly as Swift derives them all
from ``valueWithPullback``: gradients are pullbacks of 1, and forward mode (differentials and
derivatives) is the transpose of the pullback (a JVP is the gradient of ``<pullback(u), t>`` with
respect to the dummy cotangent ``u``). That transpose is why forward mode honours registered custom
derivatives, which ``tf.autodiff.ForwardAccumulator`` does not.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import tensorflow as tf

from . import _context, _nest, registry
from ._points import Points, conform, convert_floating, describe, flatten_tangent, is_floating
from .tangent_vector import TangentVector

_MISSING = object()


class ValueWithGradient(NamedTuple):
    """Swift's ``(value: T, gradient: T.TangentVector)``, returned by ``value_with_gradient``.

    Example::

        >>> import swiftdiff as sd
        >>> result = sd.value_with_gradient(at=3.0, of=lambda x: x * x)
        >>> float(result.value), float(result.gradient)
        (9.0, 6.0)
    """
    value: Any
    gradient: Any


class ValueWithPullback(NamedTuple):
    """Swift's ``(value: U, pullback: (U.TangentVector) -> T.TangentVector)``.

    Example::

        >>> import swiftdiff as sd
        >>> result = sd.value_with_pullback(at=3.0, of=lambda x: x * x)
        >>> float(result.value), float(result.pullback(0.5))
        (9.0, 3.0)
    """
    value: Any
    pullback: Callable


class ValueWithDifferential(NamedTuple):
    """Swift's ``(value: U, differential: (T.TangentVector) -> U.TangentVector)``.

    Example::

        >>> import swiftdiff as sd
        >>> result = sd.value_with_differential(at=3.0, of=lambda x: x * x)
        >>> float(result.value), float(result.differential(2.0))
        (9.0, 12.0)
    """
    value: Any
    differential: Callable


class ValueWithDerivative(NamedTuple):
    """Swift's ``(value: U, derivative: U.TangentVector)``.

    Example::

        >>> import swiftdiff as sd
        >>> result = sd.value_with_derivative(at=3.0, of=lambda x: x * x)
        >>> float(result.value), float(result.derivative)
        (9.0, 6.0)
    """
    value: Any
    derivative: Any


# ---------------------------------------------------------------------------------------------
# Argument handling shared by every operator
# ---------------------------------------------------------------------------------------------

def _resolve_function(operator: str, of, in_) -> Callable:
    if of is not None and in_ is not None:
        raise TypeError(f"{operator}: pass the function once, as of= or in_=, not both")
    function = of if of is not None else in_
    if function is None:
        raise TypeError(f"{operator}: missing the function to differentiate; pass of=f (or in_=f)")
    if not callable(function):
        raise TypeError(f"{operator}: of= must be a function, got {describe(function)}")
    return registry.resolve(function)


def _split_points(at) -> tuple[tuple, bool]:
    """``at=(x, y)`` is two points; any other value (``at=x``) is one point, returned bare."""
    if type(at) is tuple:
        if not at:
            raise TypeError("at=() names no differentiation point")
        return at, len(at) == 1
    return (at,), True


def _dispatch(operator: str, at, of, in_, run: Callable):
    """What every public operator does: resolve ``of=``, then run at ``at=`` or return the curried form.

    ``run(function, points, bare, operator)`` is the operator's core.
    """
    function = _resolve_function(operator, of, in_)
    if at is _MISSING:
        return _curried(operator, function, lambda points, bare: run(function, points, bare, operator))
    points, bare = _split_points(at)
    return run(function, points, bare, operator)


def _curried(operator: str, function: Callable, run: Callable) -> Callable:
    @functools.wraps(function)
    def curried(*points):
        if not points:
            raise TypeError(f"{operator}(of={getattr(function, '__name__', 'f')}) needs at least one point")
        return run(points, len(points) == 1)
    curried.__name__ = f"{operator.split('.')[-1]}_of_{getattr(function, '__name__', 'f')}"
    curried.__qualname__ = curried.__name__
    return curried


# ---------------------------------------------------------------------------------------------
# The core: valueWithPullback
# ---------------------------------------------------------------------------------------------

def _check_result(result, operator: str):
    """The function's result as a nest of floating tensors."""
    if isinstance(result, tf.Tensor) and is_floating(result.dtype):
        return result

    def convert(leaf):
        if isinstance(leaf, TangentVector):
            raise TypeError(f"{operator}: the function returned a TangentVector; return tensors")
        try:
            return convert_floating(leaf, "the function's result", operator)
        except TypeError as error:
            raise TypeError(str(error).replace("pass a floating value", "return a floating value")) from None
    return _nest.map_leaves(convert, result)


class _Pullback:
    """A pullback closure: callable any number of times (it owns a persistent tape)."""

    def __init__(self, tape, points: Points, result, operator: str, warn: bool, bare: bool):
        self._tape, self._points, self._result = tape, points, result
        self._operator, self._warn, self._bare = operator, warn, bare
        self._flat_result = _nest.flatten(result)

    def _cotangent(self, arguments) -> list:
        if len(arguments) == 1:
            cotangent = arguments[0]
        elif isinstance(self._result, tuple) and len(arguments) == len(self._result):
            cotangent = tuple(arguments)
        else:
            raise TypeError(f"{self._operator}: the pullback takes one cotangent shaped like the "
                            f"result, got {len(arguments)} arguments")
        leaves = _nest.flatten(cotangent)
        if len(leaves) != len(self._flat_result):
            raise ValueError(f"{self._operator}: the cotangent has {len(leaves)} components but the "
                             f"result has {len(self._flat_result)}; pass a value shaped like the result")
        return [tf.zeros_like(result) if leaf is None else
                conform(leaf, result.dtype, result.shape, "the cotangent", "the result", self._operator)
                for leaf, result in zip(leaves, self._flat_result)]

    def __call__(self, *cotangent):
        return self._pull(self._cotangent(cotangent))

    def _pull(self, output_gradients):
        """Tape gradients (``output_gradients=None`` means ones) turned into tangents."""
        targets, sources = self._flat_result, self._points.sources
        if len(targets) == 1 and len(sources) == 1:  # skip tf.nest, whose checks cost ~50 µs a call
            gradients = [self._tape.gradient(targets[0], sources[0], output_gradients=None
                                             if output_gradients is None else output_gradients[0])]
        else:
            gradients = self._tape.gradient(targets, sources, output_gradients=output_gradients)
        return self._points.tangents(gradients, warn=self._warn, bare=self._bare)


def _value_with_pullback(function, points: tuple, bare: bool, operator: str, *,
                         persistent: bool = True, forward: bool = False, scalar: bool = False):
    prepared = Points(points, function, operator)
    calls_before = _context.without_derivative_count()
    tape = tf.GradientTape(persistent=persistent, watch_accessed_variables=False)
    with _context.differentiating(forward=forward), tape:
        sources = prepared.sources
        tape.watch(sources[0] if len(sources) == 1 else sources)
        result = function(*prepared.args)
        if scalar:
            _check_scalar(result, operator)
        # Converted while the tape records: a returned variable is read here, and that read is
        # what connects the result to the points.
        result = _check_result(result, operator)
    warn = _context.without_derivative_count() == calls_before
    return result, _Pullback(tape, prepared, result, operator, warn, bare)


# ---------------------------------------------------------------------------------------------
# Reverse mode
# ---------------------------------------------------------------------------------------------

def _check_scalar(value, operator: str):
    if isinstance(value, float) or (isinstance(value, (tf.Tensor, tf.Variable)) and is_floating(value.dtype)
                                    and value.shape.rank == 0):
        return
    shape = value.shape.as_list() if isinstance(value, tf.Tensor) and value.shape.rank is not None else None
    got = f"a result of shape {shape}" if shape is not None and shape != [] else describe(value)
    raise ValueError(f"{operator}: the function must return a floating scalar (rank 0) but returned "
                     f"{got}; use sd.pullback(at=..., of=f) or sd.value_with_pullback for "
                     f"non-scalar results")


def _value_with_gradient(function, points, bare, operator):
    value, pullback = _value_with_pullback(function, points, bare, operator, persistent=False,
                                           scalar=True)
    return ValueWithGradient(value, pullback._pull(None))  # the tape's implicit cotangent is 1


def value_with_pullback(*, at=_MISSING, of=None, in_=None):
    """Swift ``valueWithPullback(at:of:)``: ``(value, pullback)`` of ``of`` at the point(s) ``at``.

    ``pullback(cotangent)`` maps a cotangent shaped like the result to the tangents of the points
    (one bare for one point, a tuple for several); it may be called more than once. Without
    ``at=`` the curried form ``value_with_pullback(of=f)(*points)`` is returned.

    Example::

        >>> import swiftdiff as sd
        >>> value, pb = sd.value_with_pullback(at=3.0, of=lambda x: x * x)
        >>> float(value), float(pb(1.0)), float(pb(2.0))
        (9.0, 6.0, 12.0)
    """
    return _dispatch("sd.value_with_pullback", at, of, in_,
                     lambda *core: ValueWithPullback(*_value_with_pullback(*core)))


def pullback(*, at=_MISSING, of=None, in_=None):
    """Swift ``pullback(at:of:)``: the pullback of ``of`` at ``at``, ``pb(cotangent) -> tangent(s)``.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> pb = sd.pullback(at=tf.constant([1.0, 2.0]), of=lambda x: x * x)
        >>> pb(tf.constant([1.0, 1.0])).numpy().tolist()
        [2.0, 4.0]
    """
    return _dispatch("sd.pullback", at, of, in_, lambda *core: _value_with_pullback(*core)[1])


def value_with_gradient(*, at=_MISSING, of=None, in_=None):
    """Swift ``valueWithGradient(at:of:)``: ``(value, gradient)`` of a scalar-valued function.

    Example::

        >>> import swiftdiff as sd
        >>> value, grad = sd.value_with_gradient(at=(2.0, 3.0), of=lambda x, y: x * y)
        >>> float(value), [float(g) for g in grad]
        (6.0, [3.0, 2.0])
    """
    return _dispatch("sd.value_with_gradient", at, of, in_, _value_with_gradient)


def gradient(*, at=_MISSING, of=None, in_=None):
    """Swift ``gradient(at:of:)`` / ``gradient(of:)``: the gradient of a scalar-valued function.

    ``f`` must return a floating scalar; for other results use ``pullback``. Tangents come back in
    the order of the points; a point the result does not depend on gets zeros (and a
    ``ZeroDerivativeWarning`` unless ``without_derivative`` was used).

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> float(sd.gradient(at=2.0, of=lambda x: x ** 3))
        12.0
        >>> dsin = sd.gradient(of=tf.sin)
        >>> round(float(dsin(0.0)), 6)
        1.0
    """
    return _dispatch("sd.gradient", at, of, in_, lambda *core: _value_with_gradient(*core).gradient)


# ---------------------------------------------------------------------------------------------
# Forward mode: the transpose of the pullback
# ---------------------------------------------------------------------------------------------

class _Differential:
    """``df(*tangents) -> result tangent``, computed as the transpose of the pullback."""

    def __init__(self, points: tuple, value, pullback: _Pullback, operator: str):
        self._points, self._value, self._pullback, self._operator = points, value, pullback, operator

    def _tangent_leaves(self, tangents) -> list:
        if len(tangents) != len(self._points):
            raise TypeError(f"{self._operator}: the differential takes one tangent per point "
                            f"({len(self._points)}), got {len(tangents)}")
        leaves = []
        for index, (tangent, leaf_group) in enumerate(zip(tangents, self._pullback._points.leaves)):
            expected = [source for leaf in leaf_group for source in leaf.sources]
            given = flatten_tangent(tangent)
            if len(given) != len(expected):
                raise ValueError(f"{self._operator}: tangent #{index} has {len(given)} components but "
                                 f"the point has {len(expected)}")
            leaves.extend(conform(value, source.dtype, source.shape, f"tangent #{index}", "the point",
                                  self._operator) for value, source in zip(given, expected))
        return leaves

    def __call__(self, *tangents):
        tangent_leaves = self._tangent_leaves(tangents)
        dummies = [tf.zeros_like(leaf) for leaf in _nest.flatten(self._value)]
        with tf.GradientTape(watch_accessed_variables=False) as transpose:
            transpose.watch(dummies)
            point_tangents = self._pullback(_nest.pack_like(self._value, dummies))
        pulled = flatten_tangent(point_tangents)
        result = transpose.gradient(pulled, dummies, output_gradients=tangent_leaves,
                                    unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return _nest.pack_like(self._value, result)


def _value_with_differential(function, points, bare, operator):
    value, pb = _value_with_pullback(function, points, bare, operator, persistent=True, forward=True)
    return ValueWithDifferential(value, _Differential(points, value, pb, operator))


def _value_with_derivative(function, points, bare, operator):
    for index, point in enumerate(points):
        tensor = point if isinstance(point, (tf.Tensor, tf.Variable)) else None
        if tensor is None:
            tensor = convert_floating(point, f"point #{index}", operator)
        if tensor.shape.rank != 0 or not is_floating(tensor.dtype):
            raise ValueError(f"{operator}: point #{index} must be a floating scalar, got shape "
                             f"{tensor.shape.as_list()}; use sd.differential for other points")
    value, differential = _value_with_differential(function, points, bare, operator)
    ones = [tf.ones([], dtype=p.dtype if hasattr(p, "dtype") else tf.float32) for p in points]
    return ValueWithDerivative(value, differential(*ones))


def value_with_differential(*, at=_MISSING, of=None, in_=None):
    """Swift ``valueWithDifferential(at:of:)``: ``(value, differential)``, forward mode.

    ``differential(*tangents)`` maps one tangent per point to the tangent of the result (a JVP).

    Example::

        >>> import swiftdiff as sd
        >>> value, df = sd.value_with_differential(at=(2.0, 3.0), of=lambda x, y: x * y)
        >>> float(value), float(df(1.0, 0.0)), float(df(0.0, 1.0))
        (6.0, 3.0, 2.0)
    """
    return _dispatch("sd.value_with_differential", at, of, in_, _value_with_differential)


def differential(*, at=_MISSING, of=None, in_=None):
    """Swift ``differential(at:of:)``: the forward-mode differential ``df(*tangents)``.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> df = sd.differential(at=tf.constant([1.0, 2.0]), of=lambda x: x * x)
        >>> df(tf.constant([1.0, 0.0])).numpy().tolist()
        [2.0, 0.0]
    """
    return _dispatch("sd.differential", at, of, in_,
                     lambda *core: _value_with_differential(*core).differential)


def value_with_derivative(*, at=_MISSING, of=None, in_=None):
    """Swift ``valueWithDerivative(at:of:)``: ``(value, derivative)`` at floating scalar points.

    The derivative is the differential applied to a tangent of 1 for every point.

    Example::

        >>> import swiftdiff as sd
        >>> value, d = sd.value_with_derivative(at=2.0, of=lambda x: x ** 3)
        >>> float(value), float(d)
        (8.0, 12.0)
    """
    return _dispatch("sd.value_with_derivative", at, of, in_, _value_with_derivative)


def derivative_at(*, at=_MISSING, of=None, in_=None):
    """Swift ``derivative(at:of:)``: the forward-mode derivative at floating scalar points.

    Public as ``sd.derivative(at=x, of=f)``; ``@sd.derivative(of=f)`` without ``at=`` registers a
    custom derivative instead (see ``swiftdiff.customization.derivative``).

    Example::

        >>> import swiftdiff as sd
        >>> float(sd.derivative(at=2.0, of=lambda x: x * x))
        4.0
    """
    return _dispatch("sd.derivative", at, of, in_, lambda *core: _value_with_derivative(*core).derivative)
