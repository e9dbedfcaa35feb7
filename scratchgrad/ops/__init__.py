"""Every public op, and the one place that says which names are public.

Each op module lists its public ops in its `__all__`, and those are `sg.<name>` (scratchgrad's
__init__ exports this package's `__all__`). Each takes a tensor first and is also a Tensor
method of the same name (t.exp() is sg.exp(t)), except the few in NOT_METHODS. The float
functions (exp, tanh, ...) come from the rows of primitives.float_functions, so adding one is
its rule row plus its test row. ops/methods.py holds the methods that are not ops (t.float(),
t.T, ...), and ops/inplace.py the in-place ones (t.add_(u), x += y).

An op checks its arguments, applies PyTorch's dtype rules, then applies a primitive
(primitives.py holds the derivatives) or composes primitives, which carries no derivative code.
"""
from scratchgrad.core.tensor import Tensor
from scratchgrad.ops import (
    elementwise,
    inplace,
    methods,
    products,
    rearrange,
    reductions,
    rounding,
    selection,
    shapes,
)

_modules = (elementwise, products, rearrange, reductions, rounding, selection, shapes)
__all__ = [name for module in _modules for name in module.__all__]
globals().update({name: getattr(module, name) for module in _modules for name in module.__all__})

# Public ops that are not methods: they take no tensor first (cat takes a list), or PyTorch's
# method puts it elsewhere (t.where(cond, other) is where(cond, t, other)).
NOT_METHODS = {"as_tensor", "is_tensor", "cast", "cat", "concatenate", "stack", "einsum", "where",
               "pad"}
# Methods that PyTorch has only as methods (there is no torch.repeat).
ONLY_METHODS = {"contiguous": elementwise.contiguous, "repeat": rearrange.repeat,
                "swapaxes": shapes.swapaxes}

OPERATORS = {
    "__add__": elementwise.add, "__sub__": elementwise.sub, "__mul__": elementwise.mul,
    "__truediv__": elementwise.div, "__pow__": elementwise.pow, "__matmul__": elementwise.matmul,
    "__floordiv__": rounding.floor_divide, "__mod__": rounding.remainder,
    "__neg__": elementwise.neg, "__abs__": elementwise.abs,
    "__lt__": elementwise.lt, "__le__": elementwise.le, "__gt__": elementwise.gt,
    "__ge__": elementwise.ge, "__eq__": elementwise.eq, "__ne__": elementwise.ne,
    "__and__": elementwise.logical_and, "__rand__": elementwise.logical_and,
    "__or__": elementwise.logical_or, "__ror__": elementwise.logical_or,
    "__invert__": elementwise.logical_not,
    # In-place operators write into the tensor's memory (views and aliases see the change).
    "__iadd__": inplace.add_, "__isub__": inplace.sub_, "__imul__": inplace.mul_,
    "__itruediv__": inplace.div_,
}
for _name in ("add", "sub", "mul", "truediv", "pow", "matmul", "floordiv", "mod"):
    OPERATORS[f"__r{_name}__"] = methods.reflected(OPERATORS[f"__{_name}__"])

# In-place twins of ops that ops/inplace.py can't import (selection and rearrange import
# shapes, which imports inplace).
IN_PLACE_TWINS = {name + "_": inplace.twin(name + "_", getattr(module, name))
                  for module, names in ((selection, ("tril", "triu", "scatter_add")),
                                        (rearrange, ("cumsum", "cumprod")))
                  for name in names}

# Every Tensor method that comes from an op: name -> function (its first argument is the tensor).
tensor_methods = {
    **{name: globals()[name] for name in __all__ if name not in NOT_METHODS},
    **ONLY_METHODS,
    **methods.methods,
    **inplace.methods,
    **IN_PLACE_TWINS,
    **OPERATORS,
}
for _name, _method in tensor_methods.items():
    setattr(Tensor, _name, _method)
del _name, _method
