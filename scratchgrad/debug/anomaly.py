"""sg.detect_anomaly: stop at the first NaN or infinity, naming the op and the line that made it.

    with sg.detect_anomaly():
        loss = model(x)        # raises here if an op's forward produces NaN/inf
        loss.backward()        # or here, naming the op whose derivative did, and its line

Inside the block every primitive's forward is checked and backward's rules are watched
(through the engine's hooks, core/hooks.py), and a profiler records where each node was made
(debug/sites.py). All of it is slow, and all of it is gone
when the block ends: outside it the ops run unwatched.
"""
import numpy as np

from scratchgrad.core import hooks
from scratchgrad.core.errors import AnomalyError, describe_shape
from scratchgrad.core.tensor import Tensor
from scratchgrad.debug.sites import creation_sites


class detect_anomaly:
    """Context manager: raise AnomalyError at the first non-finite forward value or gradient."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        self.sites = None
        self._recording = None

    def __enter__(self):
        if self.check_nan:
            hooks.add_forward_check(self._check_forward)
            hooks.add_backward_watcher(self)
        self._recording = creation_sites()
        self.sites = self._recording.__enter__()
        return self

    def __exit__(self, *exc):
        self._recording.__exit__(*exc)
        if self.check_nan:
            hooks.remove_forward_check(self._check_forward)
            hooks.remove_backward_watcher(self)

    # ---- the forward check
    def _check_forward(self, op, out, args):
        what = _non_finite(out)
        if what is None:
            return
        if any(_non_finite(a) is not None for a in args):
            return  # carried from an input (a -inf mask, say), not made here: not an anomaly
        cause = "its inputs were all finite"
        raise AnomalyError(f"detect_anomaly: the forward of {op.name} produced {what} in its "
                           f"output of shape {describe_shape(np.shape(out))} ({cause})")

    # ---- the backward watch (see core/hooks.py)
    def begin(self, order):
        pass

    def node(self, t, g):
        pass

    def edge(self, t, i, raw, gx):
        what = _non_finite(gx)
        if what is None:
            return
        node = t.grad_fn
        site = self.sites.get(node)
        made = f", made at {site}" if site else " (made before detect_anomaly was on)"
        raise AnomalyError(f"detect_anomaly: the backward of {node.op.name}{made}, produced {what} "
                           f"in the gradient of its input {i} (shape "
                           f"{describe_shape(np.shape(gx))})")


def _non_finite(value):
    """'nan', 'inf' or 'nan and inf' if a float array holds such values, else None."""
    data = value._data if isinstance(value, Tensor) else value
    if not isinstance(data, (np.ndarray, np.generic)) or data.dtype.kind not in "fc":
        return None
    if np.isfinite(data).all():
        return None
    found = [name for name, test in (("nan", np.isnan), ("inf", np.isinf)) if test(data).any()]
    return " and ".join(found)
