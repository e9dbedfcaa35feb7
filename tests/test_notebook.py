"""scratchgrad in Jupyter: how tensors and drawings display, and the first tutorial chapter run as
a real notebook (generated from the Markdown, executed by nbclient in a fresh kernel).

    python tests/test_notebook.py OUT.ipynb    writes the chapter's notebook, to open in Jupyter
"""
import os
import re
import sys
from pathlib import Path

import pytest

import scratchgrad as sg
from scratchgrad.viz.dot import NO_DOT
from scratchgrad.viz.notebook import BRIEF_OPS

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.helpers import FENCE, normalized

CHAPTER = ROOT / "docs" / "tutorial" / "01-chain-rule.md"

# Cells the notebook adds after the chapter: a tensor's own display, and a drawing.
DISPLAY_CELLS = ["z = (x**2 + y) ** 2\nz", "sg.viz.draw(z)"]


def chain():
    x = sg.tensor(2.0, requires_grad=True)
    y = sg.tensor(3.0, requires_grad=True)
    return (x**2 + y) ** 2


# ---------------------------------------------------------------- rich display


def test_tensor_shows_its_value_and_a_short_listing_as_html():
    z = chain()
    html = z._repr_html_()
    assert "tensor(49., grad_fn=&lt;PowBackward&gt;)" in html
    assert "made by:" in html
    assert "pow(() float32, 2) -&gt; () float32" in html
    assert "pow(leaf () float32, 2)" in html     # the leaf x, where the walk ends
    assert "earlier ops" not in html              # the whole graph fits


def test_a_leaf_shows_its_value_alone():
    html = sg.tensor([1.0, 2.0], requires_grad=True)._repr_html_()
    assert html == "<pre>tensor([1., 2.], requires_grad=True)</pre>"


def test_the_listing_stays_short_for_a_big_graph():
    x = sg.ones(3, requires_grad=True)
    y = x
    for _ in range(500):
        y = y * 1.001 + 0.1
    html = y.sum()._repr_html_()
    listing = html.split("made by:")[1]
    assert listing.count("\n") == BRIEF_OPS + 1   # BRIEF_OPS ops, then the pointer to the rest
    assert "sg.viz.show(t) lists the whole graph" in listing


def test_tensors_have_no_picture_only_drawings_do():
    assert not hasattr(sg.Tensor, "_repr_svg_")
    assert hasattr(sg.viz.draw(chain()), "_repr_mimebundle_")


def test_drawing_without_dot_displays_one_clear_line(monkeypatch, tmp_path):
    pytest.importorskip("graphviz")
    formatters = pytest.importorskip("IPython.core.formatters")
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on it
    drawing = sg.viz.draw(chain())
    assert drawing._repr_mimebundle_() == {"text/plain": NO_DOT}
    data, _ = formatters.DisplayFormatter().format(drawing)  # what Jupyter does: no traceback
    assert data == {"text/plain": NO_DOT}


# ---------------------------------------------------------------- the tutorial as a notebook


def chapter_notebook(path=CHAPTER):
    """The chapter as a notebook: prose as Markdown cells, each python block a code cell (its
    printed output, when the chapter shows it, kept in the cell's metadata), then DISPLAY_CELLS."""
    import nbformat.v4 as nbf
    text = path.read_text(encoding="utf-8")
    cells, prose_start, previous = [], 0, None
    for fence in FENCE.finditer(text):
        language, _, body = fence.groups()
        is_output = (language == "text" and previous is not None
                     and not text[previous.end():fence.start()].strip())
        if language == "python" or is_output:
            prose = text[prose_start:fence.start()].strip()
            if prose:
                cells.append(nbf.new_markdown_cell(prose))
            if is_output:
                cells[-1].metadata["expected_output"] = body
            else:
                cells.append(nbf.new_code_cell(body.rstrip("\n")))
            prose_start = fence.end()
        previous = fence if language == "python" else None
    if text[prose_start:].strip():
        cells.append(nbf.new_markdown_cell(text[prose_start:].strip()))
    cells.extend(nbf.new_code_cell(code) for code in DISPLAY_CELLS)
    notebook = nbf.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    return notebook


def test_first_chapter_runs_as_a_notebook(tmp_path):
    pytest.importorskip("ipykernel")
    nbclient = pytest.importorskip("nbclient")
    import nbformat
    notebook = chapter_notebook()
    nbformat.validate(notebook)
    nbformat.write(notebook, tmp_path / "01-chain-rule.ipynb")
    nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in code:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
        if "expected_output" in cell.metadata:
            printed = "".join(o.text for o in cell.outputs
                              if o.output_type == "stream" and o.name == "stdout")
            assert normalized(printed) == normalized(cell.metadata.expected_output), cell.source
    assert sum("expected_output" in cell.metadata for cell in code) >= 2

    tensor_cell, drawing_cell = code[-2:]
    (shown,) = [o for o in tensor_cell.outputs if o.output_type == "execute_result"]
    assert "tensor(49., grad_fn=&lt;PowBackward&gt;)" in shown.data["text/html"]
    assert "made by:" in shown.data["text/html"]
    assert shown.data["text/plain"] == "tensor(49., grad_fn=<PowBackward>)"
    (drawn,) = [o for o in drawing_cell.outputs if o.output_type == "execute_result"]
    assert "image/svg+xml" in drawn.data or drawn.data == {"text/plain": NO_DOT}


if __name__ == "__main__":
    if len(sys.argv) != 2 or not re.search(r"\.ipynb$", sys.argv[1]):
        sys.exit(__doc__)
    import nbformat
    nbformat.write(chapter_notebook(), os.fspath(sys.argv[1]))
