"""sg.viz.trace: the chain rule in the console, one backward step at a time.

    with sg.viz.trace():
        z.backward()

prints each node as backward reaches it (newest first), the gradient g arriving at its output,
and for each input the derivative rule applied, read from the rule itself (scratchgrad.formulas),
with the gradient that input received.
"""
import sys

import numpy as np

from scratchgrad.core.hooks import add_backward_watcher, remove_backward_watcher
from scratchgrad.formulas import rule_formula
from scratchgrad.viz.graph import gradient_text, steps
from scratchgrad.viz.keeping import keep_gradients


class trace:
    """Context manager: print every backward step run inside it (to `file`, default stdout)."""

    def __init__(self, file=None):
        self.file = file
        self.by_tensor = {}
        self.count = 0

    def __enter__(self):
        add_backward_watcher(self)
        self._keeping = keep_gradients()
        return self

    def __exit__(self, *exc):
        self._keeping.__exit__(*exc)
        remove_backward_watcher(self)

    def _print(self, text):
        print(text, file=self.file or sys.stdout)

    # ---- called by the backward pass (core/engine.py, through core/hooks.py)
    def begin(self, order):
        listing = steps(order)
        self.by_tensor = {id(s.tensor): s for s in listing}
        self.count = 0
        self._print(f"backward through {len(order)} op{'s' if len(order) != 1 else ''}, newest first "
                    "(g: the gradient arriving at an op's output; ans: that output)")

    def node(self, t, g):
        self.count += 1
        step = self.by_tensor.get(id(t))
        call = step.call() if step is not None else repr(t.grad_fn)
        self._print(f"[{self.count}] {call}    {_gradient(g, prefix='g ')}")

    def edge(self, t, i, raw, gx):
        step = self.by_tensor.get(id(t))
        node = t.grad_fn
        target = step.inputs[i].name if step is not None else f"input {i}"
        summed = np.shape(raw) if np.shape(raw) != np.shape(gx) else None
        self._print(f"      {rule_formula(node.op, i)}\n"
                    f"        -> {target} gets {_gradient(gx, summed, prefix='')}")


def _gradient(g, summed=None, prefix=""):
    if not hasattr(g, "__array__"):
        return "one gradient per output"  # an sg.Function with several outputs
    return gradient_text(g, summed, prefix)
