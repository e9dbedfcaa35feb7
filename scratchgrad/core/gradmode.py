"""Grad mode: whether ops record the graph now. Per thread, as in PyTorch."""
import functools
import inspect
import threading


class _GradMode(threading.local):
    enabled = True  # class attribute: every new thread starts with grad enabled


grad_mode = _GradMode()


def is_grad_enabled():
    """Whether ops record the graph now (False inside sg.no_grad())."""
    return grad_mode.enabled


class set_grad_enabled:
    """Context manager and decorator that turns graph recording on or off (per thread).

    As in PyTorch, a plain call `sg.set_grad_enabled(False)` switches at once (and a `with`
    block then restores the mode from before that call).
    """

    def __init__(self, mode=True):
        self.mode = bool(mode)
        self.previous = threading.local()  # one object may be entered by several threads
        if type(self) is set_grad_enabled:  # not no_grad(), which waits for `with`
            self.previous.before = grad_mode.enabled
            grad_mode.enabled = self.mode

    def __enter__(self):
        stack = self.previous.__dict__.setdefault("modes", [])
        stack.append(self.previous.__dict__.pop("before", grad_mode.enabled))
        grad_mode.enabled = self.mode

    def __exit__(self, *exc):
        grad_mode.enabled = self.previous.modes.pop()

    def __call__(self, fn):
        if "before" in self.previous.__dict__:  # @set_grad_enabled(False): undo the switch
            grad_mode.enabled = self.previous.__dict__.pop("before")
        return wrap_in_mode(fn, lambda: _GradModeBlock(self.mode))


class _GradModeBlock:
    """A `with` block in one grad mode, for the decorators (entered at each call)."""

    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        self.before = grad_mode.enabled
        grad_mode.enabled = self.mode

    def __exit__(self, *exc):
        grad_mode.enabled = self.before


def wrap_in_mode(fn, block):
    """fn running inside `with block():` at each call; a generator function runs each of its
    steps inside it (as PyTorch's decorators do), not only the call that makes the generator."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            with block():
                steps = fn(*args, **kwargs)
            return (yield from _each_step_in(steps, block))
        return generator

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with block():
            return fn(*args, **kwargs)
    return wrapper


def _each_step_in(steps, block):
    """Drive the generator `steps`, each resumption inside `with block():`."""
    sending = (steps.send, None)
    while True:
        step, value = sending
        try:
            with block():
                out = step(value)
        except StopIteration as done:
            return done.value
        try:
            sending = (steps.send, (yield out))
        except GeneratorExit:
            with block():
                steps.close()
            raise
        except BaseException as exc:  # noqa: BLE001 (thrown in by the caller: passed on, in the mode)
            sending = (steps.throw, exc)


class no_grad(set_grad_enabled):
    """`with sg.no_grad():` (or `@sg.no_grad` / `@sg.no_grad()`) runs ops without recording a graph."""
    mode = False

    def __new__(cls, fn=None):
        if fn is not None:  # used as a bare decorator
            return wrap_in_mode(fn, lambda: _GradModeBlock(cls.mode))
        return super().__new__(cls)

    def __init__(self):
        super().__init__(self.mode)


class enable_grad(no_grad):
    """Turns recording back on inside a `no_grad` block (also a decorator)."""
    mode = True
