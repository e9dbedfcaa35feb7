"""NumPy's floating-point warnings never escape from scratchgrad's own lines (PyTorch gives none).

IEEE arithmetic already gives PyTorch's answers at the extremes (inf where a float32 product
overflows, nan for 0/0 or inf - inf), so NumPy's "overflow encountered in multiply" only
repeats what the result says, and points at a line inside the library. Ops whose formula
overflows where the true answer is finite (gelu at 3e38, say) are fixed in their formulas;
this module keeps the warnings themselves away from the user.

`np.errstate` costs about as much as a whole small op (measured: ~3 µs around a 1 µs add), too
much for every forward, so:
- NumPy's warnings attributed to a scratchgrad module are ignored by a warnings filter (the
  default, printing mode);
- where the user has turned RuntimeWarning into an error (`warnings.simplefilter("error")`,
  pytest's `-W error`), their filter comes first and NumPy raises it: the forward that raised
  runs again under `np.errstate(all="ignore")`, a cost paid only on that rare path;
- a backward pass runs under one `np.errstate` (once per pass, not per node).
"""
import functools
import warnings

import numpy as np

# How NumPy words a floating-point warning: "overflow encountered in multiply", ...
FLOATING_POINT_MESSAGE = r"(overflow|underflow|divide by zero|invalid value) encountered in"

warnings.filterwarnings("ignore", message=FLOATING_POINT_MESSAGE, category=RuntimeWarning,
                        module=r"scratchgrad(\.|$)")


def quietly(forward):
    """forward, run again without floating-point warnings if one was raised as an error."""
    @functools.wraps(forward)
    def quiet_forward(*args, **params):
        try:
            return forward(*args, **params)
        except RuntimeWarning:
            with np.errstate(all="ignore"):
                return forward(*args, **params)
    return quiet_forward


def silenced():
    """A context in which NumPy reports no floating-point condition (for a whole backward)."""
    return np.errstate(all="ignore")
