"""BasicRNNCell, LSTMCell, GRUCell and their drivers: S4TF's variables, initializers and gate
equations, checked against numpy steps written from S4TF's equations, Keras' cells and RNN layers
with the same weights, and finite differences; the drivers' list semantics, Keras integration,
checkpointing and misuse."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import swiftdiff as sd
from conftest import finite_difference, run_in

INPUT, HIDDEN, BATCH, TIME = 3, 4, 2, 4
RNG = np.random.RandomState(0)


def randomized(cell):
    """The cell with random weights, biases included, so that every variable's mapping is checked."""
    for variable in cell.trainable_variables:
        variable.assign(RNG.randn(*variable.shape) * 0.5)
    return cell


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# -- S4TF's equations in numpy --------------------------------------------------------------------
def basic_step(cell, x, h):
    return np.tanh(np.concatenate([x, h], 1) @ cell.weight.numpy() + cell.bias.numpy())


def lstm_step(cell, x, c, h):
    fused = np.concatenate([x, h], 1) @ cell.fused_weight.numpy() + cell.fused_bias.numpy()
    i, u, f, o = np.split(fused, 4, axis=1)  # S4TF's order: input, update, forget, output
    c = c * sigmoid(f) + sigmoid(i) * np.tanh(u)
    return c, np.tanh(c) * sigmoid(o)


def gru_step(cell, x, h):
    v = {variable.name: variable.numpy() for variable in cell.trainable_variables}

    def part(gate):
        return x @ v[f"{gate}_kernel"] + v[f"{gate}_bias"], h @ v[f"{gate}_recurrent_kernel"] + v[
            f"{gate}_recurrent_bias"
        ]

    z = sigmoid(sum(part("update")))
    r = sigmoid(sum(part("reset")))
    from_input, from_state = part("output")
    return z * h + (1 - z) * np.tanh(from_input + r * from_state)


# -- Keras twins with the same weights ------------------------------------------------------------
def swap_middle_gates(matrix):
    """Keras' LSTM gate order [i, f, c, o] <-> S4TF's [input, update, forget, output] (an involution)."""
    i, a, b, o = np.split(matrix, 4, axis=-1)
    return np.concatenate([i, b, a, o], axis=-1)


def keras_weights(cell):
    """The cell's weights in the layout of the matching Keras cell (``reset_after=True`` GRU)."""
    if isinstance(cell, sd.BasicRNNCell):
        w = cell.weight.numpy()
        return [w[:INPUT], w[INPUT:], cell.bias.numpy()]
    if isinstance(cell, sd.LSTMCell):
        w = swap_middle_gates(cell.fused_weight.numpy())
        return [w[:INPUT], w[INPUT:], swap_middle_gates(cell.fused_bias.numpy())]
    v = {variable.name: variable.numpy() for variable in cell.trainable_variables}
    gates = ("update", "reset", "output")  # Keras' z, r, h
    return [
        np.concatenate([v[f"{g}_kernel"] for g in gates], 1),
        np.concatenate([v[f"{g}_recurrent_kernel"] for g in gates], 1),
        np.stack([np.concatenate([v[f"{g}{s}"] for g in gates]) for s in ("_bias", "_recurrent_bias")]),
    ]


def s4tf_gradients(cell, keras_grads):
    """Gradients w.r.t. a Keras twin's weights, in the cell's layout and variable order."""
    kernel, recurrent, bias = (np.asarray(g) for g in keras_grads)
    if isinstance(cell, sd.BasicRNNCell):
        return [np.concatenate([kernel, recurrent]), bias]
    if isinstance(cell, sd.LSTMCell):
        return [swap_middle_gates(np.concatenate([kernel, recurrent])), swap_middle_gates(bias)]
    k, r, b = (np.split(m, 3, axis=-1) for m in (kernel, recurrent, bias))
    kernels = [k[0], r[0], k[1], r[1], k[2], r[2]]
    biases = [b[0][0], b[0][1], b[1][0], b[1][1], b[2][0], b[2][1]]
    return kernels + biases


def keras_cell(cell):
    twin = {
        sd.BasicRNNCell: lambda: keras.layers.SimpleRNNCell(HIDDEN),
        sd.LSTMCell: lambda: keras.layers.LSTMCell(HIDDEN),
        sd.GRUCell: lambda: keras.layers.GRUCell(HIDDEN, reset_after=True),
    }[type(cell)]()
    twin.build((None, INPUT))
    twin.set_weights(keras_weights(cell))
    return twin


def make_cells():
    return [
        randomized(sd.BasicRNNCell(input_size=INPUT, hidden_size=HIDDEN)),
        randomized(sd.LSTMCell(input_size=INPUT, hidden_size=HIDDEN)),
        randomized(sd.GRUCell(input_size=INPUT, hidden_size=HIDDEN)),
    ]


def tensor(*shape):
    return tf.constant(RNG.randn(*shape).astype(np.float32))


def test_one_step_of_each_cell_matches_numpy_and_keras(mode):
    cells = make_cells()
    twins = [keras_cell(cell) for cell in cells]
    x, h, c, w_h, w_c = (tensor(BATCH, n) for n in (INPUT, HIDDEN, HIDDEN, HIDDEN, HIDDEN))

    def ours(cell, x, h, c):
        with tf.GradientTape() as tape:
            tape.watch([x, h, c])
            state = sd.LSTMCell.State(cell=c, hidden=h) if isinstance(cell, sd.LSTMCell) else h
            result = cell(input=x, state=state)
            if isinstance(cell, sd.LSTMCell):
                assert isinstance(result.state, sd.LSTMCell.State) and result.output is result.state
                loss = tf.reduce_sum(result.state.hidden * w_h) + tf.reduce_sum(result.state.cell * w_c)
            else:
                assert result.output is result.state
                loss = tf.reduce_sum(result.state * w_h)
        return result.output, tape.gradient(loss, [x, h, c, *cell.trainable_variables])

    def theirs(twin, x, h, c):
        with tf.GradientTape() as tape:
            tape.watch([x, h, c])
            if isinstance(twin, keras.layers.LSTMCell):
                hidden, (_, cell_state) = twin(x, [h, c])
                loss = tf.reduce_sum(hidden * w_h) + tf.reduce_sum(cell_state * w_c)
            else:
                hidden, _ = twin(x, [h])
                loss = tf.reduce_sum(hidden * w_h)
        return tape.gradient(loss, [x, h, c, *twin.trainable_variables])

    results = run_in(mode, lambda x, h, c: [ours(cell, x, h, c) for cell in cells], x, h, c)
    references = [theirs(twin, x, h, c) for twin in twins]  # the reference runs eagerly
    x, h, c = x.numpy(), h.numpy(), c.numpy()
    expected = [basic_step(cells[0], x, h), lstm_step(cells[1], x, c, h), gru_step(cells[2], x, h)]
    for cell, (output, grads), reference, value in zip(cells, results, references, expected, strict=True):
        if isinstance(cell, sd.LSTMCell):
            np.testing.assert_allclose(output.cell, value[0], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(output.hidden, value[1], rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_allclose(output, value, rtol=1e-5, atol=1e-6)
        d_x, d_h, d_c, *d_variables = grads
        k_x, k_h, k_c, *k_variables = reference
        np.testing.assert_allclose(d_x, k_x, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(d_h, k_h, rtol=1e-4, atol=1e-5)
        if isinstance(cell, sd.LSTMCell):
            np.testing.assert_allclose(d_c, k_c, rtol=1e-4, atol=1e-5)
        for d, k in zip(d_variables, s4tf_gradients(cell, k_variables), strict=True):
            np.testing.assert_allclose(d, k, rtol=1e-4, atol=1e-5)


def keras_rnn(cell):
    """Keras' recurrent layer over the twin of ``cell``, returning every step's output and the state."""
    layer = {
        sd.BasicRNNCell: lambda: keras.layers.SimpleRNN(HIDDEN, return_sequences=True, return_state=True),
        sd.LSTMCell: lambda: keras.layers.LSTM(HIDDEN, return_sequences=True, return_state=True),
        sd.GRUCell: lambda: keras.layers.GRU(
            HIDDEN, return_sequences=True, return_state=True, reset_after=True
        ),
    }[type(cell)]()
    layer.build((None, TIME, INPUT))
    layer.set_weights(keras_weights(cell))
    return layer


def test_drivers_run_s4tf_loops_and_match_keras_rnn_layers(mode):
    cells = make_cells()
    drivers = [sd.BasicRNN(cells[0]), sd.LSTM(cells[1]), sd.GRU(cells[2])]
    references = [keras_rnn(cell) for cell in cells]
    sequence, h0, c0 = tensor(BATCH, TIME, INPUT), tensor(BATCH, HIDDEN), tensor(BATCH, HIDDEN)
    w = tensor(BATCH, TIME, HIDDEN)

    def ours(driver, sequence, h0, c0):
        with tf.GradientTape() as tape:
            tape.watch([sequence, h0, c0])
            steps = tf.unstack(sequence, axis=1)  # Swift's [TimeStepInput]
            lstm = isinstance(driver, sd.LSTM)
            initial = sd.LSTMCell.State(cell=c0, hidden=h0) if lstm else h0
            outputs = driver(steps, initial_state=initial)
            hidden = tf.stack([o.hidden for o in outputs] if lstm else outputs, axis=1)
            loss = tf.reduce_sum(hidden * w)
        return outputs, tape.gradient(loss, [sequence, h0, c0, *driver.trainable_variables])

    def theirs(layer, sequence, h0, c0):
        with tf.GradientTape() as tape:
            tape.watch([sequence, h0, c0])
            lstm = isinstance(layer, keras.layers.LSTM)
            hidden, *_ = layer(sequence, initial_state=[h0, c0] if lstm else [h0])
            loss = tf.reduce_sum(hidden * w)
        return tape.gradient(loss, [sequence, h0, c0, *layer.trainable_variables])

    results = run_in(mode, lambda *args: [ours(driver, *args) for driver in drivers], sequence, h0, c0)
    reference_grads = [theirs(layer, sequence, h0, c0) for layer in references]  # run eagerly
    x = sequence.numpy()
    for driver, (outputs, grads), reference in zip(drivers, results, reference_grads, strict=True):
        cell = driver.cell
        assert len(outputs) == TIME
        h, c = h0.numpy(), c0.numpy()
        for t in range(TIME):  # S4TF's loop, written out
            if isinstance(cell, sd.LSTMCell):
                c, h = lstm_step(cell, x[:, t], c, h)
                np.testing.assert_allclose(outputs[t].cell, c, rtol=1e-5, atol=1e-5)
                np.testing.assert_allclose(outputs[t].hidden, h, rtol=1e-5, atol=1e-5)
            else:
                h = (
                    basic_step(cell, x[:, t], h)
                    if isinstance(cell, sd.BasicRNNCell)
                    else gru_step(cell, x[:, t], h)
                )
                np.testing.assert_allclose(outputs[t], h, rtol=1e-5, atol=1e-5)
        initial = sd.LSTMCell.State(cell=c0, hidden=h0) if isinstance(driver, sd.LSTM) else h0
        last = driver.last_output(from_=sequence, initial_state=initial)  # a [batch, time, features] tensor
        tf.nest.map_structure(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), last, outputs[-1]
        )
        d_sequence, d_h0, d_c0, *d_variables = grads
        k_sequence, k_h0, k_c0, *k_variables = reference
        np.testing.assert_allclose(d_sequence, k_sequence, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(d_h0, k_h0, rtol=1e-4, atol=1e-5)
        if isinstance(cell, sd.LSTMCell):
            np.testing.assert_allclose(d_c0, k_c0, rtol=1e-4, atol=1e-5)
        for d, k in zip(d_variables, s4tf_gradients(cell, k_variables), strict=True):
            np.testing.assert_allclose(d, k, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell_type", [sd.LSTMCell, sd.GRUCell])
def test_driver_gradients_match_finite_differences_in_float64(cell_type):
    cell = randomized(cell_type(input_size=2, hidden_size=2, dtype="float64"))
    rnn = sd.RecurrentLayer(cell)
    steps0 = RNG.randn(2, 3, 2)  # [batch, time, features]
    state0 = RNG.randn(2, 2)
    w = RNG.randn(2, 2)

    def loss(steps, state):
        initial = sd.LSTMCell.State(cell=state, hidden=state) if cell_type is sd.LSTMCell else state
        last = rnn.last_output(from_=tf.unstack(steps, axis=1), initial_state=initial)
        return tf.reduce_sum((last.hidden if cell_type is sd.LSTMCell else last) * w)

    d_steps, d_state = sd.gradient(at=(tf.constant(steps0), tf.constant(state0)), of=loss)
    assert d_steps.dtype == tf.float64
    fd_steps = finite_difference(lambda s: loss(tf.constant(s), tf.constant(state0)), steps0)
    fd_state = finite_difference(lambda s: loss(tf.constant(steps0), tf.constant(s)), state0)
    np.testing.assert_allclose(d_steps, fd_steps, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(d_state, fd_state, rtol=1e-6, atol=1e-9)


def test_variables_initializers_and_views():
    basic = sd.BasicRNNCell(input_size=INPUT, hidden_size=HIDDEN)
    lstm = sd.LSTMCell(input_size=INPUT, hidden_size=HIDDEN)
    gru = sd.GRUCell(input_size=INPUT, hidden_size=HIDDEN)
    assert [(v.name, tuple(v.shape)) for v in basic.trainable_variables] == [
        ("weight", (INPUT + HIDDEN, HIDDEN)),
        ("bias", (HIDDEN,)),
    ]
    assert [(v.name, tuple(v.shape)) for v in lstm.trainable_variables] == [
        ("fused_weight", (INPUT + HIDDEN, 4 * HIDDEN)),
        ("fused_bias", (4 * HIDDEN,)),
    ]
    kernel, recurrent, bias = (INPUT, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN,)
    assert [(v.name, tuple(v.shape)) for v in gru.trainable_variables] == [
        ("update_kernel", kernel),
        ("update_recurrent_kernel", recurrent),
        ("reset_kernel", kernel),
        ("reset_recurrent_kernel", recurrent),
        ("output_kernel", kernel),
        ("output_recurrent_kernel", recurrent),
        ("update_bias", bias),
        ("update_recurrent_bias", bias),
        ("reset_bias", bias),
        ("reset_recurrent_bias", bias),
        ("output_bias", bias),
        ("output_recurrent_bias", bias),
    ]
    # Glorot uniform weights, zero biases (the LSTM's forget gate's too, as in S4TF).
    for variable in [*basic.trainable_variables, *lstm.trainable_variables, *gru.trainable_variables]:
        value = variable.numpy()
        if value.ndim == 1:
            np.testing.assert_array_equal(value, 0.0)
        else:
            limit = np.sqrt(6 / sum(value.shape))
            assert np.all(np.abs(value) <= limit) and value.std() > limit / 3, variable.name
    same = sd.BasicRNNCell(input_size=INPUT, hidden_size=HIDDEN, seed=3)
    np.testing.assert_array_equal(
        same.weight, sd.BasicRNNCell(input_size=INPUT, hidden_size=HIDDEN, seed=3).weight
    )
    ones = sd.GRUCell(
        input_size=INPUT, hidden_size=HIDDEN, kernel_initializer="ones", bias_initializer="ones"
    )
    assert all(np.all(v.numpy() == 1) for v in ones.trainable_variables)
    # Swift's per-gate views of the fused LSTM variables.
    randomized(lstm)
    w, b = lstm.fused_weight.numpy(), lstm.fused_bias.numpy()
    for index, gate in enumerate(("input", "update", "forget", "output")):
        columns = slice(index * HIDDEN, (index + 1) * HIDDEN)
        np.testing.assert_array_equal(getattr(lstm, f"{gate}_weight"), w[:, columns])
        np.testing.assert_array_equal(getattr(lstm, f"{gate}_bias"), b[columns])


def test_call_forms_zero_states_and_driver_semantics():
    cells = make_cells()
    x = tensor(BATCH, INPUT)
    for cell in cells:
        for state in (cell.zero_state(for_=x), cell.zero_state(BATCH), cell.zeroState(x)):
            for part in tf.nest.flatten(state):
                np.testing.assert_array_equal(part, np.zeros([BATCH, HIDDEN]))
        state = cell.zero_state(for_=x)
        by_keywords = cell(input=x, state=state)
        swift_style = cell(sd.RNNCellInput(input=x, state=state))
        positional = cell(x, state)
        assert isinstance(by_keywords, sd.RNNCellOutput)
        tf.nest.map_structure(np.testing.assert_array_equal, swift_style, by_keywords)
        tf.nest.map_structure(np.testing.assert_array_equal, positional, by_keywords)
    lstm = cells[1]
    # A plain pair is refused: Keras' order is (hidden, cell), S4TF's (cell, hidden).
    with pytest.raises(TypeError, match=r"sd\.LSTMCell: state= must be an sd\.LSTMCell\.State"):
        lstm(input=x, state=(tf.zeros([BATCH, HIDDEN]), tf.ones([BATCH, HIDDEN])))

    gru = sd.GRU(cells[2])
    steps = [tensor(BATCH, INPUT) for _ in range(3)]
    outputs = gru(steps)  # from the zero state
    np.testing.assert_array_equal(outputs[-1], gru(steps, initial_state=tf.zeros([BATCH, HIDDEN]))[-1])
    assert not np.allclose(outputs[-1], gru(steps, initial_state=tf.ones([BATCH, HIDDEN]))[-1])
    np.testing.assert_array_equal(gru.lastOutput(steps), outputs[-1])
    np.testing.assert_array_equal(gru(tf.stack(steps, axis=1))[1], outputs[1])  # [batch, time, features]
    np.testing.assert_array_equal(gru(tuple(steps))[2], outputs[2])
    assert gru([]) == [] and sd.LSTM(cells[1])([]) == []
    assert sd.RNN is sd.RecurrentLayer and sd.RecurrentLayer(cells[0])(steps)[0].shape == (BATCH, HIDDEN)
    assert issubclass(sd.LSTM, sd.RecurrentLayer) and isinstance(cells[1], sd.RecurrentLayerCell)

    # The tangent of a driver mirrors it: grads.cell.<variable>.
    lstm_rnn = sd.LSTM(cells[1])
    grads = sd.gradient(at=lstm_rnn, of=lambda rnn: tf.reduce_sum(rnn.last_output(from_=steps).hidden))
    assert grads.cell.fused_weight.shape == (INPUT + HIDDEN, 4 * HIDDEN)
    assert grads.cell.fused_bias.shape == (4 * HIDDEN,)


def test_checkpointed_driver_gives_the_plain_gradients():
    lstm = sd.LSTM(randomized(sd.LSTMCell(input_size=INPUT, hidden_size=HIDDEN)))
    steps = [tensor(BATCH, INPUT) for _ in range(TIME)]

    def loss(rnn):
        return tf.reduce_sum(rnn.last_output(from_=steps).hidden ** 2)

    plain = sd.gradient(at=lstm, of=loss)
    recomputed = sd.with_recomputation_in_pullbacks(lambda rnn, steps: rnn(steps)[-1].hidden)
    checkpointed = sd.gradient(at=lstm, of=lambda rnn: tf.reduce_sum(recomputed(rnn, steps) ** 2))
    wrapped = sd.ActivationDiscarding(lstm)
    discarding = sd.gradient(at=wrapped, of=lambda rnn: tf.reduce_sum(rnn(steps)[-1].hidden ** 2))
    for a, b, c in zip(plain, checkpointed, discarding, strict=True):
        assert np.any(a.numpy() != 0)
        np.testing.assert_allclose(b, a, rtol=1e-6)
        np.testing.assert_allclose(c, a, rtol=1e-6)


def test_an_lstm_model_trains_with_fit_under_xla():
    inputs = keras.Input((TIME, INPUT))
    lstm = sd.LSTM(sd.LSTMCell(input_size=INPUT, hidden_size=HIDDEN))
    outputs = sd.Dense(input_size=HIDDEN, output_size=1)(lstm.last_output(from_=inputs).hidden)
    model = keras.Model(inputs, outputs)
    x = RNG.randn(32, TIME, INPUT).astype(np.float32)
    y = np.tanh(x.sum(axis=(1, 2)))[:, None]
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", jit_compile=True)
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0).history["loss"]
    assert history[-1] < 0.7 * history[0]


def test_get_config_and_keras_file_round_trip(tmp_path):
    inputs = keras.Input((TIME, INPUT))
    drivers = [
        sd.BasicRNN(randomized(sd.BasicRNNCell(input_size=INPUT, hidden_size=HIDDEN, seed=1))),
        sd.LSTM(randomized(sd.LSTMCell(input_size=INPUT, hidden_size=HIDDEN))),
        sd.GRU(randomized(sd.GRUCell(input_size=INPUT, hidden_size=HIDDEN, bias_initializer="ones"))),
    ]
    lasts = [drivers[0].last_output(from_=inputs), drivers[1].last_output(from_=inputs).hidden]
    lasts.append(drivers[2](inputs)[-1])
    model = keras.Model(inputs, keras.ops.concatenate(lasts, axis=-1))
    for driver in drivers:
        copy = type(driver).from_config(driver.get_config())
        assert type(copy.cell) is type(driver.cell)
        assert copy.cell.get_config() == driver.cell.get_config()
    assert drivers[0].cell.get_config()["seed"] == 1
    path = tmp_path / "recurrent.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects
    x = RNG.randn(4, TIME, INPUT).astype(np.float32)
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6, atol=1e-7)
    by_type = {type(layer): layer for layer in loaded.layers}
    np.testing.assert_array_equal(by_type[sd.LSTM].cell.fused_weight, drivers[1].cell.fused_weight)
    np.testing.assert_array_equal(
        by_type[sd.GRU].cell.reset_recurrent_bias, drivers[2].cell.reset_recurrent_bias
    )
    assert (
        by_type[sd.GRU].cell.get_config()["bias_initializer"]
        == drivers[2].cell.get_config()["bias_initializer"]
    )


def test_misuse_is_reported_in_s4tf_terms():
    lstm_cell = sd.LSTMCell(input_size=INPUT, hidden_size=HIDDEN)
    gru_cell = sd.GRUCell(input_size=INPUT, hidden_size=HIDDEN)
    with pytest.raises(ValueError, match=r"sd\.LSTMCell: input_size= must be a positive integer"):
        sd.LSTMCell(input_size=0, hidden_size=2)
    with pytest.raises(ValueError, match=r"sd\.GRUCell: hidden_size= must be a positive integer"):
        sd.GRUCell(input_size=2, hidden_size=2.0)
    with pytest.raises(TypeError, match=r"sd\.LSTM: cell must be an sd\.LSTMCell, got GRUCell"):
        sd.LSTM(gru_cell)
    with pytest.raises(TypeError, match=r"sd\.GRU: cell must be an sd\.GRUCell, got LSTMCell"):
        sd.GRU(lstm_cell)
    with pytest.raises(TypeError, match=r"sd\.RecurrentLayer: cell must be a recurrent cell .* got Dense"):
        sd.RecurrentLayer(sd.Dense(input_size=2, output_size=2))
    x = tf.ones([BATCH, INPUT])
    with pytest.raises(TypeError, match=r"sd\.GRUCell: state= is missing"):
        gru_cell(input=x)
    with pytest.raises(ValueError, match=r"sd\.GRUCell: input= must be \[batch, 3\], got shape \[2, 5\]"):
        gru_cell(input=tf.ones([BATCH, 5]), state=gru_cell.zero_state(x))
    with pytest.raises(ValueError, match=r"sd\.GRUCell: state= must be \[batch, 4\], got shape \[4\]"):
        gru_cell(input=x, state=tf.zeros([HIDDEN]))
    with pytest.raises(TypeError, match=r"sd\.LSTMCell: state= must be an sd\.LSTMCell\.State"):
        lstm_cell(input=x, state=tf.zeros([BATCH, HIDDEN]))
    with pytest.raises(TypeError, match=r"sd\.LSTMCell\.zero_state: for_= must be a time-step input"):
        lstm_cell.zero_state("2")
    with pytest.raises(ValueError, match=r"sd\.GRUCell\.zero_state: for_= must be a positive integer"):
        gru_cell.zero_state(0)
    with pytest.raises(ValueError, match=r"sd\.GRUCell\.zero_state: for_= must be a time-step input"):
        gru_cell.zero_state(tf.ones([2, 3, 4]))
    gru = sd.GRU(gru_cell)
    with pytest.raises(TypeError, match=r"sd\.GRU: steps must be a list of \[batch, features\] tensors"):
        gru(tf.ones([BATCH, INPUT]))
    with pytest.raises(ValueError, match=r"sd\.GRU\.last_output: from_= must hold at least one time step"):
        gru.last_output(from_=[])
    unknown_time = tf.function(gru, input_signature=[tf.TensorSpec([None, None, INPUT])])
    with pytest.raises(ValueError, match=r"sd\.GRU: a \[batch, time, features\] input needs a static number"):
        unknown_time.get_concrete_function()


def test_wrong_steps_and_states_are_caught_before_the_driver_runs():
    gru = sd.GRU(sd.GRUCell(input_size=INPUT, hidden_size=HIDDEN))
    lstm = sd.LSTM(sd.LSTMCell(input_size=INPUT, hidden_size=HIDDEN))
    custom = sd.RecurrentLayer(lstm.cell)
    cases = [
        (
            lambda: gru([tf.ones([BATCH, INPUT]), tf.ones([BATCH, 5])]),
            r"sd\.GRU: time step 1 must be \[batch, 3\]",
        ),
        (
            lambda: gru(tf.ones([BATCH, TIME, 5])),
            r"sd\.GRU: time step 0 must be \[batch, 3\], got shape \[2, 5\]",
        ),
        (lambda: lstm([tf.ones([INPUT])]), r"sd\.LSTM: time step 0 must be \[batch, 3\], got shape \[3\]"),
        (
            lambda: gru([tf.ones([BATCH, INPUT])], initial_state=tf.zeros([BATCH, 2])),
            r"sd\.GRUCell: state= must be \[batch, 4\], got shape \[2, 2\]",
        ),
        (
            lambda: custom.last_output(
                from_=[tf.ones([BATCH, INPUT])],
                initial_state=sd.LSTMCell.State(cell=tf.zeros([BATCH, 1]), hidden=tf.zeros([BATCH, 1])),
            ),
            r"sd\.LSTMCell: state= must be \[batch, 4\], got shape \[2, 1\]",
        ),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            call()
        assert "\n" not in str(info.value)  # our one-line message, not Keras' report of a failed call
    with pytest.raises(TypeError, match=r"sd\.LSTMCell: state= must be an sd\.LSTMCell\.State") as info:
        lstm([tf.ones([BATCH, INPUT])], initial_state=tf.zeros([BATCH, HIDDEN]))
    assert "\n" not in str(info.value)
    symbolic = keras.Input((TIME, INPUT))  # symbolic inputs are checked too
    assert len(gru(symbolic)) == TIME
    with pytest.raises(ValueError, match=r"sd\.LSTM: time step 0 must be \[batch, 3\]"):
        lstm(keras.Input((TIME, 2)))
