"""In-place ops (`x += y`, `x.mul_(y)`, `x[k] = v`, ...) and views, with PyTorch's semantics.

An in-place op writes into the tensor's own memory, so every alias and view sees the change,
and bumps the version counter that the tensor shares with its views (core/versions.py).

Inside a graph it is recorded as its out-of-place twin, applied to a snapshot of the old
value: x.mul_(y) records mul(x_old, y) and makes that node x's new grad_fn (versions.rebind),
while nodes made earlier keep seeing x_old. The snapshot is a copy, so the op's own rules
read the old value even though x's memory now holds the new one (PyTorch saves
"original_self" for the same reason).

An in-place op on a view writes into the base too. In a graph the base is rebound to
copy_slices(base_old, new_view_values) (PyTorch's CopySlices), and the view to the view of
the new base.
"""
import weakref

import numpy as np

from scratchgrad import primitives as P
from scratchgrad import random
from scratchgrad.core import versions
from scratchgrad.core.engine import apply
from scratchgrad.core.errors import (
    DTypeError,
    InPlaceError,
    ShapeError,
    broadcast_error,
    describe_shape,
)
from scratchgrad.core.gradmode import grad_mode, no_grad
from scratchgrad.core.tensor import Tensor
from scratchgrad.debug.growth import check_accumulation
from scratchgrad.ops import elementwise as ops
from scratchgrad.ops import rounding

# ---------------------------------------------------------------- views


def as_view(out, x, op, params):
    """Mark out, made by op from x without copying, as a view: it shares x's version counter
    and remembers the steps that make it from the base (for in-place ops on it)."""
    if x._view is None:
        base, steps = x, ()
    else:
        base, steps = x._view
    out._view = (base, steps + ((op, params),))
    storage = out._storage = versions.storage_of(base)
    if base.grad_fn is not None:
        storage.add_view(out)
    if id(x) in _multi_output_views:
        _multi_output_views[id(out)] = out
    return out


# Views made by a function that returns several at once (split, chunk), and views of them: as
# in PyTorch, an in-place op on one is refused, and one whose base was modified in place since
# can't be backpropagated through. By id, weakly (Tensor's == is elementwise).
_multi_output_views = weakref.WeakValueDictionary()


def mark_multi_output(views):
    for view in views:
        if view._view is not None:
            _multi_output_views[id(view)] = view
    return views


def _multi_output_message(view):
    return (f"a view of shape {describe_shape(view.shape)} made by a function that returns "
            "several views (split, chunk) is being modified in place, or its base was modified "
            "in place and it was used afterwards. Such functions do not allow the output views "
            "to be modified inplace (as in PyTorch); use an out-of-place op, or .clone() the view")


def _base_of(x):
    return x if x._view is None else x._view[0]


# ---------------------------------------------------------------- in-place ops


def _writable(name, x):
    """x's memory, ready to be written in place, or PyTorch's error for memory that can't be."""
    data = x._data
    if type(data) is not np.ndarray:  # a NumPy scalar (0-d result): nothing can alias it
        data = x._data = np.array(data)
    elif not data.flags.writeable:
        if 0 in data.strides and data.size > 1:
            raise InPlaceError(
                f"{name}: unsupported operation: more than one element of the written-to tensor "
                f"refers to a single memory location (it was made by expand/broadcast_to, shape "
                f"{describe_shape(x.shape)}). Please clone() the tensor before performing the "
                "operation.")
        raise InPlaceError(f"{name}: the tensor's memory is read-only (shape "
                           f"{describe_shape(x.shape)}); clone() it first")
    return data


def _check_fits(name, x, result):
    """An in-place result must keep x's shape and be castable to x's dtype, as in PyTorch."""
    if result.shape != x.shape:
        raise broadcast_error(name, x.shape, result.shape) if result.ndim >= x.ndim else ShapeError(
            f"{name}: the result has shape {describe_shape(result.shape)}, the tensor "
            f"{describe_shape(x.shape)}")
    if result.dtype != x.dtype and not np.can_cast(result.dtype, x.dtype, casting="same_kind"):
        raise DTypeError(f"{name}: result type {result.dtype} can't be cast to the desired "
                         f"output type {x.dtype}")


def _check_recordable(name, x):
    """PyTorch refuses in-place ops on a leaf that requires grad (or a view of one) in a graph."""
    if x.requires_grad and x.grad_fn is None and x._view is None:
        raise InPlaceError(
            f"{name}: a leaf Variable that requires grad is being used in an in-place operation "
            f"(shape {describe_shape(x.shape)}). Update parameters inside `with sg.no_grad():`, "
            "or work on a copy (x.clone())")
    base = _base_of(x)
    if base is not x and base.requires_grad and base.grad_fn is None:
        raise InPlaceError(
            f"{name}: a view of a leaf Variable that requires grad is being used in an in-place "
            f"operation (view shape {describe_shape(x.shape)}, leaf shape "
            f"{describe_shape(base.shape)}). Do it inside `with sg.no_grad():`, or on a clone()")


def _snapshot(x, data):
    """A tensor holding data (a copy of x's old values) with x's history: the op's input."""
    old = Tensor._wrap(data)
    old.grad_fn = x.grad_fn
    old.requires_grad = x.requires_grad
    return old


def in_place(name, x, compute, *others):
    """x <- compute(x, *others), written into x's memory; recorded if a graph is being built.

    compute is the out-of-place op (add, mul, clip, ...); others are its other arguments.
    """
    recording = grad_mode.enabled and (
        x.requires_grad or _base_of(x).requires_grad
        or any(isinstance(o, Tensor) and o.requires_grad for o in others))
    memory = _writable(name, x)
    if not recording:
        with no_grad():
            result = compute(x, *others)._data
        _check_fits(name, x, np.asarray(result))
        np.copyto(memory, result, casting="unsafe")
        versions.note_write(x)
        return x
    _check_recordable(name, x)
    if id(x) in _multi_output_views:
        raise InPlaceError(f"{name}: {_multi_output_message(x)}")
    if x._view is not None:
        return _inplace_on_view(name, x, compute, others)
    at = versions.next_seq()  # the write's time: before the nodes it makes, after those it breaks
    result = compute(_snapshot(x, memory.copy()), *others)
    _check_fits(name, x, np.asarray(result._data))
    np.copyto(memory, result._data, casting="unsafe")
    versions.note_write(x, at)
    if result.grad_fn is not None:
        versions.rebind(x, result.grad_fn)
        _refresh_views(x, None)
        check_accumulation(x)  # `total += loss` across training steps
    return x


def _inplace_on_view(name, view, compute, others):
    """In a graph: the view's new values are compute(old view values), and they are written
    into the base, whose new grad_fn is copy_slices and the view's new grad_fn its view."""
    base, steps = view._view
    at = versions.next_seq()
    old_view = P.view_of(base, steps)  # the view as the base now makes it (recorded)
    result = compute(_snapshot(old_view, view._data.copy()), *others)
    _check_fits(name, view, np.asarray(result._data))
    np.copyto(view._data, result._data, casting="unsafe")
    versions.note_write(view, at)
    if not (base.requires_grad or result.requires_grad):
        return view
    new_base = apply(P.copy_slices, (_snapshot(base, base._data), result),
                     (base._data, result._data), {"steps": steps})
    versions.rebind(base, new_base.grad_fn)
    versions.rebind(view, P.view_of(base, steps).grad_fn)
    _refresh_views(base, view)
    return view


def _refresh_views(base, done):
    """base was rebound: its other views (whose memory it shares) are views of the new base."""
    if base._storage is None or not base._storage.views:
        return
    for view in base._storage.live_views():
        if view is not done and view._view[0] is base:
            steps = view._view[1]
            if id(view) in _multi_output_views:  # its backward must raise, as PyTorch's does
                refreshed = apply(P.stale_view, (base,), (base._data,),
                                  {"steps": steps, "message": _multi_output_message(view)})
            else:
                refreshed = P.view_of(base, steps)
            versions.rebind(view, refreshed.grad_fn)


def setitem(x, key, value, index_key):
    """x[key] = value: written into x's memory; in a graph, recorded as index_put."""
    key = index_key(key)
    recording = grad_mode.enabled and (
        x.requires_grad or _base_of(x).requires_grad
        or (isinstance(value, Tensor) and value.requires_grad))
    if not recording:
        memory = _writable("setitem", x)
        raw = value._data if isinstance(value, Tensor) else value
        try:
            memory[key] = raw
        except (IndexError, ValueError, TypeError) as exc:
            raise type(exc)(f"setitem: {exc} (tensor of shape {describe_shape(x.shape)})") from None
        versions.note_write(x)
        return
    in_place("setitem", x, _index_put, value, key)


def _index_put(x, value, key):
    """x with x[key] = value, out of place (recorded)."""
    v = value if isinstance(value, Tensor) else Tensor(value, dtype=x.dtype)
    try:
        return apply(P.index_put, (x, v), (x._data, v._data), {"key": key})
    except (IndexError, ValueError, TypeError) as exc:
        raise type(exc)(f"setitem: {exc} (tensor of shape {describe_shape(x.shape)}, value "
                        f"of shape {describe_shape(v.shape)})") from None


# ---------------------------------------------------------------- the in-place methods

def _overwrite(x, values):
    """values in x's place: in a graph, x's old value gets a zero gradient (as in PyTorch)."""
    return ops.where(np.ones(x.shape, dtype=bool), values, x)


def _scaled(other, alpha):
    return other if alpha == 1 else ops.mul(other, alpha)


def add_(x, other, *, alpha=1):
    """x += alpha·other, in place."""
    return in_place("add_", x, ops.add, _scaled(other, alpha))


def sub_(x, other, *, alpha=1):
    """x -= alpha·other, in place."""
    return in_place("sub_", x, ops.sub, _scaled(other, alpha))


def mul_(x, other):
    """x *= other, in place."""
    return in_place("mul_", x, ops.mul, other)


def div_(x, other, *, rounding_mode=None):
    """x /= other, in place (rounded towards 0 or -inf with rounding_mode 'trunc' or 'floor')."""
    if rounding_mode is None:
        return in_place("div_", x, ops.div, other)
    return in_place("div_", x, lambda t, o: rounding.div(t, o, rounding_mode=rounding_mode), other)


def pow_(x, exponent):
    """x = x ** exponent, in place."""
    return in_place("pow_", x, ops.pow, exponent)


def addcmul_(x, tensor1, tensor2, *, value=1):
    """x += value·tensor1·tensor2, in place (Adam's second moment, written by hand)."""
    return in_place("addcmul_", x, lambda t, a, b: ops.add(t, _scaled(ops.mul(a, b), value)),
                    tensor1, tensor2)


def addcdiv_(x, tensor1, tensor2, *, value=1):
    """x += value·tensor1/tensor2, in place (Adam's update, written by hand)."""
    return in_place("addcdiv_", x, lambda t, a, b: ops.add(t, _scaled(ops.div(a, b), value)),
                    tensor1, tensor2)


def lerp_(x, end, weight):
    """x += weight·(end - x), in place: a step towards end (a moving average)."""
    return in_place("lerp_", x, lambda t, e: ops.add(t, ops.mul(ops.sub(e, t), weight)), end)


def clamp_(x, min=None, max=None):
    """x = clamp(x, min, max), in place."""
    return in_place("clamp_", x, ops.clamp, min, max)


def clamp_min_(x, min):
    """x = max(x, min), in place."""
    return clamp_(x, min=min)


def clamp_max_(x, max):
    """x = min(x, max), in place."""
    return clamp_(x, max=max)


def masked_fill_(x, mask, value):
    """x = value where mask is True, in place."""
    mask = mask if isinstance(mask, Tensor) else Tensor(mask)
    if mask.dtype != np.bool_:
        raise DTypeError(f"masked_fill_: the mask must be a bool tensor, got {mask.dtype}")
    try:
        np.broadcast_to(np.empty(mask.shape, dtype=bool), x.shape)
    except ValueError:
        raise broadcast_error("masked_fill_", x.shape, mask.shape) from None
    return in_place("masked_fill_", x, lambda t, v: ops.where(mask, v, t), value)


def twin(name, op):
    """The in-place method `name` of the out-of-place op(x, *args, **kwargs) (x.tril_(1),
    x.scatter_add_(1, index, src)); tensors among args that require grad join the graph."""
    def method(x, *args, **kwargs):
        return in_place(name, x, lambda t, *rest: op(t, *rest, **kwargs), *args)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"x = {op.__name__}(x, ...), in place."
    return method


def fill_(x, value):
    """Every element = value, in place."""
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ShapeError(f"fill_: the value must be a number or a 0-d tensor, got shape "
                         f"{describe_shape(value.shape)}")
    if not (grad_mode.enabled and (x.requires_grad or isinstance(value, Tensor))):
        _writable("fill_", x)[...] = value._data if isinstance(value, Tensor) else value
        versions.note_write(x)
        return x
    return in_place("fill_", x, _overwrite, value)


def zero_(x):
    """Every element = 0, in place (e.g. `w.grad.zero_()`)."""
    return fill_(x, 0)


def copy_(x, src):
    """x's elements = src's (broadcast to x's shape, cast to x's dtype), in place."""
    src = src if isinstance(src, Tensor) else Tensor(src)
    try:
        np.broadcast_to(np.empty(src.shape, dtype=bool), x.shape)
    except ValueError:
        raise broadcast_error("copy_", x.shape, src.shape) from None
    return in_place("copy_", x, _overwrite, src)


def uniform_(x, a=0.0, b=1.0, *, generator=None):
    """Every element drawn uniformly from [a, b), in place (from an sg.Generator if given)."""
    random.float_dtype("uniform_", x.dtype)
    values = _in_memory_order(x, lambda shape, serial: random.uniform_array(
        shape, x.dtype, a, b, generator=generator))
    return in_place("uniform_", x, _overwrite, Tensor._wrap(values))


def normal_(x, mean=0.0, std=1.0, *, generator=None):
    """Every element drawn from N(mean, std²), in place (from an sg.Generator if given)."""
    random.float_dtype("normal_", x.dtype)
    values = _in_memory_order(x, lambda shape, serial: random.normal_array(
        shape, x.dtype, mean, std, generator=generator, serial=serial))
    return in_place("normal_", x, _overwrite, Tensor._wrap(values))


def bernoulli_(x, p=0.5, *, generator=None):
    """Every element 1 with probability p (a number, or a tensor broadcast to x), else 0, in
    place (from an sg.Generator if given)."""
    values = random.bernoulli_values("bernoulli_", x.shape, x.dtype, p, generator)
    return in_place("bernoulli_", x, _overwrite, Tensor._wrap(values))


def _in_memory_order(x, draw):
    """draw(shape, serial) laid out over x as PyTorch fills it: a view that isn't contiguous (a
    transposed weight, say) takes its numbers in the order of its memory, one at a time."""
    data = x._data
    if data.flags.c_contiguous:
        return draw(data.shape, False)
    order = sorted(range(data.ndim), key=lambda axis: -abs(data.strides[axis]))
    drawn = draw(tuple(data.shape[axis] for axis in order), True)
    return np.transpose(drawn, np.argsort(order))


def _unary(name, op):
    def method(x):
        return in_place(name, x, op)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"x = {op.__name__}(x), in place."
    return method


# Tensor methods: name -> function (ops/__init__.py installs them).
methods = {
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "pow_": pow_,
    "addcmul_": addcmul_, "addcdiv_": addcdiv_, "lerp_": lerp_,
    "clamp_": clamp_, "clip_": clamp_, "masked_fill_": masked_fill_,
    "fill_": fill_, "zero_": zero_, "copy_": copy_, "uniform_": uniform_, "normal_": normal_,
    "bernoulli_": bernoulli_,
}
for _name in ("neg", "abs", "relu", *ops.float_functions):
    methods[_name + "_"] = _unary(_name + "_", getattr(ops, _name))
for _name in ("floor", "ceil", "trunc", "fix"):
    if hasattr(rounding, _name):
        methods[_name + "_"] = _unary(_name + "_", getattr(rounding, _name))
methods["round_"] = twin("round_", rounding.round)  # round_(decimals=1)
methods["clamp_min_"] = clamp_min_
methods["clamp_max_"] = clamp_max_
del _name
