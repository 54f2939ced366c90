"""without_derivative, with_derivative, differentiable_function, @differentiable, unbroadcasted:
the seed tutorial's sections 1-3 and 5 with its recorded numbers, and each contract row."""

import contextlib
import io
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import finite_difference, run_in


def f32(x) -> str:
    """Prints a value as Swift prints a Float (symbolic tensors, seen while tracing, as themselves)."""
    if isinstance(x, tf.Tensor) and tf.is_symbolic_tensor(x):
        return str(x)
    return str(np.float32(x))


# --- tutorial section 1: a custom derivative ----------------------------------------------------


def silly_exp(x):
    e = np.float32(math.e)
    print(f"Taking 𝑒({f32(e)}) to the power of {f32(x)}!")
    return tf.pow(e, x)


@sd.derivative(of=silly_exp)
def silly_derivative(x):
    y = silly_exp(x)
    return y, lambda v: v * y


def test_tutorial_section_1_custom_derivative():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print("exp(3) =", f32(silly_exp(3.0)))
        print("𝛁exp(3) =", f32(sd.gradient(of=silly_exp)(3.0)))
    assert out.getvalue() == (
        "Taking 𝑒(2.7182817) to the power of 3.0!\n"
        "exp(3) = 20.085535\n"
        "Taking 𝑒(2.7182817) to the power of 3.0!\n"
        "𝛁exp(3) = 20.085535\n"
    )


def test_tutorial_section_1_in_graphs(mode):
    with contextlib.redirect_stdout(io.StringIO()):
        assert f32(run_in(mode, lambda x: sd.gradient(at=x, of=silly_exp), tf.constant(3.0))) == "20.085535"


# --- tutorial section 2: withoutDerivative -----------------------------------------------------


def test_tutorial_section_2_without_derivative(mode):
    def run(x, y):
        return sd.gradient(
            at=(x, y),
            of=lambda x, y: tf.sin(tf.sin(tf.sin(x))) + sd.without_derivative(at=tf.cos(tf.cos(tf.cos(y)))),
        )

    gx, gy = run_in(mode, run, tf.constant(2.0), tf.constant(3.0))
    assert (f32(gx), f32(gy)) == ("-0.18009877", "0.0")


def test_without_derivative_passes_non_floating_values_through():
    nest = {"n": 3, "name": "loop", "x": tf.constant(1.0), "i": tf.constant(2)}
    out = sd.without_derivative(at=nest)
    assert out["n"] == 3 and out["name"] == "loop" and int(out["i"]) == 2
    assert sd.without_derivative(at=5) == 5


def test_without_derivative_of_body(mode):
    def run(x):
        return sd.gradient(at=x, of=lambda x: x * sd.without_derivative(at=x, of=lambda v: v * v))

    assert run_in(mode, run, tf.constant(3.0)) == 9.0  # d/dx x * c = c, c = 9
    assert float(sd.without_derivative(at=2.0, in_=lambda v: v + 1.0)) == 3.0


def test_without_derivative_blocks_variables(mode):
    v = tf.Variable(2.0)
    out = run_in(mode, lambda: sd.gradient(at=v, of=lambda v: v * sd.without_derivative(at=v)))
    assert out == 2.0


# --- tutorial section 3: withDerivative -------------------------------------------------------


def tutorial_section_3(x):
    a = sd.with_derivative(tf.sin(x), lambda d: print(f"∂+/∂sin = {f32(d)}"))

    def rewrite(dx):
        print(f"∂log/∂x = {f32(dx)}, but rewritten to 0.5")
        return 0.5

    b = tf.math.log(sd.with_derivative(x, rewrite))
    return a + b


def test_tutorial_section_3_hooks_in_swift_order():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print(f32(sd.gradient(at=30.0, of=tutorial_section_3)))
    assert out.getvalue() == ("∂log/∂x = 0.033333335, but rewritten to 0.5\n∂+/∂sin = 1.0\n0.65425146\n")


def test_tutorial_section_3_in_graphs(mode):
    with contextlib.redirect_stdout(io.StringIO()):
        assert (
            f32(run_in(mode, lambda x: sd.gradient(at=x, of=tutorial_section_3), tf.constant(30.0)))
            == "0.65425146"
        )


def test_hook_values_in_graphs(mode):
    seen = []

    def run(x):
        def f(x):
            return tf.reduce_sum(sd.with_derivative(x * 3.0, lambda g: seen.append(g) or g * 2.0))

        return sd.gradient(at=x, of=f)

    out = run_in(mode, run, tf.constant([1.0, 2.0]))
    np.testing.assert_allclose(out, [6.0, 6.0])
    assert len(seen) == 1


def test_hook_on_value_that_does_not_reach_the_result_is_never_called(mode):
    called = []

    def f(x):
        sd.with_derivative(x * 2.0, lambda g: called.append(1))
        return x * x

    assert run_in(mode, lambda x: sd.gradient(at=x, of=f), tf.constant(3.0)) == 6.0
    assert called == []


def test_hooks_run_in_reverse_order_of_creation():
    order = []

    def f(x):
        a = sd.with_derivative(x, lambda g: order.append("a"))
        b = sd.with_derivative(a * 2.0, lambda g: order.append("b"))
        c = sd.with_derivative(x * 3.0, lambda g: order.append("c"))
        return a + b + c

    sd.gradient(at=1.0, of=f)
    assert order == ["c", "b", "a"]


def test_forward_mode_passes_through_hooks(mode):
    def run(x):
        return sd.derivative(at=x, of=lambda x: sd.with_derivative(x * x, lambda g: g * 0.0))

    assert run_in(mode, run, tf.constant(3.0)) == 6.0


def test_hook_returning_wrong_shape_is_an_error_naming_with_derivative():
    with pytest.raises(ValueError, match=r"with_derivative.*shape \[3\]"):
        sd.gradient(
            at=tf.constant([1.0, 2.0]),
            of=lambda x: tf.reduce_sum(sd.with_derivative(x, lambda g: tf.ones([3]))),
        )


def test_hook_returning_wrong_dtype_is_an_error():
    with pytest.raises(TypeError, match=r"with_derivative.*float64"):
        sd.gradient(at=1.0, of=lambda x: sd.with_derivative(x, lambda g: tf.constant(1.0, tf.float64)))


# --- differentiable_function and the tutorial's section 5 -----------------------------------


def make_recomputed_in_gradient(original):
    return sd.differentiable_function(
        from_=lambda x: (original(x), lambda v: sd.pullback(at=x, of=original)(v))
    )


def make_recomputed_in_gradient2(original):
    return sd.differentiable_function(
        from_=lambda x, y: (original(x, y), lambda v: sd.pullback(at=(x, y), of=original)(v))
    )


def test_tutorial_section_5_make_recomputed_in_gradient():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print("Running original computation...")

        def body(x):
            print("  Computing square...")
            return x * x

        square = make_recomputed_in_gradient(body)
        output, backprop = sd.value_with_pullback(at=10.0, of=lambda x: square(tf.cos(x)))
        print("Running backpropagation...")
        grad = backprop(1)
        print(f"Gradient = {f32(grad)}")
    assert out.getvalue() == (
        "Running original computation...\n"
        "  Computing square...\n"
        "Running backpropagation...\n"
        "  Computing square...\n"
        "Gradient = -0.9129453\n"
    )


def test_tutorial_section_5_in_graphs(mode):
    square = make_recomputed_in_gradient(lambda x: x * x)
    out = run_in(mode, lambda x: sd.gradient(at=x, of=lambda x: square(tf.cos(x))), tf.constant(10.0))
    assert f32(out) == "-0.9129453"


def test_binary_make_recomputed_in_gradient_over_layer_and_input(mode):
    layer = keras.layers.Dense(3, activation="tanh")
    layer.build((None, 2))
    apply = make_recomputed_in_gradient2(lambda layer, x: layer(x))
    x = tf.constant([[0.5, -1.0], [2.0, 0.1]])

    def grads(of):
        def run():
            gl, gx = sd.gradient(at=(layer, x), of=lambda layer, x: tf.reduce_sum(of(layer, x) ** 2))
            return list(gl), gx

        return run_in(mode, run)

    expected = grads(lambda layer, x: layer(x))
    got = grads(apply)
    for a, b in zip(expected[0], got[0], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(expected[1], got[1], rtol=1e-6)


def test_differentiable_function_with_nest_argument(mode):
    def vjp(p):
        value = p["a"] * p["b"]
        return value, lambda v: {"a": v * p["b"], "b": v * p["a"]}

    f = sd.differentiable_function(from_=vjp)

    def run(a, b):
        return sd.gradient(at={"a": a, "b": b}, of=lambda p: f(p))

    out = run_in(mode, run, tf.constant(2.0), tf.constant(5.0))
    assert out == {"a": 5.0, "b": 2.0}


def test_differentiable_function_value_without_differentiation():
    f = sd.differentiable_function(from_=lambda x: (x + 1.0, lambda v: v))
    assert float(f(tf.constant(1.0))) == 2.0


def test_differentiable_function_rejects_non_pair():
    f = sd.differentiable_function(from_=lambda x: x)
    with pytest.raises(TypeError, match=r"differentiable_function.*\(value, pullback\)"):
        sd.gradient(at=1.0, of=f)


# --- @differentiable -------------------------------------------------------------------------


def test_differentiable_marker_changes_nothing():
    @sd.differentiable
    def f(x):
        return x * x

    @sd.differentiable(wrt="x")
    def g(x, y):
        return x * y

    @sd.differentiable("reverse")
    def h(x):
        return x + 1.0

    class Model:
        @sd.differentiable
        def __call__(self, x):
            return 2.0 * x

    assert float(f(3.0)) == 9.0 and float(g(2.0, 4.0)) == 8.0 and float(h(1.0)) == 2.0
    assert float(sd.gradient(at=3.0, of=f)) == 6.0
    assert float(sd.gradient(at=3.0, of=Model())) == 2.0
    assert g.__differentiable_wrt__ == "x"


# --- unbroadcasted ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape,to", [((2, 3), (3,)), ((2, 3), (2, 1)), ((4, 2, 3), (1, 3)), ((2, 3), ()), ((2, 3), (2, 3))]
)
def test_unbroadcasted_is_the_transpose_of_broadcasting(mode, shape, to):
    t = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    out = run_in(mode, lambda t: sd.unbroadcasted(t, to=to), tf.constant(t))
    # <broadcast(u), t> == <u, unbroadcasted(t)> for every u: compare with the reduction itself
    expected = finite_difference(lambda u: np.sum(np.broadcast_to(u, shape) * t), np.zeros(to))
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    assert out.shape == tuple(to)


def test_unbroadcasted_like_and_bad_shapes():
    out = sd.unbroadcasted(tf.ones([2, 3]), like=tf.zeros([3]))
    np.testing.assert_allclose(out, [2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="unbroadcasted"):
        sd.unbroadcasted(tf.ones([2, 3]), to=[4])
    with pytest.raises(TypeError, match="unbroadcasted"):
        sd.unbroadcasted(tf.ones([2, 3]))


def test_unbroadcasted_in_a_custom_broadcasting_pullback(mode):
    def mul_vjp(x, y):
        return x * y, lambda v: (sd.unbroadcasted(v * y, like=x), sd.unbroadcasted(v * x, like=y))

    mul = sd.differentiable_function(from_=mul_vjp)

    def run(x, y):
        return sd.gradient(at=(x, y), of=lambda x, y: tf.reduce_sum(mul(x, y)))

    gx, gy = run_in(mode, run, tf.constant([[1.0, 2.0], [3.0, 4.0]]), tf.constant([10.0, 20.0]))
    np.testing.assert_allclose(gx, [[10.0, 20.0], [10.0, 20.0]])
    np.testing.assert_allclose(gy, [4.0, 6.0])


def test_hooks_receive_a_dense_cotangent_after_a_gather(mode):
    # tf.gather's gradient is tf.IndexedSlices; `g * 2.0` would raise TypeError on it.
    seen = []

    def hook(g):
        seen.append(isinstance(g, tf.Tensor))
        return g * 2.0

    got = run_in(
        mode,
        lambda x: sd.gradient(
            at=x, of=lambda x: tf.reduce_sum(tf.gather(sd.with_derivative(x, hook), [0, 2]))
        ),
        tf.constant([1.0, 2.0, 3.0]),
    )
    np.testing.assert_allclose(got, [2.0, 0.0, 2.0])
    assert seen and all(seen)


def test_differentiable_function_gives_no_slot_to_non_floating_arguments(mode):
    def vjp(x, count, name):
        return x * float(count), lambda v: v * float(count)  # one tangent: count and name have no slot

    scale = sd.differentiable_function(from_=vjp)
    assert (
        float(run_in(mode, lambda x: sd.gradient(at=x, of=lambda x: scale(x, 3, "s")), tf.constant(2.0)))
        == 3.0
    )
