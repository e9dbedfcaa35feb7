"""A warning for graphs that keep growing across training steps.

Three classic bugs make each step's graph hang on to every earlier step's graph, so memory and
backward time grow without bound while the numbers still look fine:

- a hidden state carried from step to step and never detached (with retain_graph=True);
- a parameter update done outside `sg.no_grad()` (`w = w - lr * g`), so each new w is made
  from all the earlier ones;
- a loss summed as a tensor (`total += loss`) rather than as a number (`loss.item()`).

The first two show in backward: successive backward passes keep starting from the same oldest
node while the graph gets bigger. The engine tells this module of each backward pass (a
listener in core/hooks.py), and noting its oldest node and size is O(1). The third never goes through backward, and shows two ways:
- when the running total is read (`.item()`, `print`, `+=`): its graph is a chain of additions,
  each adding a one-element tensor that an earlier backward() already used. That is checked
  only on those reads, and stops at the first node, so a loss read after its own backward
  costs one lookup;
- in backward, as the number of tensors that backward() started from and that are still alive
  (a weak dictionary's length, O(1)): in a correct loop the previous loss dies when `loss` is
  reassigned, while a running total of loss tensors (or a list of them) keeps every one alive.
  Counting which of them belong to this thread is O(n), but runs only when the length reaches
  a threshold that doubles each time the count turns out small, so it averages O(1); and only
  a count that would warn collects garbage first (gc.collect), in case cycles hold them.
"""
import gc
import threading
import warnings
import weakref

from scratchgrad.core import hooks
from scratchgrad.core.errors import user_stacklevel

# Warn when this many successive backward passes start from the same node and each is bigger,
# or when this many tensors that backward() started from are alive at once.
GROWING_BACKWARDS = 4
ALIVE_USED_LOSSES = 8


class GraphGrowthWarning(UserWarning):
    """A graph keeps growing across training steps (see scratchgrad.debug.growth)."""


_warned = set()   # the kinds already warned about: each warning is given once per process
_oldest = None    # weak reference to the oldest node of the last backward
_size = 0         # how many nodes that backward went through
_growing = 0      # how many successive backwards started from that node, each bigger
_alive_check_at = ALIVE_USED_LOSSES  # doubled when a count finds other threads' losses
# The nodes whose output a backward started from (used losses), each with the thread that ran
# that backward; weak, so an entry goes when its tensor dies.
backward_roots = weakref.WeakKeyDictionary()


def watch_growth(roots, order):
    """Hears of every backward (core/hooks.py) with its roots and nodes (newest first): note the
    roots, the oldest node and the size."""
    global _oldest, _size, _growing
    thread = threading.get_ident()
    for root in roots:
        if root.grad_fn is not None:
            backward_roots[root.grad_fn] = thread
    if len(backward_roots) >= _alive_check_at and "alive" not in _warned:
        _check_alive_losses()
    if not order or "backward" in _warned:
        return
    oldest = order[-1].grad_fn
    if _oldest is not None and _oldest() is oldest and len(order) > _size:
        _growing += 1
        if _growing == GROWING_BACKWARDS:
            _warn("backward", _growing_graph_message(oldest, _growing, len(order)))
    else:
        _oldest, _growing = weakref.ref(oldest), 1
    _size = len(order)


def _check_alive_losses():
    """Many used losses alive at once: warn if this thread's own are that many, and still are
    once garbage held by reference cycles is collected. That collection runs only when a
    warning is due, which a correct training loop never gets to."""
    global _alive_check_at
    alive = _alive_in_this_thread()  # other threads' training loops each hold their own loss
    if alive >= ALIVE_USED_LOSSES:
        gc.collect()
        alive = _alive_in_this_thread()
    if alive < ALIVE_USED_LOSSES:
        _alive_check_at *= 2
        return
    _warn("alive", f"{alive} tensors that backward() already started from are still alive, each "
                   "keeping its whole graph. A running total (`total = total + loss`) or a list "
                   "of loss tensors? Keep numbers instead: `loss.item()` (or `loss.detach()`).")


def _alive_in_this_thread():
    me = threading.get_ident()
    return sum(1 for thread in list(backward_roots.values()) if thread == me)


def _growing_graph_message(oldest, passes, size):
    leaves = [x for x in oldest.inputs if getattr(x, "requires_grad", False) and x.grad_fn is None]
    start = (f", starting at a tensor of shape {tuple(leaves[0].shape)}" if leaves else "")
    return (f"the last {passes} backward passes all went back to the same {oldest!r} node{start}, "
            f"and each went through more nodes (now {size}): every step's graph still contains "
            "the earlier steps'. Usual causes: a hidden state carried between steps without "
            "`h = h.detach()`, or a parameter update outside `with sg.no_grad():`.")


def check_accumulation(t):
    """Warn if t is a running total of losses that backward() already used (`total += loss`)."""
    node = t.grad_fn
    if node is None or node in backward_roots or "accumulation" in _warned:
        return
    used_losses = 0
    while node is not None and node.op.name == "add" and used_losses < 2:
        earlier = None
        found = False
        for x in node.inputs:
            producer = getattr(x, "grad_fn", None)
            if producer is None:
                continue
            if producer in backward_roots and x._data.size == 1:
                found = True    # a one-element tensor a backward started from: a used loss
            else:
                earlier = producer
        if not found:
            return
        used_losses += 1
        node = earlier
    if used_losses == 2:
        _warn("accumulation",
              f"this tensor of shape {tuple(t.shape)} adds up losses whose backward() already "
              "ran, so it keeps every one of their graphs alive. Accumulate numbers instead: "
              "`total += loss.item()` (or `loss.detach()`).")


def _warn(kind, message):
    _warned.add(kind)
    warnings.warn(f"graph growing across steps: {message}", GraphGrowthWarning,
                  stacklevel=user_stacklevel())


def reset():
    """Forget what was warned about and seen (for tests)."""
    global _oldest, _size, _growing, _alive_check_at
    _warned.clear()
    _oldest, _size, _growing = None, 0, 0
    # Losses already counted (earlier code's, maybe uncollected garbage in cycles) don't count
    # towards the next check: otherwise it would run at once, find garbage, and back off.
    _alive_check_at = len(backward_roots) + ALIVE_USED_LOSSES


hooks.backward_listeners.append(watch_growth)
