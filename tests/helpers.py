"""Small helpers shared by the tests: float64 leaves for both libraries, and a closeness check."""
import numpy as np
import torch

import scratchgrad as sg


def leaf(values, dtype=sg.float64):
    return sg.tensor(values, dtype=dtype, requires_grad=True)


def tleaf(values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype, requires_grad=True)


def close(actual, expected, rtol=1e-7, atol=1e-10):
    """assert_allclose that accepts scratchgrad and PyTorch tensors as well as arrays."""
    if isinstance(actual, sg.Tensor):
        actual = actual.numpy()
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
