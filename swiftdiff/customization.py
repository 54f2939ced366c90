"""Derivative customization (Swift ``DifferentiationUtilities.swift`` and attributes).

``@derivative(of:)``, ``@differentiable``, ``differentiableFunction(from:)``,
``withoutDerivative(at:)``, ``withDerivative(_:)`` and ``unbroadcasted(to:)``.
"""

from __future__ import annotations

import functools
import inspect
import warnings

import keras
import tensorflow as tf

from . import _context, _nest, registry
from ._custom_vjp import _split_vjp_result, call_with_vjp
from ._points import conform, convert_floating, describe, lazy_parameter_names
from ._platform_internals import could_possibly_record, stop_recording
from .diagnostics import DerivativeRegistrationWarning
from .operators import _MISSING, derivative_at

# ---------------------------------------------------------------------------------------------
# @differentiable
# ---------------------------------------------------------------------------------------------


def differentiable(function=None, /, *modes, wrt=None, reverse=None):
    """Swift ``@differentiable``, ``@differentiable(reverse)``, ``@differentiable(wrt: x)``.

    A marker: accepted on functions and methods, it never changes what they compute. It records
    ``wrt`` on the function as ``__differentiable_wrt__`` for documentation and tooling.

    Example::

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
        try:
            target.__differentiable_wrt__ = wrt
        except (AttributeError, TypeError):
            pass  # builtins and some descriptors take no attributes; the marker is optional
        return target

    if function is not None and (callable(function) or isinstance(function, (staticmethod, classmethod))):
        return mark(function)
    return mark


# ---------------------------------------------------------------------------------------------
# differentiableFunction(from:)
# ---------------------------------------------------------------------------------------------


def differentiable_function(*, from_):
    """Swift ``differentiableFunction(from:)``: a function whose derivative is the given VJP.

    ``from_(*args)`` returns ``(value, pullback)``; ``pullback(v)`` returns one tangent per argument
    (bare for one). Arguments may be tensors, nests, variables and Keras layers (whose tangent is a
    ``TangentVector``); non-floating arguments (ints, strings) pass through undifferentiated.

    Example (the tutorial's checkpointing API, written as user code)::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> def make_recomputed_in_gradient(original):
        ...     return sd.differentiable_function(from_=lambda x: (
        ...         original(x), lambda v: sd.pullback(at=x, of=original)(v)))
        >>> square = make_recomputed_in_gradient(lambda x: x * x)
        >>> float(sd.gradient(at=3.0, of=square))
        6.0
    """
    if not callable(from_):
        raise TypeError(f"sd.differentiable_function: from_= must be a function returning "
                        f"(value, pullback), got {describe(from_)}")
    vjp_name = getattr(from_, "__name__", "vjp")
    label = f"sd.differentiable_function(from_={vjp_name})"

    @functools.wraps(from_)
    def function(*args):
        if tf.executing_eagerly() and not could_possibly_record():
            return _split_vjp_result(from_(*args), label)[0]  # not differentiated: just the value
        return call_with_vjp(from_, args, name=label, names=lazy_parameter_names(from_, len(args)),
                             differentiable=set(range(len(args))))

    function.__name__ = f"differentiable_{vjp_name}"
    return function


# ---------------------------------------------------------------------------------------------
# @derivative(of:)
# ---------------------------------------------------------------------------------------------


def _wrt_positions(original, wrt, operator: str) -> set | None:
    if wrt is None:
        return None
    items = wrt if isinstance(wrt, (tuple, list)) else (wrt,)
    try:
        params = [p.name for p in inspect.signature(original).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    positions = set()
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise TypeError(f"{operator}: wrt= takes parameter names or positions, got {describe(item)}")
        if isinstance(item, str):
            if item not in params:
                raise ValueError(f"{operator}: wrt={item!r} is not a parameter of "
                                 f"{getattr(original, '__name__', original)} (parameters: {params})")
            positions.add(params.index(item))
        else:
            if item < 0 or (params and item >= len(params)):
                raise ValueError(f"{operator}: wrt={item} is out of range for "
                                 f"{getattr(original, '__name__', original)} ({len(params)} parameters)")
            positions.add(item)
    return positions


def _rebind(original, old, replacement) -> bool:
    """Points the name ``original`` was defined under at ``replacement`` (module or class level)."""
    module = getattr(original, "__module__", "") or ""
    qualname = getattr(original, "__qualname__", "")
    namespace = getattr(original, "__globals__", None)
    if (not qualname or "<" in qualname or namespace is None
            or module.split(".")[0] in ("tensorflow", "keras", "tf_keras")):
        return False  # local functions and framework internals are reached through the registry only
    *owners, last = qualname.split(".")
    if not owners:
        if namespace.get(last) in (original, old):
            namespace[last] = replacement
            return True
        return False
    owner = namespace.get(owners[0])
    for part in owners[1:]:
        owner = getattr(owner, part, None)
    if owner is not None and vars(owner).get(last) in (original, old):
        setattr(owner, last, replacement)
        return True
    return False


def _register(of, derivative_function, wrt):
    operator = f"sd.derivative(of={getattr(of, '__name__', 'f')})"
    if not callable(of):
        raise TypeError(f"sd.derivative: of= must be a function, got {describe(of)}")
    if not callable(derivative_function):
        raise TypeError(f"{operator}: the decorated derivative must be a function, got "
                        f"{describe(derivative_function)}")
    original = registry.original_of(of)
    positions = _wrt_positions(original, wrt, operator)
    name = getattr(original, "__qualname__", getattr(original, "__name__", repr(original)))
    label = (f"the derivative registered for {name} "
             f"({getattr(derivative_function, '__name__', 'derivative')})")
    try:
        signature = inspect.signature(original)
    except (TypeError, ValueError):
        signature = None

    @functools.wraps(original)
    def replacement(*args, **kwargs):
        if _context.is_deriving(original) or (tf.executing_eagerly() and not could_possibly_record()):
            return original(*args, **kwargs)
        if kwargs and signature is not None:
            bound = signature.bind(*args, **kwargs)
            args, kwargs = bound.args, bound.kwargs

        def vjp(*call_args):
            with _context.deriving(original):
                return derivative_function(*call_args, **kwargs)

        differentiable_positions = positions if positions is not None else set(range(len(args)))
        return call_with_vjp(vjp, args, name=label, names=lazy_parameter_names(original, len(args)),
                             differentiable=differentiable_positions)

    replacement.__swiftdiff_original__ = original
    replacement.__swiftdiff_derivative__ = derivative_function
    previous = registry.store(original, replacement)
    if previous is not None:
        warnings.warn(f"{operator}: replacing the derivative registered earlier "
                      f"({getattr(previous.__swiftdiff_derivative__, '__name__', '?')}) with "
                      f"{getattr(derivative_function, '__name__', '?')}",
                      DerivativeRegistrationWarning, stacklevel=3)
    _rebind(original, previous, replacement)
    return replacement


def derivative(*, of=None, at=_MISSING, in_=None, wrt=None):
    """Swift ``@derivative(of: f)`` (registration) and ``derivative(at:of:)`` (forward mode).

    **Registration** (no ``at=``)::

        @sd.derivative(of=f)             # or wrt="x" / wrt=("x", "y") / wrt=0
        def f_derivative(x):
            y = f(x)
            return y, lambda v: v * y    # (value, pullback)

    The decorated function takes ``f``'s arguments and returns ``(value, pullback)``; ``pullback(v)``
    returns one tangent per differentiable argument (bare for one). The decorator returns the
    derivative function unchanged.

    The exact rule for which calls use it:

    * ``f``'s module-level (or class-level) name is rebound to a differentiable replacement, so
      every function that calls ``f`` by that name — including ones defined earlier and
      differentiated later — uses the registered derivative: ``sd.gradient``, a bare
      ``tf.GradientTape``, ``tf.function``, XLA and Keras training.
    * Handing the original function object to an operator (``sd.gradient(of=f)``) uses it too,
      through the global registry, even for functions defined inside another function.
    * A copy bound elsewhere before registration (``from m import f`` in another module, or a
      local variable holding ``f``) is **not** affected when called directly: rebinding changes a
      name, not the function object. Import after registering, or call ``m.f``.
    * ``tf.function`` traces made before registration keep the derivative they were traced with.
    * Calls that are not being differentiated (eager, no tape active) run ``f`` exactly as written.
    * Inside the derivative function, ``f`` is the original: calling it does not recurse.
    * Registering a second derivative for the same ``f`` replaces the first and emits a
      ``DerivativeRegistrationWarning`` (Swift rejects it at compile time; Python re-runs cells).

    **Forward mode** (with ``at=``): ``sd.derivative(at=x, of=f)`` is the derivative of ``f`` at
    floating scalar points, Swift's ``derivative(at:of:)``.

    Example::

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
    """
    if at is not _MISSING:
        if wrt is not None:
            raise TypeError("sd.derivative(at=..., of=...) is the forward-mode operator; wrt= belongs "
                            "to the @sd.derivative(of=f) registration form")
        return derivative_at(at=at, of=of, in_=in_)
    if of is not None and in_ is not None:
        raise TypeError("sd.derivative: pass the function once, as of= or in_=, not both")
    function = of if of is not None else in_
    if function is None:
        raise TypeError("sd.derivative: missing of=; use @sd.derivative(of=f) to register a derivative "
                        "or sd.derivative(at=x, of=f) for forward mode")

    def register(derivative_function):
        _register(function, derivative_function, wrt)
        return derivative_function

    return register


# ---------------------------------------------------------------------------------------------
# withoutDerivative / withDerivative
# ---------------------------------------------------------------------------------------------


def _block(leaf):
    if isinstance(leaf, (tf.Variable, keras.Variable)):
        return tf.stop_gradient(tf.convert_to_tensor(leaf))
    if isinstance(leaf, tf.Tensor):
        return tf.stop_gradient(leaf)
    return leaf  # ints, Python floats, strings, layers: nothing flows through them to block


def without_derivative(at=_MISSING, *, of=None, in_=None):
    """Swift ``withoutDerivative(at:)`` and ``withoutDerivative(at:in:)``: stops derivatives.

    ``without_derivative(at=x)`` is ``x`` with derivatives blocked (a gradient stop); it takes any
    value, nests included, and passes non-floating leaves (a loop bound) through unchanged.
    ``without_derivative(at=x, of=body)`` (or ``in_=body``) is ``body(x)`` with derivatives blocked;
    ``body`` is not recorded by any tape. Using it also silences ``ZeroDerivativeWarning``, exactly
    as it silences Swift's compiler warning.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> g = sd.gradient(at=(2.0, 3.0), of=lambda x, y:
        ...     tf.sin(tf.sin(tf.sin(x))) + sd.without_derivative(at=tf.cos(tf.cos(tf.cos(y)))))
        >>> [round(float(t), 8) for t in g]
        [-0.18009877, 0.0]
    """
    if at is _MISSING:
        raise TypeError("sd.without_derivative: missing at=, the value whose derivative to block")
    if of is not None and in_ is not None:
        raise TypeError("sd.without_derivative: pass the body once, as of= or in_=, not both")
    body = of if of is not None else in_
    _context.note_without_derivative()
    if body is None:
        return _nest.map_leaves(_block, at)
    if not callable(body):
        raise TypeError(f"sd.without_derivative: of= must be a function, got {describe(body)}")
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
    return conform(result, cotangent.dtype, cotangent.shape, "the hook's cotangent", "the value",
                   "sd.with_derivative")


def with_derivative(x, hook):
    """Swift ``x.withDerivative { ... }``: identity forward; ``hook`` sees (and may replace) the cotangent.

    In the backward pass ``hook(g)`` receives the cotangent reaching ``x``. Returning a value
    replaces it (Swift's ``inout`` mutation; a Python number fills the shape), returning ``None``
    keeps it. Hooks run in reverse order of creation, like Swift's pullbacks; a hook on a value
    that does not reach the result is never called; forward mode passes through unchanged.

    Example::

        >>> import tensorflow as tf, swiftdiff as sd
        >>> seen = []
        >>> g = sd.gradient(at=30.0, of=lambda x:
        ...     sd.with_derivative(tf.sin(x), lambda d: seen.append(float(d)))
        ...     + tf.math.log(sd.with_derivative(x, lambda d: 0.5)))
        >>> round(float(g), 8), seen
        (0.65425146, [1.0])
    """
    if not callable(hook):
        raise TypeError(f"sd.with_derivative: the hook must be a function of the cotangent, got "
                        f"{describe(hook)}")
    if isinstance(x, (tf.Variable, keras.Variable)):
        x = tf.convert_to_tensor(x)
    x = convert_floating(x, "the value", "sd.with_derivative")
    if not _context.hooks_enabled() or (tf.executing_eagerly() and not could_possibly_record()):
        return x

    @tf.custom_gradient
    def hooked(value, token):
        def backward(cotangent, _token_cotangent):
            # The token's gradient is None so that an earlier hook is only reached through its value.
            return _check_hook_result(hook(cotangent), cotangent), None
        return (tf.identity(value), tf.identity(token)), backward

    y, token = hooked(x, _hook_token())
    _context.set_hook_token(token)
    return y


# ---------------------------------------------------------------------------------------------
# unbroadcasted
# ---------------------------------------------------------------------------------------------


def unbroadcasted(t, *, to=None, like=None):
    """Swift ``Tensor.unbroadcasted(to:)`` / ``(like:)``: sums ``t`` down to ``shape``.

    The inverse of broadcasting, which every pullback of a broadcasting operation needs.

    Example::

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
        reduce_axes, _ = tf.raw_ops.BroadcastGradientArgs(s0=tf.cast(target, tf.int32),
                                                          s1=tf.shape(tensor))
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
            raise ValueError(f"sd.unbroadcasted: shape {shape.as_list()} does not broadcast to "
                             f"{source.as_list()}")
    return tf.reshape(tf.reduce_sum(tensor, axis=axes), dims) if axes else tf.reshape(tensor, dims)
