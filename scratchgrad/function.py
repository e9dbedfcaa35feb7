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
from scratchgrad.autograd import Node, Primitive, grad_mode, no_grad, per_input
from scratchgrad.errors import GraphError, ShapeError, describe_shape
from scratchgrad.tensor import Tensor


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
        ctx = FunctionCtx(tuple(type(a) is Tensor and a.requires_grad for a in args))
        with no_grad():
            out = cls.forward(ctx, *args)
        if isinstance(out, (tuple, list)):
            raise NotImplementedError(f"{cls.__name__}.forward: returning several outputs "
                                      "isn't supported; return one tensor")
        out = out if type(out) is Tensor else Tensor(out)
        if not (grad_mode.enabled and any(ctx.needs_input_grad)):
            return out
        result = Tensor._wrap(out.data)  # a new tensor even if forward returned an input
        result.requires_grad = True
        raw = tuple(a.data if type(a) is Tensor else a for a in args)
        result.grad_fn = Node(_primitive_for(cls), args, raw, {"ctx": ctx, "fn": cls})
        return result


def _primitive_for(cls):
    """One Primitive per Function subclass (made once), so graphs show the class's name."""
    primitive = cls.__dict__.get("_primitive")
    if primitive is None:
        primitive = Primitive(cls.__name__, None, per_input(_custom_rule))
        cls._primitive = primitive
    return primitive


def _custom_rule(g, ans, *args, ctx, fn, index):
    """Call the user's backward once per incoming gradient and hand out its answers by input."""
    if ctx._for is not g:
        ctx._grads = _run_backward(fn, ctx, g, args)
        ctx._for = g
    return ctx._grads[index]


def _run_backward(fn, ctx, g, args):
    recording = type(g) is Tensor  # create_graph: keep the answers as Tensors with their graph
    answers = fn.backward(ctx, g if recording else Tensor._wrap(g))
    if not isinstance(answers, (tuple, list)):
        answers = (answers,)
    if len(answers) != len(args):
        raise GraphError(f"{fn.__name__}.backward returned {len(answers)} gradients but forward "
                         f"took {len(args)} inputs")
    grads = []
    for i, (a, x) in enumerate(zip(answers, args)):
        if a is None:
            grads.append(None)
            continue
        a = a if type(a) is Tensor else Tensor(a)
        if a.shape != x.shape:
            raise ShapeError(f"{fn.__name__}.backward: gradient {i} has shape "
                             f"{describe_shape(a.shape)} but input {i} has shape "
                             f"{describe_shape(x.shape)}")
        grads.append(a if recording else a.data)
    return grads
