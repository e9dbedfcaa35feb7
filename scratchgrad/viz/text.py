"""sg.viz.format / sg.viz.show: the graph as a program listing, one tensor a line.

    leaf0                 (3, 4) float32                           grad (3, 4) norm 3.464
    leaf1                 (4,) float32                             grad (4,) norm 6.928
    %0 = mul(leaf0, leaf1)  (3, 4) float32, (4,) float32 -> (3, 4) float32  grad (3, 4) norm 3.464
                            leaf1: grad (3, 4) summed to (4,)
    %1 = sum(%0, ...)     ...
"""
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from scratchgrad.core.tensor import Tensor
from scratchgrad.debug.growth import backward_roots
from scratchgrad.viz.graph import describe, gradient_text, steps


def format(t: Tensor | Sequence[Tensor]) -> str:
    """The graph that made t as text: op, input and output shapes and dtypes per line, and after
    a backward the gradient at each tensor, with a note where broadcasting summed one."""
    listing = steps(t)
    ops = sum(1 for s in listing if s.node is not None)
    rows = []
    for step in listing:
        inputs = ", ".join(describe(i.shape, i.dtype) for i in step.inputs)
        output = describe(step.tensor.shape, step.tensor.dtype)
        shapes = f"{inputs} -> {output}" if step.node is not None else (
            output + (", requires grad" if step.tensor.requires_grad else ""))
        grad = step.grad
        rows.append((step, step.call(), shapes, "" if grad is None else gradient_text(grad)))
    code_width = max(len(code) for _, code, _, _ in rows)
    shape_width = max(len(shapes) for _, _, shapes, _ in rows)
    lines = [_header(t, ops, len(listing) - ops, listing)]
    for step, code, shapes, grad in rows:
        lines.append(f"  {code:<{code_width}}  {shapes:<{shape_width}}  {grad}".rstrip())
        for i, before in sorted(step.summed.items()):
            x = step.inputs[i]
            lines.append(f"  {'':<{code_width}}  ↳ {x.name}: grad {_shape(before)} summed to "
                         f"{_shape(x.shape)} (broadcasting in {step.op})")
        if step.site:
            lines.append(f"  {'':<{code_width}}  made at {step.site}")
    return "\n".join(lines)


def show(t: Tensor | Sequence[Tensor], file: TextIO | None = None) -> None:
    """Print format(t)."""
    print(format(t), file=file or sys.stdout)


def _header(t: Any, ops: int, leaves: int, listing: list[Any]) -> str:
    root = t if not isinstance(t, (list, tuple)) else t[-1]
    text = (f"graph of a {describe(root.shape, root.dtype)} tensor: {ops} op"
            f"{'s' if ops != 1 else ''}, {leaves} lea{'ves' if leaves != 1 else 'f'}")
    if any(s.node is not None and s.grad is not None for s in listing):
        text += "; grad = the gradient that reached each tensor in the last backward"
    elif root.grad_fn is not None and root.grad_fn in backward_roots:
        text += ("; to see each tensor's gradient, run the backward inside "
                 "`with sg.viz.keep_gradients():` (or sg.viz.trace())")
    return text


def _shape(shape: Any) -> str:
    return str(tuple(shape))
