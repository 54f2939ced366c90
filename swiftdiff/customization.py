"""Derivative customization (Swift ``DifferentiationUtilities.swift`` and attributes).

``@derivative(of:)``, ``@differentiable``, ``differentiableFunction(from:)``,
``withoutDerivative(at:)``, ``withDerivative(_:)`` and ``unbroadcasted(to:)``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from . import _context, _nest, _registry
from ._custom_vjp import (
    DIFFERENTIAL,
    PULLBACK,
    BoundCall,
    call_with_derivatives,
    call_with_vjp,
    custom_gradient_call,
    signature_of,
    split_vjp_result,
)
from ._platform_internals import could_possibly_record, stop_recording
from ._values import conform, convert_floating, describe, given_function, resolve_function
from .diagnostics import DerivativeRegistrationWarning, warn
from .operators import _MISSING, derivative_at

# ---------------------------------------------------------------------------------------------
# @differentiable
# ---------------------------------------------------------------------------------------------


def differentiable(function: Any = None, /, *modes: str, wrt: Any = None, reverse: Any = None) -> Any:
    """Swift ``@differentiable``, ``@differentiable(reverse)``, ``@differentiable(wrt: x)``.

    A marker: accepted on functions and methods, it never changes what they compute. It records
    ``wrt`` on the function as ``__differentiable_wrt__`` for documentation and tooling.

    Args:
        function: the function or method (when used without parentheses).
        *modes: Swift's ``reverse`` and similar mode names, accepted and ignored.
        wrt: the parameters the function is differentiable with respect to (recorded only).
        reverse: accepted for ``@differentiable(reverse=True)`` spellings; ignored.

    Returns:
        The function unchanged (or, with arguments, a decorator returning it unchanged).

    Raises:
        TypeError: applied to something that is not a function or method.

    Examples:
        >>> import swiftdiff as sd
        >>> @sd.differentiable(wrt="x")
        ... def scale(x, factor):
        ...     return x * factor
        >>> float(sd.gradient(at=2.0, of=lambda x: scale(x, 3.0)))
        3.0
    """

    def mark(target):
        if not callable(target) and not isinstance(target, (staticmethod, classmethod)):
            raise TypeError(f"sd.differentiable: expected a function or method, got {describe(target)}")
        # Builtins and some descriptors take no attributes; the marker is optional.
        with contextlib.suppress(AttributeError, TypeError):
            target.__differentiable_wrt__ = wrt
        return target

    if function is None or isinstance(function, str):  # @differentiable(...) / @differentiable("reverse")
        return mark
    return mark(function)  # @differentiable without parentheses (or a wrong argument: TypeError)


# ---------------------------------------------------------------------------------------------
# differentiableFunction(from:)
# ---------------------------------------------------------------------------------------------


def differentiable_function(*, from_: Callable) -> Callable:
    """Swift ``differentiableFunction(from:)``: a function whose derivative is the given VJP.

    Args:
        from_: ``from_(*args) -> (value, pullback)``; ``pullback(v)`` returns one tangent per
            differentiable argument (bare for one). Arguments may be tensors, nests, variables and
            Keras layers (whose tangent is a ``TangentVector``); arguments holding no floating value
            (ints, strings, plain objects) have no tangent slot and pass through.

    Returns:
        A function computing ``from_``'s value, differentiated through ``pullback``.

    Raises:
        TypeError: ``from_`` is not callable, or its pullback returns tangents of the wrong kind.
        ValueError: its pullback returns the wrong number or shape of tangents.

    Examples:
        The tutorial's checkpointing API, written as user code:

        >>> import tensorflow as tf, swiftdiff as sd
        >>> def make_recomputed_in_gradient(original):
        ...     return sd.differentiable_function(from_=lambda x: (
        ...         original(x), lambda v: sd.pullback(at=x, of=original)(v)))
        >>> square = make_recomputed_in_gradient(lambda x: x * x)
        >>> float(sd.gradient(at=3.0, of=square))
        6.0
    """
    if not callable(from_):
        raise TypeError(
            f"sd.differentiable_function: from_= must be a function returning "
            f"(value, pullback), got {describe(from_)}"
        )
    vjp_name = getattr(from_, "__name__", "vjp")
    label = f"sd.differentiable_function(from_={vjp_name})"
    signature = signature_of(from_)

    @functools.wraps(from_)
    def function(*args, **kwargs):
        call = None
        if not tf.executing_eagerly() or could_possibly_record():
            try:
                call = BoundCall(signature, args, kwargs)
            except TypeError:
                call = None  # from_ raises Python's own error for a call that does not fit it
        if call is None or not call.slots:  # not differentiated: just the value
            return split_vjp_result(from_(*args, **kwargs), label)[0]
        return call_with_vjp(from_, call, name=label)

    function.__name__ = f"differentiable_{vjp_name}"
    return function


# ---------------------------------------------------------------------------------------------
# @derivative(of:)
# ---------------------------------------------------------------------------------------------

_FRAMEWORKS = ("tensorflow", "keras", "tf_keras", "numpy", "builtins", "math", "jax", "torch")


class _Target:
    """What ``@derivative(of=...)`` registers: the Python function, and how to install its replacement.

    ``install(replacement)`` rebinds the name the function was defined under (module level, or the
    class attribute for methods, static methods, class methods and property getters); it returns
    False when the function is reachable through the registry only (a function defined inside
    another function).
    """

    def __init__(self, of, operator: str):
        self.operator = operator
        function = of
        if isinstance(function, property):
            function = function.fget
        elif isinstance(function, (staticmethod, classmethod)) or inspect.ismethod(function):
            function = function.__func__
        function = _registry.original_of(function)
        self._refuse_unregistrable(of, function)
        self.function = function

    def _refuse_unregistrable(self, of, function) -> None:
        fix = (
            "wrap it in a function of your own (def my_f(x): return f(x)), register that, and call it instead"
        )
        if hasattr(of, "python_function") or hasattr(function, "python_function"):
            raise TypeError(
                f"{self.operator}: of= is a tf.function, whose traces do not see a registration; "
                f"register the derivative of the plain Python function and apply tf.function "
                f"to the code that calls it"
            )
        if isinstance(of, functools.partial):
            raise TypeError(
                f"{self.operator}: of= is a functools.partial, which has no name to rebind; {fix}"
            )
        if not inspect.isfunction(function):
            kind = (
                "a builtin or C function"
                if inspect.isbuiltin(function) or inspect.isroutine(function)
                else f"a callable {type(function).__name__} instance"
            )
            raise TypeError(f"{self.operator}: of= is {kind}, which cannot be registered; {fix}")
        module = (getattr(function, "__module__", "") or "").split(".")[0]
        if module in _FRAMEWORKS:
            raise TypeError(
                f"{self.operator}: of= is {module}'s {function.__qualname__}, which the framework "
                f"also calls internally under other names, so a registration could only be "
                f"partial; {fix}"
            )
        qualname = function.__qualname__
        local_owner = "<locals>." in qualname and "." in qualname.rsplit("<locals>.", 1)[1]
        if local_owner:
            raise TypeError(
                f"{self.operator}: {qualname} is a method of a class defined inside a function, "
                f"whose calls through the class cannot be redirected; define the class at "
                f"module level (Swift registers derivatives at file scope)"
            )
        if function.__name__ == "<lambda>" and not self._global_names(function):
            raise TypeError(
                f"{self.operator}: of= is a lambda that no module-level name holds, so no call "
                f"can reach a registration; define it with def (or assign it at module level)"
            )

    @staticmethod
    def _global_names(function, *others) -> list:
        namespace = function.__globals__
        return [
            name
            for name, value in list(namespace.items())
            if any(value is candidate for candidate in (function, *others) if candidate is not None)
        ]

    def install(self, replacement, previous) -> bool:
        function = self.function
        qualname = function.__qualname__
        if "<locals>" in qualname:
            return False  # reached through the registry only (documented)
        namespace = function.__globals__
        *owners, last = qualname.split(".")
        if not owners:
            names = self._global_names(function, previous)
            for name in names:
                namespace[name] = replacement
            return bool(names)
        owner = namespace.get(owners[0])
        for part in owners[1:]:
            owner = getattr(owner, part, None)
        current = vars(owner).get(last) if isinstance(owner, type) else None
        inner = current
        if isinstance(current, (staticmethod, classmethod)):
            inner = current.__func__
        elif isinstance(current, property):
            inner = current.fget
        if current is None or not any(
            inner is candidate for candidate in (function, previous) if candidate is not None
        ):
            return False
        if isinstance(current, staticmethod):
            setattr(owner, last, staticmethod(replacement))
        elif isinstance(current, classmethod):
            setattr(owner, last, classmethod(replacement))
        elif isinstance(current, property):
            setattr(owner, last, property(replacement, current.fset, current.fdel, current.__doc__))
        else:
            setattr(owner, last, replacement)
        return True


def _wrt_parameters(original, wrt, operator: str) -> frozenset | None:
    """``wrt=`` (names or positions) as the set the binding rule takes, checked."""
    if wrt is None:
        return None
    items = wrt if isinstance(wrt, (tuple, list)) else (wrt,)
    signature = signature_of(original)
    params = list(signature.parameters.values()) if signature is not None else []
    names = [p.name for p in params]
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    result = set()
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise TypeError(f"{operator}: wrt= takes parameter names or positions, got {describe(item)}")
        if isinstance(item, str) and item not in names:
            raise ValueError(
                f"{operator}: wrt={item!r} is not a parameter of "
                f"{getattr(original, '__name__', original)} (parameters: {names})"
            )
        if isinstance(item, int) and (item < 0 or (signature is not None and item >= len(positional))):
            raise ValueError(
                f"{operator}: wrt={item} is out of range for "
                f"{getattr(original, '__name__', original)} ({len(positional)} positional "
                f"parameters)"
            )
        result.add(item)
    return frozenset(result)


def _declared_kind(derivative_function) -> str:
    """What a derivative function returns, as far as can be told before calling it: a differential
    when its return annotation or its own code names ``ValueWithDifferential``, else a pullback.

    Swift tells the two apart by the declared result type; Python has only the code. What the
    function returns when called decides in the end (``_custom_vjp._Derivatives``).
    """
    function = inspect.unwrap(derivative_function)
    annotations = getattr(function, "__annotations__", None)
    annotation = annotations.get("return", "") if isinstance(annotations, dict) else ""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    if "ValueWithDifferential" in text:
        return DIFFERENTIAL
    if "ValueWithPullback" in text:
        return PULLBACK
    code = getattr(function, "__code__", None)
    if code is not None and "ValueWithDifferential" in code.co_names:
        return DIFFERENTIAL
    return PULLBACK


def _name(function) -> str:
    return getattr(function, "__name__", None) or type(function).__name__


def _replacement(original, registered: dict, wrt: frozenset | None):
    """The differentiable stand-in for ``original`` with the ``registered`` derivatives
    (``{PULLBACK or DIFFERENTIAL: derivative function}``)."""
    signature = signature_of(original)

    def deriving(derivative_function):
        def derive(*args, **kwargs):
            with _context.deriving(original):
                return derivative_function(*args, **kwargs)

        return derive

    functions = [
        (
            deriving(function),
            f"the derivative registered for {original.__qualname__} ({_name(function)})",
            kind,
        )
        for kind, function in registered.items()
    ]

    @functools.wraps(original)
    def replacement(*args, **kwargs):
        if _context.is_deriving(original) or (tf.executing_eagerly() and not could_possibly_record()):
            return original(*args, **kwargs)
        try:
            call = BoundCall(signature, args, kwargs, wrt)
        except TypeError:
            return original(*args, **kwargs)  # Python's own error for a call that does not fit f
        if not call.slots:
            return original(*args, **kwargs)  # nothing differentiable was passed
        return call_with_derivatives(call, functions)

    replacement.__swiftdiff_original__ = original  # type: ignore[attr-defined]
    replacement.__swiftdiff_derivatives__ = registered  # type: ignore[attr-defined]
    replacement.__swiftdiff_wrt__ = wrt  # type: ignore[attr-defined]
    return replacement


def _register(target: _Target, derivative_function, wrt: frozenset | None):
    """Registers ``derivative_function`` for the target: it replaces one registered earlier that
    returns the same kind (pullback or differential), with a warning, and joins one of the other
    kind."""
    operator = target.operator
    if not callable(derivative_function):
        raise TypeError(
            f"{operator}: the decorated derivative must be a function, got {describe(derivative_function)}"
        )
    original = target.function
    kind = _declared_kind(derivative_function)
    other = PULLBACK if kind == DIFFERENTIAL else DIFFERENTIAL

    def make(previous):
        registered = dict(getattr(previous, "__swiftdiff_derivatives__", {}))
        if other in registered and getattr(previous, "__swiftdiff_wrt__", None) != wrt:
            raise TypeError(
                f"{operator}: the {other} registered for {original.__qualname__} "
                f"({_name(registered[other])}) differentiates other arguments (wrt=) than this "
                f"{kind}; a pullback and a differential registered for one function must take the "
                f"same wrt="
            )
        replaced = registered.get(kind)
        registered[kind] = derivative_function
        replacement = _replacement(original, registered, wrt)
        return replacement, (replacement, replaced)

    previous, (replacement, replaced) = _registry.update(original, make)
    if replaced is not None:
        warn(
            f"{operator}: replacing the {kind} registered earlier ({_name(replaced)}) with "
            f"{_name(derivative_function)}",
            DerivativeRegistrationWarning,
        )
    target.install(replacement, previous)
    return replacement


def register_derivative(*, of: Any, wrt: Any = None) -> Callable[[Callable], Callable]:
    """The registration face of ``sd.derivative``: ``@sd.derivative(of=f)`` (see ``derivative``).

    Everything about ``of=`` and ``wrt=`` is checked here, before the decorator is applied.
    """
    if of is None:
        raise TypeError(
            "sd.derivative: missing of=; use @sd.derivative(of=f) to register a derivative "
            "or sd.derivative(at=x, of=f) for forward mode"
        )
    if not callable(of) and not isinstance(of, (property, staticmethod, classmethod)):
        raise TypeError(f"sd.derivative: of= must be a function, method or property, got {describe(of)}")
    target = _Target(of, f"sd.derivative(of={getattr(of, '__name__', None) or type(of).__name__})")
    positions = _wrt_parameters(target.function, wrt, target.operator)

    def register(derivative_function):
        _register(target, derivative_function, positions)
        return derivative_function

    return register


def derivative(*, of: Any = None, at: Any = _MISSING, in_: Any = None, wrt: Any = None) -> Any:
    """Swift ``@derivative(of: f)`` (registration) and ``derivative(at:of:)`` (forward mode).

    **Registration** (no ``at=``)::

        @sd.derivative(of=f)             # or wrt="x" / wrt=("x", "y") / wrt=0
        def f_derivative(x):
            y = f(x)
            return y, lambda v: v * y    # (value, pullback)

    The decorated function takes ``f``'s arguments and returns ``(value, pullback)``; ``pullback(v)``
    returns one tangent per differentiable argument (bare for one). The decorator returns the
    derivative function unchanged.

    **Differentials** (Swift's ``(value:, differential:)``): a derivative returning
    ``sd.ValueWithDifferential(value, differential)`` registers a forward-mode derivative (a JVP):
    ``differential(*tangents)`` takes one tangent per slot (a layer's is its ``TangentVector``) and
    returns the result's tangent. ``f`` may have one pullback and one differential, registered in
    either order:

    * reverse mode (``gradient``, ``pullback``, a ``tf.GradientTape``, Keras training) uses the
      registered pullback, or the differential's transpose when there is none (exact: a differential
      is linear in its tangents);
    * forward mode (``differential``, ``derivative(at=)``, ``value_with_derivative``,
      ``value_with_differential``) calls the registered differential itself, or transposes the
      pullback when there is none.

    Which kind a derivative function is, is read from its code when it is registered: one whose
    return annotation or own body names ``ValueWithDifferential`` is a differential, any other a
    pullback. What it returns when called decides: a differential built by a helper function works
    alone; next to a pullback, annotate it ``-> sd.ValueWithDifferential`` (two of one kind are a
    ``TypeError`` when first used). A second registration of the same kind replaces the first with a
    ``DerivativeRegistrationWarning``; one of the other kind joins it without a warning. Both must
    take the same ``wrt=``.

    **Higher order** (``sd.differential(at=x, of=lambda x: sd.gradient(at=x, of=g))`` is the
    Hessian-vector product of ``g``, exact through ``f``): the derivative of ``f``'s pullback with
    respect to its cotangent (what forward mode's transposition takes) is ``f``'s registered
    differential when there is one, else TensorFlow's derivative of the pullback; how the pullback
    and the differential depend on ``f``'s arguments is TensorFlow's derivative of their code. So
    write them with TensorFlow operations on tensors derived from the arguments. A pullback (or a
    differential) that depends on its cotangent (its tangents) in a way TensorFlow cannot
    differentiate (NumPy, Python numbers, an operation without a gradient) is a ``TypeError`` where
    forward mode or a higher-order derivative needs its derivative, never a zero (in a graph, an
    assertion that fails when it runs). A value a derivative takes out of TensorFlow (``x.numpy()``,
    ``float(x)``) or blocks (``tf.stop_gradient``) is a constant to higher-order derivatives, as in
    any TensorFlow code (like a comparison mask, whose derivative is zero).

    Which arguments have a tangent slot (one rule, Swift's): the call is bound to ``f``'s signature
    with defaults applied; a parameter whose value holds a floating leaf (a tensor, a Python float,
    a variable, a layer, a nest holding one) has a slot, keyword-only ones included, in signature
    order; one holding none (an ``int`` count, a string, ``None``, a method's plain ``self``) has
    none. ``wrt=`` narrows further. Cotangents reach the pullback as dense tensors.

    What can be registered: functions, methods (``of=C.method``), static methods, class methods and
    property getters (``of=C.prop``); every call through the class or an instance uses the
    derivative. A ``tf.function``, a ``functools.partial``, a callable instance, a builtin or a
    framework function (``tf.round``), a lambda no module-level name holds and a method of a class
    defined inside a function are a ``TypeError`` at once: wrap them in a function of your own.

    Which calls use it:

    * ``f``'s module-level (or class-level) name is rebound to a differentiable replacement, so
      every function that calls ``f`` by that name — including ones defined earlier and
      differentiated later — uses the registered derivative: ``sd.gradient``, a bare
      ``tf.GradientTape``, ``tf.function``, XLA and Keras training.
    * Handing the original function object to an operator (``sd.gradient(of=f)``) uses it too,
      through the global registry, even for functions defined inside another function (which have
      no name to rebind: only that path reaches them).
    * A copy bound elsewhere before registration (``from m import f`` in another module, or a
      local variable holding ``f``) is **not** affected when called directly: rebinding changes a
      name, not the function object. Import after registering, or call ``m.f``.
    * ``tf.function`` traces made before registration keep the derivative they were traced with.
    * Calls that are not being differentiated (eager, no tape active) run ``f`` exactly as written.
    * Inside the derivative function, ``f`` is the original: calling it does not recurse.
    * Registering a second derivative of the same kind (pullback or differential) for ``f`` replaces
      the first and emits a ``DerivativeRegistrationWarning`` (Swift rejects it at compile time;
      Python re-runs cells).

    **Forward mode** (with ``at=``): ``sd.derivative(at=x, of=f)`` is the derivative of ``f`` at
    floating scalar points, Swift's ``derivative(at:of:)``.

    Args:
        of: the function to register a derivative for (registration), or to differentiate
            (forward mode; ``in_=`` also accepted there).
        at: the floating scalar point(s) (forward mode only).
        wrt: parameter names or positions to differentiate (registration only).

    Returns:
        The registering decorator, or (forward mode) the derivative at ``at``.

    Raises:
        TypeError: ``of=`` is missing, not callable, or cannot be registered (see above).
        ValueError: ``wrt=`` names no parameter of ``of``.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> def cube(x):
        ...     return x * x * x
        >>> @sd.derivative(of=cube)
        ... def cube_derivative(x):
        ...     return cube(x), lambda v: v * 100.0
        >>> float(sd.gradient(at=2.0, of=cube))
        100.0
        >>> float(sd.derivative(at=2.0, of=lambda x: x * x))
        4.0

        A pullback and a differential for one function, deliberately different here so that each
        mode shows which it uses; then a Hessian-vector product through a registered pullback:

        >>> def square(x):
        ...     return x * x
        >>> @sd.derivative(of=square)
        ... def square_pullback(x):
        ...     return square(x), lambda v: v * 10.0
        >>> @sd.derivative(of=square)
        ... def square_differential(x):
        ...     return sd.ValueWithDifferential(square(x), lambda t: t * 20.0)
        >>> float(sd.gradient(at=3.0, of=square)), float(sd.derivative(at=3.0, of=square))
        (10.0, 20.0)
        >>> def sin_cubed(x):
        ...     return tf.sin(x) ** 3
        >>> @sd.derivative(of=sin_cubed)
        ... def sin_cubed_pullback(x):
        ...     return sin_cubed(x), lambda v: v * 3.0 * tf.sin(x) ** 2 * tf.cos(x)
        >>> x, v = tf.constant([0.5, 1.0]), tf.constant([1.0, 2.0])
        >>> def loss(x):
        ...     return tf.reduce_sum(sin_cubed(x))
        >>> hvp = sd.differential(at=x, of=lambda x: sd.gradient(at=x, of=loss))(v)
        >>> exact = v * (6 * tf.sin(x) * tf.cos(x) ** 2 - 3 * tf.sin(x) ** 3)
        >>> bool(tf.reduce_all(tf.abs(hvp - exact) < 1e-6))
        True
    """
    if at is not _MISSING:
        if wrt is not None:
            raise TypeError(
                "sd.derivative(at=..., of=...) is the forward-mode operator; wrt= belongs "
                "to the @sd.derivative(of=f) registration form"
            )
        return derivative_at(at=at, of=of, in_=in_)
    return register_derivative(of=given_function("sd.derivative", of, in_), wrt=wrt)


# ---------------------------------------------------------------------------------------------
# withoutDerivative / withDerivative
# ---------------------------------------------------------------------------------------------


def _block(leaf):
    if isinstance(leaf, (tf.Variable, keras.Variable)):
        return tf.stop_gradient(tf.convert_to_tensor(leaf))
    if isinstance(leaf, tf.Tensor):
        return tf.stop_gradient(leaf)
    return leaf  # ints, Python floats, strings, layers: nothing flows through them to block


def without_derivative(at: Any = _MISSING, *, of: Callable | None = None, in_: Callable | None = None) -> Any:
    """Swift ``withoutDerivative(at:)`` and ``withoutDerivative(at:in:)``: stops derivatives.

    Using it also silences ``ZeroDerivativeWarning``, exactly as it silences Swift's compiler
    warning.

    Args:
        at: any value, nests included; non-floating leaves (a loop bound) pass through unchanged.
        of: optional body: ``without_derivative(at=x, of=body)`` is ``body(x)`` with derivatives
            blocked, and no tape records ``body`` (``in_=`` also accepted).

    Returns:
        ``at`` (or ``body(at)``) with every floating leaf behind a gradient stop.

    Raises:
        TypeError: ``at=`` is missing, or the body is not callable.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> g = sd.gradient(at=(2.0, 3.0), of=lambda x, y:
        ...     tf.sin(tf.sin(tf.sin(x))) + sd.without_derivative(at=tf.cos(tf.cos(tf.cos(y)))))
        >>> [round(float(t), 8) for t in g]
        [-0.18009877, 0.0]
    """
    if at is _MISSING:
        raise TypeError("sd.without_derivative: missing at=, the value whose derivative to block")
    body = given_function("sd.without_derivative", of, in_)
    _context.note_without_derivative()
    if body is None:
        return _nest.map_leaves(_block, at)
    body = resolve_function("sd.without_derivative", body, None, what="the body")
    with stop_recording():
        value = body(at)
    return _nest.map_leaves(_block, value)


def _hook_token():
    """The token that chains hooks of the current graph (see ``_context``)."""
    token = _context.hook_token()
    if token is not None:
        if tf.executing_eagerly():
            valid = not tf.is_symbolic_tensor(token)
        else:
            valid = tf.is_symbolic_tensor(token) and token.graph is tf.compat.v1.get_default_graph()
        if valid:
            return token
    return tf.zeros([], tf.float32)


def _check_hook_result(result, cotangent):
    if result is None:
        return cotangent
    if isinstance(result, (int, float)) and not isinstance(result, bool):
        return tf.fill(tf.shape(cotangent), tf.cast(result, cotangent.dtype))  # Swift's `dx = 0.5`
    return conform(
        result, cotangent.dtype, cotangent.shape, "the hook's cotangent", "the value", "sd.with_derivative"
    )


def with_derivative(x: Any, hook: Callable[[tf.Tensor], Any]) -> tf.Tensor:
    """Swift ``x.withDerivative { ... }``: identity forward; ``hook`` sees (and may replace) the cotangent.

    Hooks run in reverse order of creation, like Swift's pullbacks; a hook on a value that does
    not reach the result is never called; forward mode passes through unchanged. A hook belongs to
    the swiftdiff operator it was made under: an outer differentiation (an HVP, a gradient of a
    gradient taken with the operators) differentiates the identity it is. Made under no operator,
    inside raw gradient tapes, it acts on every reverse pass that reaches it, so two nested
    tapes apply it twice (their Hessian differs from the operators' one).

    Args:
        x: a floating value (a tensor, a variable, a Python float).
        hook: called in the backward pass with the cotangent reaching ``x`` (always a dense
            tensor). Returning a value replaces the cotangent (Swift's ``inout`` mutation; a Python
            number fills the shape); returning ``None`` keeps it.

    Returns:
        ``x`` as a tensor, unchanged.

    Raises:
        TypeError: ``hook`` is not callable, ``x`` is not floating, or the hook returns a tensor of
            another dtype.
        ValueError: the hook returns a tensor of another shape.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> seen = []
        >>> g = sd.gradient(at=30.0, of=lambda x:
        ...     sd.with_derivative(tf.sin(x), lambda d: seen.append(float(d)))
        ...     + tf.math.log(sd.with_derivative(x, lambda d: 0.5)))
        >>> round(float(g), 8), seen
        (0.65425146, [1.0])
    """
    if not callable(hook):
        raise TypeError(
            f"sd.with_derivative: the hook must be a function of the cotangent, got {describe(hook)}"
        )
    if isinstance(x, (tf.Variable, keras.Variable)):
        x = tf.convert_to_tensor(x)
    x = convert_floating(x, "the value", "sd.with_derivative")
    if not _context.hooks_enabled() or (tf.executing_eagerly() and not could_possibly_record()):
        return x

    owner = _context.hook_owner()

    def forward(inputs):
        value, token = inputs

        def backward(cotangents, variables):
            # The token's gradient is None so that an earlier hook is only reached through its value.
            cotangent = cotangents[0]
            if _context.level() is not owner:
                # An outer differentiation (an HVP's forward mode, a second reverse pass) is
                # differentiating the identity this is: it sees the identity.
                return [cotangent, None], [None] * len(variables)
            return [_check_hook_result(hook(cotangent), cotangent), None], [None] * len(variables)

        return (tf.identity(value), tf.identity(token)), backward

    y, token = custom_gradient_call(forward, [x, _hook_token()])
    _context.set_hook_token(token)
    return y


# ---------------------------------------------------------------------------------------------
# unbroadcasted
# ---------------------------------------------------------------------------------------------


def unbroadcasted(t: Any, *, to: Any = None, like: Any = None) -> tf.Tensor:
    """Swift ``Tensor.unbroadcasted(to:)`` / ``(like:)``: sums ``t`` down to ``shape``.

    The inverse of broadcasting, which every pullback of a broadcasting operation needs.

    Args:
        t: the tensor to reduce.
        to: the target shape (a list, ``tf.TensorShape`` or shape tensor).
        like: a tensor whose shape is the target (instead of ``to=``).

    Returns:
        ``t`` summed over the broadcast axes and reshaped to the target shape.

    Raises:
        TypeError: neither or both of ``to=`` and ``like=``, or ``to=`` is not a shape.
        ValueError: the target shape does not broadcast to ``t``'s shape.

    Examples:
        >>> import tensorflow as tf, swiftdiff as sd
        >>> sd.unbroadcasted(tf.ones([2, 3]), to=[3]).numpy().tolist()
        [2.0, 2.0, 2.0]
        >>> sd.unbroadcasted(tf.ones([2, 3]), to=[2, 1]).numpy().tolist()
        [[3.0], [3.0]]
    """
    if (to is None) == (like is None):
        raise TypeError("sd.unbroadcasted: pass exactly one of to= (a shape) or like= (a tensor)")
    tensor = tf.convert_to_tensor(t)
    if like is not None:
        like = tf.convert_to_tensor(like)
        target = like.shape if like.shape.is_fully_defined() else tf.shape(like)
    else:
        target = to
    if isinstance(target, tf.Tensor) and not tf.is_symbolic_tensor(target):
        target = target.numpy().tolist()
    if isinstance(target, tf.Tensor):  # a shape known only at run time
        reduce_axes, _ = tf.raw_ops.BroadcastGradientArgs(s0=tf.cast(target, tf.int32), s1=tf.shape(tensor))
        return tf.reshape(tf.reduce_sum(tensor, axis=reduce_axes, keepdims=True), target)
    try:
        shape = tf.TensorShape(target)
    except (TypeError, ValueError):
        raise TypeError(f"sd.unbroadcasted: to= must be a shape, got {describe(target)}") from None
    if shape.rank is None or not shape.is_fully_defined():
        raise ValueError(f"sd.unbroadcasted: to= must be a fully defined shape, got {shape}")
    source = tensor.shape
    if source.rank is None or shape.rank > source.rank:
        raise ValueError(f"sd.unbroadcasted: cannot sum a tensor of shape {source} down to {shape}")
    dims = shape.as_list()
    offset = source.rank - len(dims)
    axes = list(range(offset))
    for index, size in enumerate(dims):
        have = source[offset + index]
        if size == 1 and have != 1:
            axes.append(offset + index)
        elif have is not None and have != size:
            raise ValueError(
                f"sd.unbroadcasted: shape {shape.as_list()} does not broadcast to {source.as_list()}"
            )
    return tf.reshape(tf.reduce_sum(tensor, axis=axes), dims) if axes else tf.reshape(tensor, dims)
