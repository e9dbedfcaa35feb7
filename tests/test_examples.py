"""The demo's trainings reach their accuracies (fixed seeds, the demo's own settings).

The accuracy tests train with the demo's settings; the demo test checks what the demo does
around them (the chain rule, the table, the plot, the graph) on short trainings, so no
training runs twice.
"""
import functools
from pathlib import Path

import pytest

from examples.xor import train_xor


def test_xor_mlp_reaches_98_percent_training_accuracy():
    _, losses, accuracy = train_xor(progress=False)
    assert accuracy >= 0.98
    assert losses[-1] < losses[0] / 10


def test_digits_mlp_reaches_95_percent_test_accuracy():
    pytest.importorskip("sklearn")
    from examples.digits import train_digits
    _, losses, accuracy = train_digits(progress=False)
    assert accuracy >= 0.95
    assert losses[-1] < losses[0]


def test_digits_cnn_reaches_97_percent_test_accuracy_and_beats_the_mlp():
    pytest.importorskip("sklearn")
    from examples.digits_cnn import train_digits_cnn
    _, losses, accuracy = train_digits_cnn(progress=False)
    assert accuracy >= 0.98   # the MLP in digits.py gets 97.2% on this split
    assert losses[-1] < losses[0] / 10


def test_demo_runs_and_writes_its_plot(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "examples"))
    import demo  # examples/demo.py imports its neighbours as a script would
    monkeypatch.setattr(demo, "train_xor", functools.partial(demo.train_xor, steps=50))
    monkeypatch.setattr(demo, "train_digits", functools.partial(demo.train_digits, epochs=1))
    monkeypatch.setattr(demo, "train_digits_cnn",
                        functools.partial(demo.train_digits_cnn, epochs=1))
    monkeypatch.chdir(tmp_path)
    demo.main()
    out = capsys.readouterr().out
    assert "dz/dx = 56" in out and "dz/dy = 14" in out
    assert "[3] %0 = pow(leaf0, 2)" in out and "-> leaf0 gets () = 56." in out  # the trace
    assert "| digits (CNN) |" in out
    assert (tmp_path / demo.PLOT).stat().st_size > 1000
    graphs = list(tmp_path.glob(demo.GRAPH + ".*"))
    assert len(graphs) == 1 and graphs[0].suffix in (".svg", ".dot")
    assert not (tmp_path / demo.GRAPH).exists()  # no DOT source left behind by a failed render
    assert "pow(leaf0, 2)" in graphs[0].read_text()
