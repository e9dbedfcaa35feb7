"""dtypes, and PyTorch's rules for the dtype of a result.

NumPy and PyTorch agree when operands share a dtype, which is the fast path.
They differ where kinds mix: PyTorch keeps an int tensor times 0.5 in float32
(NumPy says float64), and a 0-d float64 tensor doesn't widen a float32 tensor.
`result_dtype` implements PyTorch's rule so scratchgrad matches it.
"""
import numpy as np

from scratchgrad.core.errors import DTypeError

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)


class UnsupportedDType:
    """A PyTorch dtype name NumPy can't hold (bfloat16): the name exists, so code that only
    mentions it (a dict of dtypes, an `if` on the hardware) runs; making a tensor with it raises."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"scratchgrad.{self.name}"

    is_floating_point = True


bfloat16 = UnsupportedDType("bfloat16")

default_float = float32

# Kinds in order of PyTorch's category: bool < integer < floating point.
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}
_DEFAULT_FOR_CATEGORY = (bool_, int64, default_float)


def category(dtype):
    """0 for bool, 1 for integers, 2 for floats."""
    try:
        return _CATEGORY[dtype.kind]
    except KeyError:
        raise TypeError(f"dtype {dtype} is not supported (only bool, integer and float)") from None


def is_float(dtype):
    return dtype.kind == "f"


def _group_dtype(dtypes):
    """Promote within one priority group: only the highest category counts."""
    top = max(category(d) for d in dtypes)
    return top, np.result_type(*[d for d in dtypes if category(d) == top])


def result_dtype(*operands):
    """PyTorch's result dtype for an op on Tensors, arrays and Python numbers.

    Operands fall into three priority groups: tensors with dimensions, 0-d
    tensors, and Python numbers. The highest category wins; among the groups
    that reach it, the highest-priority group decides the dtype, and a
    Python number alone decides only the category (float -> float32).
    """
    groups = ([], [], [])
    for x in operands:
        if isinstance(x, bool):
            groups[2].append(bool_)
        elif isinstance(x, int):
            groups[2].append(int64)
        elif isinstance(x, float):
            groups[2].append(default_float)
        else:
            data = getattr(x, "_data", x)
            groups[0 if np.ndim(data) else 1].append(np.asarray(data).dtype)
    best_category, best = -1, None
    for group in groups[:2]:
        if group:
            cat, dtype = _group_dtype(group)
            if cat > best_category:
                best_category, best = cat, dtype
    if groups[2]:
        cat = max(category(d) for d in groups[2])
        if cat > best_category:
            best = _DEFAULT_FOR_CATEGORY[cat]
    return best


def float_result(dtype):
    """Float ops (exp, sqrt, division) turn bool and int inputs into float32."""
    return dtype if dtype.kind == "f" else default_float


def as_dtype(dtype):
    """Accept sg.float32, np.float32, 'float32', float, ...; refuse what a tensor can't hold."""
    if isinstance(dtype, UnsupportedDType) or (isinstance(dtype, str) and "bfloat16" in dtype):
        raise DTypeError("dtype: bfloat16 is not supported: NumPy has no bfloat16 type, and "
                         "scratchgrad computes in NumPy; use sg.float32 (or sg.float16)")
    try:
        result = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: {dtype!r} is not a dtype") from None
    if result.kind not in "biuf":
        raise TypeError(f"dtype: {result} is not supported (only bool, integer and float)")
    return result
