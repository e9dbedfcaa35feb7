"""Layers as Modules, with PyTorch's constructor arguments and default initialisation."""
import math
import operator
from collections import OrderedDict

from scratchgrad import factories
from scratchgrad.core.errors import ArgumentError, ValueRangeError
from scratchgrad.nn import functional as F
from scratchgrad.nn import init
from scratchgrad.nn.module import Module, Parameter, new_parameter
from scratchgrad.ops import as_tensor, flatten


def check_sizes(layer, **sizes):
    """A layer's size arguments are ints (TypeError otherwise) and not negative (RuntimeError),
    as PyTorch's tensor constructor insists, but with the layer and the argument named."""
    for name, value in sizes.items():
        for n in value if isinstance(value, tuple) else (value,):
            if isinstance(n, (bool, float, str)) or not hasattr(n, "__index__"):
                raise TypeError(f"{layer}: {name} must be an int, got {type(n).__name__} {n!r}")
            if n < 0:
                raise ValueRangeError(f"{layer}: {name} can't be negative, got {value}")




class Linear(Module):
    """y = x Wᵀ + b, W of shape (out_features, in_features); W, b ~ U(-1/√in, 1/√in)."""

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        check_sizes("Linear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = new_parameter(out_features, in_features, dtype=dtype)
        self.bias = new_parameter(out_features, dtype=dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """A lookup table of num_embeddings vectors of size embedding_dim, initialised N(0, 1)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=None, _weight=None,
                 _freeze=False):
        super().__init__()
        check_sizes("Embedding", num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:  # PyTorch asserts this
                raise ArgumentError(f"Embedding: padding_idx must be within num_embeddings "
                                    f"({num_embeddings}), got {padding_idx}")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        if _weight is not None:  # from_pretrained's: used as is (shared), no padding row zeroed
            self.weight = Parameter(_weight, requires_grad=not _freeze)
            return
        self.weight = new_parameter(num_embeddings, embedding_dim, dtype=dtype)
        init.normal_(self.weight)
        if padding_idx is not None:
            self.weight._data[padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        """An Embedding whose weight is the 2-D `embeddings` (sharing its memory), frozen
        (requires_grad False) unless freeze=False, as torch.nn.Embedding.from_pretrained."""
        embeddings = as_tensor(embeddings)
        if embeddings.ndim != 2:  # PyTorch asserts this
            raise ArgumentError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                                f"{tuple(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, _weight=embeddings, _freeze=freeze)

    def forward(self, indices):
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class LayerNorm(Module):
    """Normalise over the last dims to mean 0, variance 1, then scale (1s) and shift (0s)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        check_sizes("LayerNorm", normalized_shape=shape)
        self.normalized_shape, self.eps = shape, eps
        self.elementwise_affine = elementwise_affine
        self.weight = self.bias = None
        if elementwise_affine:
            self.weight = Parameter(factories.ones(shape, dtype=dtype))
            self.bias = Parameter(factories.zeros(shape, dtype=dtype)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class Dropout(Module):
    """Zero elements with probability p in training mode (scaling the rest by 1/(1-p))."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: probability must be between 0 and 1, got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Flatten(Module):
    """Merge dimensions start_dim..end_dim (by default all but the batch dimension)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments, as PyTorch's does."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class ReLU(Module):
    """max(x, 0), elementwise (F.relu); inplace=True writes into the input."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x, self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    """1 / (1 + e^-x), elementwise."""

    def forward(self, x):
        return F.sigmoid(x)


class GELU(Module):
    """x·Φ(x), elementwise (F.gelu; approximate='tanh' for the tanh formula)."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class LeakyReLU(Module):
    """x where x > 0, else negative_slope·x (F.leaky_relu)."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Softmax(Module):
    """softmax along dim (F.softmax; dim=None picks PyTorch's implicit dim, with its warning)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim  # None: PyTorch's implicit (deprecated) choice, made with a warning

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log softmax along dim (F.log_softmax; dim=None as Softmax)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim  # None: PyTorch's implicit (deprecated) choice, made with a warning

    def forward(self, x):
        return F.log_softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class _Numbered(Module):
    """What Sequential and ModuleList share: modules by position (negative counts from the end),
    replaced, deleted, inserted, popped and concatenated as in PyTorch, where deleting or
    inserting numbers the modules 0, 1, ... again."""

    def _key(self, index):
        n = len(self._modules)
        i = operator.index(index)
        if not -n <= i < n:
            raise IndexError(f"{type(self).__name__}: index {i} is out of range for {n} modules")
        return list(self._modules)[i % n]

    def _renumber(self, modules):
        self._modules.clear()
        for i, module in enumerate(modules):
            self.add_module(str(i), module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __setitem__(self, index, module):
        self.add_module(self._key(index), module)

    def __delitem__(self, index):
        keys = list(self._modules)[index] if isinstance(index, slice) else [self._key(index)]
        kept = [m for k, m in self._modules.items() if k not in keys]
        self._renumber(kept)

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        try:
            modules = list(modules)
        except TypeError:
            raise TypeError(f"{type(self).__name__}.extend: needs an iterable of modules, got "
                            f"{type(modules).__name__}") from None
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        modules = list(self._modules.values())
        modules.insert(operator.index(index), module)
        self._renumber(modules)

    def pop(self, index=-1):
        module = self[index]
        del self[index]
        return module

    def __iadd__(self, modules):
        return self.extend(modules)


class Sequential(_Numbered):
    """Modules applied one after the other; Sequential(a, b) or Sequential(OrderedDict(...))."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index):
        if isinstance(index, slice):  # keeps the original names, as PyTorch does
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return self._modules[self._key(index)]

    def __add__(self, other):
        return Sequential(*self, *_sequential("+", other))

    def __iadd__(self, other):
        return self.extend(_sequential("+=", other))


def _sequential(op, other):
    if not isinstance(other, Sequential):  # PyTorch's rule (a ModuleList takes any iterable)
        raise ValueError(f"Sequential {op}: only another Sequential can be added, got "  # noqa: TRY004 (PyTorch's type)
                         f"{type(other).__name__}")
    return other


class ModuleList(_Numbered):
    """A list of modules whose parameters are registered (plain lists hide them)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):  # a ModuleList again, numbered from 0 (as in PyTorch)
            return ModuleList(list(self._modules.values())[index])
        return self._modules[self._key(index)]

    def __add__(self, other):
        return ModuleList([*self, *other])
