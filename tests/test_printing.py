"""A tensor prints as in PyTorch (core/printing.py): the same digits, notation, padding, line
wrapping and summaries, and sg.set_printoptions changes them as torch.set_printoptions does.
The one difference left is the dtype's name: dtype=float64 here, dtype=torch.float64 there."""
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchgrad as sg


def unwrapped_suffixes(text):
    """The suffixes joined to their line: where they wrap depends on the dtype's name's length."""
    return re.sub(r",\n *(dtype=|size=)", r", \1", text)


def theirs(array):
    return unwrapped_suffixes(repr(torch.tensor(array)).replace("torch.", ""))


def ours(array):
    return unwrapped_suffixes(repr(sg.tensor(array)))


EXAMPLES = {
    "0-d": np.array(-36.71223, np.float32),
    "decimals": np.array([1.5, 2.25, 3.0], np.float32),
    "whole floats": np.arange(6, dtype=np.float32).reshape(2, 3),
    "small values": np.array([1e-5, 1.0], np.float32),
    "wide range": np.array([123456.7, 1.0], np.float32),
    "above 1e8, whole": np.array([3e8, 1.0], np.float32),
    "float64": np.array([0.1234567, 1e3]),
    "float16": np.array([1.5, -2.25], np.float16),
    "int64": np.array([1, -20, 300]),
    "int32 wrapping": np.arange(30, dtype=np.int32),
    "bool": np.array([True, False]),
    "nan and inf": np.array([np.nan, np.inf, 1.5], np.float32),
    "only nan and zero": np.array([np.nan, 0.0], np.float32),
    "zeros": np.zeros(3, np.float32),
    "negative zero": np.array([-0.0, 1.5], np.float32),
    "empty": np.zeros(0, np.float32),
    "empty 2-d": np.zeros((0, 3), np.float32),
    "empty int": np.zeros(0, np.int64),
    "3-d": np.random.default_rng(1).standard_normal((3, 4, 5)).astype(np.float32),
    "summarised 1-d": np.arange(2000, dtype=np.float32),
    "summarised 2-d": np.random.default_rng(0).standard_normal((50, 40)).astype(np.float32),
    "summarised 3-d ints": np.arange(3000).reshape(10, 15, 20),
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_prints_as_pytorch_does(name):
    assert ours(EXAMPLES[name]) == theirs(EXAMPLES[name])


SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, max_side=6)
FLOATS = st.floats(-1e6, 1e6, width=32) | st.sampled_from([0.0, 1.0, -3.0, 1e-7, 2.5e9, np.inf, np.nan])


@settings(max_examples=60, deadline=None)
@given(array=hnp.arrays(st.sampled_from([np.float32, np.float64]), SHAPES, elements=FLOATS)
       | hnp.arrays(np.int64, SHAPES, elements=st.integers(-10**12, 10**12)))
def test_any_tensor_prints_as_pytorch_does(array):
    assert ours(array) == theirs(array)


def test_suffixes_and_parameters():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward>)"
    assert repr(sg.nn.Parameter(sg.ones(2))) == repr(torch.nn.Parameter(torch.ones(2)))
    long_row = repr(sg.tensor(np.linspace(0, 1, 18), dtype=sg.float64))
    assert long_row.endswith("1.0000],\n       dtype=float64)")  # past 80 columns: a new line


@pytest.mark.parametrize("options", [{"precision": 2}, {"sci_mode": True}, {"sci_mode": False},
                                     {"threshold": 5, "edgeitems": 1}, {"linewidth": 30},
                                     {"profile": "short"}, {"profile": "full"}])
def test_set_printoptions_as_pytorch(options):
    array = np.random.default_rng(2).standard_normal((4, 7)).astype(np.float32) * 100
    try:
        sg.set_printoptions(**options)
        torch.set_printoptions(**options)
        assert ours(array) == theirs(array)
        assert ours(np.arange(1200.0, dtype=np.float32)) == theirs(np.arange(1200.0, dtype=np.float32))
    finally:
        sg.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")


def test_format_of_a_0d_tensor_is_its_numbers():
    t = sg.tensor(2.5)
    assert f"{t}" == "2.5" and f"{t:.3f}" == "2.500"
    assert f"{sg.tensor([1.5])}" == "tensor([1.5000])"
    with pytest.raises(TypeError, match="format"):
        f"{sg.tensor([1.5]):.2f}"
    with pytest.raises(TypeError):
        f"{torch.tensor([1.5]):.2f}"


def test_modules_print_as_pytorchs():
    def modules(lib):
        nn = lib.nn
        return [nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.1), nn.GELU(), nn.Tanh()),
                nn.Embedding(10, 3), nn.LayerNorm(8), nn.Conv2d(1, 4, 3, padding=1),
                nn.MaxPool2d(2), nn.GRU(4, 8, batch_first=True), nn.LSTM(4, 8, num_layers=2),
                nn.BatchNorm1d(5), nn.ModuleList([nn.Linear(2, 2)]),
                nn.ModuleDict({"a": nn.Identity()}), nn.Flatten(), nn.CrossEntropyLoss(),
                nn.GELU(approximate="tanh"), nn.Softmax(dim=-1), nn.LeakyReLU(0.2)]
    for ours, theirs in zip(modules(sg), modules(torch)):
        assert repr(ours) == repr(theirs)
