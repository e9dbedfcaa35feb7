"""nn.RNN, GRU, LSTM and their cells against PyTorch with copied weights: outputs, final states,
and the gradients of the input, the initial states and every parameter, in float64 and float32;
parameter names, init, state dicts both ways, arguments and errors."""
import io
import math
import warnings

import numpy as np
import pytest
import torch

import scratchgrad as sg
from tests.helpers import SG_DTYPES, TORCH_DTYPES, close

TOLERANCES = {"float64": (1e-9, 1e-11), "float32": (2e-4, 2e-5)}
LAYERS = ("RNN", "GRU", "LSTM")
CELLS = ("RNNCell", "GRUCell", "LSTMCell")


def both(name, *args, **kwargs):
    """The same layer built in each library, torch's weights copied into scratchgrad's."""
    torch.manual_seed(0)
    tmod = getattr(torch.nn, name)(*args, **kwargs)
    smod = getattr(sg.nn, name)(*args, **kwargs)
    smod.load_state_dict({k: v.detach().numpy() for k, v in tmod.state_dict().items()})
    return smod, tmod


def as_pair(value, dtype, grad=True):
    return (sg.tensor(value, dtype=SG_DTYPES[dtype], requires_grad=grad),
            torch.tensor(value, dtype=TORCH_DTYPES[dtype], requires_grad=grad))


def flat(result):
    """(output, h_n) or (output, (h_n, c_n)) -> a flat list of tensors."""
    out, state = result
    return [out, *state] if isinstance(state, tuple) else [out, state]


def check_same(smod, tmod, dtype, x, state=None, cell=False):
    """Forward both, backward the same random weighting of every output, compare everything."""
    if dtype == "float64":
        smod.double()
        tmod.double()
    xs, xt = as_pair(x, dtype)
    states = []
    if state is not None:
        states = [as_pair(s, dtype) for s in (state if isinstance(state, tuple) else (state,))]
    s_state = t_state = None
    if states:
        s_state = tuple(s for s, _ in states) if len(states) == 2 else states[0][0]
        t_state = tuple(t for _, t in states) if len(states) == 2 else states[0][1]
    s_res, t_res = smod(xs, s_state), tmod(xt, t_state)
    if cell:
        s_outs = list(s_res) if isinstance(s_res, tuple) else [s_res]
        t_outs = list(t_res) if isinstance(t_res, tuple) else [t_res]
    else:
        s_outs, t_outs = flat(s_res), flat(t_res)
    rng = np.random.default_rng(1)
    s_loss, t_loss = 0, 0
    for s_out, t_out in zip(s_outs, t_outs, strict=True):
        assert s_out.shape == tuple(t_out.shape)
        assert s_out.dtype == SG_DTYPES[dtype]
        close(s_out, t_out, *TOLERANCES[dtype])
        weight = rng.standard_normal(s_out.shape)
        s_loss = s_loss + (s_out * sg.tensor(weight, dtype=SG_DTYPES[dtype])).sum()
        t_loss = t_loss + (t_out * torch.tensor(weight, dtype=TORCH_DTYPES[dtype])).sum()
    s_loss.backward()
    t_loss.backward()
    close(xs.grad, xt.grad, *TOLERANCES[dtype])
    for s, t in states:
        close(s.grad, t.grad, *TOLERANCES[dtype])
    t_params = dict(tmod.named_parameters())
    assert [n for n, _ in smod.named_parameters()] == list(t_params)
    for name, p in smod.named_parameters():
        close(p.grad, t_params[name].grad, *TOLERANCES[dtype])


def initial_state(name, shape, seed=2):
    rng = np.random.default_rng(seed)
    if name.startswith("LSTM"):
        return rng.standard_normal(shape), rng.standard_normal(shape)
    return rng.standard_normal(shape)


# ---------------------------------------------------------------- layers against PyTorch

CONFIGS = {
    "plain": {},
    "two-layers": {"num_layers": 2},
    "batch-first": {"batch_first": True},
    "no-bias": {"bias": False},
    "bidirectional": {"bidirectional": True},
    "deep-bidirectional-batch-first": {"num_layers": 2, "bidirectional": True, "batch_first": True},
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("name", LAYERS)
def test_layer_matches_torch(name, config, dtype):
    kwargs = CONFIGS[config]
    smod, tmod = both(name, 5, 6, **kwargs)
    x = np.random.default_rng(0).standard_normal((3, 4, 5))  # (L, N) or (N, L) with batch_first
    check_same(smod, tmod, dtype, x)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", LAYERS)
def test_layer_with_initial_state_matches_torch(name, dtype):
    smod, tmod = both(name, 5, 6, num_layers=2, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((4, 3, 5))
    check_same(smod, tmod, dtype, x, initial_state(name, (4, 3, 6)))


@pytest.mark.parametrize("name", LAYERS)
def test_unbatched_input_matches_torch(name):
    smod, tmod = both(name, 5, 6, num_layers=2, batch_first=True)
    x = np.random.default_rng(0).standard_normal((4, 5))
    check_same(smod, tmod, "float64", x)
    smod, tmod = both(name, 5, 6, bidirectional=True)
    check_same(smod, tmod, "float64", x, initial_state(name, (2, 6)))


def test_rnn_relu_matches_torch():
    smod, tmod = both("RNN", 5, 6, num_layers=2, nonlinearity="relu")
    x = np.random.default_rng(0).standard_normal((4, 3, 5))
    check_same(smod, tmod, "float64", x, initial_state("RNN", (2, 3, 6)))


@pytest.mark.parametrize("name", LAYERS)
def test_second_order_gradient_matches_torch(name):
    """The fused cells' rules are differentiable too (create_graph=True)."""
    smod, tmod = both(name, 3, 4)
    smod.double()
    tmod.double()
    x = np.random.default_rng(0).standard_normal((3, 2, 3))
    xs, xt = as_pair(x, "float64")
    (gs,) = sg.grad(flat(smod(xs))[0].tanh().sum(), xs, create_graph=True)
    (gt,) = torch.autograd.grad(flat(tmod(xt))[0].tanh().sum(), xt, create_graph=True)
    close(gs, gt, *TOLERANCES["float64"])
    (gs * gs).sum().backward()
    (gt * gt).sum().backward()
    close(xs.grad, xt.grad, *TOLERANCES["float64"])
    close(smod.weight_hh_l0.grad, tmod.weight_hh_l0.grad, *TOLERANCES["float64"])


@pytest.mark.parametrize("name", CELLS)
def test_cell_second_order_gradient_matches_torch(name):
    smod, tmod = both(name, 3, 4)
    smod.double()
    tmod.double()
    x = np.random.default_rng(0).standard_normal((2, 3))
    state = initial_state(name, (2, 4))
    (xs, xt) = as_pair(x, "float64")
    if name == "LSTMCell":
        (hs, ht), (cs, ct) = as_pair(state[0], "float64"), as_pair(state[1], "float64")
        out_s, out_t = smod(xs, (hs, cs)), tmod(xt, (ht, ct))
        out_s, out_t = out_s[0] * out_s[1], out_t[0] * out_t[1]
    else:
        (hs, ht) = as_pair(state, "float64")
        out_s, out_t = smod(xs, hs), tmod(xt, ht)
    gs = sg.grad(out_s.tanh().sum(), [xs, hs], create_graph=True)
    gt = torch.autograd.grad(out_t.tanh().sum(), [xt, ht], create_graph=True)
    for a, b in zip(gs, gt):
        close(a, b, *TOLERANCES["float64"])
    (gs[0] * gs[1].sum()).sum().backward()
    (gt[0] * gt[1].sum()).sum().backward()
    close(xs.grad, xt.grad, *TOLERANCES["float64"])
    close(hs.grad, ht.grad, *TOLERANCES["float64"])
    close(smod.weight_hh.grad, tmod.weight_hh.grad, *TOLERANCES["float64"])


# ---------------------------------------------------------------- cells against PyTorch

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("name", CELLS)
def test_cell_matches_torch(name, with_state, dtype):
    smod, tmod = both(name, 5, 6)
    x = np.random.default_rng(0).standard_normal((3, 5))
    check_same(smod, tmod, dtype, x, initial_state(name, (3, 6)) if with_state else None, cell=True)


@pytest.mark.parametrize("name", CELLS)
def test_cell_unbatched_and_options_match_torch(name):
    kwargs = {"nonlinearity": "relu"} if name == "RNNCell" else {}
    smod, tmod = both(name, 5, 6, bias=False, **kwargs)
    x = np.random.default_rng(0).standard_normal(5)
    check_same(smod, tmod, "float64", x, initial_state(name, (6,)), cell=True)


@pytest.mark.parametrize("name", ["GRUCell", "LSTMCell"])
def test_fused_cells_gradcheck(name):
    cell = getattr(sg.nn, name)(3, 4).double()
    x = sg.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    state = initial_state(name, (2, 4))
    if name == "LSTMCell":
        h = sg.tensor(state[0], requires_grad=True)
        c = sg.tensor(state[1], requires_grad=True)
        assert sg.gradcheck(lambda x, h, c: sum(t.sum() * (i + 1) for i, t in
                                                enumerate(cell(x, (h, c)))), (x, h, c))
    else:
        h = sg.tensor(state, requires_grad=True)
        assert sg.gradcheck(lambda x, h: cell(x, h), (x, h))
    params = list(cell.parameters())
    assert sg.gradcheck(lambda *ps: (cell(x) if name == "GRUCell" else cell(x)[1]), params)


# ---------------------------------------------------------------- names, init, state dicts

@pytest.mark.parametrize("name", LAYERS)
def test_parameter_names_shapes_and_state_dict_keys_match_torch(name):
    kwargs = {"num_layers": 2, "bidirectional": True}
    smod, tmod = getattr(sg.nn, name)(5, 6, **kwargs), getattr(torch.nn, name)(5, 6, **kwargs)
    assert [(n, p.shape) for n, p in smod.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in tmod.named_parameters()]
    assert list(smod.state_dict()) == list(tmod.state_dict())


@pytest.mark.parametrize("name", LAYERS + CELLS)
def test_init_is_uniform_within_one_over_sqrt_hidden(name):
    sg.manual_seed(0)
    module = getattr(sg.nn, name)(10, 16)
    bound = 1 / math.sqrt(16)
    values = np.concatenate([p.detach().numpy().ravel() for p in module.parameters()])
    assert values.dtype == np.float32
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.95 * bound
    assert abs(values.mean()) < 0.1 * bound


@pytest.mark.parametrize("name", LAYERS)
def test_state_dict_loads_into_torch(name):
    smod, tmod = getattr(sg.nn, name)(5, 6, num_layers=2), getattr(torch.nn, name)(5, 6, num_layers=2)
    tmod.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in smod.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3, 5)).astype(np.float32)
    close(flat(smod(sg.tensor(x)))[0], flat(tmod(torch.tensor(x)))[0], *TOLERANCES["float32"])


def test_dropout_between_layers_only_in_training():
    sg.manual_seed(0)
    gru = sg.nn.GRU(5, 6, num_layers=2, dropout=0.5)
    x = sg.randn(4, 3, 5)
    trained = [gru(x)[0].detach().numpy().copy() for _ in range(2)]
    assert not np.allclose(trained[0], trained[1])
    gru.eval()
    plain = sg.nn.GRU(5, 6, num_layers=2)
    plain.load_state_dict(gru.state_dict())
    np.testing.assert_array_equal(gru(x)[0].detach().numpy(), plain(x)[0].detach().numpy())


def test_dropout_with_one_layer_warns_as_torch():
    with pytest.warns(UserWarning, match="num_layers"):
        sg.nn.LSTM(3, 4, dropout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sg.nn.LSTM(3, 4, num_layers=2, dropout=0.2)


def test_repr_names_the_arguments():
    assert repr(sg.nn.GRU(5, 6, num_layers=2, batch_first=True)) == \
        repr(torch.nn.GRU(5, 6, num_layers=2, batch_first=True))
    assert repr(sg.nn.RNNCell(3, 4, nonlinearity="relu")) == repr(torch.nn.RNNCell(3, 4, nonlinearity="relu"))


def test_hidden_state_carried_across_calls_and_detached():
    """The char-RNN pattern: h = h.detach() between steps."""
    gru = sg.nn.GRU(3, 4, batch_first=True)
    h = None
    for _ in range(3):
        out, h = gru(sg.randn(2, 5, 3), h)
        out.sum().backward()
        h = h.detach()
    assert gru.weight_hh_l0.grad is not None


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("name", LAYERS)
def test_wrong_rank_names_the_layer_and_shape(name):
    module = getattr(sg.nn, name)(5, 6)
    with pytest.raises(ValueError, match=rf"{name}: Expected input to be 2D or 3D, got 4D.*\(1, 2, 3, 5\)"):
        module(sg.zeros(1, 2, 3, 5))
    with pytest.raises(ValueError):
        getattr(torch.nn, name)(5, 6)(torch.zeros(1, 2, 3, 5))


@pytest.mark.parametrize("name", LAYERS)
def test_wrong_input_size_names_the_layer_and_sizes(name):
    module = getattr(sg.nn, name)(5, 6)
    with pytest.raises(RuntimeError, match=rf"{name}: input.size\(-1\) must be equal to "
                                           r"input_size. Expected 5, got 4"):
        module(sg.zeros(3, 2, 4))
    with pytest.raises(RuntimeError):
        getattr(torch.nn, name)(5, 6)(torch.zeros(3, 2, 4))


@pytest.mark.parametrize("name", LAYERS)
def test_wrong_initial_state_shape_raises(name):
    module = getattr(sg.nn, name)(5, 6, num_layers=2)
    bad = sg.zeros(1, 2, 6)
    state = (bad, bad) if name == "LSTM" else bad
    with pytest.raises(RuntimeError, match=rf"{name}: Expected hidden size \(2, 2, 6\), got \(1, 2, 6\)"):
        module(sg.zeros(3, 2, 5), state)


@pytest.mark.parametrize("name", CELLS)
def test_cell_errors(name):
    cell = getattr(sg.nn, name)(5, 6)
    with pytest.raises(ValueError, match=rf"{name}: Expected input to be 1D or 2D, got 3D"):
        cell(sg.zeros(1, 2, 5))
    with pytest.raises(RuntimeError, match=rf"{name}: input has shape \(2, 4\)"):
        cell(sg.zeros(2, 4))
    state = sg.zeros(3, 6)
    with pytest.raises(RuntimeError, match=r"expected \(2, 6\)"):
        cell(sg.zeros(2, 5), (state, state) if name == "LSTMCell" else state)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="nonlinearity"):
        sg.nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        sg.nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="num_layers"):
        sg.nn.LSTM(3, 4, num_layers=0)
    with pytest.raises(NotImplementedError, match="proj_size"):
        sg.nn.LSTM(3, 4, proj_size=2)


def test_device_argument_and_flatten_parameters():
    gru = sg.nn.GRU(3, 4, device="cpu")
    assert gru.flatten_parameters() is None
    sg.nn.LSTMCell(3, 4, device="cpu")
    with pytest.raises(RuntimeError, match="scratchgrad runs on the CPU"):
        sg.nn.RNN(3, 4, device="cuda")
    with pytest.raises(RuntimeError, match="scratchgrad runs on the CPU"):
        sg.nn.MultiheadAttention(4, 2, device="cuda")


def test_input_dtype_must_match_the_parameters():
    with pytest.raises(TypeError, match="GRU: input \\(float64\\)"):
        sg.nn.GRU(3, 4)(sg.zeros(2, 1, 3, dtype=sg.float64))
    with pytest.raises(TypeError, match="LSTM: input \\(float32\\) and c_0 \\(float64\\)"):
        sg.nn.LSTM(3, 4)(sg.zeros(2, 1, 3), (sg.zeros(1, 1, 4), sg.zeros(1, 1, 4, dtype=sg.float64)))


def test_empty_sequence_raises():
    with pytest.raises(RuntimeError, match="GRU: the input's sequence is empty"):
        sg.nn.GRU(3, 4)(sg.zeros(0, 2, 3))


def test_trace_and_anomaly_mode_read_the_sequence_nodes():
    gru = sg.nn.GRU(3, 4)
    text = io.StringIO()
    with sg.viz.trace(file=text), sg.detect_anomaly():
        gru(sg.randn(5, 2, 3, requires_grad=True))[0].sum().backward()
    assert "gru_sequence" in text.getvalue()
