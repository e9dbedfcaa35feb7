"""sg.viz.to_dot / sg.viz.draw: the graph as a picture.

One box per op and one ellipse per leaf; arrows run from inputs to the op that used them, the
way the forward pass flows. Small tensors show their values (and gradients, after a backward);
big ones their shapes. An arrow whose gradient broadcasting had to sum to a smaller shape is
red and says so. to_dot needs nothing beyond NumPy; draw builds a graphviz.Digraph (the
optional `graphviz` package, plus Graphviz's `dot` program to render it).
"""

import subprocess

from scratchgrad.errors import describe_shape
from scratchgrad.viz.graph import (
    SHOW_VALUES_UP_TO,
    describe,
    gradient_text,
    steps,
    values,
)


def picture(t):
    """The drawing as plain data: ([(id, label, attributes)], [(from, to, label, attributes)])."""
    nodes, edges = [], []
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


def to_dot(t):
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


def draw(t):
    """A graphviz.Digraph of the graph that made t: .render(), .pipe(format="svg"), or display
    it in Jupyter."""
    try:
        import graphviz
    except ImportError:
        raise ImportError("sg.viz.draw needs the graphviz package: pip install graphviz (or "
                          "`pip install scratchgrad[viz]`); sg.viz.to_dot(t) gives the DOT source "
                          "without it") from None
    nodes, edges = picture(t)
    graph = graphviz.Digraph("scratchgrad", graph_attr={"rankdir": "TB"},
                             node_attr={"fontname": "Helvetica", "fontsize": "10"},
                             edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    for name, label, attributes in nodes:
        graph.node(name, label, **attributes)
    for tail, head, label, attributes in edges:
        graph.edge(tail, head, label or None, **attributes)
    return graph


def svg(t):
    """The picture as SVG text, or None when graphviz or its `dot` program is missing."""
    try:
        return draw(t).pipe(format="svg").decode("utf-8")
    except (ImportError, OSError, RuntimeError, subprocess.CalledProcessError):
        return None  # no package, no `dot` program: the caller falls back to text


def _id(step):
    return step.name.replace("%", "op")


def _attributes(attributes):
    return ", ".join(f'{k}="{_escape(str(v))}"' for k, v in attributes.items())


def _escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
