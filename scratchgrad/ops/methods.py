"""The Tensor methods that are not ops of the same name: dtype conversions (t.float(),
t.to(...)), small spellings (t.t(), t.T, t.view_as(u)), the reflected operators (2 - t), and
the protocols NumPy and DLPack call. ops/__init__.py installs them with the ops themselves.
"""
from scratchgrad import dlpack
from scratchgrad.core import dtypes
from scratchgrad.core.devices import check_device, is_device
from scratchgrad.core.tensor import Tensor
from scratchgrad.ops.elementwise import cast, clone
from scratchgrad.ops.interop import numpy_function, numpy_ufunc
from scratchgrad.ops.shapes import (
    broadcast_to,
    index,
    permute,
    reshape,
    setitem,
    transpose,
)

# ---------------------------------------------------------------- dtypes and devices


def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False, memory_format=None):
    """t.to(dtype), t.to(device), t.to(device, dtype), t.to(other): self when nothing changes."""
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif isinstance(arg, str) or is_device(arg):  # a string is a device, as in PyTorch
            device = arg
        else:
            dtype = arg
    check_device("to", device)
    out = self if dtype is None else cast(self, dtype)
    return clone(out) if copy and out is self else out


def type_as(self, other):
    """The tensor cast to other's dtype."""
    return cast(self, other.dtype)


# PyTorch's names for a CPU tensor's type, which t.type() gives and t.type(name) takes
_TYPE_NAMES = {dtypes.float32: "torch.FloatTensor", dtypes.float64: "torch.DoubleTensor",
               dtypes.float16: "torch.HalfTensor", dtypes.int64: "torch.LongTensor",
               dtypes.int32: "torch.IntTensor", dtypes.int16: "torch.ShortTensor",
               dtypes.int8: "torch.CharTensor", dtypes.uint8: "torch.ByteTensor",
               dtypes.bool_: "torch.BoolTensor"}
_TYPES_BY_NAME = {name: dtype for dtype, name in _TYPE_NAMES.items()}


def type_(self, dtype=None, non_blocking=False):
    """t.type(): PyTorch's name for the tensor's type ('torch.FloatTensor'); t.type(dtype), with a
    dtype or such a name: the tensor cast to it (itself when it already has it)."""
    if dtype is None:
        return _TYPE_NAMES[self.dtype]
    if isinstance(dtype, str):
        if dtype not in _TYPES_BY_NAME:
            raise ValueError(f"type: invalid type: {dtype!r} (a dtype, or a name such as "
                             f"'torch.DoubleTensor')")
        dtype = _TYPES_BY_NAME[dtype]
    dtype = dtypes.as_dtype(dtype)
    return self if dtype == self.dtype else cast(self, dtype)


def cuda(self, device=None, non_blocking=False):
    """Refused: scratchgrad runs on the CPU (the error t.to("cuda") gives)."""
    check_device("cuda", "cuda" if device is None else device)


def _cast_to(dtype):
    def convert(self):
        return cast(self, dtype)
    convert.__doc__ = f"The tensor as {dtype}."
    return convert


# ---------------------------------------------------------------- shapes


def t(self):
    """Transpose of a matrix (a 0-d or 1-D tensor is returned as is)."""
    return transpose(self, 0, 1) if self.ndim == 2 else self


def expand_as(self, other):
    """This tensor broadcast to other's shape."""
    return broadcast_to(self, other.shape)


def view_as(self, other):
    """This tensor reshaped to other's shape."""
    return reshape(self, other.shape)


def all_dims_reversed(self):
    """The tensor with its dimensions reversed."""
    return permute(self, tuple(range(self.ndim - 1, -1, -1)))


def last_two_swapped(self):
    """The last two dimensions swapped (a batch of matrices, transposed)."""
    return transpose(self, -2, -1)


def __setitem__(self, key, value):
    setitem(self, key, value)


# ---------------------------------------------------------------- operators


def reflected(op):
    """The method for `other <op> t` (2 - t calls t.__rsub__(2)): op with its operands swapped."""
    def method(self, other):
        return op(other, self)
    method.__name__ = method.__qualname__ = f"__r{op.__name__}__"
    return method


def __pos__(self):
    return self


# ---------------------------------------------------------------- protocols

# NumPy calls these for np.exp(t), ndarray + t, np.where(c, t, 0): the result is a Tensor.
# This is also how derivative rules become differentiable under create_graph.
def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
    return numpy_ufunc(ufunc, method, inputs, kwargs)


def __array_function__(self, func, types, args, kwargs):
    return numpy_function(func, args, kwargs)


# DLPack: torch.from_dlpack(t), np.from_dlpack(t), torch.tensor(t) share memory (dlpack.py).
def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
    """A DLPack capsule of the data (raises BufferError if it requires grad, as in PyTorch)."""
    return dlpack.export(self, stream, max_version, dl_device, copy)


def __dlpack_device__(self):
    """(1, 0): DLPack's code for host memory (kDLCPU), device 0."""
    return dlpack.CPU


methods = {
    "to": to, "type_as": type_as, "astype": cast,
    "half": _cast_to(dtypes.float16), "float": _cast_to(dtypes.float32),
    "double": _cast_to(dtypes.float64), "long": _cast_to(dtypes.int64),
    "int": _cast_to(dtypes.int32), "bool": _cast_to(dtypes.bool_),
    "short": _cast_to(dtypes.int16), "char": _cast_to(dtypes.int8), "byte": _cast_to(dtypes.uint8),
    "type": type_, "cuda": cuda,
    "t": t, "expand_as": expand_as, "view_as": view_as,
    "T": property(all_dims_reversed), "mT": property(last_two_swapped),
    "__getitem__": index, "__setitem__": __setitem__, "__pos__": __pos__,
    "__array_ufunc__": __array_ufunc__, "__array_function__": __array_function__,
    "__dlpack__": __dlpack__, "__dlpack_device__": __dlpack_device__,
}
