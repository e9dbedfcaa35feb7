"""scratchgrad: a tensor library with reverse-mode automatic differentiation, built on NumPy.

    import scratchgrad as sg
    x = sg.tensor(2.0, requires_grad=True)
    y = sg.tensor(3.0, requires_grad=True)
    z = (x**2 + y)**2
    z.backward()      # x.grad = 56, y.grad = 14
"""
from scratchgrad import autograd  # noqa: F401  (first: tensor.py relies on it)
from scratchgrad.autograd import enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled
from scratchgrad.dtypes import bool_ as bool
from scratchgrad.dtypes import float16, float32, float64, int32, int64
from scratchgrad.errors import AxisError, DTypeError, GradcheckError, GraphError, ShapeError
from scratchgrad.factories import (arange, eye, full, full_like, linspace, manual_seed, ones,
                                   ones_like, rand, rand_like, randint, randn, randn_like, tensor,
                                   zeros, zeros_like)
from scratchgrad.function import Function, FunctionCtx
from scratchgrad.gradcheck import gradcheck
from scratchgrad.ops import (abs, add, all, amax, amin, any, argmax, argmin, as_tensor,
                             broadcast_to, cast, cat, clamp, clip, clone, concatenate, cos, div,
                             eq, erf, exp, expand, flatten, ge, gelu, gt, isfinite, isnan, le,
                             leaky_relu, log, log_softmax, logical_and, logical_not, logical_or,
                             logsumexp, lt, matmul, max, maximum, mean, min, minimum, mul, ne,
                             neg, pad, permute, pow, prod, relu, reshape, sigmoid, sign, sin,
                             softmax, softplus, split, sqrt, squeeze, stack, std, sub, sum, tanh,
                             transpose, unsqueeze, var, view, where)
from scratchgrad.tensor import Size, Tensor

__version__ = "0.1.0"

float = float32   # sg.float and sg.double, as torch.float and torch.double
double = float64
long = int64
