"""Differential fuzzing of the operators against plain TensorFlow and float64 finite differences.

What is generated (strategies below; the program model is ``tests/support/fuzz_programs.py``)
-----------------------------------------------------------------------------------------------
* Programs: straight-line compositions of ``sin``, ``tanh``, ``exp`` (of bounded values), ``square``,
  affine maps, ``+``, ``*``, ``matmul``, ``reduce_sum`` (broadcast back by a product) and
  ``tf.gather`` (whose gradient is ``tf.IndexedSlices``) over 1-4 input slots of one shape, with
  closure-captured constants, returning a scalar, a tensor, a pair or a dict. Magnitudes are bounded
  (a node that could exceed 6 becomes a ``tanh``) so that finite differences stay well conditioned.
* Points: 1-3 points, each a tensor or a nest (tuple, list, dict, dataclass ``fz.Pair``, namedtuple
  ``fz.Duo``, two deep) of slots. With aliasing, several slots hold the **same tensor object**
  (across points, inside one nest, as two arguments of one checkpointed call). Eager cases may use
  ``tf.Variable`` points (the same variable in two slots must be a ``ValueError``) and Python floats
  (``derivative``).
* The function handed to the operator: a closure, a bound method of a plain object, a static method,
  a ``functools.partial`` binding an int, a function with a keyword-only float default.
* Inside programs, by feature (``FEATURES``): calls of functions with registered derivatives
  (``@sd.derivative(of=...)`` on functions, a method, a static method and a class method; with int,
  plain-object, ``self``/``cls``, keyword-only and defaulted float arguments; a dict argument holding
  the same tensor twice; a forward-mode-only registration), ``sd.with_derivative`` hooks (returning
  ``None``, the cotangent, or twice the cotangent), checkpointed sub-programs
  (``sd.with_recomputation_in_pullbacks``, an int argument passed positionally or by keyword), NaN
  and ±Inf in point values, cotangents and tangents. Python-float defaults (float32 by the contract)
  appear in float32 programs only: mixing them with float64 tensors is outside the contract.
* Operators: ``gradient`` (also curried and with ``in_=``), ``value_with_gradient`` (also curried),
  ``pullback``, ``value_with_pullback`` (the pullback called twice), ``differential``,
  ``value_with_differential`` (called twice), ``derivative`` / ``value_with_derivative`` (scalar
  points), and registered functions handed to an operator as the original function object.
* Execution modes: eager, ``tf.function`` and ``tf.function(jit_compile=True)``. A graph case traces
  one function per generated program, taking point values and cotangents as arguments, and runs it
  on ``GRAPH_DRAWS`` independent draws of values; **each draw is checked** and counted as a case.
* Randomness in checkpointed bodies: keras ``Dropout`` and ``keras.random.normal`` with a
  ``SeedGenerator``, and ``tf.random.Generator``s reached as an argument, through a closure, as a
  global, as the attribute of a plain object, through ``self`` and through a helper function.

What is checked (the contract is /work/shared/SWIFT_API.md)
------------------------------------------------------------
* Tangents/results have the structure of the points/result (nest types, keys, bare for one point),
  with dense ``tf.Tensor`` leaves of the right shape and dtype.
* Every slot is its own value: the reference gives each slot a **separate copy** and differentiates
  it with a plain ``tf.GradientTape`` (reverse mode) or ``tf.autodiff.ForwardAccumulator`` (forward
  mode; when a value or tangent is not finite, a plain tape's VJP transposed, because the
  accumulator's rules turn ``inf * 0`` into NaN where the derivative is finite), inside the same
  execution mode, with registered functions replaced by plain twins and hooks by the identity (or a
  plain ``tf.custom_gradient`` for the doubling hook; forward mode ignores hooks). Agreement is tight
  and NaN-aware: NaN/Inf exactly where the reference has them, finite entries within 1e-4 (float32)
  or 1e-9 (float64) of the largest reference magnitude.
* When values, cotangents and tangents are finite (and no hook rewrites cotangents): agreement
  within 3e-3 (float32) or 1e-5 (float64) with float64 central finite differences of a NumPy twin
  of the program. Values equal the plain program's values.
* Registered pullbacks and hooks are handed dense tensors shaped like the value; a hook on a value
  the result depends on is called, one on a value that does not reach the result never is;
  registered derivatives are used (reverse: their pullback; forward: a registered differential).
* Checkpointed bodies drawing random numbers give the value and gradient of the plain body run with
  the same numbers (the generator reset to the same state), and leave the generator where the plain
  run leaves it.

Profiles
--------
* default (``pytest tests/test_fuzz.py``, CI): derandomized, so every run checks the same ~2,100
  cases (about 50 s on two cores); no shrinking, so a failure is reported at once with the first
  failing example. The number of checked cases is printed at the end of the module.
* ``SWIFTDIFF_FUZZ_PROFILE=deep`` (``make fuzz``): 20x the examples, fresh random examples every
  run, shrinking on.
* ``SWIFTDIFF_FUZZ_SHRINK=1``: shrinking in the default profile too (derandomized: it shrinks the
  failure CI saw).

Reproducing a failure
---------------------
The assertion message (or the hypothesis note) holds a self-contained reproducer: the program as
Python, the point values and the operator call, to paste into Python at the repository root. To
replay the hypothesis example, rerun the test id (``-k "reverse_eager and alias"``; the default
profile is derandomized), or add the ``@reproduce_failure(...)`` decorator that is printed
(``print_blob=True``) to the ``check`` function inside the failing test.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import warnings
from collections import Counter

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import swiftdiff as sd
from tests.support import fuzz_programs as fz

# ---------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------

DEEP = os.environ.get("SWIFTDIFF_FUZZ_PROFILE", "").lower() == "deep"
SHRINK = DEEP or os.environ.get("SWIFTDIFF_FUZZ_SHRINK", "") not in ("", "0")
SCALE = 20 if DEEP else 1

settings.register_profile(
    "swiftdiff-fuzz",
    derandomize=not DEEP,
    database=None,
    print_blob=True,
    deadline=None,
    report_multiple_bugs=False,
    phases=(Phase.explicit, Phase.reuse, Phase.generate) + ((Phase.shrink,) if SHRINK else ()),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
FUZZ = settings.get_profile("swiftdiff-fuzz")


def budget(examples: int):
    """Hypothesis settings for ``examples`` examples (times 20 in the deep profile)."""
    return settings(FUZZ, max_examples=examples * SCALE)


CASES: Counter = Counter()  # checked cases per test, reported at the end of the module


@pytest.fixture(scope="module", autouse=True)
def _report_case_count(request):
    yield
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    total = sum(CASES.values())
    if reporter is not None and capture is not None and total:
        detail = ", ".join(f"{name} {count}" for name, count in sorted(CASES.items()))
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                f"\ntest_fuzz ({'deep' if DEEP else 'default'} profile): {total} checked cases ({detail})"
            )


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ---------------------------------------------------------------------------------------------
# Features: what a parametrization may generate
# ---------------------------------------------------------------------------------------------

# Registered functions (fuzz_programs) by what their signature exercises: only floating arguments
# (a static method, a dict argument, a default passed positionally); a forward-mode registration;
# arguments without a tangent slot (an int, a plain object, self, cls); keyword-only and defaulted
# floating parameters.
REG_PLAIN = ("static_mul", "nest_fn", "with_default/positional")
REG_FORWARD = ("jvp_fn",)
REG_NONDIFF = ("sin_n", "mix", "affine_apply", "class_sq")
REG_KEYWORDS = ("kw_only", "with_default/default", "with_default/keyword", "mixed_sig")
OF_KINDS = ("closure", "method", "static", "partial", "kwdefault")


@dataclasses.dataclass(frozen=True)
class Features:
    alias: bool = False
    nest: bool = False
    gather: bool = True
    registered: tuple = ()
    hooks: tuple = ()
    hook_weight: int = 1  # the weight of hooks among the node kinds
    checkpoint: int = 0  # the weight of checkpointed sub-programs among the node kinds (0: none)
    checkpoint_keyword: bool = False
    nonfinite: bool = False
    callables: bool = False
    variables: bool = False


# One parametrization per feature, so that a bug fails the tests of its feature (and "everything")
# without hiding the bugs of the others.
FEATURES = {
    "plain": Features(),
    "alias": Features(alias=True),
    "nest": Features(nest=True),
    "alias_nest": Features(alias=True, nest=True),
    "alias_checkpoint": Features(alias=True, checkpoint=2),
    "callables": Features(callables=True),
    "variables": Features(variables=True, nest=True),
    "registered": Features(registered=REG_PLAIN, gather=False),
    "registered_nondiff": Features(registered=REG_NONDIFF, gather=False),
    "registered_keywords": Features(registered=REG_KEYWORDS, gather=False),
    "registered_forward": Features(registered=REG_FORWARD, gather=False),
    "hooks": Features(hooks=("none", "same"), gather=False),
    "hooks_replacing": Features(hooks=("double",), gather=False),
    "gathered_cotangents": Features(hooks=("none", "same"), registered=REG_PLAIN),
    "checkpoint": Features(checkpoint=1),
    "checkpoint_keyword": Features(checkpoint=1, checkpoint_keyword=True),
    "nonfinite": Features(nonfinite=True),
    "checkpoint_nonfinite": Features(checkpoint=3, nonfinite=True),
    "checkpoint_hooks": Features(checkpoint=3, hooks=("none", "same", "double"), hook_weight=3),
    "everything": Features(
        alias=True,
        nest=True,
        registered=REG_PLAIN + REG_NONDIFF + REG_KEYWORDS + REG_FORWARD,
        hooks=("none", "same", "double"),
        checkpoint=1,
        checkpoint_keyword=True,
        nonfinite=True,
        callables=True,
    ),
}

REVERSE_OPS_SCALAR = (
    "gradient",
    "gradient_curried",
    "gradient_in",
    "value_with_gradient",
    "value_with_gradient_curried",
)
REVERSE_OPS_PULLBACK = ("pullback", "value_with_pullback")
FORWARD_OPS = ("differential", "value_with_differential")
FORWARD_OPS_SCALAR = ("derivative", "value_with_derivative")


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------


def _recent(draw, size):
    """An index below ``size``, shrinking towards the most recent value (long chains shrink well)."""
    return size - 1 - draw(st.integers(0, size - 1))


def _basic_bound(op, b, param, shape):
    r, c = shape
    return {
        "sin": lambda: 1.0,
        "tanh": lambda: 1.0,
        "exp": lambda: float(np.exp(0.5 * b[0])),
        "square": lambda: b[0] ** 2,
        "affine": lambda: 1.5 * b[0] + 0.25,
        "gather": lambda: b[0],
        "add": lambda: b[0] + b[1],
        "mul": lambda: b[0] * b[1],
        "matmul": lambda: 0.25 * r * c * b[0] ** 2 * b[1],
        "rowsum_mul": lambda: (r if param == 0 else c) * b[0] * b[1],
    }[op]()


@st.composite
def programs(draw, n_inputs, shape, features: Features, out_kind, input_bounds, dtype, depth=0, embed=()):
    """A program over ``n_inputs`` slots of ``shape`` (see fuzz_programs.Program)."""
    categories = ["basic", "basic", "basic", "const"]
    if features.registered:
        categories += ["registered"] * 2
    if features.hooks:
        categories += ["hook"] * features.hook_weight
    if features.checkpoint and depth == 0:
        categories += ["ckpt"] * features.checkpoint
    unary = tuple(op for op in fz.UNARY if features.gather or op != "gather")
    bounds = list(input_bounds)
    nodes = []
    for _ in range(draw(st.integers(1, 5 if depth == 0 else 3))):
        size = n_inputs + len(nodes)
        category = draw(st.sampled_from(categories))
        if category == "basic":
            op = draw(st.sampled_from(unary + fz.BINARY))
            arity = 1 if op in fz.UNARY else 2
            args = tuple(_recent(draw, size) for _ in range(arity))
            param = None
            if op == "gather":
                param = tuple(
                    draw(st.lists(st.integers(0, shape[0] - 1), min_size=shape[0], max_size=shape[0]))
                )
            elif op == "rowsum_mul":
                param = draw(st.sampled_from([0, 1]))
            node = fz.Node(op, args, param)
            bound = _basic_bound(op, [bounds[a] for a in args], param, shape)
        elif category == "const":
            seed = draw(st.integers(0, 2**16))
            value = np.random.default_rng(seed).uniform(-1, 1, size=shape).round(3)
            node, bound = fz.Node("const", (), fz.Const(value)), 1.0
        elif category == "registered":
            choices = features.registered
            if dtype != np.float32:
                # A Python-float default is a float32 value (contract): only float32 programs use
                # one; mixing it with float64 tensors is outside the contract.
                choices = tuple(c for c in choices if c != "with_default/default") or ("static_mul",)
            choice = draw(st.sampled_from(choices))
            op, _, variant = choice.partition("/")
            param = None
            if op == "sin_n":
                param = draw(st.sampled_from([2, 3]))
            elif op == "with_default":
                param = variant
            elif op == "mixed_sig":
                kinds = ["short", "keyword_n", "full"] if dtype == np.float32 else ["full"]
                param = (draw(st.sampled_from(kinds)), draw(st.sampled_from([1, 2, 3])))
            elif op == "affine_apply":
                param = draw(st.sampled_from(["instance", "class"]))
            args = tuple(_recent(draw, size) for _ in range(fz.registered_arity(op, param)))
            node = fz.Node(op, args, param)
            bound = fz.registered_bound(op, param, [bounds[a] for a in args])
        elif category == "hook":
            node = fz.Node("hook", (_recent(draw, size),), draw(st.sampled_from(features.hooks)))
            bound = bounds[node.args[0]]
        else:
            k = draw(st.integers(1, 2))
            args = tuple(_recent(draw, size) for _ in range(k))
            if not features.alias:  # the same tensor twice in one checkpointed call is aliasing
                args = tuple(dict.fromkeys(args))
                k = len(args)
            body = draw(programs(k, shape, features, "single", [bounds[a] for a in args], dtype, depth + 1))
            n = draw(st.sampled_from([1, 2]))
            keyword = features.checkpoint_keyword and draw(st.booleans())
            node = fz.Node("ckpt", args, fz.Body(body, n, keyword))
            bound = _program_bound(body, [bounds[a] for a in args], shape) * n * 0.5
        if not bound <= fz.BOUND_LIMIT:
            node, bound = fz.Node("tanh", (node.args[0] if node.args else size - 1,)), 1.0
        nodes.append(node)
        bounds.append(bound)
    size = n_inputs + len(nodes)
    outputs = (size - 1,)
    if out_kind in ("tuple", "dict"):
        outputs += (draw(st.integers(0, size - 1)),)
    return fz.Program(n_inputs, tuple(nodes), outputs, out_kind, embed)


def _program_bound(program, input_bounds, shape):
    """The bound of a body's output (recomputed: the strategy tracked it while drawing)."""
    bounds = list(input_bounds)
    for node in program.nodes:
        b = [bounds[a] for a in node.args]
        if node.op in fz.REGISTERED:
            bounds.append(fz.registered_bound(node.op, node.param, b))
        elif node.op == "hook":
            bounds.append(b[0])
        elif node.op == "const":
            bounds.append(1.0)
        else:
            bounds.append(_basic_bound(node.op, b, node.param, shape))
    return bounds[program.outputs[0]]


@st.composite
def point_specs(draw, features: Features, scalar: bool):
    """1-3 point specs whose slots are numbered 0.. in order; at most 4 slots."""
    counter = [0]
    max_slots = 4

    def leaf():
        counter[0] += 1
        return ("leaf", counter[0] - 1)

    def node(depth):
        room = max_slots - counter[0]
        if scalar or not features.nest or depth >= 2 or room < 2 or draw(st.integers(0, 2)) == 0:
            return leaf()
        kind = draw(st.sampled_from(["tuple", "list", "dict", "pair", "duo"]))
        count = 2 if kind in ("pair", "duo") else draw(st.integers(1, min(3, room)))
        children = []
        for _ in range(count):
            if counter[0] >= max_slots:
                break
            children.append(node(depth + 1))
        keys = tuple(draw(st.permutations(["a", "b", "c"]))[: len(children)]) if kind == "dict" else None
        if kind in ("pair", "duo") and len(children) < 2:
            kind = "tuple"
        return (kind, tuple(children), keys) if kind == "dict" else (kind, tuple(children))

    specs = []
    for _ in range(draw(st.integers(1, 3))):
        if counter[0] >= max_slots:
            break
        specs.append(node(0))
    return tuple(specs)


@dataclasses.dataclass
class Case:
    """One generated program, its points, operator and draws of values (each draw is a case)."""

    feature: str
    mode: str
    direction: str  # "reverse" or "forward"
    operator: str
    dtype: type
    shape: tuple  # the shape of every slot
    specs: tuple  # point specs (fuzz_programs.build)
    slot_object: tuple  # slot -> index of the object filling it (equal indices: aliasing)
    object_kinds: tuple  # "tensor", "variable" or "pyfloat", per object
    program: fz.Program
    of_kind: str
    draws: tuple  # dicts: objects (arrays), c1/c2 (cotangents or per-slot tangents)

    @property
    def finite(self):
        """Every value, cotangent and tangent of every draw is finite."""
        return all(fz.all_finite(*d["objects"], *d["c1"], *d["c2"]) for d in self.draws)

    @property
    def n_slots(self):
        return len(self.slot_object)

    def slot_values(self, draw):
        return [draw["objects"][o] for o in self.slot_object]

    def __repr__(self):
        ops = sorted({n.op for n in self.program.nodes})
        kind = f"{np.dtype(self.dtype).name}{list(self.shape)}"
        return (
            f"<{self.direction} {self.operator} {self.mode} {kind} "
            f"points={fz.render_point(('tuple', self.specs), self._object_names())} ops={ops} "
            f"of={self.of_kind}>"
        )

    def _repr_pretty_(self, printer, cycle):  # hypothesis prints this; the reproducer has the rest
        printer.text(repr(self))

    def _object_names(self):
        return [f"X{o}" for o in self.slot_object]

    def reproducer(self, index: int, second: bool = False) -> str:
        """Self-contained Python for draw ``index`` (with its second cotangent/tangents if ``second``)."""
        draw = self.draws[index]
        given = draw["c2"] if second else draw["c1"]
        names = [f"p{i}" for i in range(len(self.specs))]
        slot_exprs = {}
        for name, spec in zip(names, self.specs, strict=True):
            _slot_paths(spec, name, slot_exprs)
        lines = [
            "import numpy as np, tensorflow as tf, swiftdiff as sd",
            "from tests.support import fuzz_programs as fz",
            f"dtype = tf.{np.dtype(self.dtype).name}",
            f"def f({', '.join(names)}):  # handed to the operator as: {self.of_kind}",
        ]
        lines += fz.render_program(self.program, [slot_exprs[s] for s in range(self.n_slots)])
        for o, (kind, value) in enumerate(zip(self.object_kinds, draw["objects"], strict=True)):
            text = fz._array_text(value)
            if kind == "pyfloat":
                lines.append(f"X{o} = {float(value)!r}")
            else:
                maker = "Variable" if kind == "variable" else "constant"
                lines.append(f"X{o} = tf.{maker}({text}, dtype=dtype)")
        points = [fz.render_point(spec, self._object_names()) for spec in self.specs]
        if len(points) == 1:
            at = f"({points[0]},)" if self.specs[0][0] == "tuple" else points[0]
        else:
            at = f"({', '.join(points)})"
        kind = self.program.out_kind
        if self.direction == "reverse":
            cot = [f"tf.constant({fz._array_text(c)}, dtype)" for c in given]
            cot_text = {
                "scalar": cot[0],
                "single": cot[0],
                "tuple": f"({', '.join(cot)})",
                "dict": f"{{'u': {cot[0]}, 'v': {cot[-1]}}}",
            }[kind]
            op = self.operator
            if op.endswith("_curried"):
                call = f"sd.{op[: -len('_curried')]}(of=f)({', '.join(points)})"
            elif op == "gradient_in":
                call = f"sd.gradient(at={at}, in_=f)"
            elif "gradient" in op:
                call = f"sd.{op}(at={at}, of=f)"
            else:
                call = f"sd.{op}(at={at}, of=f){'.pullback' if op.startswith('value') else ''}({cot_text})"
        else:
            tangents = []
            for spec in self.specs:
                tangents.append(
                    fz.render_point(spec, [f"tf.constant({fz._array_text(t)}, dtype)" for t in given])
                )
            base = self.operator.replace("_curried", "")
            if "derivative" in self.operator:
                call = f"sd.{base}(at={at}, of=f)"
            else:
                call = (
                    f"sd.{base}(at={at}, of=f){'.differential' if base.startswith('value') else ''}"
                    f"({', '.join(tangents)})"
                )
        if self.mode != "eager":
            lines.append(f"# run inside tf.function(jit_compile={self.mode == 'xla'})")
        lines.append(f"print({call})")
        return "\n".join(lines)


def _slot_paths(spec, expr, into):
    kind = spec[0]
    if kind == "leaf":
        into[spec[1]] = expr
        return
    if kind == "dict":
        children = [f"{expr}[{key!r}]" for key in spec[2]]
    elif kind == "pair":
        children = [f"{expr}.a", f"{expr}.b"]
    elif kind == "duo":
        children = [f"{expr}.x", f"{expr}.y"]
    else:
        children = [f"{expr}[{i}]" for i in range(len(spec[1]))]
    for child_spec, child in zip(spec[1], children, strict=True):
        _slot_paths(child_spec, child, into)


NONFINITE = (float("nan"), float("inf"), float("-inf"))


@st.composite
def cases(draw, feature: str, mode: str, direction: str, draws_per_case: int):
    features = FEATURES[feature]
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    if direction == "reverse":
        operator = draw(st.sampled_from(REVERSE_OPS_SCALAR + REVERSE_OPS_PULLBACK))
    else:
        operator = draw(st.sampled_from(FORWARD_OPS + FORWARD_OPS_SCALAR))
    scalar_points = operator in FORWARD_OPS_SCALAR
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    specs = draw(point_specs(features, scalar_points))
    n_slots = sum(len(fz.slots_of(spec)) for spec in specs)
    slot_object = []
    for slot in range(n_slots):
        fresh = max(slot_object, default=-1) + 1
        slot_object.append(draw(st.integers(0, fresh)) if features.alias and slot else fresh)
    # Aliasing at least once when the feature asks for it and there are two slots.
    if features.alias and n_slots > 1 and len(set(slot_object)) == n_slots:
        slot_object[draw(st.integers(1, n_slots - 1))] = 0
    n_objects = max(slot_object) + 1
    object_kinds = ["tensor"] * n_objects
    if mode == "eager" and features.variables:
        object_kinds = [draw(st.sampled_from(["tensor", "variable"])) for _ in range(n_objects)]
    if mode == "eager" and scalar_points and dtype == np.float32:
        object_kinds = [draw(st.sampled_from(["tensor", "tensor", "pyfloat"])) for _ in range(n_objects)]
    if operator in REVERSE_OPS_SCALAR:
        out_kind = "scalar"
    else:
        out_kind = draw(st.sampled_from(["scalar", "single", "tuple", "dict"]))
    embed = ()
    slot_shape = shape
    input_bounds = [2.0] * n_slots
    if scalar_points:
        slot_shape = ()
        seed = draw(st.integers(0, 2**16))
        embed = tuple(
            np.random.default_rng(seed + i).uniform(-1, 1, size=shape).round(3) for i in range(n_slots)
        )
    program = draw(programs(n_slots, shape, features, out_kind, input_bounds, dtype, embed=embed))
    of_kind = draw(st.sampled_from(OF_KINDS)) if features.callables else "closure"
    out_shapes = [() if out_kind == "scalar" else shape] * fz.output_count(out_kind)
    all_draws = []
    for _ in range(draws_per_case):
        seed = draw(st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        objects = [rng.uniform(-2, 2, size=slot_shape).astype(dtype) for _ in range(n_objects)]
        if direction == "reverse":
            c1 = [rng.normal(size=s).astype(dtype) for s in out_shapes]
            c2 = [rng.normal(size=s).astype(dtype) for s in out_shapes]
        else:
            c1 = [rng.normal(size=slot_shape).astype(dtype) for _ in range(n_slots)]
            c2 = [rng.normal(size=slot_shape).astype(dtype) for _ in range(n_slots)]
        if features.nonfinite:
            for _ in range(draw(st.integers(1, 2))):
                where = draw(st.sampled_from(["objects", "c1", "c2"]))
                target = {"objects": objects, "c1": c1, "c2": c2}[where]
                array = target[draw(st.integers(0, len(target) - 1))]
                flat = array.reshape(-1)
                if flat.size:
                    flat[draw(st.integers(0, flat.size - 1))] = draw(st.sampled_from(NONFINITE))
                if array.ndim == 0:
                    array[()] = draw(st.sampled_from(NONFINITE))
        if any(kind == "pyfloat" for kind in object_kinds):
            objects = [
                np.float32(o) if kind == "pyfloat" else o
                for o, kind in zip(objects, object_kinds, strict=True)
            ]
        all_draws.append({"objects": objects, "c1": c1, "c2": c2})
    return Case(
        feature,
        mode,
        direction,
        operator,
        dtype,
        slot_shape,
        specs,
        tuple(slot_object),
        tuple(object_kinds),
        program,
        of_kind,
        tuple(all_draws),
    )


# ---------------------------------------------------------------------------------------------
# Running the subject and the references (the same code eager and traced)
# ---------------------------------------------------------------------------------------------


class _Runner:
    """A plain object whose bound method is handed to an operator (``self`` has no tangent)."""

    def __init__(self, run):
        self._run = run

    def call(self, *points):
        return self._run(*points)


def _scaled(out, factor):
    if isinstance(out, tuple):
        return tuple(o * factor for o in out)
    if isinstance(out, dict):
        return {k: v * factor for k, v in out.items()}
    return out * factor


def make_function(case: Case):
    """The function handed to the operator: reads its points' slots and runs the program."""

    def run(*points):
        slots: dict = {}
        for spec, point in zip(case.specs, points, strict=True):
            fz.extract(spec, point, slots)
        return fz.evaluate(case.program, [slots[s] for s in range(case.n_slots)], "sd")

    kind = case.of_kind
    if kind == "closure":
        return lambda *points: run(*points)
    if kind == "method":
        return _Runner(run).call
    if kind == "static":
        return type("StaticProgram", (), {"call": staticmethod(run)}).call
    if kind == "partial":

        def counted(n, *points):
            return _scaled(run(*points), n * 0.5)

        return functools.partial(counted, 2)

    def with_default(*points, scale=1.0):
        return _scaled(run(*points), scale)

    return with_default


def _at(case: Case, points):
    if len(points) == 1:
        return (points[0],) if case.specs[0][0] == "tuple" else points[0]
    return tuple(points)


def _tangent_leaves(case: Case, tangent, where) -> list:
    """The tangent's leaves in slot order (checking its structure): bare for one point."""
    if len(case.specs) == 1:
        pairs = fz.walk(case.specs[0], tangent, where)
    else:
        assert type(tangent) is tuple and len(tangent) == len(case.specs), (
            f"{where} is {type(tangent).__name__}, expected a tuple of {len(case.specs)} tangents"
        )
        pairs = [
            pair
            for i, (spec, t) in enumerate(zip(case.specs, tangent, strict=True))
            for pair in fz.walk(spec, t, f"{where}[{i}]")
        ]
    by_slot = dict(pairs)
    assert sorted(by_slot) == list(range(case.n_slots))
    return [by_slot[s] for s in range(case.n_slots)]


def _output_leaves(case: Case, value, where) -> list:
    kind = case.program.out_kind
    if kind in ("scalar", "single"):
        leaves = [value]
    elif kind == "tuple":
        assert type(value) is tuple and len(value) == 2, f"{where} is {type(value).__name__}, expected a pair"
        leaves = list(value)
    else:
        assert type(value) is dict and sorted(value) == ["u", "v"], f"{where} is not the dict {{'u', 'v'}}"
        leaves = [value["u"], value["v"]]
    for leaf in leaves:
        assert isinstance(leaf, tf.Tensor), f"{where} holds a {type(leaf).__name__}, expected a tf.Tensor"
    return leaves


def run_reverse(case: Case, objects, c1, c2):
    """Subject and reference for a reverse-mode case; flat lists of tensors."""
    points = [fz.build(spec, lambda s: objects[case.slot_object[s]]) for spec in case.specs]
    f = make_function(case)
    at = _at(case, points)
    kind = case.program.out_kind
    cot1, cot2 = fz.pack_output(list(c1), kind), fz.pack_output(list(c2), kind)
    op = case.operator
    value, second = None, None
    if op == "gradient":
        first = sd.gradient(at=at, of=f)
    elif op == "gradient_curried":
        first = sd.gradient(of=f)(*points)
    elif op == "gradient_in":
        first = sd.gradient(at=at, in_=f)
    elif op.startswith("value_with_gradient"):
        result = (
            sd.value_with_gradient(of=f)(*points)
            if op.endswith("curried")
            else sd.value_with_gradient(at=at, of=f)
        )
        assert isinstance(result, tuple) and len(result) == 2
        value, first = result.value, result.gradient
    elif op == "pullback":
        first = sd.pullback(at=at, of=f)(cot1)
    else:
        result = sd.value_with_pullback(at=at, of=f)
        value, pb = result.value, result.pullback
        first, second = pb(cot1), pb(cot2)
    subject = {"t1": _tangent_leaves(case, first, "the tangent")}
    if second is not None:
        subject["t2"] = _tangent_leaves(case, second, "the second pullback's tangent")
    if value is not None:
        subject["value"] = _output_leaves(case, value, "the value")
    slots = [objects[o] for o in case.slot_object]
    scalar_gradient = op in REVERSE_OPS_SCALAR
    out, grads = fz.tape_vjp(case.program, slots, None if scalar_gradient else list(c1))
    reference = {"t1": grads, "value": out}
    if second is not None:
        reference["t2"] = fz.tape_vjp(case.program, slots, list(c2))[1]
    return subject, reference


def run_forward(case: Case, objects, c1, c2):
    points = [fz.build(spec, lambda s: objects[case.slot_object[s]]) for spec in case.specs]
    f = make_function(case)
    at = _at(case, points)
    op = case.operator
    value, second = None, None
    if op in FORWARD_OPS_SCALAR:
        if op == "value_with_derivative":
            result = sd.value_with_derivative(at=at, of=f)
            value, first = result.value, result.derivative
        else:
            first = sd.derivative(at=at, of=f)
    else:
        t1 = [fz.build(spec, lambda s: c1[s]) for spec in case.specs]
        t2 = [fz.build(spec, lambda s: c2[s]) for spec in case.specs]
        if op == "differential":
            first = sd.differential(at=at, of=f)(*t1)
        else:
            result = sd.value_with_differential(at=at, of=f)
            value, df = result.value, result.differential
            first, second = df(*t1), df(*t2)
    subject = {"t1": _output_leaves(case, first, "the result tangent")}
    if second is not None:
        subject["t2"] = _output_leaves(case, second, "the second result tangent")
    if value is not None:
        subject["value"] = _output_leaves(case, value, "the value")
    slots = [objects[o] for o in case.slot_object]
    ones = [tf.ones_like(tf.identity(s)) for s in slots]
    tangents1 = ones if op in FORWARD_OPS_SCALAR else list(c1)
    jvp = fz.accumulator_jvp if case.finite else fz.transposed_jvp
    out, jvps = jvp(case.program, slots, tangents1)
    reference = {"t1": jvps, "value": out}
    if second is not None:
        reference["t2"] = jvp(case.program, slots, list(c2))[1]
    return subject, reference


# ---------------------------------------------------------------------------------------------
# Checking one case
# ---------------------------------------------------------------------------------------------


def _tolerances(dtype):
    """(tight: against the plain tape in the same mode, loose: against float64 finite differences)"""
    return (1e-4, 3e-3) if dtype == np.float32 else (1e-9, 1e-5)


def _check_records(case: Case):
    """Contract checks on what user code (registered derivatives, hooks) was handed and when."""
    assert not fz.RECORDER.violations, "; ".join(sorted(set(fz.RECORDER.violations)))
    if case.direction == "reverse":
        for path, _, _, live, reaches in fz.uses(case.program, ("hook",)):
            calls = fz.RECORDER.calls[("hook",) + path]
            if not reaches:
                assert calls == 0, f"the hook at node {path} does not reach the result but was called"
            elif live:
                assert calls > 0, f"the hook at node {path} reaches the result but was never called"
        for path, op, _, live, _ in fz.uses(case.program, fz.REGISTERED):
            if live:
                assert fz.RECORDER.calls[op] > 0, (
                    f"the derivative registered for {op} (node {path}) was not used in reverse mode"
                )
    else:
        for path, op, _, live, _ in fz.uses(case.program, fz.FORWARD_REGISTERED):
            if live:
                assert fz.RECORDER.calls[op] > 0, (
                    f"the differential registered for {op} (node {path}) was not used in forward mode"
                )


def _numbers(values):
    return [np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in values]


def _compare(case, index, what, got, ref, rtol, reference_name):
    assert len(got) == len(ref)
    for k, (g, r) in enumerate(zip(got, ref, strict=True)):
        problem = fz.close(g, r, rtol)
        if problem:
            raise AssertionError(
                f"{what}[{k}] differs from {reference_name} (draw {index}): {problem}\n"
                f"--- reproducer ---\n{case.reproducer(index, second=what.startswith('second'))}"
            )


def check_draw(case: Case, index: int, subject, reference):
    """Compares one draw's subject results with the tape/accumulator and finite differences."""
    draw = case.draws[index]
    tight, loose = _tolerances(case.dtype)
    subject = {k: _numbers(v) for k, v in subject.items()}
    reference = {k: _numbers(v) for k, v in reference.items()}
    plain = (
        "a plain tape"
        if case.direction == "reverse"
        else "a plain ForwardAccumulator"
        if case.finite
        else "a plain tape's transposed VJP"
    )
    for key in ("t1", "t2", "value"):
        if key in subject:
            _compare(
                case,
                index,
                {"t1": "tangent", "t2": "second tangent", "value": "value"}[key],
                subject[key],
                reference[key],
                tight,
                f"{plain} (every slot its own copy)",
            )
    slots = case.slot_values(draw)
    finite = fz.all_finite(*slots, *draw["c1"], *draw["c2"])
    if not finite:
        return
    if "value" in subject:
        _compare(
            case,
            index,
            "value",
            subject["value"],
            fz.numpy_value(case.program, slots),
            loose,
            "the float64 NumPy program",
        )
    if case.direction == "reverse":
        if fz.has_double_hook(case.program):
            return  # a hook that rewrites cotangents is not the derivative of anything
        scalar_gradient = case.operator in REVERSE_OPS_SCALAR
        for key, cots in (("t1", draw["c1"]), ("t2", draw["c2"])):
            if key in subject:
                expected = fz.fd_vjp(case.program, slots, [np.float64(1.0)] if scalar_gradient else cots)
                what = "tangent" if key == "t1" else "second tangent"
                _compare(case, index, what, subject[key], expected, loose, "float64 finite differences")
    else:
        scalar = case.operator in FORWARD_OPS_SCALAR
        for key, tangents in (("t1", draw["c1"]), ("t2", draw["c2"])):
            if key in subject:
                ts = [np.ones_like(np.asarray(s, np.float64)) for s in slots] if scalar else tangents
                what = "result tangent" if key == "t1" else "second result tangent"
                _compare(
                    case,
                    index,
                    what,
                    subject[key],
                    fz.fd_jvp(case.program, slots, ts),
                    loose,
                    "float64 finite differences",
                )


def _objects(case: Case, draw):
    made = []
    for kind, value in zip(case.object_kinds, draw["objects"], strict=True):
        if kind == "variable":
            made.append(tf.Variable(value))
        elif kind == "pyfloat":
            made.append(float(value))
        else:
            made.append(tf.constant(value))
    return made


def run_case(case: Case, test_name: str):
    if fz.REGISTRATION_ERROR is not None and any(
        op in fz.REGISTERED for _, op, *_ in fz.uses(case.program, fz.REGISTERED)
    ):
        raise AssertionError(f"registering the fuzz derivatives failed: {fz.REGISTRATION_ERROR!r}")
    try:
        _run_case(case, test_name)
    except Exception as error:
        if "--- reproducer ---" not in str(error):
            note(f"--- reproducer (draw 0) ---\n{case.reproducer(0)}")
        raise


def _run_case(case: Case, test_name: str):
    runner = run_reverse if case.direction == "reverse" else run_forward
    fz.RECORDER.reset()
    if case.mode == "eager":
        for index, draw in enumerate(case.draws):
            objects = _objects(case, draw)
            c1 = [tf.constant(c) for c in draw["c1"]]
            c2 = [tf.constant(c) for c in draw["c2"]]
            shared_variables = [
                o
                for o in set(case.slot_object)
                if case.object_kinds[o] == "variable" and case.slot_object.count(o) > 1
            ]
            if shared_variables:
                with pytest.raises(ValueError):
                    runner(case, objects, c1, c2)
                CASES[test_name] += 1
                continue
            fz.RECORDER.reset()
            subject, reference = runner(case, objects, c1, c2)
            _check_records(case)
            check_draw(case, index, subject, reference)
            CASES[test_name] += 1
        return
    traced = tf.function(
        lambda objects, c1, c2: runner(case, objects, c1, c2), jit_compile=case.mode == "xla", autograph=False
    )
    for index, draw in enumerate(case.draws):
        args = (
            [tf.constant(o) for o in draw["objects"]],
            [tf.constant(c) for c in draw["c1"]],
            [tf.constant(c) for c in draw["c2"]],
        )
        subject, reference = traced(*args)
        if index == 0:
            _check_records(case)  # user code runs while tracing, i.e. during the first call
        check_draw(case, index, subject, reference)
        CASES[test_name] += 1


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------

# Examples per feature (eager: one draw each).
EAGER_REVERSE = {name: 30 for name in FEATURES}
EAGER_REVERSE.update(plain=50, alias=50, alias_nest=50, alias_checkpoint=40, everything=60)
EAGER_FORWARD = {name: 20 for name in FEATURES}
EAGER_FORWARD.update(alias=30, alias_checkpoint=30, checkpoint_hooks=30, everything=40)
# Graph cases: programs per (feature, direction, mode); each program is traced once and checked on
# GRAPH_DRAWS draws of values.
GRAPH_PROGRAMS = {
    name: 3
    for name in (
        "plain",
        "alias_nest",
        "alias_checkpoint",
        "registered",
        "registered_nondiff",
        "registered_keywords",
        "registered_forward",
        "hooks",
        "gathered_cotangents",
        "checkpoint_hooks",
        "everything",
    )
}
GRAPH_PROGRAMS.update(checkpoint_nonfinite=6)
GRAPH_DRAWS = 5


def _feature_params(table):
    return [pytest.param(name, count, id=name) for name, count in table.items()]


@pytest.mark.parametrize("feature, examples", _feature_params(EAGER_REVERSE))
def test_reverse_eager(feature, examples):
    """gradient / value_with_gradient / pullback / value_with_pullback, eager, one draw per example."""

    @budget(examples)
    @given(case=cases(feature, "eager", "reverse", 1))
    def check(case):
        run_case(case, "reverse eager")

    check()


@pytest.mark.parametrize("feature, examples", _feature_params(EAGER_FORWARD))
def test_forward_eager(feature, examples):
    """differential / value_with_differential / derivative / value_with_derivative, eager."""

    @budget(examples)
    @given(case=cases(feature, "eager", "forward", 1))
    def check(case):
        run_case(case, "forward eager")

    check()


@pytest.mark.parametrize("mode", ["function", "xla"])
@pytest.mark.parametrize("direction", ["reverse", "forward"])
@pytest.mark.parametrize("feature, programs", _feature_params(GRAPH_PROGRAMS))
def test_graph(feature, programs, direction, mode):
    """One traced function per program, run and checked on GRAPH_DRAWS draws of values."""

    @budget(programs)
    @given(case=cases(feature, mode, direction, GRAPH_DRAWS))
    def check(case):
        run_case(case, f"{direction} {mode}")

    check()


# ---------------------------------------------------------------------------------------------
# Registered derivatives reached through the function object handed to an operator
# ---------------------------------------------------------------------------------------------


@st.composite
def original_cases(draw, name, aliased):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    direction = "forward" if name == "jvp_fn" and draw(st.booleans()) else "reverse"
    if name == "with_default":  # its Python-float default only with float32 points (see programs)
        arity = draw(st.sampled_from([1, 2])) if dtype == np.float32 else 2
    else:
        arity = 1 if name == "nest_fn" else 2
    seed = draw(st.integers(0, 2**32 - 1))
    return name, dtype, shape, aliased, direction, arity, seed


@pytest.mark.parametrize("points", ["distinct", "aliased"])
@pytest.mark.parametrize("mode", ["eager", "function"])
@pytest.mark.parametrize("function", sorted(fz.ORIGINALS))
def test_registered_function_objects(function, mode, points):
    """``of=`` the function object as it was before registration: the registered derivative is used
    (reverse: its pullback; forward: its differential), and every point is its own value (the same
    tensor object passed twice with ``points="aliased"``)."""
    examples = 8 if mode == "eager" else 2

    @budget(examples)
    @given(original_cases(function, points == "aliased"))
    def check(params):
        name, dtype, shape, aliased, direction, arity, seed = params
        assert fz.REGISTRATION_ERROR is None, repr(fz.REGISTRATION_ERROR)
        rng = np.random.default_rng(seed)
        x, y = (rng.uniform(-2, 2, size=shape).astype(dtype) for _ in range(2))
        v = rng.normal(size=shape).astype(dtype)
        t = [rng.normal(size=shape).astype(dtype) for _ in range(2)]
        original, plain = fz.ORIGINALS[name], fz.PLAIN[name]
        text = f"x = {fz._array_text(x)}; y = {'x' if aliased else fz._array_text(y)}"

        def subject(x, y, v, tx, ty):
            y = x if aliased else y
            if name == "nest_fn":
                point = {"a": x, "b": y}
                if direction == "reverse":
                    got = sd.pullback(at=(point,), of=original)(v)
                    return [got["a"], got["b"]]
            points = (x, y)[:arity]
            if direction == "reverse":
                got = sd.pullback(at=points if arity > 1 else points[0], of=original)(v)
                return list(got) if arity > 1 else [got]
            return [sd.differential(at=points, of=original)(tx, ty)]

        def reference(x, y, v, tx, ty):
            count = 2 if name == "nest_fn" else arity
            xs = [tf.identity(x), tf.identity(x if aliased else y)][:count]
            if direction == "forward":
                with tf.autodiff.ForwardAccumulator(xs, [tx, ty]) as acc:
                    out = plain(*xs)
                return [acc.jvp(out)]
            with tf.GradientTape() as tape:
                tape.watch(xs)
                out = plain({"a": xs[0], "b": xs[1]}) if name == "nest_fn" else plain(*xs)
            return tape.gradient(out, xs, output_gradients=v)

        fz.RECORDER.reset()
        args = [tf.constant(a) for a in (x, y, v, *t)]
        run = (lambda f: f(*args)) if mode == "eager" else (lambda f: tf.function(f, autograph=False)(*args))
        got, expected = run(subject), run(reference)
        note(f"{direction} of={name} ({arity} points, aliased={aliased}); {text}")
        assert not fz.RECORDER.violations, fz.RECORDER.violations
        assert fz.RECORDER.calls[name] > 0, f"the derivative registered for {name} was not used"
        tight, _ = _tolerances(dtype)
        for k, (g, r) in enumerate(zip(got, expected, strict=True)):
            problem = fz.close(g, r, tight)
            assert problem is None, f"tangent {k} of of={name}: {problem}"
        CASES["registered originals"] += 1

    check()


# ---------------------------------------------------------------------------------------------
# Randomness inside checkpointed bodies
# ---------------------------------------------------------------------------------------------

RANDOM_KINDS = (
    "dropout",
    "keras_normal",
    "generator_argument",
    "generator_closure",
    "generator_global",
    "generator_attribute",
    "generator_method",
    "generator_helper",
)
CHAIN_OPS = ("sin", "tanh", "square", "affine")


@st.composite
def random_cases(draw, draws_per_case):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 4)))
    pre = tuple(draw(st.lists(st.sampled_from(CHAIN_OPS), max_size=2)))
    post = tuple(draw(st.lists(st.sampled_from(CHAIN_OPS), max_size=2)))
    seed = draw(st.integers(0, 2**16))
    values = [draw(st.integers(0, 2**32 - 1)) for _ in range(draws_per_case)]
    return dtype, shape, pre, post, seed, values


def _random_setup(kind, seed, pre, post, dtype):
    """(checkpointed function of x, plain function of x, the generator whose state matters)."""
    if kind == "dropout":
        layer = keras.layers.Dropout(0.5, seed=seed, dtype=np.dtype(dtype).name)
        body = lambda x: fz.chain(post, layer(fz.chain(pre, x), training=True))  # noqa: E731
        return sd.with_recomputation_in_pullbacks(body), body, layer
    if kind == "keras_normal":
        generator = keras.random.SeedGenerator(seed)
        body = lambda x: fz.keras_normal_body(x, generator, pre, post)  # noqa: E731
        return sd.with_recomputation_in_pullbacks(body), body, generator
    if kind == "generator_argument":
        generator = tf.random.Generator.from_seed(seed)
        checkpointed = sd.with_recomputation_in_pullbacks(fz.argument_body)
        return (
            lambda x: checkpointed(x, generator, pre, post),
            lambda x: fz.argument_body(x, generator, pre, post),
            generator,
        )
    if kind == "generator_closure":
        generator = tf.random.Generator.from_seed(seed)

        def body(x):
            return fz.chain(post, fz.chain(pre, x) * generator.normal(tf.shape(x), dtype=x.dtype))

        return sd.with_recomputation_in_pullbacks(body), body, generator
    body, generator = {
        "generator_global": (fz.global_body, fz.GLOBAL_GENERATOR),
        "generator_attribute": (fz.attribute_body, fz.HOLDER.generator),
        "generator_method": (fz.HOLDER.body, fz.HOLDER.generator),
        "generator_helper": (fz.helper_body, fz.HELPER_GENERATOR),
    }[kind]
    generator.reset_from_seed(seed)
    checkpointed = sd.with_recomputation_in_pullbacks(body)
    return lambda x: checkpointed(x, pre, post), lambda x: body(x, pre, post), generator


RANDOM_EXAMPLES = {"eager": 10, "function": 2, "xla": 1}
RANDOM_DRAWS = {"eager": 1, "function": 4, "xla": 6}


@pytest.mark.parametrize("mode", ["eager", "function", "xla"])
@pytest.mark.parametrize("kind", RANDOM_KINDS)
def test_checkpoint_randomness(kind, mode):
    """A checkpointed body drawing random numbers: the gradient and value of the plain body run
    with the same numbers (the generator reset to the same state), and the same final state."""

    @budget(RANDOM_EXAMPLES[mode])
    @given(random_cases(RANDOM_DRAWS[mode]))
    def check(params):
        dtype, shape, pre, post, seed, value_seeds = params
        checkpointed, plain, generator = _random_setup(kind, seed, pre, post, dtype)
        state = fz.generator_state(generator)
        initial = tf.identity(state).numpy()
        weights = tf.constant(np.random.default_rng(seed).normal(size=shape).astype(dtype))

        def subject(x):
            return sd.value_with_gradient(at=x, of=lambda x: tf.reduce_sum(checkpointed(x) * weights))

        def reference(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                value = tf.reduce_sum(plain(x) * weights)
            return value, tape.gradient(value, x)

        if mode != "eager":
            subject = tf.function(subject, jit_compile=mode == "xla", autograph=False)
            reference = tf.function(reference, jit_compile=mode == "xla", autograph=False)
        note(f"{kind} in {mode}: pre={pre} post={post} {np.dtype(dtype).name}{list(shape)}")
        tight, _ = _tolerances(dtype)
        for index, value_seed in enumerate(value_seeds):
            x = tf.constant(np.random.default_rng(value_seed).uniform(-2, 2, size=shape).astype(dtype))
            state.assign(initial)
            value, gradient = subject(x)
            after_subject = tf.identity(state).numpy()
            state.assign(initial)
            expected_value, expected_gradient = reference(x)
            after_reference = tf.identity(state).numpy()
            pairs = (("value", value, expected_value), ("gradient", gradient, expected_gradient))
            for what, got, ref in pairs:
                problem = fz.close(got.numpy(), ref.numpy(), tight)
                assert problem is None, (
                    f"draw {index}: the checkpointed {what} differs from the plain "
                    f"body's with the same random numbers: {problem}"
                )
            assert np.array_equal(after_subject, after_reference), (
                f"draw {index}: the generator state after the checkpointed gradient is {after_subject}, "
                f"after the plain one {after_reference} (it must advance exactly as without checkpointing)"
            )
            CASES[f"randomness {mode}"] += 1

    check()
