"""DLPack: hand a tensor's memory to PyTorch, NumPy, JAX, ... and take theirs, without copying.

torch.from_dlpack(t), np.from_dlpack(t), torch.tensor(t) and torch.as_tensor(t) all go through
Tensor.__dlpack__; sg.from_dlpack(x) takes anything with __dlpack__ (or a bare DLPack capsule).
NumPy does the byte-level work in both directions: a Tensor's data is a NumPy array.
"""
from typing import Any

import numpy as np

from scratchgrad.core.errors import DTypeError
from scratchgrad.core.tensor import Tensor

CPU: tuple[int, int] = (1, 0)  # DLPack's (device type, device id) for host memory: kDLCPU, device 0


def export(t: Tensor, stream: Any = None, max_version: tuple[int, int] | None = None,
           dl_device: tuple[int, int] | None = None, copy: bool | None = None) -> Any:
    """A DLPack capsule of t's data (shared memory unless copy=True or the layout needs one)."""
    if t.requires_grad:
        # PyTorch's rule for its own tensors: the consumer would get the values but not the graph.
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    data = np.asarray(t._data)
    # A reversed view (t[::-1]) has negative strides, which PyTorch cannot import (it aborts the
    # process), so such a tensor is exported as a contiguous copy, as DLPack allows by default.
    if data.size > 1 and any(s < 0 for n, s in zip(data.shape, data.strides) if n > 1):
        if copy is False:
            raise BufferError("__dlpack__: a tensor with negative strides (a reversed view) can't "
                              "be shared without a copy; call with copy=None or copy=True")
        data = np.ascontiguousarray(data)
    return data.__dlpack__(stream=stream, max_version=max_version, dl_device=dl_device, copy=copy)


class _Capsule:
    """A bare DLPack capsule (from an older producer's to_dlpack()) dressed as a producer."""

    def __init__(self, capsule: Any) -> None:
        self.capsule = capsule

    def __dlpack__(self, **kwargs: Any) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return CPU


def from_dlpack(ext_tensor: Any) -> Tensor:
    """A Tensor sharing memory with `ext_tensor`: any object with `__dlpack__` (a torch tensor,
    a NumPy array, ...) or a DLPack capsule. Like torch.from_dlpack: no copy, no gradient."""
    if type(ext_tensor).__name__ == "PyCapsule":
        ext_tensor = _Capsule(ext_tensor)
    elif not hasattr(ext_tensor, "__dlpack__"):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ (a torch tensor, a NumPy "
                        f"array, ...) or a DLPack capsule, got {type(ext_tensor).__name__}")
    try:
        data = np.from_dlpack(ext_tensor)
    except (TypeError, RuntimeError) as exc:
        # NumPy's wording for an unsupported dtype (bfloat16, complex) or device (a GPU tensor).
        raise DTypeError(f"from_dlpack: can't import this {type(ext_tensor).__name__}: {exc}") from None
    if data.dtype.kind not in "biuf":
        raise DTypeError(f"from_dlpack: dtype {data.dtype} is not supported "
                         "(only bool, integer and float)")
    return Tensor._wrap(data)
