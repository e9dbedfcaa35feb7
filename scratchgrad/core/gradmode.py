"""Grad mode: whether ops record the graph now. Per thread, as in PyTorch."""
import functools
import threading


class _GradMode(threading.local):
    enabled = True  # class attribute: every new thread starts with grad enabled


grad_mode = _GradMode()


def is_grad_enabled():
    """Whether ops record the graph now (False inside sg.no_grad())."""
    return grad_mode.enabled


class set_grad_enabled:
    """Context manager and decorator that turns graph recording on or off (per thread)."""

    def __init__(self, mode=True):
        self.mode = bool(mode)
        self.previous = threading.local()  # one object may be entered by several threads

    def __enter__(self):
        stack = self.previous.__dict__.setdefault("modes", [])
        stack.append(grad_mode.enabled)
        grad_mode.enabled = self.mode

    def __exit__(self, *exc):
        grad_mode.enabled = self.previous.modes.pop()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)
        return wrapper


class no_grad(set_grad_enabled):
    """`with sg.no_grad():` (or `@sg.no_grad` / `@sg.no_grad()`) runs ops without recording a graph."""
    mode = False

    def __new__(cls, fn=None):
        if fn is not None:  # used as a bare decorator
            return set_grad_enabled(cls.mode)(fn)
        return super().__new__(cls)

    def __init__(self):
        super().__init__(self.mode)


class enable_grad(no_grad):
    """Turns recording back on inside a `no_grad` block (also a decorator)."""
    mode = True
