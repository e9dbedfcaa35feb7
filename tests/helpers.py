"""Small helpers shared by the tests: float64 leaves for both libraries, a closeness check,
custom Functions x² with a right and a wrong (factor 2 forgotten) backward, and x³."""
import os

import numpy as np
import pytest
import torch

import scratchgrad as sg

# The two float dtypes the PyTorch comparisons run in, by name, in each library.
SG_DTYPES = {"float64": sg.float64, "float32": sg.float32}
TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def leaf(values, dtype=sg.float64):
    return sg.tensor(values, dtype=dtype, requires_grad=True)


def tleaf(values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype, requires_grad=True)


def close(actual, expected, rtol=1e-7, atol=1e-10):
    """assert_allclose that accepts scratchgrad and PyTorch tensors as well as arrays."""
    if isinstance(actual, sg.Tensor):
        actual = actual.detach().numpy()
    if isinstance(expected, (torch.Tensor, sg.Tensor)):
        expected = expected.detach().numpy()
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


class Square(sg.Function):
    """x²"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


class WrongSquare(Square):
    """x², with a backward that forgets the factor 2 (a planted bug)."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x


class Cube(sg.Function):
    """x³, with a backward written in sg ops so that it can be differentiated again."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        """g·3x²"""
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2


# For tests that read sg.data.names() / tiny_shakespeare(): skip where no local copy is set up
# (tests/conftest.py), since tests never download.
needs_corpora = pytest.mark.skipif("SCRATCHGRAD_DATA" not in os.environ,
                                   reason="no local copy of the text corpora (../shared/data)")


def every_primitive():
    """Every primitive of the library: the rows of the rules tables (not sg.Function's)."""
    from scratchgrad import convolution, primitives, recurrence
    from scratchgrad.core.engine import Primitive
    return [value for module in (primitives, convolution, recurrence)
            for value in vars(module).values() if isinstance(value, Primitive)]
