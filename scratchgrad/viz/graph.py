"""The graph as sg.viz shows it: every tensor that led to the result, in creation order, named
(leaves leaf0, leaf1, ...; op results %0, %1, ...), with the op that made it, its inputs, and
after a backward the gradient that reached it. The text view, the picture and the trace all
read the graph through this module, so they name things alike.
"""
from dataclasses import dataclass, field

import numpy as np

from scratchgrad.core.engine import graph_in_reverse_order
from scratchgrad.core.errors import describe_shape
from scratchgrad.core.tensor import Tensor
from scratchgrad.debug.sites import site_of
from scratchgrad.viz.keeping import kept_gradient, summed_notes

SHOW_VALUES_UP_TO = 6  # the views print the values of tensors with at most this many elements


@dataclass
class Step:
    """One tensor of the graph: a leaf (node is None) or the output of `node`."""
    name: str
    tensor: Tensor
    node: object = None
    inputs: list = field(default_factory=list)   # one Input per input of node

    @property
    def op(self):
        return "leaf" if self.node is None else self.node.op.name

    @property
    def grad(self):
        """The gradient that reached this tensor in the last backward (None if not kept)."""
        if self.node is None:
            return None if self.tensor.grad is None else self.tensor.grad._data
        g = kept_gradient(self.node)
        return g._data if isinstance(g, Tensor) else g

    @property
    def summed(self):
        """{input index: the shape its gradient had before broadcasting was summed away}."""
        return {} if self.node is None else summed_notes.get(self.node, {})

    @property
    def site(self):
        return None if self.node is None else site_of(self.node)

    @property
    def params(self):
        """The op's parameters worth printing (axis=..., shape=...), as text."""
        if self.node is None or "ctx" in self.node.params:  # an sg.Function's internals
            return ""
        return ", ".join(f"{k}={_short(v)}" for k, v in self.node.params.items())

    def call(self):
        """'%2 = mul(%1, leaf0)', or 'leaf0' for a leaf."""
        if self.node is None:
            return self.name
        args = ", ".join([i.name for i in self.inputs] + ([self.params] if self.params else []))
        return f"{self.name} = {self.op}({args})"


@dataclass
class Input:
    name: str          # a step's name, or the constant's value / description
    shape: tuple | None
    dtype: object
    step: Step | None  # the step that made it, when it is part of the graph


def steps(root):
    """The Steps of the graph that made root (or several roots), oldest first."""
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    order = list(reversed(graph_in_reverse_order(roots, freed_ok=True)))
    by_id = {}
    result = []
    leaves = 0
    for t in order:
        for x in t.grad_fn.inputs:
            if isinstance(x, Tensor) and x.requires_grad and x.grad_fn is None and id(x) not in by_id:
                by_id[id(x)] = Step(f"leaf{leaves}", x)
                leaves += 1
                result.append(by_id[id(x)])
        step = Step(f"%{len(result) - leaves}", t, t.grad_fn)
        step.inputs = [_input(x, by_id) for x in t.grad_fn.inputs]
        by_id[id(t)] = step
        result.append(step)
    if not result:
        for r in roots:  # a graph of one leaf: nothing was computed
            result.append(Step(f"leaf{len(result)}", r))
    return result


def _input(x, by_id):
    if isinstance(x, Tensor):
        step = by_id.get(id(x))
        if step is not None:
            return Input(step.name, x.shape, x.dtype, step)
        name = str(x._data.item()) if x._data.size == 1 else f"const{describe_shape(x.shape)}"
        return Input(name, x.shape, x.dtype, None)
    if x is None or isinstance(x, (bool, int, float)):
        return Input(repr(x), None, type(x).__name__, None)
    shape = np.shape(x)
    return Input(f"const{describe_shape(shape)}", shape, getattr(x, "dtype", None), None)


def _short(value, limit=40):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe(shape, dtype):
    """'(3, 4) float32'."""
    return f"{describe_shape(shape)} {dtype}" if shape is not None else str(dtype)


def norm(g):
    """The gradient's Euclidean norm, as the views print it."""
    return float(np.linalg.norm(np.asarray(_raw(g), dtype=np.float64)))


def gradient_text(g, summed_from=None, prefix="grad "):
    """'grad (3, 4) norm 1.732', 'grad (2,) = [1., 2.]' for small ones, and where broadcasting
    summed it, 'grad (32, 10) summed to (10,), norm ...'."""
    shape = describe_shape(np.shape(g))
    if summed_from is not None:
        shape = f"{describe_shape(summed_from)} summed to {shape},"
    if np.size(g) <= SHOW_VALUES_UP_TO:
        return f"{prefix}{shape.rstrip(',')} = {values(g)}"
    return f"{prefix}{shape} norm {norm(g):.4g}"


def values(array):
    """A small array's values on one line."""
    return np.array2string(np.asarray(_raw(array)), precision=4, separator=", ").replace("\n", "")


def _raw(value):
    """A gradient's array (a create_graph gradient is a Tensor that requires grad)."""
    return value._data if hasattr(value, "grad_fn") else value
