"""Weight initialisation, in place, with PyTorch's formulas (torch.nn.init).

Every function draws from scratchgrad's generator (or the sg.Generator given), so sg.manual_seed
makes models repeatable, with PyTorch's numbers: a model built after torch.manual_seed(n) and
one built after sg.manual_seed(n) start from the same weights.
"""
import math
import warnings
from typing import Any

import numpy as np

from scratchgrad import random
from scratchgrad.core.errors import ShapeError, describe_shape, user_stacklevel
from scratchgrad.core.tensor import Tensor


def _fill(tensor: Tensor, values: Any) -> Tensor:
    """Write values into the tensor's own array (no graph: initialisation isn't differentiable)."""
    if isinstance(tensor._data, np.ndarray) and tensor._data.flags.writeable:
        np.copyto(tensor._data, values, casting="unsafe")
    else:
        tensor._data = np.array(values, dtype=tensor.dtype).reshape(tensor.shape)
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The scale that keeps activations' variance steady through a layer of this nonlinearity."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """fan_in = inputs per output unit, fan_out = outputs per input unit (dims 1 and 0, times the
    receptive field of a convolution's kernel)."""
    if tensor.ndim < 2:
        raise ShapeError(f"init: fan in and fan out need at least 2 dimensions, got shape "
                         f"{describe_shape(tensor.shape)}")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Fill the tensor in place with draws from U(a, b); returns it."""
    return _fill(tensor, random.uniform_array(tensor.shape, _drawn(tensor), a, b, generator))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Fill the tensor in place with draws from N(mean, std²); returns it."""
    return _fill(tensor, random.normal_array(tensor.shape, _drawn(tensor), mean, std, generator))


def _drawn(tensor: Tensor) -> Any:
    """The dtype to draw in: the tensor's own if floating (PyTorch draws per dtype)."""
    return tensor.dtype if np.dtype(tensor.dtype).kind == "f" else np.float64


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill the tensor in place with val; returns it."""
    return _fill(tensor, np.full(tensor.shape, val))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill the tensor in place with zeros; returns it."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill the tensor in place with ones; returns it."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """U(-a, a) with a = gain·√(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    # worked out in PyTorch's steps: the bound is rounded to the tensor's dtype, and another
    # order of the same arithmetic can round it to a neighbour (then every weight differs)
    bound = math.sqrt(3.0) * (gain * math.sqrt(2.0 / float(fan_in + fan_out)))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """N(0, σ²) with σ = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: Any = None) -> Tensor:
    """U(-b, b) with b = gain·√(3 / fan); PyTorch's Linear uses a=√5, giving b = 1/√fan_in."""
    if _is_empty(tensor):
        return tensor
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * (gain / math.sqrt(_fan(tensor, mode)))  # PyTorch's steps
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: Any = None) -> Tensor:
    """N(0, σ²) with σ = gain / √fan."""
    if _is_empty(tensor):
        return tensor
    gain = calculate_gain(nonlinearity, a)
    return normal_(tensor, 0.0, gain / math.sqrt(_fan(tensor, mode)), generator)


def _is_empty(tensor: Tensor) -> bool:
    """A tensor with no elements has nothing to draw (and a fan of 0): PyTorch warns and skips it,
    so that nn.Linear(0, 3) and nn.Conv2d(1, 2, 0) can be built."""
    if tensor._data.size:
        return False
    warnings.warn("Initializing zero-element tensors is a no-op", UserWarning,
                  stacklevel=user_stacklevel())
    return True
