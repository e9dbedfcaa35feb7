"""Every warning scratchgrad gives points at the user's line (this file), however deep inside
scratchgrad it is raised, and goes through the warnings module, so filters apply to it."""
import warnings

import pytest

import scratchgrad as sg
import scratchgrad.nn.functional as F
from scratchgrad.debug import growth


@pytest.fixture(autouse=True)
def fresh_growth_state():
    growth.reset()
    yield
    growth.reset()


def caught(action, category=Warning):
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        action()
    return [w for w in records if issubclass(w.category, category)]


def assert_points_here(records, text):
    assert records, "no warning"
    for w in records:
        assert w.filename == __file__, (w.filename, str(w.message))
        assert text in str(w.message)


def shapes():
    return sg.ones(3, 1), sg.ones(3)


@pytest.mark.parametrize("loss", [
    lambda a, b: F.mse_loss(a, b),
    lambda a, b: F.l1_loss(a, b),
    lambda a, b: sg.nn.MSELoss()(a, b),
    lambda a, b: sg.nn.L1Loss(reduction="sum")(a, b),
])
def test_loss_shape_warnings_point_at_the_call(loss):
    assert_points_here(caught(lambda: loss(*shapes())), "differs from input shape")


def test_optimizer_duplicate_parameter_warning_points_at_the_constructor():
    w = sg.ones(2, requires_grad=True)
    assert_points_here(caught(lambda: sg.optim.SGD([w, w], lr=0.1)), "duplicate parameters")
    assert_points_here(caught(lambda: sg.optim.Adam([w, w])), "duplicate parameters")


def test_broadcast_warning_points_at_the_op():
    with sg.set_broadcast_mode("warn"):
        records = caught(lambda: sg.ones(3, 1) + sg.ones(3), sg.BroadcastWarning)
    assert_points_here(records, "(3, 1)")


def test_reading_grad_of_a_non_leaf_points_at_the_read():
    y = sg.ones(2, requires_grad=True) * 2
    assert_points_here(caught(lambda: y.grad), "not a leaf Tensor")


def growing_training():
    w = sg.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(6):
        loss = (w ** 2).sum()
        (g,) = sg.grad(loss, w)
        w = w - 0.1 * g     # outside no_grad: each w is made from every earlier one


def test_growth_warning_points_at_the_user_and_obeys_filters():
    assert_points_here(caught(growing_training, sg.GraphGrowthWarning), "graph growing")
    growth.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error", sg.GraphGrowthWarning)
        with pytest.raises(sg.GraphGrowthWarning, match="parameter update outside"):
            growing_training()
    growth.reset()
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("ignore", sg.GraphGrowthWarning)
        growing_training()
    assert records == []
