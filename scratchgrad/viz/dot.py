"""sg.viz.to_dot / sg.viz.draw: the graph as a picture.

One box per op and one ellipse per leaf; arrows run from inputs to the op that used them, the
way the forward pass flows. Small tensors show their values (and gradients, after a backward);
big ones their shapes. An arrow whose gradient broadcasting had to sum to a smaller shape is
red and says so. to_dot needs nothing beyond NumPy; draw builds a graphviz.Digraph (the
optional `graphviz` package, plus Graphviz's `dot` program to render it).
"""

import functools
from collections.abc import Sequence
from typing import Any

from scratchgrad.core.errors import describe_shape
from scratchgrad.core.tensor import Tensor
from scratchgrad.viz.graph import (
    SHOW_VALUES_UP_TO,
    describe,
    gradient_text,
    steps,
    values,
)

Node = tuple[str, str, dict[str, str]]
Edge = tuple[str, str, str, dict[str, str]]


def picture(t: Tensor | Sequence[Tensor]) -> tuple[list[Node], list[Edge]]:
    """The drawing as plain data: ([(id, label, attributes)], [(from, to, label, attributes)])."""
    nodes: list[Node] = []
    edges: list[Edge] = []
    listing = steps(t)
    for k, step in enumerate(listing):
        lines = [step.call() if step.node is not None else step.name]
        lines.append(describe(step.tensor.shape, step.tensor.dtype))
        if step.tensor._data.size <= SHOW_VALUES_UP_TO:
            lines.append(f"data {values(step.tensor._data)}")
        g = step.grad
        if g is not None:
            lines.append(gradient_text(g))
        if step.site:
            lines.append(f"made at {step.site}")
        if step.node is None:
            attributes = {"shape": "ellipse", "style": "filled", "fillcolor": "lightblue"}
        else:
            attributes = {"shape": "box", "style": "rounded"}
        if k == len(listing) - 1:
            attributes.update(style="filled,rounded" if step.node is not None else "filled",
                              fillcolor="lightyellow")
        nodes.append((_id(step), "\n".join(lines), attributes))
        for i, x in enumerate(step.inputs):
            if x.step is None:
                continue
            summed = step.summed.get(i)
            if summed is None:
                edges.append((_id(x.step), _id(step), "", {}))
            else:
                note = f"grad {describe_shape(summed)}\nsummed to {describe_shape(x.shape)}"
                edges.append((_id(x.step), _id(step), note, {"color": "red", "fontcolor": "red"}))
    return nodes, edges


def to_dot(t: Tensor | Sequence[Tensor]) -> str:
    """DOT source of the graph that made t (no graphviz needed)."""
    nodes, edges = picture(t)
    lines = ["digraph scratchgrad {", '  rankdir="TB";',
             '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];']
    for name, label, attributes in nodes:
        lines.append(f"  {name} [{_attributes(dict(label=label, **attributes))}];")
    for tail, head, label, attributes in edges:
        extra = dict(label=label, **attributes) if label else attributes
        lines.append(f"  {tail} -> {head}" + (f" [{_attributes(extra)}]" if extra else "") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"


# What a notebook shows for sg.viz.draw(t) where Graphviz's `dot` program is missing.
NO_DOT = ("sg.viz.draw: Graphviz's `dot` program was not found, so the graph can't be drawn. "
          "Install Graphviz (apt install graphviz, brew install graphviz or conda install "
          "graphviz); meanwhile sg.viz.show(t) prints the graph as text and sg.viz.to_dot(t) "
          "gives its DOT source.")


def draw(t: Tensor | Sequence[Tensor]) -> Any:
    """A graphviz.Digraph of the graph that made t: .render(), .pipe(format="svg"), or display
    it in Jupyter (where, without Graphviz's `dot` program, it shows one line saying so)."""
    try:
        import graphviz
    except ImportError:
        raise ImportError("sg.viz.draw needs the graphviz package: pip install graphviz (or "
                          "`pip install scratchgrad[viz]`); sg.viz.to_dot(t) gives the DOT source "
                          "without it") from None
    nodes, edges = picture(t)
    graph = _drawing_class(graphviz)(
        "scratchgrad", graph_attr={"rankdir": "TB"},
        node_attr={"fontname": "Helvetica", "fontsize": "10"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    for name, label, attributes in nodes:
        graph.node(name, label, **attributes)
    for tail, head, label, attributes in edges:
        graph.edge(tail, head, label or None, **attributes)
    return graph


@functools.cache
def _drawing_class(graphviz: Any) -> Any:
    """graphviz.Digraph, displayed in Jupyter with a clear line instead of a traceback when the
    `dot` program is missing (made on first use: graphviz is optional)."""

    class Drawing(graphviz.Digraph):
        def _repr_mimebundle_(self, include: Any = None, exclude: Any = None,
                              **kwargs: Any) -> dict[str, Any]:
            try:
                return super()._repr_mimebundle_(include, exclude, **kwargs)
            except graphviz.ExecutableNotFound:
                return {"text/plain": NO_DOT}

    return Drawing


def _id(step: Any) -> str:
    return step.name.replace("%", "op")


def _attributes(attributes: dict[str, Any]) -> str:
    return ", ".join(f'{k}="{_escape(str(v))}"' for k, v in attributes.items())


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
