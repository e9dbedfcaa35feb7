"""Where in the user's code each node was made: recorded only while asked for.

Recording needs no hook in the ops. A profiler (sys.setprofile) sees every function return;
the first time a function returns a tensor with a new grad_fn, the first stack frame outside
scratchgrad is the user's line that made it. That is slow, so it runs only inside
sg.gradcheck_graph and sg.detect_anomaly, and only in the thread that asked.
"""
import contextlib
import sys
import weakref

from scratchgrad.core.errors import user_site
from scratchgrad.core.tensor import Tensor

# Every site recorded so far (sg.viz prints them); weak, so nodes still die with their graphs.
known = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def creation_sites():
    """Inside the block, map each new node to 'file.py:LINE: code' (the mapping is yielded)."""
    sites = weakref.WeakKeyDictionary()

    def profiler(frame, event, result):
        if event == "return" and isinstance(result, Tensor):
            node = result.grad_fn
            if node is not None and node not in sites:
                sites[node] = known[node] = user_site()

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        yield sites
    finally:
        sys.setprofile(previous)


def site_of(node):
    """Where node was made, if that was recorded."""
    return known.get(node)
