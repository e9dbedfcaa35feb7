"""sg.inference_mode(): PyTorch's faster no_grad for evaluation; here it works as no_grad.

PyTorch also marks the tensors made inside as "inference tensors" that can never join a graph;
scratchgrad has no such tensors (they are ordinary tensors that don't require grad).
"""
import threading

from scratchgrad.core.gradmode import grad_mode, wrap_in_mode


class _InferenceState(threading.local):
    enabled = False  # class attribute: every new thread starts outside inference mode


_state = _InferenceState()


class inference_mode:
    """`with sg.inference_mode():` (or `@sg.inference_mode()`, `@sg.inference_mode`) records no
    graph; inference_mode(False) turns it off again inside (recording on, as in PyTorch)."""

    def __new__(cls, mode=True):
        if callable(mode):  # used as a bare decorator
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        self.mode = bool(mode)
        self.previous = []

    def __enter__(self):
        self.previous.append((grad_mode.enabled, _state.enabled))
        grad_mode.enabled = not self.mode  # as PyTorch's InferenceMode guard sets it
        _state.enabled = self.mode

    def __exit__(self, *exc):
        grad_mode.enabled, _state.enabled = self.previous.pop()

    def __call__(self, fn):
        mode = self.mode
        return wrap_in_mode(fn, lambda: inference_mode(mode))


def is_inference_mode_enabled():
    """Whether an inference_mode block is active in this thread."""
    return _state.enabled
