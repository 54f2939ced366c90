"""Forward-mode derivative registration and forward-over-reverse Hessian-vector products.

A function may have a registered pullback and a registered differential (``sd.ValueWithDifferential``)
at once: reverse mode uses the pullback, forward mode the differential itself. The pairs below are
deliberately inconsistent so that each result shows which one was used. Hessian-vector products
(``sd.differential`` of ``sd.gradient``) through registered derivatives, checkpointed bodies,
``ActivationDiscarding`` layers and hooks are checked against the analytic Hessian and against
float64 central differences of the gradient.
"""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import run_in

# A map with a Jacobian that is not symmetric, so that a transpose in the wrong place shows.
A = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, -3.0], [4.0, 0.0, 1.0]])
B = np.array([[0.5, 0.0, 1.0], [-1.0, 2.0, 0.0], [0.0, 3.0, -2.0]])  # the "wrong" Jacobian
A32, B32 = A.astype(np.float32), B.astype(np.float32)


def _matvec(matrix, v):
    return tf.linalg.matvec(tf.constant(matrix, v.dtype), v)


# --- both registered, in either order; deliberately inconsistent ------------------------------


def pullback_first(x):
    return _matvec(A32, x)


def differential_first(x):
    return _matvec(A32, x)


def _pullback_of_b(x):
    """A pullback whose Jacobian is B (its transpose is B^T)."""
    return _matvec(A32, x), lambda v: _matvec(B32.T, v)


def _differential_of_a(x):
    """A differential whose Jacobian is A, times 10."""
    return sd.ValueWithDifferential(_matvec(A32, x), lambda t: 10.0 * _matvec(A32, t))


with warnings.catch_warnings():
    warnings.simplefilter("error")  # one of each kind: no replacement warning
    sd.derivative(of=pullback_first)(_pullback_of_b)
    sd.derivative(of=pullback_first)(_differential_of_a)
    sd.derivative(of=differential_first)(_differential_of_a)
    sd.derivative(of=differential_first)(_pullback_of_b)

X3 = np.array([1.0, -2.0, 0.5], np.float32)
T3 = np.array([0.3, 1.0, -2.0], np.float32)


@pytest.mark.parametrize("function", [pullback_first, differential_first], ids=lambda f: f.__name__)
def test_reverse_mode_uses_the_pullback_and_forward_mode_the_differential(mode, function):
    def run(x, t):
        value_with_differential = sd.value_with_differential(at=x, of=function)
        return (
            sd.pullback(at=x, of=function)(t),
            sd.gradient(at=x, of=lambda x: tf.reduce_sum(function(x) * t)),
            sd.differential(at=x, of=function)(t),
            value_with_differential.value,
            value_with_differential.differential(t),
            sd.differential(at=x, of=lambda x: 2.0 * function(tf.sin(x)))(t),  # inside a program
        )

    pulled, gradient, forward, value, forward_again, composed = run_in(mode, run, X3, T3)
    np.testing.assert_allclose(pulled, B.T @ T3, rtol=1e-6)  # the registered pullback
    np.testing.assert_allclose(gradient, B.T @ T3, rtol=1e-6)
    np.testing.assert_allclose(forward, 10 * A @ T3, rtol=1e-6)  # the registered differential
    np.testing.assert_allclose(forward_again, 10 * A @ T3, rtol=1e-6)
    np.testing.assert_allclose(value, A @ X3, rtol=1e-6)
    np.testing.assert_allclose(composed, 2 * 10 * A @ (np.cos(X3) * T3), rtol=1e-5)


def test_scalar_derivative_uses_the_differential(mode):
    def run(s):
        along = tf.constant(T3)
        return (
            sd.derivative(at=s, of=lambda s: tf.reduce_sum(pullback_first(s * along))),
            sd.gradient(at=s, of=lambda s: tf.reduce_sum(pullback_first(s * along))),
        )

    forward, reverse = run_in(mode, run, tf.constant(1.5))
    np.testing.assert_allclose(forward, np.sum(10 * A @ T3), rtol=1e-6)
    np.testing.assert_allclose(reverse, np.sum(B @ T3), rtol=1e-6)


def test_registering_the_same_kind_again_replaces_with_a_warning():
    def f(x):
        return x * x

    @sd.derivative(of=f)
    def jvp_one(x):
        return sd.ValueWithDifferential(f(x), lambda t: 1.0 * t)

    with warnings.catch_warnings():
        warnings.simplefilter("error")

        @sd.derivative(of=f)
        def vjp_one(x):
            return f(x), lambda v: 3.0 * v

    with pytest.warns(sd.DerivativeRegistrationWarning, match="replacing the differential.*jvp_one"):

        @sd.derivative(of=f)
        def jvp_two(x):
            return sd.ValueWithDifferential(f(x), lambda t: 2.0 * t)

    with pytest.warns(sd.DerivativeRegistrationWarning, match="replacing the pullback.*vjp_one"):

        @sd.derivative(of=f)
        def vjp_two(x):
            return sd.ValueWithPullback(f(x), lambda v: 4.0 * v)

    assert float(sd.derivative(at=1.0, of=f)) == 2.0
    assert float(sd.gradient(at=1.0, of=f)) == 4.0


def _built_elsewhere(value, factor):
    return sd.ValueWithDifferential(value, lambda t: factor * t)


def test_a_differential_built_by_a_helper_is_told_by_what_it_returns():
    def f(x):
        return x * x

    @sd.derivative(of=f)
    def through_helper(x):  # its own code names no ValueWithDifferential
        return _built_elsewhere(f(x), 5.0)

    assert float(sd.derivative(at=1.0, of=f)) == 5.0
    assert float(sd.gradient(at=1.0, of=f)) == 5.0  # its transpose

    def g(x):
        return x * x

    def annotated(x) -> sd.ValueWithDifferential:
        return _built_elsewhere(g(x), 6.0)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sd.derivative(of=g)(lambda x: (g(x), lambda v: 7.0 * v))
        sd.derivative(of=g)(annotated)  # the annotation says it is a differential
    assert float(sd.derivative(at=1.0, of=g)) == 6.0
    assert float(sd.gradient(at=1.0, of=g)) == 7.0


def test_two_differentials_one_taken_for_a_pullback_is_an_error_naming_both():
    def f(x):
        return x * x

    @sd.derivative(of=f)
    def hidden_jvp(x):
        return _built_elsewhere(f(x), 5.0)

    @sd.derivative(of=f)
    def plain_jvp(x):
        return sd.ValueWithDifferential(f(x), lambda t: 2.0 * t)

    with pytest.raises(TypeError, match=r"hidden_jvp.*plain_jvp|plain_jvp.*hidden_jvp"):
        sd.gradient(at=1.0, of=f)


def test_a_pullback_and_a_differential_must_take_the_same_wrt():
    def f(x, y):
        return x * y

    sd.derivative(of=f, wrt="x")(lambda x, y: (f(x, y), lambda v: v * y))
    with pytest.raises(TypeError, match=r"sd\.derivative\(of=f\): .*same wrt="):

        @sd.derivative(of=f)
        def jvp(x, y):
            return sd.ValueWithDifferential(f(x, y), lambda tx, ty: tx * y + x * ty)


def test_forward_mode_value_is_the_function_value(mode):
    def run(x):
        return sd.value_with_derivative(at=x, of=lambda x: tf.reduce_sum(pullback_first(x * T3)))

    value, derivative = run_in(mode, run, tf.constant(2.0))
    np.testing.assert_allclose(value, np.sum(A @ (2.0 * T3)), rtol=1e-6)
    np.testing.assert_allclose(derivative, np.sum(10 * A @ T3), rtol=1e-6)


# --- a differential for a function of a layer -------------------------------------------------


def dense_apply(layer, x):
    return layer(x)


@sd.derivative(of=dense_apply)
def _dense_apply_jvp(layer, x):
    y = layer(x)

    def differential(t_layer, t_x):
        return tf.matmul(t_x, layer.kernel) + tf.matmul(x, t_layer.kernel) + t_layer.bias

    return sd.ValueWithDifferential(y, differential)


def _dense():
    layer = keras.layers.Dense(2, kernel_initializer="glorot_uniform")
    layer.build((None, 3))
    layer.kernel.assign(np.arange(6, dtype=np.float32).reshape(3, 2) / 5.0 - 0.4)
    layer.bias.assign([0.25, -0.5])
    return layer


def test_differential_registered_for_a_function_of_a_layer(mode):
    layer, x = _dense(), tf.constant([[1.0, -2.0, 0.5], [0.3, 0.2, -1.0]])
    tk = np.full((3, 2), 0.1, np.float32)
    tb = np.array([1.0, -1.0], np.float32)
    tx = np.ones((2, 3), np.float32)
    cot = np.array([[1.0, 2.0], [-1.0, 0.5]], np.float32)

    def run(x):
        forward = sd.differential(at=(layer, x), of=dense_apply)(sd.TangentVector(layer, [tk, tb]), tx)
        grad_layer, grad_x = sd.pullback(at=(layer, x), of=dense_apply)(cot)
        return forward, list(grad_layer), grad_x

    forward, (g_kernel, g_bias), g_x = run_in(mode, run, x)
    kernel, x_np = layer.kernel.numpy(), x.numpy()
    np.testing.assert_allclose(forward, tx @ kernel + x_np @ tk + tb, rtol=1e-5)
    np.testing.assert_allclose(g_kernel, x_np.T @ cot, rtol=1e-5)  # the differential's transpose
    np.testing.assert_allclose(g_bias, cot.sum(0), rtol=1e-5)
    np.testing.assert_allclose(g_x, cot @ kernel.T, rtol=1e-5)


# --- derivatives TensorFlow cannot differentiate are refused, not taken as zero ------------------


def test_forward_mode_through_a_pullback_written_in_numpy_is_refused():
    def f(x):
        return x * x

    @sd.derivative(of=f)
    def numpy_vjp(x):
        return f(x), lambda v: tf.constant(2.0 * v.numpy() * x.numpy())

    assert float(sd.gradient(at=3.0, of=f)) == 6.0  # reverse mode: fine
    with pytest.raises(TypeError, match=r"f \(numpy_vjp\): the pullback depends on its cotangent .*NumPy"):
        sd.derivative(at=3.0, of=f)


def test_second_order_derivatives_through_a_pullback_written_in_numpy_are_refused():
    def f(x):
        return x * x * x

    @sd.derivative(of=f)
    def numpy_cube_vjp(x):
        return f(x), lambda v: tf.constant(3.0 * v.numpy() * x.numpy() ** 2)

    with pytest.raises(TypeError, match=r"numpy_cube_vjp\): the pullback depends on its cotangent"):
        sd.differential(at=2.0, of=lambda x: sd.gradient(at=x, of=f))(1.0)
    with pytest.raises(TypeError, match=r"numpy_cube_vjp\): the pullback depends on its cotangent"):
        sd.gradient(at=2.0, of=lambda x: sd.gradient(at=x, of=f))


def test_a_pullback_through_numpy_function_is_refused_in_a_graph():
    def f(x):
        return x * x

    @sd.derivative(of=f)
    def opaque_vjp(x):
        return f(x), lambda v: tf.numpy_function(lambda a, b: 2 * a * b, [v, x], tf.float32, stateful=False)

    with pytest.raises(tf.errors.InvalidArgumentError, match="opaque_vjp.*cotangent"):
        tf.function(lambda x: sd.derivative(at=x, of=f))(tf.constant(3.0))


def test_reverse_mode_through_a_differential_written_in_numpy_is_refused():
    def f(x):
        return x * x

    @sd.derivative(of=f)
    def numpy_jvp(x):
        return sd.ValueWithDifferential(f(x), lambda t: tf.constant(2.0 * t.numpy() * x.numpy()))

    assert float(sd.derivative(at=3.0, of=f)) == 6.0  # forward mode calls it: fine
    with pytest.raises(TypeError, match=r"numpy_jvp\): the differential depends on its tangents"):
        sd.gradient(at=3.0, of=f)


def test_a_zero_pullback_is_not_mistaken_for_an_opaque_one(mode):
    def step(x):
        return tf.round(x)

    @sd.derivative(of=step)
    def step_vjp(x):
        return step(x), lambda v: tf.zeros_like(x)

    assert run_in(mode, lambda x: sd.derivative(at=x, of=step), tf.constant(2.3)) == 0.0


# --- forward-over-reverse Hessian-vector products ---------------------------------------------

C = np.array([0.5, -1.0, 2.0])
X = np.array([0.3, -1.2, 2.0])
V = np.array([1.0, 0.5, -2.0])


def h_plain(x):
    return _matvec(A, tf.sin(x))


def h_pullback(x):
    return _matvec(A, tf.sin(x))


def h_differential(x):
    return _matvec(A, tf.sin(x))


def h_both(x):
    return _matvec(A, tf.sin(x))


@sd.derivative(of=h_pullback)
@sd.derivative(of=h_both)
def _h_vjp(x):
    cos = tf.cos(x)
    return _matvec(A, tf.sin(x)), lambda v: cos * _matvec(A.T, v)


@sd.derivative(of=h_differential)
@sd.derivative(of=h_both)
def _h_jvp(x):
    cos = tf.cos(x)
    return sd.ValueWithDifferential(_matvec(A, tf.sin(x)), lambda t: _matvec(A, cos * t))


h_checkpointed = sd.with_recomputation_in_pullbacks(lambda x: _matvec(A, tf.sin(x)))
h_recomputed = sd.differentiable_function(  # the tutorial's checkpointing, as user code
    from_=lambda x: (h_plain(x), lambda v: sd.pullback(at=x, of=h_plain)(v))
)


def _objective(h):
    """0.5 |h(x)|^2 + c.h(x): its Hessian is J^T J + sum_k (h_k + c_k) d2 h_k."""
    return lambda x: 0.5 * tf.reduce_sum(h(x) ** 2) + tf.reduce_sum(tf.constant(C) * h(x))


def _analytic_hessian(x):
    h, jacobian = A @ np.sin(x), A * np.cos(x)
    return jacobian.T @ jacobian + np.diag(-np.sin(x) * (A.T @ (h + C)))


def _hooked(x):
    half = sd.with_derivative(x, lambda d: d * 0.5)  # the gradient through this path is halved
    return tf.reduce_sum(tf.sin(half) * x) + tf.reduce_sum(h_both(x) ** 2)


def _blocked(x):
    return 0.5 * tf.reduce_sum(h_pullback(x) ** 2) + tf.reduce_sum(C * sd.without_derivative(at=h_both(x)))


CASES = {
    "plain": _objective(h_plain),
    "pullback": _objective(h_pullback),
    "differential": _objective(h_differential),
    "both": _objective(h_both),
    "checkpointed": _objective(h_checkpointed),
    "differentiable_function": _objective(h_recomputed),
    "with_derivative": _hooked,
    "without_derivative": _blocked,
}
ANALYTIC = {"plain", "pullback", "differential", "both", "checkpointed", "differentiable_function"}


def _gradient_differences(function, x, v, eps=1e-5):
    """Central differences of sd.gradient along v, in float64."""
    ahead = sd.gradient(at=tf.constant(x + eps * v), of=function).numpy()
    behind = sd.gradient(at=tf.constant(x - eps * v), of=function).numpy()
    return (ahead - behind) / (2 * eps)


def _hvp_three_ways(function):
    def run(x, v):
        gradient = lambda x: sd.gradient(at=x, of=function)  # noqa: E731
        with_differential = sd.value_with_differential(at=x, of=gradient)
        return (
            sd.differential(at=x, of=gradient)(v),
            with_differential.value,
            with_differential.differential(v),
            sd.derivative(at=tf.constant(0.0, tf.float64), of=lambda s: gradient(x + s * v)),
        )

    return run


@pytest.mark.parametrize("case", sorted(CASES))
def test_hessian_vector_product(mode, case):
    function = CASES[case]
    hvp, gradient, hvp_again, along_line = run_in(mode, _hvp_three_ways(function), X, V)
    expected = _gradient_differences(function, X, V)
    np.testing.assert_allclose(hvp, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(hvp_again, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(along_line, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gradient, sd.gradient(at=tf.constant(X), of=function), rtol=1e-12)
    if case in ANALYTIC:
        np.testing.assert_allclose(hvp, _analytic_hessian(X) @ V, rtol=1e-9)


def test_hooks_act_only_in_the_pass_they_were_created_in(mode):
    """Reverse over reverse too: the outer pass differentiates the identity a hook is, even when a
    checkpoint re-creates the hook in its recomputation."""
    checkpointed_hook = sd.with_recomputation_in_pullbacks(
        lambda x: tf.sin(sd.with_derivative(x, lambda d: d * 0.5)) * x
    )

    def function(x):
        return _hooked(x) + tf.reduce_sum(checkpointed_hook(x))

    def run(x, v):
        return sd.gradient(at=x, of=lambda x: tf.reduce_sum(sd.gradient(at=x, of=function) * v))

    np.testing.assert_allclose(
        run_in(mode, run, X, V), _gradient_differences(function, X, V), rtol=1e-6, atol=1e-8
    )


@pytest.fixture
def float64_layers():
    """Keras layers and containers (a Sequential rounds its inputs to its own dtype) in float64."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_dtype_policy(previous)


def _layers(seed):
    keras.utils.set_random_seed(seed)
    return [keras.layers.Dense(4, activation="tanh") for _ in range(2)]


def _functional(layers):
    inputs = outputs = keras.Input((3,))
    for layer in layers:
        outputs = layer(outputs)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("wrap", ["ActivationDiscarding", "checkpointed_sequential", "checkpointed"])
@pytest.mark.usefixtures("float64_layers")
def test_hessian_vector_product_through_a_checkpointed_layer(mode, wrap):
    plain = keras.Sequential(_layers(5))
    inner = _layers(5)
    wrapped = {
        "ActivationDiscarding": lambda: sd.ActivationDiscarding(keras.Sequential(inner)),
        "checkpointed_sequential": lambda: sd.checkpointed_sequential(
            inner, segments=2, keep_last_segment=False
        ),
        "checkpointed": lambda: sd.checkpointed(_functional(inner), segments=2),
    }[wrap]()
    plain(tf.zeros([1, 3], tf.float64))
    wrapped(tf.zeros([1, 3], tf.float64))
    for source, target in zip(plain.weights, wrapped.weights, strict=True):
        target.assign(source)
    batch = tf.constant([[0.2, -0.4, 1.0], [1.5, 0.3, -0.7]], tf.float64)

    def objective(model):
        return lambda x: tf.reduce_sum(model(batch * x) ** 2)

    def run(x, v):
        return _hvp_three_ways(objective(wrapped))(x, v)

    hvp, _, hvp_again, along_line = run_in(mode, run, X, V)
    expected = _gradient_differences(objective(wrapped), X, V)
    for got in (hvp, hvp_again, along_line):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)
    # The unwrapped model's Hessian-vector product by two plain tapes, an independent reference.
    x = tf.constant(X)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            loss = objective(plain)(x)
        along = tf.reduce_sum(inner.gradient(loss, x) * V)
    np.testing.assert_allclose(hvp, outer.gradient(along, x), rtol=1e-9)


@pytest.mark.usefixtures("float64_layers")
def test_hessian_vector_product_with_respect_to_a_layer(mode):
    plain = keras.Sequential(_layers(9))
    wrapped = sd.ActivationDiscarding(keras.Sequential(_layers(9)))
    plain(tf.zeros([1, 3], tf.float64))
    wrapped(tf.zeros([1, 3], tf.float64))
    for source, target in zip(plain.weights, wrapped.weights, strict=True):
        target.assign(source)
    batch = tf.constant([[0.2, -0.4, 1.0], [1.5, 0.3, -0.7]], tf.float64)
    direction = [tf.constant(np.linspace(-1, 1, w.numpy().size).reshape(w.shape)) for w in plain.weights]

    def loss(model):
        return tf.reduce_sum(model(batch) ** 2)

    def run():
        gradient = lambda layer: tuple(sd.gradient(at=layer, of=loss))  # noqa: E731
        return list(sd.differential(at=wrapped, of=gradient)(sd.TangentVector(wrapped, direction)))

    got = run_in(mode, run)
    with tf.GradientTape() as outer:  # two plain tapes on the unwrapped model: the reference
        with tf.GradientTape() as inner:
            value = loss(plain)
        grads = inner.gradient(value, plain.trainable_variables)
        along = tf.add_n([tf.reduce_sum(g * d) for g, d in zip(grads, direction, strict=True)])
    reference = outer.gradient(along, plain.trainable_variables)
    for mine, expected in zip(got, reference, strict=True):
        np.testing.assert_allclose(mine, expected, rtol=1e-9, atol=1e-12)


def test_a_hook_belongs_to_the_operator_it_was_made_under_and_raw_nested_tapes_apply_it_twice():
    """As documented in sd.with_derivative: sum((x^2)^2) with the cotangent of x^2 doubled has the
    hooked gradient 8x^3, whose derivative is 24x^2 (the operators); two raw tapes also double the
    outer pass's cotangent: 8x^2 + 2 * 16x^2 = 40x^2."""
    x = tf.constant([0.7, -1.2], tf.float64)
    v = tf.constant([1.0, 0.5], tf.float64)

    def loss(x):
        return tf.reduce_sum(sd.with_derivative(x**2, lambda g: 2.0 * g) ** 2)

    by_operators = sd.gradient(at=x, of=lambda x: tf.reduce_sum(sd.gradient(at=x, of=loss) * v))
    np.testing.assert_allclose(by_operators, 24 * x.numpy() ** 2 * v.numpy(), rtol=1e-12)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            value = loss(x)
        directional = tf.reduce_sum(inner.gradient(value, x) * v)
    np.testing.assert_allclose(outer.gradient(directional, x), 40 * x.numpy() ** 2 * v.numpy(), rtol=1e-12)
