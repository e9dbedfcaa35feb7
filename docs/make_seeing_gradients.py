"""Write docs/seeing-gradients.md (and its picture) by running every example in it.

    .venv/bin/python docs/make_seeing_gradients.py           (rewrite the page)
    .venv/bin/python docs/make_seeing_gradients.py --check   (fail if the page is out of date)

Each example's code is executed here and the page shows what it printed, so the page can't
drift from the library: tests/test_docs.py runs the --check form in `make test`.
"""
import contextlib
import io
import linecache
import os
import sys
import tempfile
import traceback
import warnings

import numpy as np

DOCS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(DOCS))  # the examples import this checkout's scratchgrad

PAGE = os.path.join(DOCS, "seeing-gradients.md")
PICTURE = "images/broadcast-graph.svg"

INTRO = """\
# Seeing gradients

Backprop goes wrong in quiet ways: a gradient silently summed by broadcasting, one wrong rule
in a long chain, a NaN that shows up ten ops after its cause. scratchgrad shows the graph and the
gradient flow so you can look instead of guess. Every output on this page was produced by
running the code above it (`docs/make_seeing_gradients.py` writes the page; `make test` checks
it is current).
"""

# (heading, prose, code). The code runs in one shared namespace, top to bottom.
EXAMPLES = [
    ("The graph as a listing: `sg.viz.show`",
     ("One line per tensor in the order it was made, like a program: the op, its inputs, their "
     "shapes and dtypes. Leaves are `leaf0`, `leaf1`, ...; results are `%0`, `%1`, ..."),
     """\
import scratchgrad as sg

x = sg.tensor(2.0, requires_grad=True)
y = sg.tensor(3.0, requires_grad=True)
z = (x**2 + y) ** 2
sg.viz.show(z)
"""),
    ("The chain rule, step by step: `sg.viz.trace`",
     ("Inside `sg.viz.trace()`, backward prints each node as it reaches it, newest first: the "
     "gradient `g` arriving at the node's output, the derivative rule it applies (read from the "
     "rule itself in `scratchgrad/primitives.py`), and what each input receives. Here is "
     "dz/dx = 2(x² + y)·2x = 56 and dz/dy = 2(x² + y) = 14 being computed:"),
     """\
with sg.viz.trace():
    z.backward()
"""),
    ("Gradients in the listing, and where broadcasting summed them",
     ("Run a backward inside `sg.viz.keep_gradients()` (or `sg.viz.trace()`) and the listing "
     "shows the gradient that reached each tensor (its shape and norm, or its values when it "
     "is small); an ordinary backward keeps none of them, since that costs time and memory. "
     "When broadcasting stretched an input, its gradient had to be summed back to the input's "
     "shape; the listing says where."),
     """\
sg.manual_seed(0)
h = sg.randn(32, 10, requires_grad=True)   # activations
w = sg.randn(10, requires_grad=True)       # one weight per feature, broadcast over 32 rows
loss = (h * w).tanh().mean()
with sg.viz.keep_gradients():
    loss.backward()
sg.viz.show(loss)
"""),
    ("The graph as a picture: `sg.viz.draw` and `sg.viz.to_dot`",
     ("`sg.viz.draw(t)` returns a `graphviz.Digraph` (install the `graphviz` package, and "
     "Graphviz's `dot` program to render it); in Jupyter a tensor displays as this picture. "
     "`sg.viz.to_dot(t)` gives the DOT source with no dependency at all. Leaves are blue, the "
     "result yellow, and the red arrow is the gradient that broadcasting summed."),
     f"""\
sg.viz.draw(loss).render("docs/{PICTURE[:-4]}", format="svg", cleanup=True)
print(sg.viz.to_dot(loss)[:200], "...")
"""),
    ("Which node is wrong? `sg.gradcheck_graph`",
     ("`sg.gradcheck` tells you *that* a gradient is wrong. `sg.gradcheck_graph` checks every "
     "node against finite differences of that node alone and names the first wrong one, with "
     "the line that made it. Here a custom op forgets the factor 2 of d(x²)/dx:"),
     """\
class WrongSquare(sg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x                     # should be 2 * x * g

def f(x):
    return WrongSquare.apply(x.exp()).sin().sum()

report = sg.gradcheck_graph(f, [sg.tensor([0.5, -1.0], requires_grad=True)])
print(report)
"""),
    ("Where did the NaN come from? `sg.detect_anomaly`",
     ("Inside `sg.detect_anomaly()`, scratchgrad notes the line that made each node and raises "
     "as soon as a forward or a backward produces NaN or infinity, naming the op and the line. "
     "Here sqrt's derivative 1/(2√x) is infinite at 0:"),
     """\
import numpy as np

x = sg.tensor([4.0, 0.0], requires_grad=True)
with sg.detect_anomaly(), np.errstate(divide="ignore"):
    r = x.sqrt()
    loss = (r * 3).sum()
    try:
        loss.backward()
    except sg.AnomalyError as error:
        print(error)
"""),
    ("Errors that point at your line",
     ("Every scratchgrad error names the op and the shapes, says which dimensions clash, and "
     "ends with the line of your code that called the op:"),
     """\
a, b = sg.ones(3, 4), sg.ones(3)
try:
    a + b
except sg.ShapeError as error:
    print(error)
"""),
    ("The silent broadcast: `sg.set_broadcast_mode`",
     ("Predictions of shape (N, 1) minus targets of shape (N,) broadcast to (N, N), and the "
     "loss is quietly wrong. `sg.set_broadcast_mode(\"warn\")` or `(\"raise\")` flags a "
     "broadcast whose result is bigger than every input (also usable in a `with` block), while "
     "the bias add `x @ W + b`, (N, D) + (D,), passes. `\"warn-rank\"`/`\"raise-rank\"` flag any "
     "two operands of different ranks instead:"),
     """\
pred, target = sg.randn(4, 1), sg.randn(4)
x, W, b = sg.randn(4, 3), sg.randn(3, 2), sg.randn(2)
with sg.set_broadcast_mode("raise"):
    hidden = x @ W + b   # (4, 2) + (2,): fine
    try:
        loss = ((pred - target) ** 2).mean()
    except sg.ShapeError as error:
        print(error)
"""),
    ("Graphs that keep growing",
     ("A loss summed as a tensor, a parameter update outside `sg.no_grad()`, or a hidden state "
     "never detached make every step's graph hold all the earlier ones. scratchgrad warns once, "
     "saying what grows and the usual fix:"),
     """\
import warnings
warnings.simplefilter("always")

w = sg.tensor([1.0, -1.0], requires_grad=True)
total = 0
for step in range(3):
    loss = ((w - step) ** 2).sum()
    loss.backward()
    total += loss                  # should be: total += loss.item()
print(f"{total.item():.1f}")
"""),
]


def run(code, namespace, index):
    """Execute one example; return everything it printed (and any warning) as text."""
    filename = f"example{index}.py"
    lines = code.splitlines(keepends=True)
    linecache.cache[filename] = (len(code), None, lines, filename)  # so errors can quote lines
    out = io.StringIO()

    def show_warning(message, category, file_name, lineno, file=None, line=None):
        out.write(warnings.formatwarning(message, category, file_name, lineno, line).replace(
            f"{DOCS}/", ""))

    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.showwarning = show_warning
        try:
            exec(compile(code, filename, "exec"), namespace)  # noqa: S102  (our own examples)
        except Exception:
            traceback.print_exc(file=out)
            raise
    return out.getvalue().rstrip()


def page(workdir):
    """The whole page as Markdown (runs every example in workdir: the picture goes to its
    docs/images)."""
    namespace = {"__name__": "__docs__"}
    parts = [INTRO]
    cwd = os.getcwd()
    os.makedirs(os.path.join(workdir, "docs", "images"), exist_ok=True)
    os.chdir(workdir)
    try:
        for index, (heading, prose, code) in enumerate(EXAMPLES, 1):
            output = run(code, namespace, index)
            parts.append(f"## {heading}\n\n{prose}\n\n```python\n{code.rstrip()}\n```\n")
            if output:
                parts.append(f"```text\n{output}\n```\n")
            if PICTURE[:-4] in code:
                parts.append(f"![the graph of loss, drawn by sg.viz.draw]({PICTURE})\n")
    finally:
        os.chdir(cwd)
    return "\n".join(parts)


def main():
    np.set_printoptions(precision=4)
    if "--check" in sys.argv:  # run everything in a scratch folder: the checked-in picture stays
        with tempfile.TemporaryDirectory() as scratch:
            text = page(scratch)
        with open(PAGE, encoding="utf-8") as f:
            if f.read() != text:
                sys.exit(f"{PAGE} is out of date: run python docs/make_seeing_gradients.py")
        return
    text = page(os.path.dirname(DOCS))
    with open(PAGE, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
