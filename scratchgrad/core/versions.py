"""Version counters: how backward knows that a value it saved was modified in place since.

A tensor and its views share one `Storage` (their memory, as far as autograd cares); every
in-place write bumps its version and notes when (on the engine's clock) and where (the
user's line) it happened. Nodes are stamped with the same clock, so "was this value written
after the node that saved it was made?" is one comparison, and the forward pays nothing:
nothing is recorded per node, only per write.

An in-place op inside a graph gives its tensor a new grad_fn, while nodes made earlier must
still see the tensor as it was. `rebind` keeps that history, and `as_seen_by` answers "what
was x for the node made at time seq?" for the backward pass.
"""
import itertools
import linecache
import os
import sys
import weakref

# One clock orders both the nodes (Node.seq: a topological order) and the in-place writes.
next_seq = itertools.count(1).__next__

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # scratchgrad/
KEPT_WRITES = 16  # per storage: enough to name the write that broke a saved value


class Storage:
    """What a tensor shares with its views: the version counter, and its recent writes."""
    __slots__ = ("prune_at", "version", "views", "writes")

    def __init__(self):
        self.version = 0
        self.writes = []  # (seq, version after the write, (code, offset)), oldest first
        self.views = []   # weak references to views made of a tensor in a graph
        self.prune_at = 32

    def add_view(self, view):
        """Remember view, so that an in-place op on its base can give it a new grad_fn."""
        views = self.views
        if len(views) >= self.prune_at:  # drop dead ones; the threshold doubles: O(1) amortised
            views[:] = [v for v in views if v() is not None]
            self.prune_at = max(32, 2 * len(views))
        views.append(weakref.ref(view))

    def live_views(self):
        return [v for v in (ref() for ref in self.views) if v is not None]

    def written_after(self, seq):
        """The first recent write later than seq, or None."""
        for write in self.writes:
            if write[0] > seq:
                return write
        return None


def storage_of(t):
    storage = t._storage
    if storage is None:
        storage = t._storage = Storage()
    return storage


# The clock's reading at the latest in-place write anywhere. Backward checks saved values only
# when this is later than the oldest node it walks: in a training loop it never is.
last_write = 0


def note_write(t, seq=None):
    """Bump t's version: its memory was just written in place (at seq, default now)."""
    global last_write
    storage = storage_of(t)
    storage.version += 1
    seq = next_seq() if seq is None else seq
    last_write = max(last_write, seq)
    storage.writes.append((seq, storage.version, _user_line()))
    if len(storage.writes) > KEPT_WRITES:
        del storage.writes[0]


def _user_line():
    """(code, bytecode offset) of the innermost frame outside scratchgrad. The line number is
    worked out only if an error names it: frame.f_lineno scans the code's line table, which
    cost an optimiser step 4% of its time, one write per parameter."""
    frame = sys._getframe(2)
    while frame is not None and _in_library(frame.f_code.co_filename):
        frame = frame.f_back
    return None if frame is None else (frame.f_code, frame.f_lasti)


_library_files = {}


def _in_library(filename):
    inside = _library_files.get(filename)
    if inside is None:
        inside = _library_files[filename] = os.path.abspath(filename).startswith(_PACKAGE_DIR)
    return inside


def describe_line(where):
    if where is None:
        return "an unknown line"
    code, offset = where
    filename = code.co_filename
    line = next((line for start, end, line in code.co_lines() if start <= offset < end), None)
    if line is None:
        return filename
    source = linecache.getline(filename, line).strip()
    return f"{filename}:{line}" + (f": {source}" if source else "")


# ---------------------------------------------------------------- history of rebound tensors

# id(tensor) -> [(seq, grad_fn, requires_grad)]: what the tensor was for the nodes made up to
# seq, before an in-place op in a graph gave it a new grad_fn. Empty in programs that never
# modify a graph's tensors in place, and backward then skips all of this.
rewrites = {}
# The node whose output a rebound tensor was -> that tensor's storage: its rules may read the
# output, and a stand-in for it has a different one.
output_storage = weakref.WeakKeyDictionary()


def rebind(t, node):
    """t now holds node's output; nodes made before node still see t as it was."""
    if t.grad_fn is not None:
        output_storage[t.grad_fn] = storage_of(t)
    key = id(t)
    history = rewrites.get(key)
    if history is None:
        history = rewrites[key] = []
        weakref.finalize(t, rewrites.pop, key, None)
    history.append((node.seq, t.grad_fn, t.requires_grad))
    t.grad_fn = node
    t.requires_grad = True


def as_seen_by(x, seq, stand_in):
    """x as the node made at seq saw it: x itself, or stand_in(x, grad_fn, requires_grad)."""
    for until, grad_fn, requires_grad in rewrites[id(x)]:
        if seq <= until:
            return stand_in(x, grad_fn, requires_grad)
    return x
