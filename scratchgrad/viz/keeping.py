"""sg.viz.keep_gradients: keep the gradient that reaches every tensor, for show and draw."""
from scratchgrad import autograd


class keep_gradients:
    """Keep, in the backward passes that follow (in this thread), the gradient that reaches
    every tensor, so that sg.viz.show and sg.viz.draw can print them. Off by default: it costs
    time and keeps every intermediate gradient alive.

    sg.viz.keep_gradients() turns it on; used as a context manager, the previous setting comes
    back at the end. sg.viz.trace keeps them while it runs.
    """

    def __init__(self, enabled=True):
        self.previous = autograd.keeping.gradients
        autograd.keeping.gradients = bool(enabled)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        autograd.keeping.gradients = self.previous
