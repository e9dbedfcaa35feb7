"""sg.viz: the text listing, the DOT picture and the backward trace say what the graph is."""
import io
import re
import shutil

import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad import primitives
from scratchgrad.core import hooks
from scratchgrad.formulas import rule_formula, rule_formulas
from scratchgrad.viz import keeping
from tests.helpers import Cube, Square, every_primitive, leaf

HAS_DOT = shutil.which("dot") is not None


@pytest.fixture(autouse=True)
def keeping_gradients(request):
    """The listings below show gradients: keep them (off by default), except where the test
    is about that default."""
    if "keeps_no_gradients" in request.node.name or "keep_gradients_is" in request.node.name:
        yield
        return
    with sg.viz.keep_gradients():
        yield


def chain_rule_example():
    """z = (x² + y)² at x = 2, y = 3: z = 49, dz/dx = 56, dz/dy = 14."""
    x, y = leaf(2.0), leaf(3.0)
    return x, y, (x ** 2 + y) ** 2


def broadcast_example():
    """A (32, 10) activation times a (10,) weight: the weight's gradient is summed over 32 rows."""
    a = sg.randn(32, 10, requires_grad=True)
    w = sg.randn(10, requires_grad=True)
    return a, w, (a * w).tanh().sum()


# ---------------------------------------------------------------- format / show

def test_format_lists_each_op_in_topological_order_with_shapes_and_dtypes():
    _, _, z = broadcast_example()
    lines = sg.viz.format(z).splitlines()
    assert lines[0].startswith("graph of a () float32 tensor: 3 ops, 2 leaves")
    body = [line.strip() for line in lines[1:]]
    assert body[0].startswith("leaf0") and "(32, 10) float32, requires grad" in body[0]
    assert body[1].startswith("leaf1") and "(10,) float32, requires grad" in body[1]
    assert body[2].startswith("%0 = mul(leaf0, leaf1)")
    assert "(32, 10) float32, (10,) float32 -> (32, 10) float32" in body[2]
    assert body[3].startswith("%1 = tanh(%0)") and "(32, 10) float32 -> (32, 10) float32" in body[3]
    assert body[4].startswith("%2 = sum(%1") and "-> () float32" in body[4]
    assert "grad (" not in "\n".join(body)  # no backward yet


def test_format_after_backward_shows_gradients_and_the_broadcast_sum():
    a, w, z = broadcast_example()
    z.backward()
    text = sg.viz.format(z)
    lines = text.splitlines()
    mul_line = next(line for line in lines if "= mul(" in line)
    g_mul = (1 - np.tanh(a.detach().numpy() * w.detach().numpy()) ** 2)
    assert f"grad (32, 10) norm {np.linalg.norm(g_mul):.4g}" in mul_line
    note = lines[lines.index(mul_line) + 1]
    assert "leaf1: grad (32, 10) summed to (10,)" in note and "broadcasting in mul" in note
    w_line = next(line for line in lines if line.strip().startswith("leaf1"))
    assert f"grad (10,) norm {np.linalg.norm(w.grad.detach().numpy()):.4g}" in w_line
    assert "summed to (32, 10)" not in text  # leaf0 has the full shape: no note for it


def test_format_shows_small_values_exactly():
    _, _, z = chain_rule_example()
    z.backward()
    text = sg.viz.format(z)
    assert re.search(r"leaf0 .* grad \(\) = 56\.", text)
    assert re.search(r"leaf1 .* grad \(\) = 14\.", text)
    assert "%0 = pow(leaf0, 2)" in text and "(), int -> ()".replace("()", "() float64") in text


def test_show_prints_what_format_returns(capsys):
    _, _, z = chain_rule_example()
    sg.viz.show(z)
    assert capsys.readouterr().out == sg.viz.format(z) + "\n"
    buffer = io.StringIO()
    sg.viz.show(z, file=buffer)
    assert buffer.getvalue() == sg.viz.format(z) + "\n"


def test_format_of_a_graph_freed_by_backward_still_works():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()                     # frees the saved values
    assert "%1 = mul(%0, leaf0)" in sg.viz.format(y)


def test_format_of_a_leaf_and_of_a_custom_function():
    x = leaf([1.0, 2.0])
    assert sg.viz.format(x).splitlines()[1].strip().startswith("leaf0")
    y = Square.apply(x).sum()
    y.backward()
    text = sg.viz.format(y)
    assert "%0 = Square(leaf0)" in text and "grad (2,) = [2., 4.]" in text


def test_plain_backward_keeps_no_gradients_and_says_how():
    x = leaf([1.0])
    y = (x * 1.5).sum()
    y.backward()
    text = sg.viz.format(y)
    assert "with sg.viz.keep_gradients():" in text and "grad" not in text.splitlines()[-1]
    assert x.grad is not None
    assert y.grad_fn not in keeping.kept_gradients


def test_keep_gradients_is_per_call_and_restores():
    assert not keeping.is_on()
    with sg.viz.keep_gradients():
        assert keeping.is_on()
        with sg.viz.keep_gradients(False):
            assert not keeping.is_on()
        assert keeping.is_on()
    assert not keeping.is_on()


# ---------------------------------------------------------------- DOT and pictures

def parse_dot(source):
    """The node ids with their labels, and the edges, of to_dot's output (a small DOT reader)."""
    assert source.startswith("digraph scratchgrad {") and source.rstrip().endswith("}")
    nodes = dict(re.findall(r'^\s+(\w+) \[label="((?:[^"\\]|\\.)*)"', source, re.MULTILINE))
    edges = re.findall(r"^\s+(\w+) -> (\w+)( \[.*\])?;", source, re.MULTILINE)
    return nodes, edges


def test_to_dot_has_one_node_per_op_and_leaf_and_the_forward_edges():
    _, _, z = broadcast_example()
    z.backward()
    nodes, edges = parse_dot(sg.viz.to_dot(z))
    assert sorted(nodes) == ["leaf0", "leaf1", "op0", "op1", "op2"]
    assert nodes["op0"].startswith("%0 = mul(leaf0, leaf1)")
    assert [(a, b) for a, b, _ in edges] == [("leaf0", "op0"), ("leaf1", "op0"), ("op0", "op1"),
                                              ("op1", "op2")]
    summed = next(attrs for a, _, attrs in edges if a == "leaf1")
    assert 'label="grad (32, 10)\\nsummed to (10,)"' in summed and 'color="red"' in summed
    assert "grad (32, 10) norm" in nodes["op0"]          # big: shape and norm
    assert "data" not in nodes["op0"]


def test_to_dot_shows_values_of_small_tensors():
    _, _, z = chain_rule_example()
    z.backward()
    nodes, _ = parse_dot(sg.viz.to_dot(z))
    assert "data 49." in nodes["op2"] and "grad () = 1." in nodes["op2"]
    assert "data 2." in nodes["leaf0"] and "grad () = 56." in nodes["leaf0"]


def test_to_dot_needs_no_graphviz(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_graphviz(name, *args, **kwargs):
        if name == "graphviz":
            raise ImportError("no graphviz here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_graphviz)
    _, _, z = chain_rule_example()
    assert "digraph" in sg.viz.to_dot(z)
    with pytest.raises(ImportError, match="pip install graphviz"):
        sg.viz.draw(z)
    assert "made by:" in z._repr_html_()  # a notebook shows the tensor without graphviz


def test_draw_builds_a_digraph_with_the_same_nodes():
    graphviz = pytest.importorskip("graphviz")
    _, _, z = broadcast_example()
    graph = sg.viz.draw(z)
    assert isinstance(graph, graphviz.Digraph)
    source = graph.source
    for node in ["leaf0", "leaf1", "op0", "op1", "op2"]:
        assert re.search(rf"^\s+{node} \[", source, re.MULTILINE)


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot program is not installed")
def test_draw_renders_svg_and_png_and_displays_as_svg(tmp_path):
    pytest.importorskip("graphviz")
    _, _, z = chain_rule_example()
    z.backward()
    svg_path = sg.viz.draw(z).render(tmp_path / "graph", format="svg")
    with open(svg_path) as f:
        assert "<svg" in f.read()
    png_path = sg.viz.draw(z).render(tmp_path / "graph", format="png")
    with open(png_path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    svg = sg.viz.draw(z)._repr_mimebundle_()["image/svg+xml"]  # what Jupyter shows
    assert "<svg" in svg and "pow(leaf0, 2)" in svg


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot program is not installed")
def test_dot_source_is_valid_dot(tmp_path):
    import subprocess
    _, _, z = broadcast_example()
    z.backward()
    result = subprocess.run(["dot", "-Tsvg"], input=sg.viz.to_dot(z), capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count('class="node"') == 5


# ---------------------------------------------------------------- trace

def traced(fn):
    buffer = io.StringIO()
    with sg.viz.trace(file=buffer):
        fn()
    return buffer.getvalue()


def test_trace_of_the_chain_rule_example():
    x, y, z = chain_rule_example()
    text = traced(z.backward)
    steps = re.findall(r"^\[(\d)\] (.*?)    g ", text, re.MULTILINE)
    assert steps == [("1", "%2 = pow(%1, 2)"), ("2", "%1 = add(%0, leaf1)"), ("3", "%0 = pow(leaf0, 2)")]
    assert "-> %1 gets () = 14." in text          # dz/du = 2u = 14 at u = x² + y = 7
    assert "-> leaf1 gets () = 14." in text
    assert "-> leaf0 gets () = 56." in text       # 14 · 2x
    assert "∂/∂x = g·y·x^(y-1)" in text           # pow's rule, as written in primitives.py
    assert x.grad.item() == 56 and y.grad.item() == 14


def test_trace_lists_steps_newest_first_with_each_rules_formula():
    _, _, z = broadcast_example()
    text = traced(z.backward)
    assert [op for op in re.findall(r"^\[\d\] %\d = (\w+)\(", text, re.MULTILINE)] == ["sum", "tanh", "mul"]
    mul_part = text[text.index("= mul("):]
    assert "∂/∂x = g·y\n        -> leaf0 gets (32, 10) norm" in mul_part
    assert "∂/∂y = g·x\n        -> leaf1 gets (32, 10) summed to (10,), norm" in mul_part
    assert "∂/∂x = g - g·ans·ans" in text


def test_trace_only_inside_the_block(capsys):
    _, _, z = chain_rule_example()
    with sg.viz.trace():
        pass
    z.backward()
    assert capsys.readouterr().out == ""
    assert not any(isinstance(w, sg.viz.trace) for w, _ in hooks.backward_watchers)


def test_trace_through_create_graph_and_sg_grad():
    x = leaf(3.0)
    y = x ** 3
    text = traced(lambda: sg.grad(y, x, create_graph=True))
    assert "-> leaf0 gets () = 27." in text


# ---------------------------------------------------------------- formulas

def test_formulas_come_from_the_rules():
    assert rule_formulas(primitives.mul) == ["∂/∂x = g·y", "∂/∂y = g·x"]
    assert rule_formulas(primitives.sub) == ["∂/∂x = g", "∂/∂y = -g"]
    assert rule_formula(primitives.exp, 0) == "∂/∂x = g·ans"
    assert rule_formula(primitives.cos, 0) == "∂/∂x = -g·sin(x)"
    assert rule_formula(primitives.matmul, 1).startswith("∂/∂y = xᵀ @ g")
    assert rule_formulas(primitives.where)[0] == "cond: no gradient"


def test_every_primitive_has_a_readable_formula():
    for op in every_primitive():
        for text in rule_formulas(op):
            assert "no docstring" not in text and "lambda" not in text, (op.name, text)


def test_a_custom_functions_rule_is_its_backward():
    x = leaf(2.0)
    text = traced(Cube.apply(x).backward)
    assert "∂/∂x_0 from Cube.backward (your code): g·3x²" in text
    assert "-> leaf0 gets () = 12." in text


def test_kept_gradients_go_with_their_graph():
    import gc
    import weakref

    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    (g,) = sg.grad(y, x, create_graph=True)   # gradients that have graphs of their own
    g.sum().backward()
    root = weakref.ref(y.grad_fn)
    assert root() in keeping.kept_gradients
    del y, g
    gc.collect()
    assert root() is None  # nothing kept for sg.viz holds the graph alive


def test_listing_keeps_gradients_across_later_backwards():
    _, _, z = chain_rule_example()
    z.backward()
    other = (leaf(1.0) * 3).sum()
    other.backward()                          # a second, unrelated backward
    assert "%1 = add(%0, leaf1)" in sg.viz.format(z) and "grad () = 14." in sg.viz.format(z)
