"""The demo's trainings reach their accuracies (fixed seeds, the demo's own settings).

Each training runs once per test process: the demo test reuses the results of the accuracy
tests (it checks what the demo does with them), and the xdist group keeps these tests in one
worker, so the CNN is not trained twice.
"""
import functools
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("examples")


@functools.cache
def trained(example):
    """(model, losses, accuracy) of one example, trained with the demo's own settings."""
    if example == "xor":
        from examples.xor import train_xor as train
    elif example == "digits":
        from examples.digits import train_digits as train
    else:
        from examples.digits_cnn import train_digits_cnn as train
    return train(progress=False)


def test_xor_mlp_reaches_98_percent_training_accuracy():
    _, losses, accuracy = trained("xor")
    assert accuracy >= 0.98
    assert losses[-1] < losses[0] / 10


def test_digits_mlp_reaches_95_percent_test_accuracy():
    pytest.importorskip("sklearn")
    _, losses, accuracy = trained("digits")
    assert accuracy >= 0.95
    assert losses[-1] < losses[0]


def test_digits_cnn_reaches_97_percent_test_accuracy_and_beats_the_mlp():
    pytest.importorskip("sklearn")
    _, losses, accuracy = trained("digits_cnn")
    assert accuracy >= 0.98   # the MLP in digits.py gets 97.2% on this split
    assert losses[-1] < losses[0] / 10


def test_demo_runs_and_writes_its_plot(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "examples"))
    import demo  # examples/demo.py imports its neighbours as a script would
    for name, example in [("train_xor", "xor"), ("train_digits", "digits"),
                          ("train_digits_cnn", "digits_cnn")]:
        monkeypatch.setattr(demo, name, functools.partial(trained, example))
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
