"""sg.viz.keep_gradients: keep the gradient that reaches every tensor, for show and draw.

Keeping is a backward watcher (core/hooks.py) that notes, for each node, the gradient that
reached its output and, where broadcasting was summed away, the shape it arrived in.
"""
import threading
import weakref

from scratchgrad.core import hooks
from scratchgrad.core.tensor import Tensor

# Newest node of a kept backward -> {node.seq: the gradient that reached that node}. Keyed
# weakly by a node and holding none, so an entry goes when the graph does.
kept_gradients = weakref.WeakKeyDictionary()
# node -> {input index: the shape its gradient had before broadcasting was summed away}
summed_notes = weakref.WeakKeyDictionary()


class _Keeper:
    """The watcher: one per thread that keeps gradients."""

    def begin(self, order):
        self.kept = {}
        if order:
            kept_gradients[order[0].grad_fn] = self.kept

    def node(self, t, g):
        # the values only: a create_graph gradient's graph could hold the root
        self.kept[t.grad_fn.seq] = g._data if isinstance(g, Tensor) else g

    def edge(self, t, i, raw, gx):
        if raw.shape != gx.shape:
            summed_notes.setdefault(t.grad_fn, {})[i] = raw.shape


class _Keeping(threading.local):
    keeper = None  # this thread's watcher while keeping is on


_keeping = _Keeping()


def is_on():
    """Whether this thread keeps gradients now."""
    return _keeping.keeper is not None


def _set(enabled):
    if enabled and _keeping.keeper is None:
        _keeping.keeper = _Keeper()
        hooks.add_backward_watcher(_keeping.keeper)
    elif not enabled and _keeping.keeper is not None:
        hooks.remove_backward_watcher(_keeping.keeper)
        _keeping.keeper = None


class keep_gradients:
    """Keep, in the backward passes that follow (in this thread), the gradient that reaches
    every tensor, so that sg.viz.show and sg.viz.draw can print them. Off by default: it costs
    time and keeps every intermediate gradient alive.

    sg.viz.keep_gradients() turns it on; used as a context manager, the previous setting comes
    back at the end. sg.viz.trace keeps them while it runs.
    """

    def __init__(self, enabled=True):
        self.previous = is_on()
        _set(enabled)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(self.previous)


def kept_gradient(node):
    """The gradient that reached node in the last backward that kept it (or None)."""
    for kept in kept_gradients.values():
        g = kept.get(node.seq)
        if g is not None:
            return g
    return None
