"""sg.set_broadcast_mode: catch broadcasting across different ranks, the classic silent bug.

    pred = model(x)               # shape (N, 1)
    loss = ((pred - y) ** 2).mean()   # y of shape (N,): pred - y is (N, N), and no error

With sg.set_broadcast_mode("warn") that subtraction warns, with "raise" it raises a ShapeError;
"allow" (the default) broadcasts silently, as NumPy and PyTorch do. Operands of different ranks
are flagged whenever neither is a single number: a bias of shape (D,) added to (N, D) too, so
write it as shape (1, D) (or reshape) in strict mode. Usable as a function or a context manager:

    with sg.set_broadcast_mode("raise"):
        ...

The check is a forward check (autograd.forward_checks) on the broadcasting ops, installed only
while the mode is "warn" or "raise".
"""
import warnings
from typing import Any, Literal

import numpy as np

from scratchgrad import autograd
from scratchgrad.errors import ShapeError, describe_shape, user_stacklevel

Mode = Literal["allow", "warn", "raise"]
MODES: tuple[Mode, ...] = ("allow", "warn", "raise")
BROADCASTING_OPS = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "where"}


class BroadcastWarning(UserWarning):
    """An op broadcast operands of different ranks (sg.set_broadcast_mode("warn"))."""


_mode: Mode = "allow"


def get_broadcast_mode() -> Mode:
    """The current broadcast mode: 'allow', 'warn' or 'raise'."""
    return _mode


class set_broadcast_mode:
    """Set how ops treat broadcasting across ranks: "allow", "warn" or "raise".

    Takes effect at once; used as a context manager, the previous mode comes back at the end.
    """

    def __init__(self, mode: Mode) -> None:
        if mode not in MODES:
            raise ValueError(f"set_broadcast_mode: mode must be one of {MODES}, got {mode!r}")
        self.previous = _mode
        _set(mode)

    def __enter__(self) -> "set_broadcast_mode":  # noqa: PYI034 (typing.Self needs 3.11)
        return self

    def __exit__(self, *exc: object) -> None:
        _set(self.previous)


def _set(mode: Mode) -> None:
    global _mode
    if (mode == "allow") != (_mode == "allow"):
        if mode == "allow":
            autograd.remove_forward_check(_check_ranks)
        else:
            autograd.add_forward_check(_check_ranks)
    _mode = mode


def _check_ranks(op: Any, out: Any, args: Any) -> None:
    if op.name not in BROADCASTING_OPS:
        return
    shapes = [np.shape(a) for a in args if np.ndim(a) > 0]
    if len({len(s) for s in shapes}) < 2:
        return
    listed = " and ".join(describe_shape(s) for s in shapes)
    rank = max(len(s) for s in shapes)
    padded = ", ".join(describe_shape((1,) * (rank - len(s)) + s) for s in shapes if len(s) < rank)
    message = (f"{op.name}: shapes {listed} have different ranks, so broadcasting treats the "
               f"smaller as {padded} and the result has shape {describe_shape(np.shape(out))}. "
               "If that is what you meant, reshape explicitly (e.g. x.reshape(1, -1) or "
               "y.unsqueeze(-1)); sg.set_broadcast_mode(\"allow\") turns this check off")
    if _mode == "raise":
        raise ShapeError(message)
    warnings.warn(message, BroadcastWarning, stacklevel=user_stacklevel())
