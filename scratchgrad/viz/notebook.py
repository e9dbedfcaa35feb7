"""How a tensor looks in Jupyter: its value, and for a tensor made by ops, the last few ops of
its graph. Bounded work: a loss at the end of a 3,000-op graph displays as fast as a leaf.
(A picture of the graph is asked for explicitly, with sg.viz.draw(t).)
"""
import html
from typing import Any

from scratchgrad.core.tensor import Tensor
from scratchgrad.viz.graph import describe

BRIEF_OPS = 4  # how many ops, counted back from the tensor, the listing shows


def brief(t: Tensor, limit: int = BRIEF_OPS) -> list[str]:
    """The ops that made t, newest first, at most `limit` of them, one a line:
    'add((3,) float32, 0.1) -> (3,) float32'. Reads no more of the graph than it prints."""
    lines: list[str] = []
    seen = {id(t)}
    queue = [t]  # tensors made by ops, nearest to t first
    while queue and len(lines) < limit:
        u = queue.pop(0)
        node = u.grad_fn
        if node is None:  # t itself is a leaf
            break
        args = []
        for x in node.inputs:
            args.append(_argument(x))
            if isinstance(x, Tensor) and x.grad_fn is not None and id(x) not in seen:
                seen.add(id(x))
                queue.append(x)
        lines.append(f"{node.op.name}({', '.join(args)}) -> {describe(u.shape, u.dtype)}")
    if queue:
        lines.append("... and earlier ops: sg.viz.show(t) lists the whole graph")
    return lines


def _argument(x: Any) -> str:
    if isinstance(x, Tensor):
        if x.grad_fn is not None:
            return describe(x.shape, x.dtype)
        if x.requires_grad:
            return f"leaf {describe(x.shape, x.dtype)}"
        return str(x._data.item()) if x._data.size == 1 else f"const {describe(x.shape, x.dtype)}"
    if x is None or isinstance(x, (bool, int, float)):
        return repr(x)
    shape = getattr(x, "shape", None)
    return f"const {describe(shape, x.dtype)}" if shape is not None else type(x).__name__


def tensor_html(t: Tensor) -> str:
    """The tensor's repr, and under it, for a tensor made by ops, brief(t) in grey."""
    parts = [f"<pre>{html.escape(repr(t))}</pre>"]
    if t.grad_fn is not None:
        listing = "\n".join(["made by:"] + [f"  {line}" for line in brief(t)])
        parts.append(f'<pre style="color: #777; font-size: smaller">{html.escape(listing)}</pre>')
    return "\n".join(parts)
