"""sg.set_broadcast_mode: catch the broadcast that silently makes a bigger tensor than you meant.

    pred = model(x)               # shape (N, 1)
    loss = ((pred - y) ** 2).mean()   # y of shape (N,): pred - y is (N, N), and no error

With sg.set_broadcast_mode("warn") that subtraction warns, with "raise" it raises a ShapeError;
"allow" (the default) broadcasts silently, as NumPy and PyTorch do. "warn" and "raise" flag a
broadcast whose result has more elements than every one of its inputs: (N, 1) against (N,)
gives N² elements from two inputs of N. The everyday idioms pass, because their result is the
size of one input: a bias of shape (D,) added to (N, D) (x @ W + b), a number times a tensor, a
(N, 1) column scaling (N, D) rows. An outer broadcast, (N, 1) against (1, M), is flagged too:
write it as an explicit product (or use "allow" around it) when that is what you meant.

The stricter rule of earlier versions, flagging any two operands of different ranks (so the
bias add too, unless written as (1, D)), stays available as "warn-rank" and "raise-rank"
("rank" is short for "raise-rank"). Usable as a function or a context manager:

    with sg.set_broadcast_mode("raise"):
        ...

The check is a forward check (core/hooks.py) on the broadcasting ops, added only
while a mode other than "allow" is set.
"""
import math
import threading
import warnings

import numpy as np

from scratchgrad.core import hooks
from scratchgrad.core.errors import ShapeError, describe_shape, user_stacklevel

MODES = ("allow", "warn", "raise", "warn-rank", "raise-rank", "rank")
BROADCASTING_OPS = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "where"}


class BroadcastWarning(UserWarning):
    """An op's broadcast made a result bigger than its inputs (sg.set_broadcast_mode("warn"))."""


class _Mode(threading.local):
    value = "allow"  # per thread, like grad mode: each new thread starts allowing


_mode = _Mode()


def get_broadcast_mode():
    """The current thread's broadcast mode (see set_broadcast_mode)."""
    return _mode.value


class set_broadcast_mode:
    """Set how ops treat suspicious broadcasts: "allow", "warn" or "raise" (a result bigger than
    every input), "warn-rank" or "raise-rank" (operands of different ranks; "rank" = "raise-rank").

    Takes effect at once; used as a context manager, the previous mode comes back at the end.
    """

    def __init__(self, mode):
        if mode not in MODES:
            raise ValueError(f"set_broadcast_mode: mode must be one of {MODES}, got {mode!r}")
        self.previous = _mode.value
        _set(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(self.previous)


def _set(mode):
    if (mode == "allow") != (_mode.value == "allow"):
        if mode == "allow":
            hooks.remove_forward_check(_check)
        else:
            hooks.add_forward_check(_check)
    _mode.value = mode


def _check(op, out, args):
    if op.name not in BROADCASTING_OPS:
        return
    shapes = [np.shape(a) for a in args if np.ndim(a) > 0]
    out_shape = np.shape(out)
    if _mode.value in ("warn-rank", "raise-rank", "rank"):
        message = _rank_message(op, shapes, out_shape)
    else:
        message = _growth_message(op, shapes, out_shape)
    if message is None:
        return
    if _mode.value in ("raise", "raise-rank", "rank"):
        raise ShapeError(message)
    warnings.warn(message, BroadcastWarning, stacklevel=user_stacklevel())


def _growth_message(op, shapes, out_shape):
    """The (N, 1)-against-(N,) bug: the result has more elements than every input."""
    size = math.prod(out_shape)
    if len(shapes) < 2 or any(math.prod(s) >= size for s in shapes):
        return None
    listed = " and ".join(describe_shape(s) for s in shapes)
    return (f"{op.name}: shapes {listed} broadcast to {describe_shape(out_shape)}, bigger than "
            f"every input ({size} elements): did a column meet a row? If you meant one value per "
            "row, make the shapes equal (e.g. pred.reshape(-1) or y.unsqueeze(-1)); if you meant "
            "every pair, wrap it in sg.set_broadcast_mode(\"allow\")")


def _rank_message(op, shapes, out_shape):
    """Any two operands of different ranks (neither a single number)."""
    if len({len(s) for s in shapes}) < 2:
        return None
    listed = " and ".join(describe_shape(s) for s in shapes)
    rank = max(len(s) for s in shapes)
    padded = ", ".join(describe_shape((1,) * (rank - len(s)) + s) for s in shapes if len(s) < rank)
    return (f"{op.name}: shapes {listed} have different ranks, so broadcasting treats the "
            f"smaller as {padded} and the result has shape {describe_shape(out_shape)}. "
            "If that is what you meant, reshape explicitly (e.g. x.reshape(1, -1) or "
            "y.unsqueeze(-1)); sg.set_broadcast_mode(\"allow\") turns this check off")
