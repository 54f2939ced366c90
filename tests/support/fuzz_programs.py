"""The program model behind tests/test_fuzz.py: small straight-line programs, four interpreters and
the independent references they are checked against.

A ``Program`` is a list of ``Node``s over ``n_inputs`` input slots. It is run by one of four
interpreters (``evaluate(program, inputs, backend)``):

* ``"sd"``: the subject. Registered functions are called through their module-level names (so the
  derivative registered below is used), ``with_derivative`` hooks and
  ``with_recomputation_in_pullbacks`` bodies are real swiftdiff calls.
* ``"tf"``: the reference for reverse mode. Plain TensorFlow: registered functions are replaced by
  plain twins (never registered), hooks by the identity (or a plain ``tf.custom_gradient`` for the
  hook that doubles its cotangent), checkpointed bodies by the body itself.
* ``"tf_forward"``: the reference for forward mode (``accumulator_jvp``, or ``transposed_jvp`` when
  values or tangents are not finite): as ``"tf"`` but every hook is the identity (hooks act in
  reverse mode only).
* ``"np"``: float64 NumPy, for central finite differences.

Registered derivatives (``@sd.derivative(of=...)``) are registered once, when this module is
imported, as Swift registers them at file scope; every registered pullback is the true derivative,
written as TensorFlow's autodiff computes it from the plain twin (the same products and sums in the
same order, so that NaN and infinities propagate exactly as through the plain twin), and records
the cotangents it is handed in ``RECORDER`` (the contract says they are dense tensors shaped like
the result).

The randomness helpers at the bottom are the checkpointed bodies of ``test_fuzz``'s randomness test:
module-level functions that reach a ``tf.random.Generator`` in different ways.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import swiftdiff as sd

BOUND_LIMIT = 6.0  # the largest magnitude a generated node may reach (keeps FD well conditioned)


# ---------------------------------------------------------------------------------------------
# What user code handed to swiftdiff saw
# ---------------------------------------------------------------------------------------------


class Recorder:
    """Calls of registered pullbacks/differentials and hooks, and contract violations they saw."""

    def __init__(self):
        self.calls = collections.Counter()
        self.violations: list[str] = []

    def reset(self):
        self.calls.clear()
        self.violations.clear()

    def saw(self, who, value, like=None):
        """``value`` was handed to user code ``who``: it must be a dense tensor (shaped like ``like``)."""
        self.calls[who] += 1
        if not isinstance(value, tf.Tensor):
            self.violations.append(f"{who} was handed a {type(value).__name__}, not a dense tf.Tensor")
            return
        if like is not None:
            like = tf.convert_to_tensor(like)
            if value.dtype != like.dtype or not value.shape.is_compatible_with(like.shape):
                self.violations.append(
                    f"{who} was handed a {value.dtype.name}{value.shape} cotangent "
                    f"for a {like.dtype.name}{like.shape} value"
                )


RECORDER = Recorder()


def _slot_tangent(argument, tangent):
    """The tangent of a scalar argument (a Python-float default, or the scalar tensor an
    implementation may bind it to): the cotangent summed down to a scalar; otherwise as is."""
    if isinstance(argument, float):
        return tf.cast(tf.reduce_sum(tangent), tf.float32)
    if tf.convert_to_tensor(argument).shape.rank == 0 and tangent.shape.rank != 0:
        return tf.reduce_sum(tangent)
    return tangent


# ---------------------------------------------------------------------------------------------
# Functions with registered derivatives (and their plain and NumPy twins)
# ---------------------------------------------------------------------------------------------


class Config:
    """A plain object (not a nest, not a layer): an argument of this type has no tangent slot."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def __repr__(self):
        return "fz.CONFIG"


CONFIG = Config(1.5, -0.5)


def sin_n(x, n):
    """``n`` is an int: no tangent slot."""
    return tf.sin(x) * n


def mix(x, cfg, y):
    """``cfg`` is a plain object: no tangent slot."""
    return x * cfg.a + tf.tanh(y) * cfg.b


def kw_only(x, *, w):
    """A keyword-only floating parameter has a slot."""
    return x * tf.tanh(w)


def with_default(x, y=0.5):
    """A defaulted floating parameter has a slot, also when the default is used."""
    return x * y + y


def mixed_sig(x, n=2, *, scale=1.0, y):
    """Slots x, scale, y (in signature order); n is an int."""
    return tf.sin(x) * scale + y * n


class Affine:
    def __init__(self, k):
        self.k = k

    def __repr__(self):
        return "fz.AFFINE"

    def apply(self, x, y):
        """A method: ``self`` (a plain object) has no slot."""
        return self.k * x * y + x


AFFINE = Affine(0.75)


class Ops:
    K = 0.5

    @staticmethod
    def static_mul(x, y):
        return x * tf.sin(y)

    @classmethod
    def class_sq(cls, x):
        return cls.K * tf.square(x)


def nest_fn(p):
    """One nest argument (a dict), possibly holding the same tensor in both fields."""
    return p["a"] * tf.cos(p["b"])


def jvp_fn(x, y):
    """Registered with a forward-mode derivative only (reverse mode transposes it)."""
    return x * y + tf.sin(x)


# Function objects as they were before registration (Swift: the function value handed to an
# operator). Registration must reach them through the function object as well.
ORIGINALS = {
    "static_mul": Ops.static_mul,
    "with_default": with_default,
    "nest_fn": nest_fn,
    "jvp_fn": jvp_fn,
}


def _formulas(m):
    """The registered functions' bodies written once, over the array module ``m`` (``tf`` or ``np``:
    both spell sin, tanh, square and cos alike)."""
    return {
        "sin_n": lambda x, n: m.sin(x) * n,
        "mix": lambda x, cfg, y: x * cfg.a + m.tanh(y) * cfg.b,
        "kw_only": lambda x, *, w: x * m.tanh(w),
        "with_default": lambda x, y=0.5: x * y + y,
        "mixed_sig": lambda x, n=2, *, scale=1.0, y: m.sin(x) * scale + y * n,
        "affine_apply": lambda self, x, y: self.k * x * y + x,
        "static_mul": lambda x, y: x * m.sin(y),
        "class_sq": lambda x: Ops.K * m.square(x),
        "nest_fn": lambda p: p["a"] * m.cos(p["b"]),
        "jvp_fn": lambda x, y: x * y + m.sin(x),
    }


PLAIN = _formulas(tf)  # the plain TensorFlow reference the tape differentiates
NUMPY = _formulas(np)  # the float64 reference finite differences evaluate


def _register_all():
    @sd.derivative(of=sin_n)
    def _sin_n_vjp(x, n):
        value = tf.sin(x) * n

        def pullback(v):
            RECORDER.saw("sin_n", v, value)
            return v * n * tf.cos(x)

        return value, pullback

    @sd.derivative(of=mix)
    def _mix_vjp(x, cfg, y):
        t = tf.tanh(y)
        value = x * cfg.a + t * cfg.b

        def pullback(v):
            RECORDER.saw("mix", v, value)
            return v * cfg.a, v * cfg.b * (1 - t * t)

        return value, pullback

    @sd.derivative(of=kw_only)
    def _kw_only_vjp(x, *, w):
        t = tf.tanh(w)
        value = x * t

        def pullback(v):
            RECORDER.saw("kw_only", v, value)
            return v * t, v * x * (1 - t * t)

        return value, pullback

    @sd.derivative(of=with_default)
    def _with_default_vjp(x, y=0.5):
        value = x * y + y

        def pullback(v):
            RECORDER.saw("with_default", v, value)
            return v * y, _slot_tangent(y, v * x + v)

        return value, pullback

    @sd.derivative(of=mixed_sig)
    def _mixed_sig_vjp(x, n=2, *, scale=1.0, y):
        s = tf.sin(x)
        value = s * scale + y * n

        def pullback(v):
            RECORDER.saw("mixed_sig", v, value)
            return v * scale * tf.cos(x), _slot_tangent(scale, v * s), v * n

        return value, pullback

    @sd.derivative(of=Affine.apply)
    def _affine_vjp(self, x, y):
        value = self.k * x * y + x

        def pullback(v):
            RECORDER.saw("affine_apply", v, value)
            return v * y * self.k + v, v * (self.k * x)

        return value, pullback

    @sd.derivative(of=Ops.static_mul)
    def _static_mul_vjp(x, y):
        s = tf.sin(y)
        value = x * s

        def pullback(v):
            RECORDER.saw("static_mul", v, value)
            return v * s, v * x * tf.cos(y)

        return value, pullback

    @sd.derivative(of=Ops.class_sq)
    def _class_sq_vjp(*args):  # (x) or (cls, x): the contract leaves open whether cls is passed
        x = args[-1]
        value = Ops.K * tf.square(x)

        def pullback(v):
            RECORDER.saw("class_sq", v, value)
            return v * Ops.K * (x * 2)

        return value, pullback

    @sd.derivative(of=nest_fn)
    def _nest_fn_vjp(p):
        a, b = p["a"], p["b"]
        value = a * tf.cos(b)

        def pullback(v):
            RECORDER.saw("nest_fn", v, value)
            return {"a": v * tf.cos(b), "b": -v * a * tf.sin(b)}

        return value, pullback

    @sd.derivative(of=jvp_fn)
    def _jvp_fn_jvp(x, y):
        def differential(tx, ty):
            RECORDER.saw("jvp_fn", tx, x)
            RECORDER.saw("jvp_fn", ty, y)
            return tx * y + x * ty + tf.cos(x) * tx

        return sd.ValueWithDifferential(x * y + tf.sin(x), differential)


try:
    _register_all()
    REGISTRATION_ERROR = None
except Exception as error:  # reported by the tests that use registered functions
    REGISTRATION_ERROR = error


def call_registered(name, args, param, backend):
    """Calls registered function ``name`` on node values ``args`` the way generated code does."""
    if backend == "sd":
        # Through the module-level (class-level) names, looked up now: the registered replacements.
        table = {
            "sin_n": sin_n,
            "mix": mix,
            "kw_only": kw_only,
            "with_default": with_default,
            "mixed_sig": mixed_sig,
            "static_mul": Ops.static_mul,
            "class_sq": Ops.class_sq,
            "nest_fn": nest_fn,
            "jvp_fn": jvp_fn,
        }
        function = table.get(name)
        if name == "affine_apply":
            return AFFINE.apply(*args) if param == "instance" else Affine.apply(AFFINE, *args)
    else:
        plain = (PLAIN if backend != "np" else NUMPY)[name]
        function = plain
        if name == "affine_apply":
            return plain(AFFINE, *args)
    if name == "sin_n":
        return function(args[0], param)
    if name == "mix":
        return function(args[0], CONFIG, args[1])
    if name == "kw_only":
        return function(args[0], w=args[1])
    if name == "with_default":
        if param == "default":
            return function(args[0])
        return function(args[0], args[1]) if param == "positional" else function(args[0], y=args[1])
    if name == "mixed_sig":
        kind, n = param
        if kind == "short":
            return function(args[0], y=args[1])
        if kind == "keyword_n":
            return function(args[0], n=n, y=args[1])
        return function(args[0], n, scale=args[2], y=args[1])
    if name == "nest_fn":
        return function({"a": args[0], "b": args[1]})
    return function(*args)


def render_registered(name, args, param):
    a = list(args) + [""] * 3
    if name == "sin_n":
        return f"fz.sin_n({a[0]}, {param})"
    if name == "mix":
        return f"fz.mix({a[0]}, fz.CONFIG, {a[1]})"
    if name == "kw_only":
        return f"fz.kw_only({a[0]}, w={a[1]})"
    if name == "with_default":
        if param == "default":
            return f"fz.with_default({a[0]})"
        keyword = "" if param == "positional" else "y="
        return f"fz.with_default({a[0]}, {keyword}{a[1]})"
    if name == "mixed_sig":
        kind, n = param
        if kind == "short":
            return f"fz.mixed_sig({a[0]}, y={a[1]})"
        if kind == "keyword_n":
            return f"fz.mixed_sig({a[0]}, n={n}, y={a[1]})"
        return f"fz.mixed_sig({a[0]}, {n}, scale={a[2]}, y={a[1]})"
    if name == "affine_apply":
        return (
            f"fz.AFFINE.apply({a[0]}, {a[1]})"
            if param == "instance"
            else f"fz.Affine.apply(fz.AFFINE, {a[0]}, {a[1]})"
        )
    if name == "static_mul":
        return f"fz.Ops.static_mul({a[0]}, {a[1]})"
    if name == "class_sq":
        return f"fz.Ops.class_sq({a[0]})"
    if name == "nest_fn":
        return f"fz.nest_fn({{'a': {a[0]}, 'b': {a[1]}}})"
    return f"fz.jvp_fn({a[0]}, {a[1]})"


def registered_arity(name, param) -> int:
    if name in ("sin_n", "class_sq"):
        return 1
    if name == "with_default":
        return 1 if param == "default" else 2
    if name == "mixed_sig":
        return 3 if param[0] == "full" else 2
    return 2


def registered_bound(name, param, b) -> float:
    if name == "sin_n":
        return float(param)
    if name == "mix":
        return 1.5 * b[0] + 0.5
    if name == "kw_only":
        return b[0]
    if name == "with_default":
        y = 0.5 if param == "default" else b[1]
        return b[0] * y + y
    if name == "mixed_sig":
        kind, n = param
        scale = b[2] if kind == "full" else 1.0
        return scale + b[1] * (n if kind != "short" else 2)
    if name == "affine_apply":
        return 0.75 * b[0] * b[1] + b[0]
    if name == "static_mul":
        return b[0]
    if name == "class_sq":
        return 0.5 * b[0] ** 2
    if name == "nest_fn":
        return b[0]
    return b[0] * b[1] + 1


REGISTERED = (
    "sin_n",
    "mix",
    "kw_only",
    "with_default",
    "mixed_sig",
    "affine_apply",
    "static_mul",
    "class_sq",
    "nest_fn",
    "jvp_fn",
)
FORWARD_REGISTERED = ("jvp_fn",)  # registered with a differential: forward mode must call it


# ---------------------------------------------------------------------------------------------
# Programs
# ---------------------------------------------------------------------------------------------

UNARY = ("sin", "tanh", "exp", "square", "affine", "gather")
BINARY = ("add", "mul", "matmul", "rowsum_mul")
HOOK_KINDS = ("none", "same", "double")


@dataclasses.dataclass(frozen=True)
class Node:
    op: str  # a name in UNARY/BINARY/REGISTERED, "const", "hook", "ckpt"
    args: tuple  # indices of earlier values (inputs first, then nodes)
    param: Any = None


@dataclasses.dataclass(frozen=True)
class Body:
    """The body of a checkpointed call: a program and how the int argument is passed."""

    program: Program
    n: int
    keyword: bool


@dataclasses.dataclass(frozen=True)
class Const:
    value: np.ndarray

    def __repr__(self):
        return f"Const({self.value.tolist()})"


@dataclasses.dataclass(frozen=True)
class Program:
    n_inputs: int
    nodes: tuple
    outputs: tuple  # value indices
    out_kind: str  # "scalar" (reduce_sum of outputs[0]), "single", "tuple", "dict"
    embed: tuple = ()  # scalar inputs: input i enters as input_i * embed[i] (a constant)

    def size(self) -> int:
        return self.n_inputs + len(self.nodes)


def _basic_tf(op, a, param, dtype):
    if op == "sin":
        return tf.sin(a[0])
    if op == "tanh":
        return tf.tanh(a[0])
    if op == "exp":
        return tf.exp(0.5 * a[0])
    if op == "square":
        return tf.square(a[0])
    if op == "affine":
        return 1.5 * a[0] - 0.25
    if op == "gather":
        return tf.gather(a[0], list(param), axis=0)
    if op == "add":
        return a[0] + a[1]
    if op == "mul":
        return a[0] * a[1]
    if op == "matmul":
        return 0.25 * tf.matmul(tf.matmul(a[0], a[1], transpose_b=True), a[0])
    if op == "rowsum_mul":
        return tf.reduce_sum(a[0], axis=param, keepdims=True) * a[1]
    if op == "const":
        return tf.constant(param.value, dtype)
    raise AssertionError(op)


def _basic_np(op, a, param):
    if op == "sin":
        return np.sin(a[0])
    if op == "tanh":
        return np.tanh(a[0])
    if op == "exp":
        return np.exp(0.5 * a[0])
    if op == "square":
        return np.square(a[0])
    if op == "affine":
        return 1.5 * a[0] - 0.25
    if op == "gather":
        return a[0][list(param)]
    if op == "add":
        return a[0] + a[1]
    if op == "mul":
        return a[0] * a[1]
    if op == "matmul":
        return 0.25 * ((a[0] @ a[1].T) @ a[0])
    if op == "rowsum_mul":
        return np.sum(a[0], axis=param, keepdims=True) * a[1]
    if op == "const":
        return param.value.astype(np.float64)
    raise AssertionError(op)


@tf.custom_gradient
def _double_cotangent(x):
    return tf.identity(x), lambda g: 2 * tf.convert_to_tensor(g)  # g may be tf.gather's IndexedSlices


def _make_hook(kind, path):
    who = ("hook",) + path

    def hook(g):
        RECORDER.saw(who, g)
        if kind == "none":
            return None
        if kind == "same":
            return g
        return 2 * g

    return hook


def _make_body(body: Body, path):
    """The Python function handed to with_recomputation_in_pullbacks (the int n rides along)."""
    if body.keyword:

        def checkpointed_body(*xs, n):
            return evaluate(body.program, list(xs), "sd", path) * (n * 0.5)
    else:

        def checkpointed_body(*args):
            *xs, n = args
            return evaluate(body.program, list(xs), "sd", path) * (n * 0.5)

    return checkpointed_body


def evaluate(program: Program, inputs: list, backend: str, path: tuple = ()):
    """Runs ``program`` on ``inputs`` (one value per slot) with ``backend`` (see the module docstring)."""
    numpy = backend == "np"
    values = list(inputs)
    if program.embed:
        if numpy:
            values = [np.asarray(v, np.float64) * e for v, e in zip(values, program.embed, strict=True)]
        else:
            values = [v * tf.constant(e, v.dtype) for v, e in zip(values, program.embed, strict=True)]
    dtype = None if numpy else (values[0].dtype if values else tf.float32)
    for index, node in enumerate(program.nodes):
        here = path + (program.n_inputs + index,)
        args = [values[i] for i in node.args]
        if node.op in REGISTERED:
            values.append(call_registered(node.op, args, node.param, backend))
        elif node.op == "hook":
            if backend == "sd":
                values.append(sd.with_derivative(args[0], _make_hook(node.param, here)))
            elif backend == "tf" and node.param == "double":
                values.append(_double_cotangent(args[0]))
            else:
                values.append(args[0])
        elif node.op == "ckpt":
            body: Body = node.param
            if backend == "sd":
                wrapped = sd.with_recomputation_in_pullbacks(_make_body(body, here))
                values.append(wrapped(*args, n=body.n) if body.keyword else wrapped(*args, body.n))
            else:
                values.append(evaluate(body.program, args, backend, here) * (body.n * 0.5))
        elif numpy:
            values.append(_basic_np(node.op, args, node.param))
        else:
            values.append(_basic_tf(node.op, args, node.param, dtype))
    outs = [values[i] for i in program.outputs]
    if program.out_kind == "scalar":
        return np.sum(outs[0]) if numpy else tf.reduce_sum(outs[0])
    if program.out_kind == "single":
        return outs[0]
    if program.out_kind == "tuple":
        return (outs[0], outs[1])
    return {"u": outs[0], "v": outs[1]}


def flatten_output(out, out_kind) -> list:
    if out_kind in ("scalar", "single"):
        return [out]
    if out_kind == "tuple":
        return list(out)
    return [out["u"], out["v"]]


def pack_output(leaves: list, out_kind):
    if out_kind in ("scalar", "single"):
        return leaves[0]
    if out_kind == "tuple":
        return tuple(leaves)
    return {"u": leaves[0], "v": leaves[1]}


def output_count(out_kind) -> int:
    return 1 if out_kind in ("scalar", "single") else 2


def _dependence(prog: Program, input_depends: list) -> list:
    """For each value: does it depend on an input marked in ``input_depends``?"""
    depends = list(input_depends) + [False] * len(prog.nodes)
    for index, node in enumerate(prog.nodes):
        if node.op == "ckpt":
            inner = _dependence(node.param.program, [depends[a] for a in node.args])
            value = inner[node.param.program.outputs[0]]
        else:
            value = any(depends[a] for a in node.args)
        depends[prog.n_inputs + index] = value
    return depends


def _reach(prog: Program) -> list:
    """For each value: does the result depend on it (through checkpointed bodies too)?"""
    reaches = [False] * prog.size()
    for i in prog.outputs:
        reaches[i] = True
    for index in range(len(prog.nodes) - 1, -1, -1):
        node = prog.nodes[index]
        if not reaches[prog.n_inputs + index]:
            continue
        if node.op == "ckpt":
            inner = _reach(node.param.program)
            for position, a in enumerate(node.args):
                reaches[a] = reaches[a] or inner[position]
        else:
            for a in node.args:
                reaches[a] = True
    return reaches


def uses(program: Program, kinds=("hook",)):
    """Nodes with op in ``kinds`` (through checkpointed bodies) as ``(path, op, param, live,
    reaches)``: ``reaches`` means the result depends on the node's value, ``live`` that it does and
    the value depends on an input (so reverse mode must propagate a cotangent through it)."""
    found = []

    def visit(prog, path, input_live, body_reached):
        reaches = [r and body_reached for r in _reach(prog)]
        depends = _dependence(prog, input_live)
        for index, node in enumerate(prog.nodes):
            k = prog.n_inputs + index
            live = reaches[k] and depends[k]
            if node.op in kinds:
                found.append((path + (k,), node.op, node.param, live, reaches[k]))
            if node.op == "ckpt":
                visit(node.param.program, path + (k,), [depends[a] for a in node.args], reaches[k])

    visit(program, (), [True] * program.n_inputs, True)
    return found


def has_double_hook(program: Program) -> bool:
    return any(param == "double" for _, _, param, _, _ in uses(program, ("hook",)))


# ---------------------------------------------------------------------------------------------
# Rendering (the reproducer printed with a failing example)
# ---------------------------------------------------------------------------------------------


def _array_text(value) -> str:
    """A one-line literal for an array (NaN and infinities as np.nan, np.inf)."""
    value = np.asarray(value)
    kind = value.dtype.type if value.dtype.kind == "f" else np.float64

    def item(v):
        v = kind(v)
        if np.isnan(v):
            return "np.nan"
        if np.isinf(v):
            return "np.inf" if v > 0 else "-np.inf"
        return str(v)

    def nested(v):
        if v.ndim == 0:
            return item(v)
        return "[" + ", ".join(nested(child) for child in v) + "]"

    return nested(value)


def render_program(program: Program, names: list, indent="    ") -> list:
    """Lines of Python computing ``program`` from the expressions ``names`` (one per input)."""
    lines = []
    values = list(names)
    if program.embed:
        for i, (v, e) in enumerate(zip(names, program.embed, strict=True)):
            lines.append(f"{indent}e{i} = {v} * tf.constant({_array_text(e)}, dtype)  # scalar point")
        values = [f"e{i}" for i in range(len(names))]
    counter = [0]

    def fresh():
        counter[0] += 1
        return f"v{counter[0]}" if indent == "    " else f"{indent.strip() or 'w'}{counter[0]}"

    for node in program.nodes:
        a = [values[i] for i in node.args]
        op, p = node.op, node.param
        if op in REGISTERED:
            expr = render_registered(op, a, p)
        elif op == "hook":
            hook = {"none": "lambda g: None", "same": "lambda g: g", "double": "lambda g: 2 * g"}[p]
            expr = f"sd.with_derivative({a[0]}, {hook})"
        elif op == "ckpt":
            body: Body = p
            params = [f"b{i}" for i in range(body.program.n_inputs)]
            inner = render_program(body.program, params, indent + "    ")
            name = fresh()
            signature = ", ".join(params) + (", *, n" if body.keyword else ", n")
            lines.append(f"{indent}def body_{name}({signature}):")
            lines.extend(inner[:-1])
            lines.append(f"{indent}    return ({inner[-1].strip()[len('return ') :]}) * (n * 0.5)")
            call = ", ".join(a) + (f", n={body.n}" if body.keyword else f", {body.n}")
            expr = f"sd.with_recomputation_in_pullbacks(body_{name})({call})"
        elif op == "const":
            expr = f"tf.constant({_array_text(p.value)}, dtype)"
        else:
            expr = {
                "sin": "tf.sin({0})",
                "tanh": "tf.tanh({0})",
                "exp": "tf.exp(0.5 * {0})",
                "square": "tf.square({0})",
                "affine": "1.5 * {0} - 0.25",
                "gather": "tf.gather({0}, {p})",
                "add": "{0} + {1}",
                "mul": "{0} * {1}",
                "matmul": "0.25 * tf.matmul(tf.matmul({0}, {1}, transpose_b=True), {0})",
                "rowsum_mul": "tf.reduce_sum({0}, axis={p}, keepdims=True) * {1}",
            }[op].format(*a, p=list(p) if isinstance(p, tuple) else p)
        name = fresh()
        lines.append(f"{indent}{name} = {expr}")
        values.append(name)
    outs = [values[i] for i in program.outputs]
    result = {
        "scalar": f"tf.reduce_sum({outs[0]})",
        "single": outs[0],
        "tuple": f"({', '.join(outs)})",
        "dict": f"{{'u': {outs[0]}, 'v': {outs[-1]}}}",
    }[program.out_kind]
    lines.append(f"{indent}return {result}")
    return lines


# ---------------------------------------------------------------------------------------------
# Points: nests of input slots (the same object may fill several slots: aliasing)
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Pair:
    a: Any
    b: Any


Duo = collections.namedtuple("Duo", "x y")


def build(spec, leaf):
    """The nest described by ``spec`` with ``leaf(slot)`` at each slot."""
    kind = spec[0]
    if kind == "leaf":
        return leaf(spec[1])
    children = [build(child, leaf) for child in spec[1]]
    if kind == "tuple":
        return tuple(children)
    if kind == "list":
        return list(children)
    if kind == "dict":
        return {key: child for key, child in zip(spec[2], children, strict=True)}
    if kind == "pair":
        return Pair(*children)
    if kind == "duo":
        return Duo(*children)
    raise AssertionError(kind)


def extract(spec, value, into: dict):
    """The slot values of ``value``, a nest shaped by ``spec`` (what the program function reads)."""
    kind = spec[0]
    if kind == "leaf":
        into[spec[1]] = value
        return
    if kind == "dict":
        children = [value[key] for key in spec[2]]
    elif kind == "pair":
        children = [value.a, value.b]
    elif kind == "duo":
        children = [value.x, value.y]
    else:
        children = list(value)
    for child_spec, child in zip(spec[1], children, strict=True):
        extract(child_spec, child, into)


def walk(spec, got, where: str) -> list:
    """``(slot, leaf)`` pairs of ``got``, which must be a nest shaped by ``spec`` whose leaves are
    dense ``tf.Tensor``s; an AssertionError naming the place otherwise."""
    kind = spec[0]
    if kind == "leaf":
        assert isinstance(got, tf.Tensor) and not isinstance(got, tf.Variable), (
            f"{where} is {type(got).__name__}, expected a dense tf.Tensor"
        )
        return [(spec[1], got)]
    expected_type = {"tuple": tuple, "list": list, "dict": dict, "pair": Pair, "duo": Duo}[kind]
    assert type(got) is expected_type, f"{where} is a {type(got).__name__}, expected {expected_type.__name__}"
    if kind == "dict":
        assert sorted(got) == sorted(spec[2]), f"{where} has keys {sorted(got)}, expected {sorted(spec[2])}"
        children = [(got[key], f"{where}[{key!r}]") for key in spec[2]]
    elif kind == "pair":
        children = [(got.a, f"{where}.a"), (got.b, f"{where}.b")]
    elif kind == "duo":
        children = [(got.x, f"{where}.x"), (got.y, f"{where}.y")]
    else:
        assert len(got) == len(spec[1]), f"{where} has {len(got)} items, expected {len(spec[1])}"
        children = [(child, f"{where}[{i}]") for i, child in enumerate(got)]
    out = []
    for child_spec, (child, child_where) in zip(spec[1], children, strict=True):
        out.extend(walk(child_spec, child, child_where))
    return out


def render_point(spec, names: list) -> str:
    kind = spec[0]
    if kind == "leaf":
        return names[spec[1]]
    children = [render_point(child, names) for child in spec[1]]
    if kind == "tuple":
        return f"({', '.join(children)}{',' if len(children) == 1 else ''})"
    if kind == "list":
        return f"[{', '.join(children)}]"
    if kind == "dict":
        return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(spec[2], children, strict=True)) + "}"
    if kind == "pair":
        return f"fz.Pair({', '.join(children)})"
    return f"fz.Duo({', '.join(children)})"


def slots_of(spec) -> list:
    found: dict = {}
    extract(spec, build(spec, lambda s: s), found)
    return sorted(found)


# ---------------------------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------------------------


def tape_vjp(program: Program, slots: list, cotangents):
    """Plain ``tf.GradientTape``: ``(output leaves, gradient per slot)``; every slot is a separate
    copy, so two slots holding the same tensor object get their own gradients.
    ``cotangents=None`` means the implicit 1 of a scalar result."""
    xs = [tf.identity(s) for s in slots]
    with tf.GradientTape() as tape:
        tape.watch(xs)
        out = evaluate(program, xs, "tf")
    flat = flatten_output(out, program.out_kind)
    grads = tape.gradient(
        flat, xs, output_gradients=cotangents, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return flat, [tf.convert_to_tensor(g) for g in grads]


def accumulator_jvp(program: Program, slots: list, tangents: list):
    """Plain ``tf.autodiff.ForwardAccumulator``: ``(output leaves, output tangents)``."""
    xs = [tf.identity(s) for s in slots]
    with tf.autodiff.ForwardAccumulator(xs, tangents) as accumulator:
        out = evaluate(program, xs, "tf_forward")
    flat = flatten_output(out, program.out_kind)
    return flat, [accumulator.jvp(o, unconnected_gradients=tf.UnconnectedGradients.ZERO) for o in flat]


def transposed_jvp(program: Program, slots: list, tangents: list):
    """Forward mode by transposing a plain tape's VJP (``d/du <vjp(u), t>``): the reference when
    values or tangents are not finite, where ``ForwardAccumulator``'s own rules give NaN for
    products with an infinite factor even when the derivative is finite."""
    xs = [tf.identity(s) for s in slots]
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(xs)
            out = evaluate(program, xs, "tf_forward")
        flat = flatten_output(out, program.out_kind)
        dummies = [tf.zeros_like(o) for o in flat]
        outer.watch(dummies)
        vjp = [
            tf.convert_to_tensor(g)
            for g in inner.gradient(  # tf.gather's IndexedSlices made dense
                flat, xs, output_gradients=dummies, unconnected_gradients=tf.UnconnectedGradients.ZERO
            )
        ]
    jvps = outer.gradient(
        vjp, dummies, output_gradients=list(tangents), unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return flat, jvps


def numpy_value(program: Program, slots: list) -> list:
    return [
        np.asarray(o, np.float64)
        for o in flatten_output(
            evaluate(program, [np.asarray(s, np.float64) for s in slots], "np"), program.out_kind
        )
    ]


def fd_vjp(program: Program, slots: list, cotangents: list, eps=1e-6) -> list:
    """Float64 central differences of ``sum_k <cotangent_k, output_k>`` with respect to each slot."""
    base = [np.array(s, np.float64) for s in slots]
    cots = [np.asarray(c, np.float64) for c in cotangents]

    def phi(xs):
        outs = flatten_output(evaluate(program, xs, "np"), program.out_kind)
        return sum(float(np.sum(c * np.asarray(o))) for c, o in zip(cots, outs, strict=True))

    grads = []
    for i, x in enumerate(base):
        g = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            up = [b.copy() for b in base]
            down = [b.copy() for b in base]
            up[i][index] += eps
            down[i][index] -= eps
            g[index] = (phi(up) - phi(down)) / (2 * eps)
        grads.append(g)
    return grads


def fd_jvp(program: Program, slots: list, tangents: list, eps=1e-6) -> list:
    """Float64 central differences along the tangent direction (one tangent per slot)."""
    base = [np.asarray(s, np.float64) for s in slots]
    ts = [np.asarray(t, np.float64) for t in tangents]
    up = flatten_output(
        evaluate(program, [b + eps * t for b, t in zip(base, ts, strict=True)], "np"), program.out_kind
    )
    down = flatten_output(
        evaluate(program, [b - eps * t for b, t in zip(base, ts, strict=True)], "np"), program.out_kind
    )
    return [(np.asarray(u) - np.asarray(d)) / (2 * eps) for u, d in zip(up, down, strict=True)]


def close(got, ref, rtol: float) -> str | None:
    """None if ``got`` matches ``ref``: the same non-finite entries (NaN where NaN, the same
    infinities), and finite entries within ``rtol`` of the largest finite reference magnitude
    (at least 1). Otherwise a description of the mismatch."""
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    if got.shape != ref.shape:
        return f"shape {got.shape} != {ref.shape}"
    bad_ref, bad_got = ~np.isfinite(ref), ~np.isfinite(got)
    if (bad_ref != bad_got).any() or not np.array_equal(got[bad_ref], ref[bad_ref], equal_nan=True):
        return f"non-finite entries differ:\n got {got.tolist()}\n ref {ref.tolist()}"
    finite = ~bad_ref
    if not finite.any():
        return None
    scale = max(1.0, float(np.max(np.abs(ref[finite]))))
    error = float(np.max(np.abs(got[finite] - ref[finite])))
    if error > rtol * scale:
        return f"max error {error:.3g} > {rtol:g} * {scale:.3g}:\n got {got.tolist()}\n ref {ref.tolist()}"
    return None


def all_finite(*arrays) -> bool:
    return all(np.all(np.isfinite(np.asarray(a, np.float64))) for a in arrays)


# ---------------------------------------------------------------------------------------------
# Randomness reached by checkpointed bodies in different ways
# ---------------------------------------------------------------------------------------------

GLOBAL_GENERATOR = tf.random.Generator.from_seed(1234)
HELPER_GENERATOR = tf.random.Generator.from_seed(4321)


class Holder:
    """A plain object holding a generator in an attribute."""

    def __init__(self, seed):
        self.generator = tf.random.Generator.from_seed(seed)

    def body(self, x, pre, post):
        """A method body: the generator is reached through ``self``."""
        return chain(post, chain(pre, x) * self.generator.normal(tf.shape(x), dtype=x.dtype))


HOLDER = Holder(777)


def chain(ops, x):
    """Unary ops by name (a tuple of strings: a non-differentiable argument)."""
    for op in ops:
        x = _basic_tf(op, [x], None, x.dtype)
    return x


def global_body(x, pre, post):
    """Names the module-level generator directly."""
    return chain(post, chain(pre, x) * GLOBAL_GENERATOR.normal(tf.shape(x), dtype=x.dtype))


def attribute_body(x, pre, post):
    """Reaches a generator as the attribute of a module-level plain object."""
    return chain(post, chain(pre, x) * HOLDER.generator.normal(tf.shape(x), dtype=x.dtype))


def draw_noise(shape, dtype):
    return HELPER_GENERATOR.normal(shape, dtype=dtype)


def helper_body(x, pre, post):
    """Reaches a generator only through a helper function."""
    return chain(post, chain(pre, x) * draw_noise(tf.shape(x), x.dtype))


def argument_body(x, generator, pre, post):
    """Gets the generator as an argument."""
    return chain(post, chain(pre, x) * generator.normal(tf.shape(x), dtype=x.dtype))


def keras_normal_body(x, seed_generator, pre, post):
    return chain(post, chain(pre, x) * keras.random.normal(tf.shape(x), seed=seed_generator, dtype=x.dtype))


def generator_state(generator):
    """The state variable of a tf.random.Generator, a keras SeedGenerator or a Dropout layer."""
    if isinstance(generator, tf.random.Generator):
        return generator.state
    if isinstance(generator, keras.layers.Layer):
        return generator.seed_generator.state
    return generator.state
