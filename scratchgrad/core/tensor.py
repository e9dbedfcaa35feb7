"""The Tensor: a NumPy array plus what autograd needs (requires_grad, grad, grad_fn).

This class holds the data, its conversions and printing, and the autograd attributes. Its op
methods (t.exp(), t + u, t.sum(dim), ...) are the ops themselves, set on the class by
ops/__init__.py, the one list of public names.
"""
import warnings
import weakref

import numpy as np

from scratchgrad.core import dtypes, versions
from scratchgrad.core.devices import check_device, cpu
from scratchgrad.core.errors import (
    AxisError,
    DTypeError,
    GraphError,
    ShapeError,
    ValueRangeError,
    describe_shape,
    user_stacklevel,
)
from scratchgrad.core.printing import tensor_text
from scratchgrad.core.quiet import silenced


class Size(int):
    """t.size is the number of elements (NumPy's meaning); t.size() / t.size(dim) give the shape (PyTorch's)."""

    def __new__(cls, shape):
        self = super().__new__(cls, int(np.prod(shape, dtype=np.int64)))
        self.shape = shape
        return self

    def __call__(self, dim=None):
        if dim is None:
            return self.shape
        ndim = len(self.shape)
        if not -ndim <= dim < ndim:
            raise AxisError(f"size: dimension {dim} is out of range for a tensor of shape "
                            f"{describe_shape(self.shape)} (expected -{ndim} to {ndim - 1})")
        return self.shape[dim]


# Non-leaf tensors whose .grad should be kept (Tensor.retain_grad), by id; weak, so they can
# still die. (Not a WeakSet: that would compare tensors with ==, which is elementwise.)
retaining_grad = weakref.WeakValueDictionary()


class Tensor:
    """An n-dimensional array that can record the operations applied to it."""
    # _data: the NumPy array (.data is a Tensor, as in PyTorch); _grad: what .grad returns;
    # _storage: the version counter shared with views (versions.Storage), None until needed;
    # _view: (base, steps) for a view of another tensor's memory (see ops/inplace.py), or None.
    # (A dict of slots gives the public ones their docstrings.)
    __slots__ = {
        "__weakref__": None,
        "_data": None,
        "_grad": None,
        "_storage": None,
        "_view": None,
        "grad_fn": "The node of the op that made this tensor, or None for a leaf.",
        "requires_grad": "Whether ops on this tensor are recorded for backward().",
    }
    __hash__ = object.__hash__  # == is elementwise, so hashing is by identity, as in PyTorch

    def __init__(self, data, dtype=None, requires_grad=False):
        self._data = to_array(data, dtype)
        self._storage = self._view = None
        self._grad = None
        self.grad_fn = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _wrap(data):
        """Internal fast constructor: data is already a NumPy array (or NumPy scalar)."""
        t = Tensor.__new__(Tensor)
        t._data = data
        t._storage = t._view = None
        t.requires_grad = False
        t._grad = None
        t.grad_fn = None
        return t

    # ------------------------------------------------------------ attributes
    shape = property(lambda self: self._data.shape, doc="The shape, a tuple of ints.")
    ndim = property(lambda self: self._data.ndim, doc="The number of dimensions.")
    dtype = property(lambda self: self._data.dtype, doc="The dtype (a NumPy dtype).")
    size = property(lambda self: Size(self._data.shape),
                    doc="The number of elements; size() and size(dim) give the shape, as in PyTorch.")
    is_leaf = property(lambda self: self.grad_fn is None,
                       doc="True if no recorded op made this tensor (backward fills its .grad).")
    
    @property
    def data(self):
        """The same memory as a tensor outside the graph (no grad, its own version counter):
        changes through it are invisible to autograd, as with PyTorch's .data."""
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value):
        """t.data = other: t now holds other's values (sharing other's memory, as in PyTorch)."""
        if not isinstance(value, Tensor):
            raise TypeError(f"data: assigned value must be a Tensor, got {type(value).__name__}")
        self._data = value._data

    @property
    def grad(self):
        """The gradient backward accumulated here (leaves, and tensors that retain_grad())."""
        grad = self._grad
        if grad is None and self.grad_fn is not None and id(self) not in retaining_grad:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
                ".grad attribute won't be populated during backward(). If you indeed want the "
                ".grad field to be populated for a non-leaf Tensor, use .retain_grad() on the "
                "non-leaf Tensor.", UserWarning, stacklevel=user_stacklevel())
        return grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: assigned grad must be a Tensor or None, got "
                                f"{type(value).__name__}")
            if value.shape != self.shape:
                raise ShapeError(f"grad: assigned grad has shape {describe_shape(value.shape)} "
                                 f"but the tensor has shape {describe_shape(self.shape)}")
        self._grad = value

    @property
    def _version(self):
        """How many times this tensor's memory (shared with its views) was written in place."""
        return 0 if self._storage is None else self._storage.version

    def _bump_version(self):
        """Note that this tensor's memory was just written in place (optimisers call this)."""
        versions.note_write(self)

    def dim(self):
        """The number of dimensions."""
        return self._data.ndim

    def numel(self):
        """The number of elements."""
        return int(self._data.size)

    nelement = numel

    # Always the CPU: scratchgrad computes with NumPy (see core/devices.py).
    device = property(lambda self: cpu, doc="Where the tensor lives: always the CPU.")
    is_cuda = False

    def cpu(self):
        """The tensor itself: it is on the CPU already."""
        return self

    def is_contiguous(self, memory_format=None):
        """Whether the elements lie in row-major order in memory."""
        return not isinstance(self._data, np.ndarray) or self._data.flags.c_contiguous

    def is_floating_point(self):
        """Whether the dtype is a floating-point one."""
        return self.dtype.kind == "f"

    # ------------------------------------------------------------ conversion
    def numpy(self):
        """The data as a NumPy array sharing the tensor's memory (as in PyTorch)."""
        if self.requires_grad:
            raise GraphError("numpy: can't call numpy() on a tensor that requires grad: its "
                             "values would escape autograd's version checks. Use "
                             "tensor.detach().numpy() instead.")
        if type(self._data) is not np.ndarray:  # a NumPy scalar: make it memory we can share
            self._data = np.asarray(self._data)
        return self._data

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        if dtype is None and not copy:
            return array
        return np.array(array, dtype=dtype, copy=True if copy is None and dtype is None else copy)

    def __format__(self, spec):
        """f"{t}" and f"{t:.3f}" of a 0-d tensor format its number, as in PyTorch; other tensors
        take no format spec."""
        if self.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError("unsupported format string passed to Tensor.__format__")
        return repr(self)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ShapeError(f"item: only one-element tensors can be converted to a Python number, "
                             f"this one has shape {describe_shape(self.shape)}")
        return self._data.item() if self._data.ndim == 0 else self._data.reshape(()).item()

    def tolist(self):
        """The values as (nested) Python lists of numbers."""
        return np.asarray(self._data).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"bool: a tensor with {self._data.size} elements has no single truth "
                               "value; use .any() or .all()")
        return bool(self.item())

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self):
        suffixes = []
        if self._data.size == 0:  # "[]" alone would hide the shape, and the dtype of an integer
            if self.ndim != 1:
                suffixes.append(f"size={describe_shape(self.shape)}")
            if self.dtype != dtypes.float32:
                suffixes.append(f"dtype={self.dtype}")
        elif self.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool_):
            suffixes.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            suffixes.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            suffixes.append("requires_grad=True")
        return tensor_text(np.asarray(self._data), suffixes)

    def __str__(self):
        return repr(self)  # looked up at call time, so subclasses (Parameter) print their own

    def _repr_html_(self):
        """Jupyter shows the value and, for a tensor made by ops, its last few ops (a picture of
        the graph only when asked: sg.viz.draw(t))."""
        from scratchgrad.viz.notebook import tensor_html  # loaded only when displayed
        return tensor_html(self)

    # ------------------------------------------------------------ new tensors like this one
    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A new tensor from data, with this tensor's dtype unless given."""
        check_device("new_tensor", device)
        return Tensor(data, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        """A tensor of fill_value, with this tensor's dtype unless given."""
        return self._new("new_full", size, fill_value, dtype, device, requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        """A tensor of zeros, with this tensor's dtype unless given."""
        return self._new("new_zeros", size, 0, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        """A tensor of ones, with this tensor's dtype unless given."""
        return self._new("new_ones", size, 1, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        """An uninitialised tensor in PyTorch (zeros here), with this tensor's dtype unless given."""
        return self._new("new_empty", size, 0, dtype, device, requires_grad)

    def _new(self, name, size, fill_value, dtype, device, requires_grad):
        check_device(name, device)
        if isinstance(size, tuple) and len(size) == 1 and isinstance(size[0], (tuple, list)):
            size = size[0]
        size = (size,) if isinstance(size, (int, np.integer)) else tuple(int(n) for n in size)
        dtype = self.dtype if dtype is None else dtypes.as_dtype(dtype)
        return Tensor(np.full(size, fill_value, dtype), requires_grad=requires_grad)

    # ------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate d self / d leaf into the .grad of every leaf that requires grad."""
        from scratchgrad.core import (
            engine,  # here, not at the top: the engine builds on Tensor
        )
        with silenced():  # no NumPy warning from the rules at inf or nan: see core/quiet.py
            engine.backward(self, gradient, retain_graph, create_graph)

    def requires_grad_(self, requires_grad=True):
        """Set requires_grad in place (float tensors only) and return the tensor."""
        if requires_grad and self.dtype.kind != "f":
            raise DTypeError(f"requires_grad: only floating-point tensors can require gradients, "
                             f"this one is {self.dtype}")
        if not requires_grad and self.grad_fn is not None:
            raise GraphError("requires_grad_: a non-leaf tensor can't stop requiring grad; "
                             "use .detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """The same memory and version counter, cut from the graph (no grad_fn, no grad)."""
        t = Tensor._wrap(self._data)
        t._storage = versions.storage_of(self)
        return t

    def detach_(self):
        """Cut this tensor from the graph, in place: it becomes a leaf that requires no grad."""
        if self._view is not None and self._view[0].requires_grad:
            raise GraphError("detach_: can't detach a view in place (its base is in a graph); "
                             "use .detach(), which returns a new tensor")
        self.grad_fn = None
        self.requires_grad = False
        return self

    def retain_grad(self):
        """Keep .grad on this non-leaf tensor after backward (leaves always keep theirs)."""
        if self.grad_fn is not None:
            retaining_grad[id(self)] = self


def to_array(data, dtype=None):
    """Turn user data into an array with PyTorch's default dtypes, or raise a clear error."""
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
    # A float too large for float32 (1e300) becomes inf, as in PyTorch, without NumPy's warning.
    with np.errstate(over="ignore"):
        if isinstance(data, Tensor):
            array = np.array(data._data, dtype=dtype, copy=True)
        elif isinstance(data, (np.ndarray, np.generic)):
            array = np.array(data, dtype=dtype, copy=True)
        else:
            array = _array_from_python(data, dtype)
    if array.dtype.kind not in "biuf":
        raise DTypeError(f"tensor: data must be numbers or bools, got {_describe(data)} "
                         f"(NumPy dtype {array.dtype})")
    return array


def from_numpy(array):
    """A tensor sharing array's memory (writes through either show in both), as in PyTorch."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "biuf" or array.dtype.byteorder == ">":
        raise DTypeError(f"from_numpy: can't convert a NumPy array of dtype {array.dtype}; "
                         "supported: float64, float32, float16, int64, int32, int16, int8, "
                         "uint8 and bool")
    return Tensor._wrap(array)


def _array_from_python(data, dtype):
    if data is None or isinstance(data, (str, bytes, dict, set, complex)):
        raise DTypeError(f"tensor: can't make a tensor from {_describe(data)}")
    try:
        array = np.array(data, dtype=dtype)
    except ValueError as exc:
        ragged = _ragged_message(data)
        if ragged:
            raise ValueError(f"tensor: {ragged}") from None
        raise ValueRangeError(f"tensor: can't convert {_describe(data)} to {dtype}: {exc}") from None
    except OverflowError:  # e.g. 2**40 into int32: PyTorch's RuntimeError, not a wrapped value
        raise ValueRangeError(f"tensor: {_describe(data)} can't be converted to {dtype} "
                              "without overflow") from None
    except TypeError as exc:
        raise DTypeError(f"tensor: can't make a tensor from {_describe(data)}: {exc}") from None
    if dtype is None:
        array = _with_int64_range(data, array)
        if array.dtype.kind == "f":
            array = array.astype(dtypes.default_float)
        elif array.dtype.kind in "iu":
            array = array.astype(dtypes.int64)
    return array


_INT64 = np.iinfo(np.int64)


def _with_int64_range(data, array):
    """PyTorch stores Python ints as int64 and refuses one outside its range (unless a float in
    the data makes the tensor float). NumPy instead picks uint64, float64 or object for them,
    which would wrap or round silently; this finds those cases and decides as PyTorch does."""
    kind = array.dtype.kind
    suspect = kind in "uO" or (kind == "f" and array.size and not np.all(np.abs(array) < 2.0**63))
    if not suspect:
        return array
    items = np.array(data, dtype=object).ravel()
    if not all(isinstance(v, (int, float, np.number, np.bool_)) for v in items):
        return array  # not all numbers: to_array's dtype check says so
    if any(isinstance(v, (float, np.floating)) for v in items):
        try:
            return np.array(data, dtype=np.float64)
        except OverflowError:
            raise ValueRangeError(f"tensor: {_describe(data)} holds an int too large for a "
                                  "float") from None
    for v in items:
        if isinstance(v, int) and not _INT64.min <= v <= _INT64.max:
            raise ValueRangeError(f"tensor: overflow when unpacking {v}: a Python int must lie "
                                  f"in int64's range [{_INT64.min}, {_INT64.max}]")
    return array


def _describe(data):
    return f"{type(data).__name__} {data!r}"[:80]


def _ragged_message(data):
    """Find where a nested list stops being rectangular, breadth first (no recursion)."""
    level = [data]
    depth = 0
    while level and all(isinstance(x, (list, tuple)) for x in level):
        lengths = {len(x) for x in level}
        if len(lengths) > 1:
            return (f"ragged nested list: the sequences at depth {depth} have lengths "
                    f"{sorted(lengths)}; every row must have the same length")
        level = [item for x in level for item in x]
        depth += 1
    if level and any(isinstance(x, (list, tuple)) for x in level):
        return f"ragged nested list: depth {depth} mixes numbers and sequences"
    return None
