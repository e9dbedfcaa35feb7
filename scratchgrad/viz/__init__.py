"""See the graph and the gradient flow: sg.viz.show / format (text), draw / to_dot (a
picture), trace (each backward step as it runs), keep_gradients (so show and draw have them)."""
from scratchgrad.viz.dot import draw, to_dot
from scratchgrad.viz.keeping import keep_gradients
from scratchgrad.viz.text import format, show
from scratchgrad.viz.trace import trace

__all__ = ["draw", "format", "keep_gradients", "show", "to_dot", "trace"]
