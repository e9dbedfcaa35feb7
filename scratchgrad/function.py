"""User-defined differentiable operations, written as in PyTorch:

    class Cube(sg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2

    y = Cube.apply(x)
"""
import numpy as np

from scratchgrad.core.engine import Node, Primitive, per_input
from scratchgrad.core.errors import GraphError, ShapeError, describe_shape
from scratchgrad.core.gradmode import grad_mode, no_grad
from scratchgrad.core.tensor import Tensor


class FunctionCtx:
    """What forward leaves for backward: saved tensors, and which inputs need a gradient."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()
        self._grads = None      # backward's answer for the gradient object in _for
        self._for = None

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


class Function:
    """Subclass with static forward(ctx, *inputs) and backward(ctx, grad); call with .apply."""

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("Function subclasses must define forward(ctx, ...)")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Function subclasses must define backward(ctx, grad)")

    @classmethod
    def apply(cls, *args):
        ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
        with no_grad():
            out = cls.forward(ctx, *args)
        several = isinstance(out, (tuple, list))
        outs = [o if isinstance(o, Tensor) else Tensor(o) for o in (out if several else (out,))]
        if not (grad_mode.enabled and any(ctx.needs_input_grad)):
            return tuple(outs) if several else outs[0]
        raw = tuple(a._data if isinstance(a, Tensor) else a for a in args)
        params = {"ctx": ctx, "fn": cls, "outputs": tuple(o._data for o in outs)}
        if not several:
            return _linked(outs[0]._data, Node(_primitive_for(cls), args, raw, params))
        # Several outputs: the function's node makes one hidden tensor, and each output is a
        # selection from it, so the engine keeps its one-output-per-node rule.
        hidden = _linked(np.zeros(()), Node(_primitive_for(cls), args, raw, params))
        return tuple(_linked(o._data, Node(_select_output, (hidden,), (hidden._data,), {"index": i}))
                     for i, o in enumerate(outs))


def _linked(data, node):
    """A new tensor (even if forward returned an input) made by node."""
    t = Tensor._wrap(data)
    t.requires_grad = True
    t.grad_fn = node
    return t


class _OutputGrads:
    """The gradients reaching a multi-output Function, by output index; they add up by index."""
    __slots__ = ("parts",)
    shape = ()                   # looks like the hidden tensor's gradient to the engine
    dtype = np.dtype(np.float64)

    def __init__(self, parts):
        self.parts = parts

    def __add__(self, other):
        parts = dict(self.parts)
        for i, g in other.parts.items():
            parts[i] = g if i not in parts else parts[i] + g
        return _OutputGrads(parts)


_select_output = Primitive("output", None,
                           lambda g, ans, hidden, index: _OutputGrads({index: g}))


def _primitive_for(cls):
    """One Primitive per Function subclass (made once), so graphs show the class's name."""
    primitive = cls.__dict__.get("_primitive")
    if primitive is None:
        primitive = Primitive(cls.__name__, None, per_input(_custom_rule))
        primitive.function = cls  # for sg.viz.trace: the rule is this class's backward
        cls._primitive = primitive
    return primitive


def _custom_rule(g, ans, args, ctx, fn, outputs, index):
    """Call the user's backward once per incoming gradient and hand out its answers by input."""
    if ctx._for is not g:
        ctx._grads = _run_backward(fn, ctx, _output_grads(g, outputs), args)
        ctx._for = g
    return ctx._grads[index]


def _output_grads(g, outputs):
    """The gradient of each output; an output that got none gets zeros, as in PyTorch."""
    if type(g) is not _OutputGrads:
        return [g]
    recording = any(isinstance(p, Tensor) for p in g.parts.values())
    grads = []
    for i, data in enumerate(outputs):
        zeros = np.zeros(np.shape(data), np.asarray(data).dtype)
        grads.append(g.parts.get(i, Tensor._wrap(zeros) if recording else zeros))
    return grads


def _run_backward(fn, ctx, grads, args):
    recording = any(isinstance(g, Tensor) for g in grads)  # create_graph: answers keep their graph
    answers = fn.backward(ctx, *[g if recording else Tensor._wrap(g) for g in grads])
    if not isinstance(answers, (tuple, list)):
        answers = (answers,)
    if len(answers) != len(args):
        raise GraphError(f"{fn.__name__}.backward returned {len(answers)} gradients but forward "
                         f"took {len(args)} inputs")
    results = []
    for i, (a, x) in enumerate(zip(answers, args)):
        if a is None:
            results.append(None)
            continue
        a = a if isinstance(a, Tensor) else Tensor(a)
        if a.shape != np.shape(x):
            raise ShapeError(f"{fn.__name__}.backward: gradient {i} has shape "
                             f"{describe_shape(a.shape)} but input {i} has shape "
                             f"{describe_shape(np.shape(x))}")
        results.append(a if recording else a._data)
    return results
