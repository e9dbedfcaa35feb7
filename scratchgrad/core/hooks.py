"""Where debugging tools plug into the engine: one registry, empty by default.

- Forward checks, check(op, out, args), run after every primitive's forward
  (sg.detect_anomaly, sg.set_broadcast_mode). With none on, an op pays one truth test.
- Backward watchers see a backward pass node by node (sg.viz.trace, sg.detect_anomaly,
  sg.viz.keep_gradients): watcher.begin(order) with the graph's tensors newest first, then
  watcher.node(t, g) before a node's rules run, g being the gradient of its output t, and
  watcher.edge(t, i, raw, gx) after the rule for input i, raw being the rule's result and gx
  that result fitted to the input. With none on, backward runs the rules unwrapped.
- Backward listeners, listener(roots, order), hear of every backward pass once, before it
  runs, and must do O(1) work (the graph-growth warning).

Checks and watchers belong to the thread that added them, as grad mode does: a mode turned on
in one thread neither slows nor reports another thread's ops.
"""
import threading

forward_checks = []     # (check, thread id)
backward_watchers = []  # (watcher, thread id)
backward_listeners = []


def add_forward_check(check):
    forward_checks.append((check, threading.get_ident()))


def remove_forward_check(check):
    forward_checks.remove((check, threading.get_ident()))


def run_forward_checks(op, out, args):
    thread = threading.get_ident()
    for check, owner in tuple(forward_checks):
        if owner == thread:
            check(op, out, args)


def add_backward_watcher(watcher):
    backward_watchers.append((watcher, threading.get_ident()))


def remove_backward_watcher(watcher):
    backward_watchers.remove((watcher, threading.get_ident()))


def watchers_of_this_thread():
    thread = threading.get_ident()
    return tuple(watcher for watcher, owner in backward_watchers if owner == thread)
