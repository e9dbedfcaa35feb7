"""sg.gradcheck_graph: check every node of a graph on its own, to find the one whose backward
is wrong.

sg.gradcheck says *that* a function's gradient is wrong; in a long chain that leaves the learner
hunting. Here each node's derivative rules are compared with central finite differences of that
node's forward alone, at the values it saw, so the report names the first wrong node, the line
of code that created it, and expected vs got.
"""
from dataclasses import dataclass

import numpy as np

from scratchgrad.core import dtypes
from scratchgrad.core.engine import fit_gradient, graph_in_reverse_order
from scratchgrad.core.gradmode import no_grad
from scratchgrad.core.tensor import Tensor
from scratchgrad.debug.sites import creation_sites


@dataclass
class NodeCheck:
    """The verdict on one node: ok, or the first disagreeing element of one of its inputs."""
    index: int
    op: str
    site: str | None
    status: str                 # "ok", "FAIL" or "skipped"
    input_index: int | None = None
    element: tuple | None = None
    expected: float | None = None
    got: float | None = None

    def __str__(self):
        line = f"#{self.index} {self.op}: {self.status}"
        if self.status == "FAIL":
            line += (f" (input {self.input_index}, element {self.element}: expected "
                     f"{self.expected!r} from finite differences, got {self.got!r} from backward)")
        return line + (f"  [made at {self.site}]" if self.site else "")


class GraphCheckReport:
    """Every node's verdict in creation order; first_failure is None when all agree."""

    def __init__(self, checks):
        self.checks = checks
        self.first_failure = next((c for c in checks if c.status == "FAIL"), None)

    @property
    def ok(self):
        return self.first_failure is None

    def __str__(self):
        head = ("gradcheck_graph: every node's backward agrees with finite differences"
                if self.ok else f"gradcheck_graph: first wrong node: {self.first_failure}")
        return "\n".join([head] + [f"  {c}" for c in self.checks])

    __repr__ = __str__


def gradcheck_graph(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Run fn on float64 copies of inputs and check each node of the graph it builds."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    xs = [Tensor(x._data.astype(dtypes.float64), requires_grad=True)
          if isinstance(x, Tensor) and x.requires_grad else x for x in inputs]
    with creation_sites() as sites:
        out = fn(*xs)
    outputs = list(out) if isinstance(out, (tuple, list)) else [out]
    rng = np.random.default_rng(seed)
    checks = [_check_node(i, t, sites.get(t.grad_fn), rng, eps, atol, rtol)
              for i, t in enumerate(reversed(graph_in_reverse_order(_tensors(outputs))))]
    return GraphCheckReport(checks)


def _tensors(outputs):
    return [t for t in outputs if isinstance(t, Tensor)]


def _check_node(index, t, site, rng, eps, atol, rtol):
    node = t.grad_fn
    forward = _forward_of(node)
    if forward is None:
        return NodeCheck(index, node.op.name, site, "skipped")
    args = [np.array(a, dtype=np.float64) if _differentiable(x) else a
            for x, a in zip(node.inputs, node.args)]
    ans = forward(args)
    g = rng.standard_normal(np.shape(ans))
    for i, x in enumerate(node.inputs):
        if not _differentiable(x):
            continue
        got = _analytic(node, i, g, ans, args, x)
        expected = _numeric(forward, args, i, g, eps)
        bad = np.abs(got - expected) > atol + rtol * np.abs(expected)
        if bad.any():
            j = np.unravel_index(np.argmax(np.where(bad, np.abs(got - expected), -1)), bad.shape)
            return NodeCheck(index, node.op.name, site, "FAIL", i,
                             tuple(int(k) for k in j), float(expected[j]), float(got[j]))
    return NodeCheck(index, node.op.name, site, "ok")


def _differentiable(x):
    return isinstance(x, Tensor) and x.requires_grad and x.dtype.kind == "f"


def _forward_of(node):
    """The node's forward as a function of its raw arguments (None when it has none)."""
    op, params = node.op, node.params
    if op.forward is not None:
        # A copy: views (indexing, reshape) would follow the perturbed input around.
        return lambda args: np.array(op.forward(*args, **params), dtype=np.float64)
    fn = params.get("fn")
    if fn is None or len(params.get("outputs", ())) != 1:
        return None  # e.g. the selection nodes of a Function with several outputs

    def custom_forward(args):  # a user's sg.Function: its forward takes Tensors
        from scratchgrad.function import FunctionCtx
        wrapped = [Tensor._wrap(np.asarray(a)) if isinstance(x, Tensor) else a
                   for x, a in zip(node.inputs, args)]
        with no_grad():
            out = fn.forward(FunctionCtx((False,) * len(args)), *wrapped)
        return np.array(out._data if isinstance(out, Tensor) else out, dtype=np.float64)

    return custom_forward


def _analytic(node, i, g, ans, args, x):
    """Input i's gradient from the node's own rule, given output gradient g."""
    params = dict(node.params)
    if "ctx" in params:  # a Function's rule calls the user's backward on a fresh ctx
        from scratchgrad.function import FunctionCtx
        ctx = FunctionCtx(params["ctx"].needs_input_grad)
        ctx.saved_tensors = params["ctx"].saved_tensors
        ctx.__dict__.update({k: v for k, v in params["ctx"].__dict__.items()
                             if k not in ("_grads", "_for")})
        params["ctx"] = ctx
    with no_grad():
        gx = node.op.vjps[i](g, ans, *args, **params)
    if gx is None:
        return np.zeros(np.shape(args[i]))
    return np.asarray(fit_gradient(np.asarray(gx, dtype=np.float64), _Shaped(args[i])))


class _Shaped:
    """Just enough of a Tensor (data) for fit_gradient to sum broadcasting away."""
    __slots__ = ("_data",)

    def __init__(self, array):
        self._data = np.asarray(array, dtype=np.float64)


def _numeric(forward, args, i, g, eps):
    """Σ g · (f(x + eps e_j) - f(x - eps e_j)) / 2 eps for every element j of input i."""
    base = np.array(args[i], dtype=np.float64, order="C")  # so reshape(-1) is a view of it
    flat = base.reshape(-1)
    result = np.zeros(flat.size)
    for j in range(flat.size):
        original = flat[j]
        flat[j] = original + eps
        plus = forward(args[:i] + [base] + args[i + 1:])
        flat[j] = original - eps
        minus = forward(args[:i] + [base] + args[i + 1:])
        flat[j] = original
        result[j] = np.sum(g * (plus - minus)) / (2 * eps)
    return result.reshape(base.shape)
