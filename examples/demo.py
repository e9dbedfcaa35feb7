"""scratchgrad's demo (`make demo`): the chain rule by hand and by the library, traced step by
step and drawn, then four networks trained from scratch — an MLP on noisy XOR, an MLP and a
CNN on handwritten digits, and a character-level MLP that makes up names.

z = (x² + y)² at x = 2, y = 3:
    z      = (4 + 3)²            = 49
    ∂z/∂x  = 2(x² + y) · 2x      = 2·7·4 = 56
    ∂z/∂y  = 2(x² + y)           = 14
"""
import os
import subprocess
import time

# examples/digits.py, digits_cnn.py and xor.py, beside this file
from digits import train_digits
from digits_cnn import train_digits_cnn
from names import DEMO_STEPS, sample
from names import train as train_names
from xor import train_xor

import scratchgrad as sg

PLOT = "demo_losses.png"
GRAPH = "demo_graph"  # the chain-rule example's graph, saved as demo_graph.svg


def chain_rule_example():
    x = sg.tensor(2.0, requires_grad=True)
    y = sg.tensor(3.0, requires_grad=True)
    z = (x**2 + y) ** 2
    print("z = (x**2 + y)**2 at x = 2, y = 3. The backward pass, step by step (sg.viz.trace;")
    print("leaf0 is x, leaf1 is y, and the rules call their own inputs x and y):")
    with sg.viz.trace():
        z.backward()
    print(f"\n  z     = {z.item():g}   (by hand: 49)")
    print(f"  dz/dx = {x.grad.item():g}   (by hand: 2(x² + y)·2x = 56)")
    print(f"  dz/dy = {y.grad.item():g}   (by hand: 2(x² + y) = 14)")
    print(f"  z is {z!r}")
    print(f"\nthe graph: {save_graph(z, GRAPH)}")


def save_graph(t, stem):
    """Draw t's graph to stem.svg; without Graphviz, write its DOT source to stem.dot instead."""
    try:  # pipe, not render: render leaves its DOT source (`stem`, no suffix) behind on failure
        svg = sg.viz.draw(t).pipe(format="svg")
        with open(stem + ".svg", "wb") as f:
            f.write(svg)
        return os.path.abspath(stem + ".svg")
    except (ImportError, OSError, RuntimeError, subprocess.CalledProcessError):  # no graphviz/`dot`
        with open(stem + ".dot", "w") as f:
            f.write(sg.viz.to_dot(t))
        return (f"{os.path.abspath(stem)}.dot (DOT source: install Graphviz's `dot` to get a "
                "picture)")


def timed(label, train):
    print(f"\n{label}")
    start = time.perf_counter()
    _, losses, accuracy = train()
    return losses, accuracy, time.perf_counter() - start


def names_example():
    """A character-level MLP on 32,033 names: its dev loss, and 10 names it makes up."""
    print("\nMLP language model on first names: the last 3 characters (embedded, 16 numbers "
          "each) -> 256 tanh -> the next character; AdamW, batches of 256")
    start = time.perf_counter()
    try:
        model, dev_loss, chars = train_names("mlp", steps=DEMO_STEPS, log=None)
    except (FileNotFoundError, ValueError) as error:  # offline, no copy of names.txt
        print(f"  skipped: {error}")
        return None, time.perf_counter() - start
    print(f"  dev loss {dev_loss:.3f} nats/char (a uniform guess: 3.30, the bigram table: 2.45)")
    print("  10 new names:", ", ".join(sample(model, chars)))
    return dev_loss, time.perf_counter() - start


def save_plot(curves, path):
    """Loss curves side by side; matplotlib is optional (pip install 'scratchgrad[demo]')."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.5))
    for ax, (title, xlabel, losses) in zip(axes, curves):
        ax.plot(losses)
        ax.set(title=title, xlabel=xlabel, ylabel="loss", yscale="log")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main():
    chain_rule_example()
    xor_losses, xor_acc, xor_s = timed("MLP 2-16-16-1 (tanh) on noisy XOR, n=1000, full-batch Adam",
                                       train_xor)
    digit_losses, digit_acc, digit_s = timed(
        "MLP 64-128-10 (ReLU) on the 8x8 digits, Adam, batches of 64", train_digits)
    cnn_losses, cnn_acc, cnn_s = timed(
        "CNN on the 8x8 digits: conv 3x3 1->16, ReLU, max-pool 2, conv 3x3 16->32, ReLU, "
        "max-pool 2, linear 128->10; Adam, batches of 32", train_digits_cnn)
    names_loss, names_s = names_example()
    print("\n| task         | accuracy            | target | time   |")
    print("|--------------|---------------------|--------|--------|")
    print(f"| XOR          | {xor_acc:6.1%} (training)   | ≥ 98%  | {xor_s:5.1f}s |")
    print(f"| digits (MLP) | {digit_acc:6.1%} (test)       | ≥ 95%  | {digit_s:5.1f}s |")
    print(f"| digits (CNN) | {cnn_acc:6.1%} (test)       | ≥ 97%  | {cnn_s:5.1f}s |")
    if names_loss is not None:
        print(f"| names (MLP)  | {names_loss:.3f} nats/char (dev) | ≤ 2.3  | {names_s:5.1f}s |")
    plot = save_plot([("XOR", "step", xor_losses), ("digits (MLP)", "batch", digit_losses),
                      ("digits (CNN)", "batch", cnn_losses)], PLOT)
    print(f"\nloss curves written to {os.path.abspath(plot)}" if plot else
          "\n(matplotlib not installed: no loss-curve plot)")


if __name__ == "__main__":
    main()
