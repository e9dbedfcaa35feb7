"""Module and Parameter: models as trees of modules that own named parameters, as in PyTorch."""
from collections import OrderedDict, namedtuple

import numpy as np

from scratchgrad.core import dtypes, versions
from scratchgrad.core.errors import describe_shape
from scratchgrad.core.gradmode import no_grad
from scratchgrad.core.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable: a leaf with requires_grad=True."""
    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty(0, dtype=dtypes.default_float)
        # Share the tensor's array and version counter (as PyTorch shares storage); lists and
        # numbers are converted.
        shared = isinstance(data, Tensor)
        array = data._data if shared else Tensor(data)._data
        self._data = np.asarray(array)
        self._storage = versions.storage_of(data) if shared else None
        self._view = None
        self._grad = None
        self.grad_fn = None
        self.requires_grad = False
        self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def check_device(op, device):
    """scratchgrad runs on the CPU: "cpu" (or "cpu:0", or a device object whose type is cpu)
    passes, anything else raises."""
    if device is None:
        return
    name = str(getattr(device, "type", device))
    if name.split(":")[0] != "cpu" or name.count(":") > 1:
        raise RuntimeError(f"{op}: device {str(device)!r} is not available: scratchgrad runs on "
                           "the CPU only (use device='cpu')")


def _device_and_dtype(op, args, kwargs):
    """PyTorch's .to() argument forms: (device), (dtype), (device, dtype), (tensor), keywords."""
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"{op}: unexpected keyword arguments {sorted(kwargs)}")
    if len(args) > 2:
        raise TypeError(f"{op}: takes at most 2 positional arguments, got {len(args)}")
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif isinstance(arg, str) or isinstance(getattr(arg, "type", None), str):
            device = arg
        else:
            dtype = arg
    return device, dtype


def new_parameter(*shape, dtype=None):
    """A Parameter of the given shape (zeros, float32 by default) for a layer's init to fill."""
    return Parameter(np.zeros(shape, dtype=dtypes.default_float if dtype is None else dtype))


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictError(RuntimeError):
    """A state dict doesn't fit the model: missing, unexpected or mis-shaped entries."""


def _array(value):
    return value._data if isinstance(value, Tensor) else np.asarray(value)


class Module:
    """Base class of layers and models: subclass it, assign Parameters and Modules as attributes
    in __init__ (they register themselves), and write forward()."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        tables = self.__dict__.get("_parameters"), self.__dict__.get("_modules")
        if tables[0] is None:  # before super().__init__(): plain attributes only
            if isinstance(value, (Parameter, Module)):
                raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                     f"assigning {name!r}")
            object.__setattr__(self, name, value)
            return
        if isinstance(value, Parameter):
            table = self._parameters
        elif isinstance(value, Module):
            table = self._modules
        elif name in self.__dict__.get("_buffer_names", ()):
            table = self._buffers
        elif name in self._parameters and value is not None:
            raise TypeError(f"{type(self).__name__}: can't assign a {type(value).__name__} to "
                            f"parameter {name!r} (an nn.Parameter or None expected)")
        elif name in self._modules and value is not None:
            raise TypeError(f"{type(self).__name__}: can't assign a {type(value).__name__} to "
                            f"submodule {name!r} (an nn.Module or None expected)")
        elif name in self._parameters or name in self._modules:  # None keeps the slot, as PyTorch
            table = self._parameters if name in self._parameters else self._modules
        else:
            object.__setattr__(self, name, value)
            return
        for other in (self._parameters, self._buffers, self._modules):
            if other is not table:
                other.pop(name, None)
        table[name] = value  # an existing name keeps its place (Sequential's order)
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is None:
            self._parameters[name] = None
        else:
            setattr(self, name, param if isinstance(param, Parameter) else Parameter(param))

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that is part of the module's state (saved in state_dict) but not trained."""
        self._check_new_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(a Tensor or None required)")
        self.__dict__.setdefault("_buffer_names", set()).add(name)
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)
        setattr(self, name, tensor)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_new_name("module", name, self._modules)
        if module is None:  # an empty slot, kept in order (as in PyTorch)
            self._modules[name] = None
        else:
            setattr(self, name, module)

    register_module = add_module

    def _check_new_name(self, kind, name, table):
        """PyTorch's checks on a new buffer or submodule name: a string (TypeError), not empty,
        without dots, and not another attribute's (KeyError)."""
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f"{kind} name can't contain \".\", got: {name}")
        if name == "":
            raise KeyError(f"{kind} name can't be empty string \"\"")
        if name not in table and hasattr(self, name):
            raise KeyError(f"attribute '{name}' already exists")

    # ------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ walking the tree
    def named_modules(self, prefix=""):
        """This module and every submodule, depth first, with dotted names ('' for self)."""
        stack, seen = [(prefix, self)], set()
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child}" if name else child, m)
                        for child, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        return (m for _, m in self.named_children())

    def _named_members(self, table, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, value in module.__dict__[table].items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_name}.{name}" if module_name else name), value

    def named_parameters(self, prefix="", recurse=True):
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True):
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        return (b for _, b in self.named_buffers(recurse=recurse))

    # ------------------------------------------------------------ training helpers
    def zero_grad(self, set_to_none=True):
        """Drop every gradient (PyTorch 2's default), or with set_to_none=False zero each
        existing one in place (aliases of a .grad see the zeros; None stays None)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            elif p.grad.grad_fn is not None or not p.grad._data.flags.writeable:
                p.grad = Tensor._wrap(np.zeros_like(p.grad._data))
            else:
                p.grad._data[...] = 0
                bump = getattr(p.grad, "_bump_version", None)
                if bump is not None:
                    bump()

    def train(self, mode=True):
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn):
        """Call fn on every submodule (each child's subtree in turn), then on this module."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, *args, **kwargs):
        """to(device), to(dtype), to(device, dtype) or to(tensor): every parameter and
        floating-point buffer converted to the dtype, in place. The device must be the CPU."""
        device, dtype = _device_and_dtype("Module.to", args, kwargs)
        if device is not None:
            check_device("Module.to", device)
        if dtype is None:
            return self
        dtype = dtypes.as_dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Module.to only accepts floating point dtypes, but got desired "
                            f"dtype={dtype}")
        for module in self.modules():
            for table in (module._parameters, module._buffers):
                for value in table.values():
                    if value is not None and value.dtype.kind == "f":
                        value._data = value._data.astype(dtype)
                        if value.grad is not None:
                            value.grad = Tensor._wrap(value.grad._data.astype(dtype))
        return self

    def cpu(self):
        return self

    def cuda(self, device=None):
        check_device("Module.cuda", "cuda" if device is None else device)

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    # ------------------------------------------------------------ state
    def _state_tensors(self, prefix=""):
        """The live parameters and persistent buffers, by dotted name; a module registered
        under two names appears under both, as in PyTorch."""
        tensors = OrderedDict()
        stack = [(prefix, self)]
        while stack:
            module_name, module = stack.pop()
            stack.extend(reversed([(f"{module_name}.{child}" if module_name else child, m)
                                   for child, m in module._modules.items() if m is not None]))
            skip = module.__dict__.get("_non_persistent", ())
            for table in (module._parameters, module._buffers):
                for name, value in table.items():
                    if value is not None and name not in skip:
                        tensors[f"{module_name}.{name}" if module_name else name] = value
        return tensors

    def state_dict(self, prefix=""):
        """Every parameter and persistent buffer by dotted name, detached (sharing data)."""
        return OrderedDict((k, v.detach()) for k, v in self._state_tensors(prefix).items())

    def load_state_dict(self, state_dict, strict=True):
        """Copy values into the parameters and buffers by name; shapes must match.

        strict=True raises on missing or unexpected keys; otherwise they are returned.
        Every problem is reported at once, and nothing is changed unless all is well.
        """
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = [f"size mismatch for {k}: the state dict has shape "
                    f"{describe_shape(np.shape(_array(state_dict[k])))}, the model "
                    f"{describe_shape(own[k].shape)}"
                    for k in own if k in state_dict and np.shape(_array(state_dict[k])) != own[k].shape]
        if strict:
            if missing:
                problems.append(f"missing keys {missing}")
            if unexpected:
                problems.append(f"unexpected keys {unexpected}")
        if problems:
            raise StateDictError(f"load_state_dict for {type(self).__name__}: " + "; ".join(problems))
        with no_grad():
            for key, target in own.items():
                if key in state_dict:
                    target._data = np.array(_array(state_dict[key]), dtype=target.dtype, copy=True)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ display
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"  ({name}): " + repr(m).replace("\n", "\n  ") for name, m in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n" + "\n".join(lines) + "\n)" if lines else ")")
