"""sg.gradcheck_graph: each node checked on its own; a planted bug is found at its node."""
import numpy as np

import scratchgrad as sg
from tests.helpers import Square, WrongSquare


def chain(square):
    def fn(x, w):
        h = (x @ w).tanh()
        s = square.apply(h)  # the node under test, in the middle of the chain
        return sg.log_softmax(s * 3 + 1, -1).sum()
    return fn


def inputs():
    rng = np.random.default_rng(0)
    return [sg.tensor(rng.standard_normal((2, 3)), requires_grad=True),
            sg.tensor(rng.standard_normal((3, 4)), requires_grad=True)]


def test_a_correct_graph_passes_at_every_node():
    report = sg.gradcheck_graph(chain(Square), inputs())
    assert report.first_failure is None and report.ok
    ops = [c.op for c in report.checks]
    assert ops[:3] == ["matmul", "tanh", "Square"]
    assert all(c.status == "ok" for c in report.checks)
    listing = str(report)
    assert all(f"#{i} {op}" in listing for i, op in enumerate(ops))


def test_the_planted_bug_is_found_at_its_node_with_its_line():
    report = sg.gradcheck_graph(chain(WrongSquare), inputs())
    bad = report.first_failure
    assert bad is not None and bad.op == "WrongSquare" and bad.index == 2
    assert __file__ in bad.site and "square.apply(h)" in bad.site
    assert np.isclose(bad.expected, 2 * bad.got)  # the forgotten factor 2
    assert "first wrong node: #2 WrongSquare" in str(report)
    # the nodes after it are still checked, and pass: only the bug's own node is blamed
    assert [c.status for c in report.checks[3:]] == ["ok"] * (len(report.checks) - 3)


def test_broadcasting_nodes_are_checked_with_their_gradients_summed_back():
    b = sg.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    x = sg.tensor(np.random.default_rng(1).standard_normal((4, 3)), requires_grad=True)
    report = sg.gradcheck_graph(lambda x, b: ((x + b) * b).exp().mean(), [x, b])
    assert report.ok
    assert [c.op for c in report.checks] == ["add", "mul", "exp", "sum", "div"]


def test_every_kind_of_primitive_passes_its_own_node_check():
    """A graph touching most primitives: each rule must agree with its own forward."""
    F = sg.nn.functional

    def fn(x, w, b):
        h = F.linear(x, w, b)                                   # linear
        h = sg.cat([h.sin(), h.cos() ** 2], 1)                  # sin, cos, pow, cat
        h = sg.pad(h, (1, 0))[:, 1:].permute(1, 0).reshape(3, 4)  # pad, index, permute, reshape
        h = sg.maximum(h, h * 0.5) + sg.where(h > 0, h.exp(), h.sigmoid())
        h = h.abs().sqrt() * h.tanh() + sg.softplus(h) + h.prod(0).sum() + h.amax(1).sum()
        h = h.broadcast_to(2, 3, 4).mean(0) / (1 + h.relu())
        return F.cross_entropy(h, sg.tensor([0, 3, 1]))

    rng = np.random.default_rng(5)
    args = [sg.tensor(rng.standard_normal(s) + 0.1, requires_grad=True) for s in [(2, 4), (3, 4), (3,)]]
    report = sg.gradcheck_graph(fn, args)
    assert report.ok, str(report)
    assert len(report.checks) > 25
