"""Swift's differential operators (``DifferentialOperators.swift``) on ``tf.GradientTape``.

Every operator is derived from one core, ``_value_with_pullback``, exactly as Swift derives them all
from ``valueWithPullback``, and reads like Swift's table of definitions: a gradient is the pullback
at 1, a derivative is the differential at 1, and forward mode (the differential) is the transpose of
the pullback (a JVP is the gradient of ``<pullback(u), t>`` with respect to the dummy cotangent
``u``). That transpose is why forward mode honours registered custom derivatives, which
``tf.autodiff.ForwardAccumulator`` does not: a registered pullback is transposed, and a function
with a registered differential has its pullback's derivative with respect to the cotangent given
by that differential, so forward mode calls the differential itself (``_custom_vjp``). Nested
(``sd.differential`` of ``sd.gradient``), it gives exact Hessian-vector products. The
``@_operator`` decorator adds what every operator shares: the ``of=``/``in_=`` argument, the
curried form without ``at=``, and its name in messages.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import tensorflow as tf

from . import _context, _nest, _registry
from ._points import Points
from ._values import LAYER, STATIC, conform, convert_floating, describe, is_floating, resolve_function

_MISSING = object()


class ValueWithGradient(NamedTuple):
    """Swift's ``(value: T, gradient: T.TangentVector)``, returned by ``value_with_gradient``.

    Examples:
        >>> import swiftdiff as sd
        >>> result = sd.value_with_gradient(at=3.0, of=lambda x: x * x)
        >>> float(result.value), float(result.gradient)
        (9.0, 6.0)
    """

    value: Any
    gradient: Any


class ValueWithPullback(NamedTuple):
    """Swift's ``(value: U, pullback: (U.TangentVector) -> T.TangentVector)``.

    Examples:
        >>> import swiftdiff as sd
        >>> result = sd.value_with_pullback(at=3.0, of=lambda x: x * x)
        >>> float(result.value), float(result.pullback(0.5))
        (9.0, 3.0)
    """

    value: Any
    pullback: Callable


class ValueWithDifferential(NamedTuple):
    """Swift's ``(value: U, differential: (T.TangentVector) -> U.TangentVector)``.

    Examples:
        >>> import swiftdiff as sd
        >>> result = sd.value_with_differential(at=3.0, of=lambda x: x * x)
        >>> float(result.value), float(result.differential(2.0))
        (9.0, 12.0)
    """

    value: Any
    differential: Callable


class ValueWithDerivative(NamedTuple):
    """Swift's ``(value: U, derivative: U.TangentVector)``.

    Examples:
        >>> import swiftdiff as sd
        >>> result = sd.value_with_derivative(at=3.0, of=lambda x: x * x)
        >>> float(result.value), float(result.derivative)
        (9.0, 6.0)
    """

    value: Any
    derivative: Any


# ---------------------------------------------------------------------------------------------
# What every operator shares
# ---------------------------------------------------------------------------------------------

_Operator = TypeVar("_Operator", bound=Callable)


def _operator(name: str | None = None) -> Callable[[_Operator], _Operator]:
    """Makes ``body(*, at, of)`` a public operator: ``of=``/``in_=`` resolved (registered derivatives
    included), the curried form ``op(of=f)(*points)`` when ``at=`` is missing, and ``name`` (default
    ``sd.<body name>``) in the messages of everything it runs."""

    def decorate(body):
        operator_name = name or f"sd.{body.__name__}"

        @functools.wraps(body)
        def operator(*, at=_MISSING, of=None, in_=None):
            function = _registry.resolve(resolve_function(operator_name, of, in_))
            if at is _MISSING:
                return _curried(operator_name, function, body)
            with _context.naming(operator_name):
                return body(at=at, of=function)

        return operator

    return decorate


def _curried(operator: str, function: Callable, body: Callable) -> Callable:
    """``op(of=f)``: a function of the points; one point is passed as ``at=(p,)`` (one point, bare)."""

    @functools.wraps(function)
    def curried(*points):
        if not points:
            raise TypeError(f"{operator}(of={getattr(function, '__name__', 'f')}) needs at least one point")
        with _context.naming(operator):
            return body(at=points, of=function)

    curried.__name__ = f"{operator.split('.')[-1]}_of_{getattr(function, '__name__', 'f')}"
    curried.__qualname__ = curried.__name__
    return curried


def _split_points(at) -> tuple[tuple, bool]:
    """``at=(x, y)`` is two points; any other value (``at=x``) is one point, returned bare."""
    if type(at) is tuple:
        if not at:
            raise TypeError(f"{_context.operator_name()}: at=() names no differentiation point")
        return at, len(at) == 1
    return (at,), True


# ---------------------------------------------------------------------------------------------
# The core: valueWithPullback
# ---------------------------------------------------------------------------------------------


def _check_result(result, operator: str):
    """The function's result as a nest of floating tensors."""
    if isinstance(result, tf.Tensor) and is_floating(result.dtype):
        return result

    def convert(leaf):
        if hasattr(leaf, "__tf_flatten__") and not isinstance(leaf, (tf.Tensor, tf.Variable)):
            raise TypeError(f"{operator}: the function returned a {type(leaf).__name__}; return tensors")
        return convert_floating(leaf, "the function's result", operator)

    return _nest.map_leaves(convert, result)


def _check_scalar(value, operator: str):
    if isinstance(value, float) or (
        isinstance(value, (tf.Tensor, tf.Variable)) and is_floating(value.dtype) and value.shape.rank == 0
    ):
        return
    shape = value.shape.as_list() if isinstance(value, tf.Tensor) and value.shape.rank is not None else None
    got = f"a result of shape {shape}" if shape is not None and shape != [] else describe(value)
    raise ValueError(
        f"{operator}: the function must return a floating scalar (rank 0) but returned "
        f"{got}; use sd.pullback(at=..., of=f) or sd.value_with_pullback for "
        f"non-scalar results"
    )


class _Pullback:
    """A pullback closure: callable any number of times (it owns a persistent tape)."""

    def __init__(self, tape, points: Points, result, operator: str, warn_zero: bool, bare: bool, level):
        self._tape, self.points, self._result = tape, points, result
        self._operator, self._warn_zero, self._bare = operator, warn_zero, bare
        self._flat_result = _nest.flatten(result)
        self._level = level  # the differentiation whose hooks this pullback applies

    def _cotangent(self, arguments) -> list:
        if len(arguments) == 1:
            cotangent = arguments[0]
        elif isinstance(self._result, tuple) and len(arguments) == len(self._result):
            cotangent = tuple(arguments)
        else:
            raise TypeError(
                f"{self._operator}: the pullback takes one cotangent shaped like the "
                f"result, got {len(arguments)} arguments"
            )
        leaves = _nest.flatten(cotangent)
        if len(leaves) != len(self._flat_result):
            raise ValueError(
                f"{self._operator}: the cotangent has {len(leaves)} components but the "
                f"result has {len(self._flat_result)}; pass a value shaped like the result"
            )
        return [
            tf.zeros_like(result)
            if leaf is None
            else conform(leaf, result.dtype, result.shape, "the cotangent", "the result", self._operator)
            for leaf, result in zip(leaves, self._flat_result, strict=True)
        ]

    def __call__(self, *cotangent):
        return self.pull(self._cotangent(cotangent))

    def pull(self, output_gradients, *, transposing: bool = False):
        """Tape gradients turned into tangents; ``output_gradients=None`` is the cotangent 1.

        ``transposing``: forward mode is differentiating this pullback, so no hook acts.
        """
        targets, sources = self._flat_result, self.points.sources
        with _context.pulling(self._level, transposing=transposing):
            if len(targets) == 1 and len(sources) == 1:  # skip tf.nest, whose checks cost ~50 µs a call
                gradients = [
                    self._tape.gradient(
                        targets[0],
                        sources[0],
                        output_gradients=None if output_gradients is None else output_gradients[0],
                    )
                ]
            else:
                gradients = self._tape.gradient(targets, sources, output_gradients=output_gradients)
        return self.points.tangents(gradients, warn_zero=self._warn_zero, bare=self._bare)


def _value_with_pullback(
    at, function, *, persistent: bool = True, forward: bool = False, scalar: bool = False
) -> tuple[Any, _Pullback]:
    """Swift's ``valueWithPullback``: the one core every operator is derived from."""
    operator = _context.operator_name()
    points, bare = _split_points(at)
    prepared = Points(points, function, operator)
    calls_before = _context.without_derivative_count()
    tape = tf.GradientTape(persistent=persistent, watch_accessed_variables=False)
    differentiation = _context.differentiating(forward=forward)
    with differentiation, tape:
        sources = prepared.sources
        tape.watch(sources[0] if len(sources) == 1 else sources)
        result = function(*prepared.args)
        if scalar:
            _check_scalar(result, operator)
        # Converted while the tape records: a returned variable is read here, and that read is
        # what connects the result to the points.
        result = _check_result(result, operator)
    warn_zero = _context.without_derivative_count() == calls_before
    return result, _Pullback(tape, prepared, result, operator, warn_zero, bare, differentiation.level)


class _Differential:
    """``df(*tangents) -> result tangent``, computed as the transpose of the pullback.

    Transposing differentiates the pullback with respect to its cotangent. Where the pullback passes
    through a function with a registered differential, that derivative is the differential itself
    (``_custom_vjp`` installs it so), which is how forward mode calls registered differentials.
    """

    def __init__(self, value, pullback: _Pullback, operator: str):
        self._value, self._pullback, self._operator = value, pullback, operator

    def _tangent_leaves(self, tangents) -> list:
        """The tangents' tensors, one per watched source, each checked and named by its path."""
        points = self._pullback.points
        if len(tangents) != len(points.templates):
            raise TypeError(
                f"{self._operator}: the differential takes one tangent per point "
                f"({len(points.templates)}), got {len(tangents)}"
            )
        checked: list = []
        for index, tangent in enumerate(tangents):
            template, name = points.templates[index], points.names[index]
            if not _nest.is_container(template):
                given = [tangent]
            else:
                try:
                    given = _nest.flatten_up_to(template, tangent)
                except ValueError as error:
                    raise ValueError(f"{self._operator}: the tangent for {name}: {error}") from None
            for leaf, value in zip(points.leaves[index], given, strict=True):
                if leaf.kind == STATIC:
                    continue
                parts = list(value) if leaf.kind == LAYER and value is not None else [value]
                if len(parts) != len(leaf.sources):
                    raise ValueError(
                        f"{self._operator}: the tangent for {name}{leaf.path} has {len(parts)} "
                        f"components but the point has {len(leaf.sources)}"
                    )
                checked.extend(
                    conform(
                        part,
                        source.dtype,
                        source.shape,
                        f"the tangent for {name}{leaf.path}",
                        "the point",
                        self._operator,
                    )
                    for part, source in zip(parts, leaf.sources, strict=True)
                )
        return checked

    def __call__(self, *tangents):
        tangent_leaves = self._tangent_leaves(tangents)
        dummies = [tf.zeros_like(leaf) for leaf in _nest.flatten(self._value)]
        # Hooks act in reverse mode only: no hook applies while the pullback is transposed into a
        # differential, and a pullback that runs code again (a checkpoint's recomputation) installs
        # none.
        with tf.GradientTape(watch_accessed_variables=False) as transpose:
            transpose.watch(dummies)
            point_tangents = self._pullback.pull(dummies, transposing=True)
        pulled = [leaf for leaf in _nest.flatten(point_tangents) if leaf is not None]
        result = transpose.gradient(
            pulled,
            dummies,
            output_gradients=tangent_leaves,
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
        return _nest.pack_like(self._value, result)


def _scalar_ones(at) -> list:
    """A tangent of 1 for each point, which must be a floating scalar (``derivative``)."""
    points, _ = _split_points(at)
    operator = _context.operator_name()
    ones = []
    for index, point in enumerate(points):
        tensor = point if isinstance(point, (tf.Tensor, tf.Variable)) else None
        if tensor is None:
            tensor = convert_floating(point, f"point #{index}", operator)
        if tensor.shape.rank != 0 or not is_floating(tensor.dtype):
            raise ValueError(
                f"{operator}: point #{index} must be a floating scalar, got shape "
                f"{tensor.shape.as_list()}; use sd.differential for other points"
            )
        ones.append(tf.ones([], dtype=tensor.dtype))
    return ones


# ---------------------------------------------------------------------------------------------
# The operators, each one or two lines over the one below it
# ---------------------------------------------------------------------------------------------


@_operator()
def value_with_pullback(*, at=_MISSING, of=None, in_=None) -> ValueWithPullback:
    """Swift ``valueWithPullback(at:of:)``: the value of ``of`` at ``at`` and its pullback.

    Args:
        at: the point, or a tuple of points (``at=(x, y)``); a single tuple point is ``at=(t,)``.
            Without ``at=`` the curried form ``value_with_pullback(of=f)(*points)`` is returned.
        of: the function (``in_=`` is Swift's tutorial-era label for it).

    Returns:
        ``(value, pullback)``; ``pullback(cotangent)`` maps a cotangent shaped like the result to
        the tangents of the points (bare for one point, a tuple for several). It may be called more
        than once.

    Raises:
        TypeError: a point is not differentiable (an ``int``, a string, an integer tensor).
        ValueError: the same variable or layer is passed twice.

    Examples:
        >>> import swiftdiff as sd
        >>> value, pb = sd.value_with_pullback(at=3.0, of=lambda x: x * x)
        >>> float(value), float(pb(1.0)), float(pb(2.0))
        (9.0, 6.0, 12.0)
    """
    return ValueWithPullback(*_value_with_pullback(at, of))


@_operator()
def pullback(*, at=_MISSING, of=None, in_=None) -> Callable:
    """Swift ``pullback(at:of:)``: the pullback of ``of`` at ``at``, ``pb(cotangent) -> tangent(s)``.

    Args:
        at: the point(s), as for ``value_with_pullback``.
        of: the function (or ``in_=``).

    Returns:
        The pullback, a function of one cotangent shaped like the result.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> pb = sd.pullback(at=tf.constant([1.0, 2.0]), of=lambda x: x * x)
        >>> pb(tf.constant([1.0, 1.0])).numpy().tolist()
        [2.0, 4.0]
    """
    return value_with_pullback(at=at, of=of).pullback


@_operator()
def value_with_gradient(*, at=_MISSING, of=None, in_=None) -> ValueWithGradient:
    """Swift ``valueWithGradient(at:of:)``: the value of a scalar-valued function and its gradient.

    Args:
        at: the point(s), as for ``value_with_pullback``.
        of: a function returning a floating scalar (or ``in_=``).

    Returns:
        ``(value, gradient)``: the gradient is the pullback at 1.

    Raises:
        ValueError: the function does not return a floating scalar (use ``value_with_pullback``).

    Examples:
        >>> import swiftdiff as sd
        >>> value, grad = sd.value_with_gradient(at=(2.0, 3.0), of=lambda x, y: x * y)
        >>> float(value), [float(g) for g in grad]
        (6.0, [3.0, 2.0])
    """
    value, pullback_ = _value_with_pullback(at, of, persistent=False, scalar=True)
    return ValueWithGradient(value, pullback_.pull(None))  # the pullback at 1


@_operator()
def gradient(*, at=_MISSING, of=None, in_=None):
    """Swift ``gradient(at:of:)`` / ``gradient(of:)``: the gradient of a scalar-valued function.

    Tangents come back in the order of the points; a point the result does not depend on gets zeros
    (and a ``ZeroDerivativeWarning`` unless ``without_derivative`` was used).

    Args:
        at: the point(s), as for ``value_with_pullback``; without it, ``gradient(of=f)`` returns
            the function ``(*points) -> gradient``.
        of: a function returning a floating scalar (or ``in_=``).

    Returns:
        The tangent of the point (bare), or a tuple of tangents for several points.

    Raises:
        ValueError: the function does not return a floating scalar (use ``pullback``).

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> float(sd.gradient(at=2.0, of=lambda x: x ** 3))
        12.0
        >>> dsin = sd.gradient(of=tf.sin)
        >>> round(float(dsin(0.0)), 6)
        1.0
    """
    return value_with_gradient(at=at, of=of).gradient


@_operator()
def value_with_differential(*, at=_MISSING, of=None, in_=None) -> ValueWithDifferential:
    """Swift ``valueWithDifferential(at:of:)``: the value and the differential (forward mode).

    Args:
        at: the point(s), as for ``value_with_pullback``.
        of: the function (or ``in_=``).

    Returns:
        ``(value, differential)``; ``differential(*tangents)`` maps one tangent per point to the
        tangent of the result (a JVP), computed as the transpose of the pullback, which calls the
        differentials registered with ``@sd.derivative(of=)`` themselves.

    Examples:
        >>> import swiftdiff as sd
        >>> value, df = sd.value_with_differential(at=(2.0, 3.0), of=lambda x, y: x * y)
        >>> float(value), float(df(1.0, 0.0)), float(df(0.0, 1.0))
        (6.0, 3.0, 2.0)
    """
    value, pullback_ = _value_with_pullback(at, of, forward=True)
    return ValueWithDifferential(value, _Differential(value, pullback_, _context.operator_name()))


@_operator()
def differential(*, at=_MISSING, of=None, in_=None) -> Callable:
    """Swift ``differential(at:of:)``: the forward-mode differential ``df(*tangents)``.

    Args:
        at: the point(s), as for ``value_with_pullback``.
        of: the function (or ``in_=``).

    Returns:
        The differential, a function of one tangent per point.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> df = sd.differential(at=tf.constant([1.0, 2.0]), of=lambda x: x * x)
        >>> df(tf.constant([1.0, 0.0])).numpy().tolist()
        [2.0, 0.0]
    """
    return value_with_differential(at=at, of=of).differential


@_operator()
def value_with_derivative(*, at=_MISSING, of=None, in_=None) -> ValueWithDerivative:
    """Swift ``valueWithDerivative(at:of:)``: the value and the derivative at floating scalar points.

    Args:
        at: floating scalar point(s).
        of: the function (or ``in_=``).

    Returns:
        ``(value, derivative)``: the derivative is the differential at a tangent of 1 per point.

    Raises:
        ValueError: a point is not a floating scalar (use ``value_with_differential``).

    Examples:
        >>> import swiftdiff as sd
        >>> value, d = sd.value_with_derivative(at=2.0, of=lambda x: x ** 3)
        >>> float(value), float(d)
        (8.0, 12.0)
    """
    ones = _scalar_ones(at)
    value, differential_ = value_with_differential(at=at, of=of)
    return ValueWithDerivative(value, differential_(*ones))


@_operator(name="sd.derivative")
def derivative_at(*, at=_MISSING, of=None, in_=None):
    """Swift ``derivative(at:of:)``: the forward-mode derivative at floating scalar points.

    The forward-mode face of ``sd.derivative`` (``swiftdiff.customization.derivative`` joins it with
    the registration face ``@sd.derivative(of=f)``).

    Args:
        at: floating scalar point(s).
        of: the function (or ``in_=``).

    Returns:
        The differential at a tangent of 1 per point.

    Examples:
        >>> from swiftdiff.operators import derivative_at
        >>> float(derivative_at(at=2.0, of=lambda x: x * x))
        4.0
    """
    return value_with_derivative(at=at, of=of).derivative
