"""Anomaly mode, strict broadcasting and the graph-growth warning: what they raise or warn, the
line of this file they point at, and that they leave the ops untouched when off."""
import re
import warnings

import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad import primitives as P
from scratchgrad.core import hooks
from scratchgrad.debug import growth
from tests.helpers import leaf


def line_of(marker):
    """'test_debug_modes.py:LINE' of the line in this file that contains marker."""
    with open(__file__) as f:
        number = next(i for i, line in enumerate(f, 1) if marker in line and "line_of" not in line)
    return f"test_debug_modes.py:{number}"


def assert_modes_off():
    """Outside every mode no forward is checked and backward is unwatched."""
    assert hooks.forward_checks == [] and hooks.backward_watchers == []


@pytest.fixture(autouse=True)
def fresh_growth_state():
    growth.reset()
    yield
    growth.reset()
    assert_modes_off()


# ---------------------------------------------------------------- detect_anomaly

def test_anomaly_in_forward_names_the_op_and_the_users_line():
    x = leaf([1.0, 2.0])
    with sg.detect_anomaly(), np.errstate(all="ignore"):
        y = x - 1
        with pytest.raises(sg.AnomalyError) as info:
            sg.log(y - 1)  # forward anomaly here
    message = str(info.value)
    assert "the forward of log produced nan and inf" in message
    assert "(its inputs were all finite)" in message
    assert line_of("# forward anomaly here") in message
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, FloatingPointError)


def test_anomaly_in_backward_names_the_op_and_where_it_was_made():
    x = leaf([4.0, 0.0])
    with sg.detect_anomaly(), np.errstate(all="ignore"):
        y = x.sqrt()          # sqrt made here: its derivative is infinite at 0
        loss = (y * 2).sum()
        with pytest.raises(sg.AnomalyError) as info:
            loss.backward()   # backward anomaly here
    message = str(info.value)
    assert "the backward of sqrt, made at" in message and "produced inf" in message
    assert line_of("# sqrt made here") in message
    assert line_of("# backward anomaly here") in message


def test_anomaly_in_a_custom_functions_backward():
    class Bad(sg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return sg.tensor(np.full(g.shape, np.nan))  # no op: only backward's check sees it

    class BadOp(Bad):
        @staticmethod
        def backward(ctx, g):
            return g * np.nan  # an op inside backward

    x = leaf([1.0, 2.0])
    with sg.detect_anomaly():
        y = Bad.apply(x).sum()   # Bad made here
        with pytest.raises(sg.AnomalyError, match="the backward of Bad, made at .*produced nan") as info:
            y.backward()
        assert line_of("# Bad made here") in str(info.value)
        y = BadOp.apply(x).sum()
        with pytest.raises(sg.AnomalyError, match="the forward of mul produced nan") as info:
            y.backward()
        assert line_of("# an op inside backward") in str(info.value)


def test_anomaly_mode_passes_finite_graphs_and_switches_off_after():
    x = leaf([1.0, 2.0])
    with sg.detect_anomaly():
        loss = (x.exp() * x).sum()
        loss.backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), np.exp([1, 2]) * (1 + np.array([1, 2])))
    assert_modes_off()
    with np.errstate(all="ignore"):
        assert np.isnan(sg.log(sg.tensor(-1.0)).item())  # off again: no error


def test_anomaly_error_leaves_the_mode_off():
    with pytest.raises(sg.AnomalyError), sg.detect_anomaly(), np.errstate(all="ignore"):
        sg.tensor([0.0]) / 0
    assert_modes_off()


# ---------------------------------------------------------------- set_broadcast_mode

def test_broadcast_warn_names_the_shapes_and_points_at_this_line():
    pred, target = sg.randn(8, 1), sg.randn(8)
    with sg.set_broadcast_mode("warn"), pytest.warns(sg.BroadcastWarning) as caught:
        diff = pred - target  # the classic bug
    assert diff.shape == (8, 8)
    message = str(caught[0].message)
    assert "sub: shapes (8, 1) and (8,) broadcast to (8, 8), bigger than every input" in message
    assert "(64 elements)" in message and "pred.reshape(-1)" in message
    assert caught[0].filename == __file__
    assert f"{caught[0].filename.rsplit('/', 1)[-1]}:{caught[0].lineno}" == line_of("# the classic bug")


@pytest.mark.parametrize("op", [sg.add, sg.sub, sg.mul, sg.div, sg.pow, sg.maximum, sg.minimum])
def test_broadcast_raise_for_every_broadcasting_op(op):
    column, row = sg.rand(4, 1) + 1, sg.rand(4) + 1
    with sg.set_broadcast_mode("raise"):
        with pytest.raises(sg.ShapeError, match=r"\(4, 1\) and \(4,\) broadcast to \(4, 4\)"):
            op(column, row)
        with pytest.raises(ValueError):  # a ShapeError is also a ValueError and a RuntimeError
            op(row, column)
        assert op(sg.rand(3, 4) + 1, row).shape == (3, 4)  # the bias idiom passes


@pytest.mark.filterwarnings("ignore:mse_loss")
def test_broadcast_raise_in_where_and_in_a_loss():
    with sg.set_broadcast_mode("raise"):
        with pytest.raises(sg.ShapeError, match="where: shapes"):
            sg.where(sg.tensor([True, False]), sg.zeros(3, 1), sg.ones(2))
        with pytest.raises(sg.ShapeError, match=r"sub: shapes \(5, 1\) and \(5,\)"):
            sg.nn.functional.mse_loss(sg.randn(5, 1), sg.randn(5))


def test_the_bias_add_and_other_idioms_pass_strict_mode():
    x, w, b = sg.randn(32, 4), sg.randn(4, 8), sg.randn(8)
    with sg.set_broadcast_mode("raise"):
        assert (x @ w + b).shape == (32, 8)                       # the bias add, (32, 8) + (8,)
        assert (sg.ones(3) * 2.0 + sg.tensor(1.0)).shape == (3,)  # numbers
        assert (sg.ones(5, 3) / sg.ones(5, 1)).shape == (5, 3)    # a per-row scale
        assert sg.where(sg.ones(2, 3) > 0, sg.ones(2, 3), 0.0).shape == (2, 3)
        assert (sg.ones(0, 1) + sg.ones(4)).shape == (0, 4)       # empty: nothing grew
        with pytest.raises(sg.ShapeError, match=r"\(3, 1\) and \(1, 4\) broadcast to \(3, 4\)"):
            sg.ones(3, 1) * sg.ones(1, 4)                        # an outer broadcast is flagged


def test_the_rank_rule_stays_available():
    with sg.set_broadcast_mode("raise-rank"):
        with pytest.raises(sg.ShapeError, match=r"\(3, 4\) and \(4,\) have different ranks"):
            sg.ones(3, 4) + sg.ones(4)
        assert (sg.ones(3, 1) * sg.ones(1, 4)).shape == (3, 4)  # equal ranks pass
        assert (sg.ones(3) * 2.0).shape == (3,)
    with sg.set_broadcast_mode("rank"), pytest.raises(sg.ShapeError, match=r"smaller as \(1, 4\)"):
        sg.ones(3, 4) + sg.ones(4)
    with sg.set_broadcast_mode("warn-rank"), pytest.warns(sg.BroadcastWarning, match="different ranks"):
        sg.ones(3, 4) + sg.ones(4)
    assert sg.get_broadcast_mode() == "allow"


def test_broadcast_mode_as_function_and_context_manager():
    assert sg.get_broadcast_mode() == "allow"
    with sg.set_broadcast_mode("raise"):
        assert sg.get_broadcast_mode() == "raise"
        with sg.set_broadcast_mode("warn"):
            assert sg.get_broadcast_mode() == "warn"
        assert sg.get_broadcast_mode() == "raise"
    assert sg.get_broadcast_mode() == "allow"
    sg.set_broadcast_mode("warn")
    try:
        with pytest.warns(sg.BroadcastWarning):
            sg.ones(2, 1) + sg.ones(3)
    finally:
        sg.set_broadcast_mode("allow")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sg.ones(2, 1) + sg.ones(3)  # allowed again, silently
    with pytest.raises(ValueError, match="mode must be one of"):
        sg.set_broadcast_mode("strict")


@pytest.mark.parametrize("mode", ["raise", "raise-rank"])
def test_networks_train_under_strict_broadcasting(mode):
    """scratchgrad's own layers and losses never grow a broadcast, nor broadcast across ranks."""
    sg.manual_seed(0)
    model = sg.nn.Sequential(sg.nn.Linear(4, 8), sg.nn.ReLU(), sg.nn.LayerNorm(8), sg.nn.Linear(8, 3))
    opt = sg.optim.Adam(model.parameters())
    x, y = sg.randn(16, 4), sg.randint(0, 3, (16,))
    with sg.set_broadcast_mode(mode):
        for _ in range(2):
            loss = sg.nn.functional.cross_entropy(model(x), y) + model(x).softmax(-1).var()
            opt.zero_grad()
            loss.backward()
            opt.step()


# ---------------------------------------------------------------- graph growth

def growth_warnings(training):
    """Run training(); return the GraphGrowthWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        training()
    return [w for w in caught if issubclass(w.category, sg.GraphGrowthWarning)]


def test_growth_warning_for_a_loss_summed_as_a_tensor():
    w = leaf([1.0, -1.0])

    def training():
        total = 0
        for step in range(3):
            loss = ((w - step) ** 2).sum()
            loss.backward()
            total += loss     # the bug: keeps every step's graph
        total.item()          # growth noticed here

    caught = growth_warnings(training)
    assert len(caught) == 1  # once
    message = str(caught[0].message)
    assert "adds up losses whose backward() already ran" in message and "loss.item()" in message
    assert caught[0].filename == __file__
    assert f"test_debug_modes.py:{caught[0].lineno}" in (line_of("# the bug"), line_of("# growth noticed"))


@pytest.mark.parametrize("keep", ["total = total + loss", "losses.append(loss)"])
def test_growth_warning_for_used_losses_kept_alive(keep):
    w = leaf([1.0, -1.0])

    def training():
        total, losses = 0, []
        for step in range(12):
            loss = ((w - step) ** 2).sum()
            loss.backward()
            if keep.startswith("total"):
                total = total + loss   # never read: only backward can notice
            else:
                losses.append(loss)

    caught = growth_warnings(training)
    assert len(caught) == 1
    message = str(caught[0].message)
    alive = re.search(r"(\d+) tensors that backward\(\) already started from are still alive", message)
    assert alive and int(alive.group(1)) >= 8  # earlier tests' losses may still be alive too
    assert "`loss.item()`" in message


def test_no_alive_losses_warning_for_garbage_cycles():
    """Losses held by reference cycles stay alive until the collector runs: not a leak."""
    import gc

    class Record:  # a self-referencing record per step: garbage only gc can free
        def __init__(self, loss):
            self.loss, self.me = loss, self

    w = leaf([1.0, -1.0])

    def training():
        for step in range(40):
            loss = ((w - step) ** 2).sum()
            loss.backward()
            Record(loss)

    gc.disable()
    try:
        assert growth_warnings(training) == []
    finally:
        gc.enable()


def test_growth_warning_for_an_update_outside_no_grad():
    x = sg.tensor([[1.0, 0.5], [0.2, 1.0]], dtype=sg.float64)  # leaf() is float64: matmul won't mix

    def training():
        w = leaf([1.0, 2.0])
        for _ in range(6):
            loss = ((x @ w) ** 2).sum()
            (g,) = sg.grad(loss, w)
            w = w - 0.1 * g     # the bug: w is now made from every earlier w

    caught = growth_warnings(training)
    assert len(caught) == 1
    assert "parameter update outside `with sg.no_grad():`" in str(caught[0].message)
    assert "starting at a tensor of shape (2,)" in str(caught[0].message)


def test_growth_warning_for_a_hidden_state_never_detached():
    W = leaf(np.full((3, 3), 0.1))

    def training():
        h = sg.zeros(3, dtype=sg.float64)
        for step in range(6):
            h = sg.tanh(W @ h + step)
            h.sum().backward(retain_graph=True)

    caught = growth_warnings(training)
    assert len(caught) == 1
    assert "each went through more nodes" in str(caught[0].message)
    assert "without `h = h.detach()`" in str(caught[0].message)


def test_a_hidden_state_never_detached_without_retain_graph_is_an_error_with_the_fix():
    W = leaf(np.full((3, 3), 0.1))
    h = sg.zeros(3, dtype=sg.float64)
    h = sg.tanh(W @ h + 1)
    h.sum().backward()
    h = sg.tanh(W @ h + 1)
    with pytest.raises(sg.GraphError, match=r"detach it at the step boundary: `h = h.detach\(\)`"):
        h.sum().backward()


def test_no_growth_warning_for_normal_training_or_shared_trunks():
    sg.manual_seed(0)
    model = sg.nn.Linear(3, 2)
    opt = sg.optim.SGD(model.parameters(), lr=0.1)
    x = sg.randn(4, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        total = 0.0
        for _ in range(8):  # a correct loop
            loss = model(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            print(loss)
        for _ in range(8):  # two heads on one trunk: two backwards through the same nodes
            trunk = model(x).tanh()
            opt.zero_grad()
            trunk.sum().backward(retain_graph=True)
            (trunk * trunk).sum().backward()
        h = sg.zeros(2)
        for _ in range(8):  # an RNN that detaches its hidden state
            h = sg.tanh(model(x).sum(0) + h).detach()


# ---------------------------------------------------------------- off means off

def test_modes_check_through_the_hooks_and_leave_the_primitives_alone():
    before = P.add.forward
    with sg.detect_anomaly(), sg.set_broadcast_mode("warn"):
        assert P.add.forward is before
        assert len(hooks.forward_checks) == 2 and len(hooks.backward_watchers) == 1
    assert P.add.forward is before
    assert_modes_off()


def test_pytorch_spellings_under_autograd():
    assert sg.autograd.detect_anomaly is sg.detect_anomaly
    assert sg.autograd.Function is sg.Function and sg.autograd.gradcheck is sg.gradcheck


def test_anomaly_mode_lets_an_infinite_mask_through():
    """A causal mask filled with -inf is ordinary (every GPT has one): only non-finite values
    that an op makes from finite inputs are anomalies in the forward."""
    scores = sg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    mask = sg.tensor([[False, True], [False, False]])
    with sg.detect_anomaly():
        weights = scores.masked_fill(mask, float("-inf")).softmax(-1)
        weights.sum().backward()
    assert np.isfinite(scores.grad.numpy()).all()
