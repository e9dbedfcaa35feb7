"""How a tensor prints: PyTorch's layout and rules, so that printed values read the same in both.

Floats get `precision` decimals (4), or scientific notation when the non-zero finite values span
more than three orders of magnitude, exceed 1e8 or fall below 1e-4; floats that are all whole
numbers print as "1."; every element is padded to one width; rows wrap at `linewidth` (80);
a tensor of more than `threshold` (1000) elements shows its first and last `edgeitems` (3)
along each dimension, with "..." between. sg.set_printoptions changes these, as
torch.set_printoptions does.
"""
import math
from dataclasses import dataclass

import numpy as np


@dataclass
class PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None  # None: decided per tensor


OPTIONS = PrintOptions()
PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    """Change how tensors print (torch.set_printoptions): profile 'default', 'short' or 'full',
    then any option given; sci_mode True/False forces scientific notation on or off, None lets
    each tensor decide."""
    if profile is not None:
        if profile not in PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(PROFILES)}, "
                             f"got {profile!r}")
        OPTIONS.precision, OPTIONS.threshold, OPTIONS.edgeitems, OPTIONS.linewidth = PROFILES[profile]
    if precision is not None:
        OPTIONS.precision = precision
    if threshold is not None:
        OPTIONS.threshold = threshold
    if edgeitems is not None:
        OPTIONS.edgeitems = edgeitems
    if linewidth is not None:
        OPTIONS.linewidth = linewidth
    OPTIONS.sci_mode = sci_mode


class _Formatter:
    """One width and one notation for every element of a tensor."""

    def __init__(self, values, floating):
        self.floating, self.int_mode, self.sci_mode, self.width = floating, True, False, 1
        flat = values.reshape(-1)
        if not floating:
            self.width = max((len(str(v)) for v in flat.tolist()), default=1)
            return
        shown = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if not shown.size:
            return
        magnitudes = np.abs(shown)
        low, high = magnitudes.min(), magnitudes.max()
        self.int_mode = bool(np.all(shown == np.ceil(shown)))
        spread = high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4
        self.sci_mode = spread if OPTIONS.sci_mode is None else OPTIONS.sci_mode
        p = OPTIONS.precision
        if self.sci_mode:
            texts = [f"{v:.{p}e}" for v in shown.tolist()]
        elif self.int_mode:
            texts = [f"{v:.0f}." for v in shown.tolist()]
        else:
            texts = [f"{v:.{p}f}" for v in shown.tolist()]
        self.width = max(map(len, texts))

    def format(self, value):
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:{self.width}.{OPTIONS.precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            text = f"{value:.{OPTIONS.precision}f}"
        return text.rjust(self.width)


def _summarized(values):
    """The elements a summarised print shows: the first and last edgeitems along each axis."""
    edge = OPTIONS.edgeitems
    if values.ndim == 0:
        return values
    if values.ndim > 1 and not edge:
        return values[(slice(0, 0),) * values.ndim]
    if values.shape[0] > 2 * edge:
        values = np.concatenate([values[:edge], values[-edge:]])
    if values.ndim == 1:
        return values
    return np.stack([_summarized(row) for row in values])


def _body(values, indent, summarize, formatter):
    if values.ndim == 0:
        return formatter.format(values.item())
    edge = OPTIONS.edgeitems
    cut = summarize and values.shape[0] > 2 * edge
    if values.ndim == 1:
        if summarize and not edge:
            items = ["..."]
        elif cut:
            items = ([formatter.format(v) for v in values[:edge].tolist()] + [" ..."]
                     + [formatter.format(v) for v in values[-edge:].tolist()])
        else:
            items = [formatter.format(v) for v in values.tolist()]
        per_line = max(1, (OPTIONS.linewidth - indent) // (formatter.width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = range(values.shape[0])
    if cut:
        rows = [*range(edge), None, *range(values.shape[0] - edge, values.shape[0])]
    parts = ["..." if i is None else _body(values[i], indent + 1, summarize, formatter)
             for i in rows]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def tensor_text(values, suffixes, prefix="tensor("):
    """prefix + the values + ", suffix" for each suffix (on a new line when the line would pass
    linewidth) + ")"."""
    indent = len(prefix)
    if values.size == 0:
        text = "[]"
    else:
        if values.dtype.kind == "f" and values.dtype.itemsize < 4:
            values = values.astype(np.float32)
        summarize = values.size > OPTIONS.threshold
        floating = values.dtype.kind in "fc"
        formatter = _Formatter(_summarized(values) if summarize else values, floating)
        text = _body(values, indent, summarize, formatter)
    out = [prefix + text]
    last_line = len(out[0]) - out[0].rfind("\n") + 1
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > OPTIONS.linewidth:
            out.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
        else:
            out.append(", " + suffix)
            last_line += len(suffix) + 2
    return "".join(out) + ")"
