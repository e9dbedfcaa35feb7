"""Layer maths and losses as functions (PyTorch's torch.nn.functional, imported as F).

Everything here is composed from Tensor ops: there is no derivative code in this file.
"""
import math
import warnings

import numpy as np

from scratchgrad import convolution as C
from scratchgrad import ops, random
from scratchgrad import primitives as P
from scratchgrad.core import dtypes
from scratchgrad.core.engine import apply
from scratchgrad.core.errors import (
    DTypeError,
    ShapeError,
    ValueRangeError,
    describe_shape,
    user_stacklevel,
)
from scratchgrad.core.gradmode import no_grad
from scratchgrad.core.tensor import Tensor
from scratchgrad.ops import as_tensor, gelu, sigmoid, softplus, tanh, where
from scratchgrad.ops import inplace as inplace_ops
from scratchgrad.ops.elementwise import elementwise_function
from scratchgrad.ops.selection import one_hot

__all__ = [
    "avg_pool2d", "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "conv2d", "cross_entropy", "dropout", "embedding", "gelu", "l1_loss", "layer_norm",
    "leaky_relu", "linear", "log_softmax", "max_pool2d", "mse_loss", "nll_loss", "one_hot", "relu",
    "scaled_dot_product_attention", "sigmoid", "softmax", "softplus", "tanh",
]


def __dir__():
    """dir(F): the public functions only, not the modules and helpers they are built from."""
    return sorted(__all__)


# ---------------------------------------------------------------- layers

def linear(x, weight, bias=None):
    """x @ weightᵀ + bias, with weight of shape (out_features, in_features)."""
    x = as_tensor(x)
    if x.ndim == 0 or x.shape[-1] != weight.shape[-1]:
        raise ShapeError(f"linear: input of shape {describe_shape(x.shape)} doesn't fit a weight "
                         f"of shape {describe_shape(weight.shape)}: the input's last dimension "
                         f"must be {weight.shape[-1]} (in_features)")
    _check_dtypes("linear", x, weight=weight, bias=bias)
    args = (x._data, weight._data, None if bias is None else bias._data)
    return apply(P.linear, (x, weight, bias), args)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / Σ exp(x) along dim; without dim, PyTorch's deprecated implicit choice."""
    return _softmax_like(ops.softmax, "softmax", input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log softmax(x) along dim; without dim, PyTorch's deprecated implicit choice."""
    return _softmax_like(ops.log_softmax, "log_softmax", input, dim, dtype)


def _softmax_like(fn, name, input, dim, dtype):
    input = as_tensor(input)
    if dtype is not None:
        input = input.to(dtype)
    if dim is None:
        dim = _implicit_softmax_dim(name, input.ndim)
    return fn(input, dim)


def _implicit_softmax_dim(name, ndim):
    """PyTorch's choice when softmax gets no dim: 0 for 0-, 1- and 3-D inputs (a 3-D input was
    read as one unbatched (C, H, W) image), else 1; it warns that the choice is deprecated."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", UserWarning, stacklevel=user_stacklevel())
    return 0 if ndim in (0, 1, 3) else 1


def relu(input, inplace=False):
    """max(x, 0), elementwise; inplace=True writes the result into input, as PyTorch's."""
    return inplace_ops.in_place("relu_", input, ops.relu) if inplace else ops.relu(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x where x > 0, else negative_slope·x; inplace=True writes into input."""
    if inplace:
        return inplace_ops.in_place("leaky_relu_", input, ops.leaky_relu, negative_slope)
    return ops.leaky_relu(input, negative_slope)


def dropout(x, p=0.5, training=True, inplace=False):
    """In training, zero each element with probability p and scale the rest by 1/(1-p)
    (inplace=True writes into x)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability must be between 0 and 1, got {p}")
    if not training or p == 0:
        return x
    # PyTorch's arithmetic, for its numbers: a 0/1 noise of x's dtype, divided by 1 - p
    mask = random.bernoulli_array(x.shape, 1 - p).astype(x.dtype)
    if p == 1:
        mask[...] = 0
    else:
        mask /= x.dtype.type(1 - p)
    return inplace_ops.mul_(x, mask) if inplace else x * mask


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / √(var + eps) over the last dims, then · weight + bias."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.ndim - len(shape):]) != shape or len(shape) > x.ndim:
        raise ShapeError(f"layer_norm: normalized_shape {describe_shape(shape)} doesn't match the "
                         f"last dimensions of the input's shape {describe_shape(x.shape)}")
    _check_dtypes("layer_norm", x, reduced_ok=True, weight=weight, bias=bias)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    inputs = (x, weight, bias)
    args = tuple(None if t is None else as_tensor(t)._data for t in inputs)
    params = {"axes": axes, "eps": eps, "stats": P.Kept("x̂, 1/σ"), "memo": P.Memo(inputs)}
    return apply(P.layer_norm, inputs, args, params)


def _check_dtypes(op, x, reduced_ok=False, **parameters):
    """A layer's parameters must have its input's dtype: PyTorch refuses a float64 batch into a
    float32 layer (and an int batch) rather than promote it. Normalisations (reduced_ok) also
    take a float16 input with float32 parameters, as PyTorch's mixed-precision kernels do."""
    for name, p in parameters.items():
        if p is None or p.dtype == x.dtype:
            continue
        if reduced_ok and x.dtype == dtypes.float16 and p.dtype == dtypes.float32:
            continue
        raise DTypeError(f"{op}: the input is {x.dtype} but the {name} is {p.dtype}; they must "
                         f"have the same dtype (convert the input, e.g. x.to({p.dtype}), or the "
                         f"layer, e.g. layer.to({x.dtype}))")


def embedding(indices, weight, padding_idx=None):
    """Rows of weight picked by integer indices; the padding row gets no gradient."""
    indices = as_tensor(indices)
    if indices.dtype.kind not in "iu":
        raise DTypeError(f"embedding: indices must be integers, got {indices.dtype}")
    n = weight.shape[0]
    if indices._data.size and (indices._data.min() < 0 or indices._data.max() >= n):
        bad = indices._data[(indices._data < 0) | (indices._data >= n)].flat[0]
        raise IndexError(f"embedding: index {int(bad)} is out of range for {n} embeddings")
    rows = weight[indices]
    if padding_idx is not None:
        keep = Tensor._wrap((indices._data != padding_idx)[..., None])
        rows = where(keep, rows, rows.detach())
    return rows


# ---------------------------------------------------------------- attention

def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    """softmax(Q Kᵀ · scale + mask) V, scale = 1/√E by default. A bool attn_mask keeps the
    positions where it is True; a float one is added to the scores; is_causal keeps key j for
    query i when j <= i. Dropout (dropout_p > 0) applies to the attention weights."""
    op = "scaled_dot_product_attention"
    q, k, v = as_tensor(query), as_tensor(key), as_tensor(value)
    if enable_gqa:
        k, v = _repeat_heads(op, q, k), _repeat_heads(op, q, v)
    _check_attention_shapes(op, q, k, v)
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"{op}: explicit attn_mask should not be set when is_causal=True")
    bias, drop = None, None
    if attn_mask is not None:
        bias, drop = _attention_mask(op, "attn_mask", attn_mask, q, k, keep_where=True)
    if is_causal:
        drop = "causal"
    if dropout_p > 0:
        return dropout(_attention_weights(q, k, scale, bias, drop), dropout_p) @ v
    inputs = (q, k, v, bias)
    params = _attention_params(q, k, scale, drop, False) | {"weights": P.Kept("weights"),
                                                            "memo": P.Memo(inputs)}
    args = (q._data, k._data, v._data, None if bias is None else bias._data)
    return apply(P.attention if _flash_shapes(q, k, v) else P.attention_math, inputs, args, params)


def _flash_shapes(q, k, v):
    """Whether PyTorch's CPU attention would take its flash kernel (whose backward reads the
    output, so an in-place change to it raises there): 4-D inputs of one batch, head count and
    head size, non-empty, each row contiguous."""
    arrays = (q._data, k._data, v._data)
    return (all(a.ndim == 4 and a.size and a.strides[-1] == a.itemsize for a in arrays)
            and q.shape[:2] == k.shape[:2] == v.shape[:2]
            and q.shape[-1] == k.shape[-1] == v.shape[-1])


def _attention_weights(q, k, scale=None, bias=None, drop=None, masked_rows_nan=False):
    """softmax(Q Kᵀ · scale + bias) over the keys, -inf where drop (a bool array, or "causal"):
    one fused node (primitives.attention_weights)."""
    inputs = (q, k, bias)
    params = _attention_params(q, k, scale, drop, masked_rows_nan) | {"memo": P.Memo(inputs)}
    args = (q._data, k._data, None if bias is None else bias._data)
    return apply(P.attention_weights, inputs, args, params)


def _attention_params(q, k, scale, drop, masked_rows_nan):
    """The attention primitives' constants: the -inf mask where drop, the scale (1/√E by default)."""
    if isinstance(drop, str):
        masked = _causal_mask(q.shape[-2], k.shape[-2], q.dtype)
    else:
        masked = None if drop is None else np.where(drop, -np.inf, 0).astype(q.dtype)
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    return {"masked": masked, "scale": scale, "masked_rows_nan": masked_rows_nan}


def _attention_mask(op, name, mask, q, k, keep_where):
    """A mask as (float bias or None, bool drop array or None). keep_where=True: True keeps a
    position (scaled_dot_product_attention); False: True drops it (MultiheadAttention)."""
    mask = as_tensor(mask)
    scores_shape = np.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (q.shape[-2], k.shape[-2])
    try:
        fits = np.broadcast_shapes(mask.shape, scores_shape) == scores_shape
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"{op}: {name} of shape {describe_shape(mask.shape)} doesn't broadcast "
                         f"to the attention scores' shape {describe_shape(scores_shape)} "
                         "(batch..., L, S)")
    if mask.dtype == dtypes.bool_:
        return None, (~mask._data if keep_where else mask._data)
    if mask.dtype.kind != "f":
        raise DTypeError(f"{op}: {name} must be bool or floating point, got {mask.dtype}")
    return (mask if mask.dtype == q.dtype else mask.astype(q.dtype)), None


def _repeat_heads(op, q, kv):
    """Grouped-query attention: each of kv's heads (dimension -3) serves q.shape[-3] / its
    count query heads, as repeat_interleave would lay them out."""
    if q.ndim < 3 or kv.ndim < 3 or q.shape[-3] % kv.shape[-3]:
        raise ShapeError(f"{op}: enable_gqa needs the query's heads (dimension -3 of "
                         f"{describe_shape(q.shape)}) to be a multiple of the key's and value's "
                         f"(of {describe_shape(kv.shape)})")
    heads = np.repeat(np.arange(kv.shape[-3]), q.shape[-3] // kv.shape[-3])
    return kv[(Ellipsis, heads, slice(None), slice(None))]


def _check_attention_shapes(op, q, k, v):
    tensors = (("query", q), ("key", k), ("value", v))
    for name, t in tensors:
        if t.ndim < 2:
            raise ShapeError(f"{op}: {name} must have at least 2 dimensions (..., length, "
                             f"features), got shape {describe_shape(t.shape)}")
        if t.dtype.kind != "f" or t.dtype != q.dtype:
            raise DTypeError(f"{op}: query, key and value must have the same floating-point "
                             f"dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ShapeError(f"{op}: query of shape {describe_shape(q.shape)} and key of shape "
                         f"{describe_shape(k.shape)} must have the same last dimension (E)")
    if v.shape[-2] != k.shape[-2]:
        raise ShapeError(f"{op}: key of shape {describe_shape(k.shape)} and value of shape "
                         f"{describe_shape(v.shape)} must have the same length (dimension -2)")
    try:
        np.broadcast_shapes(*(t.shape[:-2] for _, t in tensors))
    except ValueError:
        raise ShapeError(f"{op}: the batch dimensions of query {describe_shape(q.shape)}, key "
                         f"{describe_shape(k.shape)} and value {describe_shape(v.shape)} don't "
                         "broadcast") from None


_causal_masks = {}


def _causal_mask(length, source, dtype):
    """-inf above the diagonal, 0 elsewhere: query i may not see key j > i (top-left aligned,
    as PyTorch's tril(ones(L, S))). Cached per shape and dtype: it is the same every step."""
    key = (length, source, dtype)
    mask = _causal_masks.get(key)
    if mask is None:
        mask = np.where(np.triu(np.ones((length, source), dtype=bool), k=1), -np.inf, 0)
        mask = mask.astype(dtype)
        mask.flags.writeable = False
        _causal_masks[key] = mask
    return mask

# ---------------------------------------------------------------- convolution and pooling
# Argument checks and PyTorch's argument forms here; the maths is in scratchgrad/convolution.py.

def _pair(op, name, value, minimum):
    """An int or a pair of ints (PyTorch's two forms) as a pair, each at least `minimum`."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    if not isinstance(pair, (tuple, list)):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if len(pair) != 2:
        raise ValueRangeError(f"{op}: expected {name} to be an int or a pair of ints, got {value!r}")
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{op}: {name} must be ints, got {value!r}")
    if min(pair) < minimum:
        sign = "positive" if minimum == 1 else "non-negative"
        raise ValueRangeError(f"{op}: {name} must be {sign}, got {value!r}")
    return tuple(int(v) for v in pair)


def _images(op, x):
    """The input as a batch of images (N, C, H, W); a single (C, H, W) image is a batch of one."""
    x = as_tensor(x)
    if x.ndim not in (3, 4):
        raise ShapeError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape "
                         f"{describe_shape(x.shape)}")
    if x.ndim == 3:
        return x.reshape((1,) + x.shape), True
    return x, False


def _unbatch(out, unbatched):
    return out.reshape(out.shape[1:]) if unbatched else out


def _conv_padding(padding, kernel, stride, dilation):
    """Padding as ((top, bottom), (left, right)); 'same' pads any odd extra at the bottom/right."""
    if not isinstance(padding, str):
        return tuple((p, p) for p in _pair("conv2d", "padding", padding, 0))
    if padding not in ("same", "valid"):
        raise ValueRangeError(f"conv2d: padding must be an int, a pair, 'same' or 'valid', "
                              f"got {padding!r}")
    if padding == "same" and stride != (1, 1):
        raise ValueRangeError(f"conv2d: padding='same' needs stride 1, got stride={stride}")
    totals = [d * (k - 1) if padding == "same" else 0 for k, d in zip(kernel, dilation)]
    return tuple((total // 2, total - total // 2) for total in totals)


def _check_kernel_fits(op, x, window):
    padded = [n + before + after for n, (before, after) in zip(x.shape[2:], window.padding)]
    spans = [d * (k - 1) + 1 for k, d in zip(window.kernel, window.dilation)]
    if any(span > n for span, n in zip(spans, padded)):
        raise ShapeError(f"{op}: the kernel {describe_shape(window.kernel)} (spanning "
                         f"{describe_shape(spans)} with dilation) is larger than the padded input "
                         f"{describe_shape(padded)} of an input of shape {describe_shape(x.shape)}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o, i, j] = bias[o] + Σ_c,a,b weight[o, c, a, b] · x[n, c, i·s + a·d - p, j·s + b·d - p]
    (a cross-correlation, as in PyTorch), channels split into `groups` independent convolutions."""
    x, unbatched = _images("conv2d", input)
    weight = as_tensor(weight)
    if weight.ndim != 4:
        raise ShapeError(f"conv2d: weight must be 4-D (out_channels, in_channels / groups, kH, kW), "
                         f"got shape {describe_shape(weight.shape)}")
    if x.dtype.kind != "f" or x.dtype != weight.dtype:
        raise DTypeError(f"conv2d: input ({x.dtype}) and weight ({weight.dtype}) must have the same "
                         "floating-point dtype")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueRangeError(f"conv2d: groups must be a positive int, got {groups!r}")
    out_channels, in_per_group, *kernel = weight.shape
    if out_channels % groups:
        raise ShapeError(f"conv2d: groups={groups} must divide the weight's out_channels, got a "
                         f"weight of shape {describe_shape(weight.shape)}")
    if x.shape[1] != in_per_group * groups:
        raise ShapeError(f"conv2d: input of shape {describe_shape(x.shape)} has {x.shape[1]} "
                         f"channels, but a weight of shape {describe_shape(weight.shape)} with "
                         f"groups={groups} expects {in_per_group * groups}")
    if bias is not None:
        bias = as_tensor(bias)
        if bias.shape != (out_channels,):
            raise ShapeError(f"conv2d: bias must be 1-D with {out_channels} elements (out_channels), "
                             f"got shape {describe_shape(bias.shape)}")
        if bias.dtype != weight.dtype:
            raise DTypeError(f"conv2d: bias ({bias.dtype}) must have the weight's dtype "
                             f"({weight.dtype})")
    if min(kernel) < 1:  # a Conv2d(1, 2, 0) can be built, as in PyTorch, but not run
        raise ValueRangeError(f"conv2d: kernel size must be positive, got {tuple(kernel)} (a weight "
                              f"of shape {describe_shape(weight.shape)})")
    stride = _pair("conv2d", "stride", stride, 1)
    dilation = _pair("conv2d", "dilation", dilation, 1)
    padding = _conv_padding(padding, tuple(kernel), stride, dilation)
    window = C.Window(tuple(kernel), stride, padding, dilation)
    _check_kernel_fits("conv2d", x, window)
    args = (x._data, weight._data, None if bias is None else bias._data)
    out = apply(C.conv2d, (x, weight, bias), args, {"window": window, "groups": int(groups)})
    return _unbatch(out, unbatched)


def _pool_window(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """The window of a pooling op, its padding widened at the end where ceil_mode needs it."""
    kernel = _pair(op, "kernel_size", kernel_size, 1)
    if stride is None or (isinstance(stride, (tuple, list)) and not stride):  # PyTorch accepts []
        stride = kernel
    stride = _pair(op, "stride", stride, 1)
    padding = _pair(op, "padding", padding, 0)
    dilation = _pair(op, "dilation", dilation, 1)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueRangeError(f"{op}: padding {describe_shape(padding)} must be at most half the "
                              f"kernel size {describe_shape(kernel)}")
    sizes, extras = [], []
    for n, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation):
        span = n + 2 * p - d * (k - 1) - 1
        size = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (size - 1) * s >= n + p:  # the last window must start inside the input
            size -= 1
        sizes.append(size)
        extras.append(max(0, (size - 1) * s + d * (k - 1) + 1 - (n + 2 * p)))
    if min(sizes) < 1:
        raise ShapeError(f"{op}: input of shape {describe_shape(x.shape)} is too small for kernel "
                         f"{describe_shape(kernel)} with padding {describe_shape(padding)} and "
                         f"dilation {describe_shape(dilation)}: the output would be "
                         f"{describe_shape(sizes)}")
    padding = tuple((p, p + extra) for p, extra in zip(padding, extras))
    return C.Window(kernel, stride, padding, dilation)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The largest element of each window (padding counts as -inf). Its gradient goes to that
    element; on a tie, to the first in the window, row by row, as in PyTorch."""
    x, unbatched = _images("max_pool2d", input)
    window = _pool_window("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    out = apply(C.max_pool2d, (x,), (x._data,), {"window": window})
    if not return_indices:
        return _unbatch(out, unbatched)
    return _unbatch(out, unbatched), _unbatch(_flat_indices(x, out, window), unbatched)


def _flat_indices(x, out, window):
    """Where each window's maximum lies in its (H, W) plane, as PyTorch's row-major flat index."""
    masks = C.first_max_masks(x._data, out._data, window)
    offset = sum(k * mask for k, mask in enumerate(masks)).transpose(0, 3, 1, 2)  # (N, C, Ho, Wo)
    kw, (sh, sw), (dh, dw) = window.kernel[1], window.stride, window.dilation
    (top, _), (left, _) = window.padding
    ho, wo = offset.shape[2:]
    rows = np.arange(ho)[:, None] * sh + offset // kw * dh - top
    cols = np.arange(wo) * sw + offset % kw * dw - left
    return Tensor._wrap((rows * x.shape[3] + cols).astype(dtypes.int64))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """The mean of each window: its sum over kh·kw (padding zeros included unless
    count_include_pad=False; ceil_mode's extra windows never count what lies past the padding)."""
    x, unbatched = _images("avg_pool2d", input)
    window = _pool_window("avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and divisor_override <= 0:
        raise ValueRangeError(f"avg_pool2d: divisor_override must be positive, got {divisor_override}")
    sums = apply(C.window_sum, (x,), (x._data,), {"window": window})
    divisor = _pool_divisor(x.shape, window, count_include_pad, divisor_override)
    if x.dtype.kind != "f":  # integers: a truncated mean, as in PyTorch
        out = Tensor._wrap((sums._data / divisor).astype(x.dtype))
    else:
        out = sums / Tensor._wrap(np.asarray(divisor, dtype=x.dtype))
    return _unbatch(out, unbatched)


def _pool_divisor(shape, window, count_include_pad, divisor_override):
    """What each window's sum is divided by: a number, or one per output pixel (Ho, Wo)."""
    if divisor_override is not None:
        return divisor_override
    (top, bottom), (left, right) = window.padding
    if top == bottom == left == right == 0 or (count_include_pad and top == bottom and left == right):
        return window.kernel[0] * window.kernel[1]
    # Count, per window, the cells that are input (or declared padding): a window sum of ones.
    h, w = shape[2:]
    if count_include_pad:
        h, w = h + 2 * top, w + 2 * left
        counted = window._replace(padding=((0, bottom - top), (0, right - left)))
    else:
        counted = window
    return C.window_sum.forward(np.ones((1, 1, h, w)), counted)[0, 0]


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """(x - mean) / √(var + eps) per channel (axis 1), then · weight + bias. Training uses the
    batch's mean and biased variance, and moves running_mean/var towards the batch's mean and
    unbiased variance by `momentum`; otherwise the running statistics are used."""
    x = as_tensor(input)
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: expected an input with a channel dimension (N, C, ...), got "
                         f"shape {describe_shape(x.shape)}")
    channels = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise ShapeError(f"batch_norm: input of shape {describe_shape(x.shape)} has {channels} "
                             f"channels, but {name} has shape {describe_shape(t.shape)}")
    _check_dtypes("batch_norm", x, reduced_ok=True, weight=weight, bias=bias,
                  running_mean=running_mean, running_var=running_var)
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: evaluation (training=False) needs running_mean and running_var")
    axes = (0, *range(2, x.ndim))
    per_channel = (1, channels) + (1,) * (x.ndim - 2)
    if training:
        count = x.size // channels if channels else 0
        if count <= 1:
            raise ValueRangeError(f"batch_norm: expected more than 1 value per channel when "
                                  f"training, got input of shape {describe_shape(x.shape)}")
        mean = x.mean(axes, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(axes, keepdims=True)
        out = centred * (variance + eps) ** -0.5
        if running_mean is not None:
            with no_grad():
                _move_towards(running_mean, mean._data.reshape(-1), momentum)
                _move_towards(running_var, variance._data.reshape(-1) * (count / (count - 1)), momentum)
    else:
        mean = np.reshape(running_mean._data, per_channel).astype(x.dtype)
        scale = 1 / np.sqrt(np.reshape(running_var._data, per_channel).astype(x.dtype) + eps)
        out = (x - Tensor._wrap(mean)) * Tensor._wrap(scale.astype(x.dtype))
    if weight is not None:
        out = out * weight.reshape(per_channel).to(x.dtype)  # float16 in, float16 out
    return out if bias is None else out + bias.reshape(per_channel).to(x.dtype)


def _move_towards(running, value, momentum):
    """running ← (1 - momentum)·running + momentum·value, in place (state dicts share the array)."""
    running._data *= 1 - momentum
    running._data += momentum * value.astype(running.dtype)


# ---------------------------------------------------------------- losses

def _reduce(name, loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _same_shape(name, input, target):
    if input.shape != target.shape:
        warnings.warn(f"{name}: target shape {describe_shape(target.shape)} differs from input "
                      f"shape {describe_shape(input.shape)}; they will be broadcast, which is "
                      "probably not what you want", UserWarning, stacklevel=user_stacklevel())


def mse_loss(input, target, reduction="mean"):
    """mean of (input - target)²."""
    input, target = as_tensor(input), as_tensor(target)
    _same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce("mse_loss", diff * diff, reduction)


def l1_loss(input, target, reduction="mean"):
    """mean of |input - target|."""
    input, target = as_tensor(input), as_tensor(target)
    _same_shape("l1_loss", input, target)
    return _reduce("l1_loss", (input - target).abs(), reduction)


def _class_weights(name, target, n_classes, weight, ignore_index):
    """Per-element one-hot rows times the class weight; ignored targets get an all-zero row.

    Picking log-probabilities by multiplying with this constant (instead of indexing) keeps
    backward a plain product, with no scatter.
    """
    t = target._data
    if t.dtype.kind not in "iu":
        raise DTypeError(f"{name}: class targets must be integers (int64), got {t.dtype}; "
                         "use a float target of the input's shape for class probabilities")
    ignored = t == ignore_index
    any_ignored = ignored.any()
    if t.size and (any_ignored or t.min() < 0 or t.max() >= n_classes):
        bad = ~ignored & ((t < 0) | (t >= n_classes))
        if bad.any():
            raise IndexError(f"{name}: target {int(t[bad].flat[0])} is out of bounds for "
                             f"{n_classes} classes")
    w = np.ones(n_classes) if weight is None else np.asarray(as_tensor(weight)._data, np.float64)
    if w.shape != (n_classes,):
        raise ShapeError(f"{name}: weight has shape {describe_shape(w.shape)}, expected "
                         f"({n_classes},)")
    if weight is None and not any_ignored:  # the common case: plain one-hot rows
        return np.arange(n_classes) == t[..., None], w
    safe = np.where(ignored, 0, t)
    onehot = np.arange(n_classes) == safe[..., None]
    return onehot * (w[safe] * ~ignored)[..., None], w


def _classes_last(name, input, target):
    """Move the class axis (1, or 0 for a single sample) last, checking the target's shape."""
    if input.ndim == 0:
        raise ShapeError(f"{name}: input must have a class dimension, got a 0-d tensor")
    class_axis = 0 if input.ndim == 1 else 1
    expected = input.shape[:class_axis] + input.shape[class_axis + 1:]
    if target.shape != expected:
        raise ShapeError(f"{name}: input of shape {describe_shape(input.shape)} needs a target of "
                         f"shape {describe_shape(expected)}, got {describe_shape(target.shape)}")
    if class_axis == 1 and input.ndim > 2:
        input = input.permute(0, *range(2, input.ndim), 1)
    return input


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """-input[n, target[n]] (input holds log-probabilities), weighted; mean over the weights."""
    input, target = as_tensor(input), as_tensor(target)
    logp = _classes_last("nll_loss", input, target)
    picks, _ = _class_weights("nll_loss", target, logp.shape[-1], weight, ignore_index)
    losses = -(logp * picks.astype(logp.dtype)).sum(-1)
    if reduction == "mean":
        return _weighted_mean(losses, picks)
    return _reduce("nll_loss", losses, reduction)


def _weighted_mean(losses, picks):
    """Σ losses / Σ weights; with every target ignored the value is NaN and the gradient 0,
    as in PyTorch (a batch of padding must not poison the weights)."""
    total = float(picks.sum())
    return losses.sum() / total if total else losses.sum() + math.nan


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """-log softmax(input)[target], weighted: stable for logits of any size (±1e4 included).

    target holds class indices (int64), or class probabilities (float, the input's shape).
    """
    input, target = as_tensor(input), as_tensor(target)
    if input.dtype.kind != "f":
        input = input.float()
    if target.dtype.kind == "f":
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    if (input.ndim == 2 and reduction == "mean" and weight is None and not label_smoothing
            and ignore_index < 0 and target.shape == input.shape[:1] and target._data.size
            and target.dtype.kind in "iu" and 0 <= target._data.min()
            and target._data.max() < input.shape[1]):  # the everyday case: one node
        return apply(P.cross_entropy_mean, (input, target), (input._data, target._data),
                     {"softmax": P.Kept("softmax")})
    logits = _classes_last("cross_entropy", input, target)
    n_classes = logits.shape[-1]
    picks, w = _class_weights("cross_entropy", target, n_classes, weight, ignore_index)
    soft = picks
    if label_smoothing:  # each target becomes (1 - ε) on its class plus ε/C on every class
        valid = target._data != ignore_index
        soft = picks * (1 - label_smoothing) + (w * valid[..., None]) * (label_smoothing / n_classes)
    losses = _softmax_cross_entropy(logits, Tensor._wrap(soft.astype(logits.dtype)))
    if reduction == "mean":
        return _weighted_mean(losses, picks)
    return _reduce("cross_entropy", losses, reduction)


def _soft_cross_entropy(input, target, weight, reduction, label_smoothing):
    if target.shape != input.shape:
        raise ShapeError(f"cross_entropy: probability targets must have the input's shape "
                         f"{describe_shape(input.shape)}, got {describe_shape(target.shape)}")
    class_axis = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_axis]
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    if weight is not None:
        shape = [1] * input.ndim
        shape[class_axis] = n_classes
        target = target * as_tensor(weight).reshape(shape)
    if class_axis == 1 and input.ndim > 2:
        order = (0, *range(2, input.ndim), 1)
        input, target = input.permute(order), target.permute(order)
    losses = _softmax_cross_entropy(input, target)
    if reduction == "mean":
        return losses.sum() / math.prod(losses.shape) if losses.ndim else losses
    return _reduce("cross_entropy", losses, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """-[t·log σ(x) + (1-t)·log(1-σ(x))], computed as (1-t)·x + softplus(-x): finite for any x."""
    input, target = as_tensor(input), as_tensor(target)
    if input.shape != target.shape:
        raise ShapeError(f"binary_cross_entropy_with_logits: target shape "
                         f"{describe_shape(target.shape)} must be the same as input shape "
                         f"{describe_shape(input.shape)}")
    if target.dtype.kind != "f":  # PyTorch can't store the float loss in an int or bool target's type
        raise DTypeError(f"binary_cross_entropy_with_logits: the target must be floating point, "
                         f"got {target.dtype}; convert it with target.float()")
    if pos_weight is None:
        losses = _bce_with_logits(input, target)
    else:
        log_one_plus = softplus(-input)  # log(1 + e^-x) = -log σ(x)
        log_one_plus = log_one_plus * (1 + (as_tensor(pos_weight) - 1) * target)
        losses = (1 - target) * input + log_one_plus
    if weight is not None:
        losses = losses * weight
    return _reduce("binary_cross_entropy_with_logits", losses, reduction)


_binary_cross_entropy = elementwise_function(P.binary_cross_entropy, "elementwise BCE")
_softmax_cross_entropy = elementwise_function(P.softmax_cross_entropy,
                                             "per-row cross-entropy of softmax(logits)")
_bce_with_logits = elementwise_function(P.binary_cross_entropy_with_logits,
                                        "elementwise BCE of sigmoid(x)")


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-[t·log p + (1-t)·log(1-p)] on probabilities; logs are clamped at -100 as in PyTorch."""
    input, target = as_tensor(input), as_tensor(target)
    if input.shape != target.shape:
        raise ShapeError(f"binary_cross_entropy: target shape {describe_shape(target.shape)} "
                         f"must be the same as input shape {describe_shape(input.shape)}")
    if target.dtype != input.dtype:  # PyTorch wants the input's dtype exactly (int targets too)
        raise DTypeError(f"binary_cross_entropy: found target dtype {target.dtype} but expected "
                         f"{input.dtype} (the input's); convert it with target.to({input.dtype})")
    # Written as "not inside" so that nan is refused too, as in PyTorch.
    if not ((input._data >= 0) & (input._data <= 1)).all():
        raise ValueRangeError("binary_cross_entropy: every input must be a probability in "
                              "[0, 1]; for logits use binary_cross_entropy_with_logits")
    if not ((target._data >= 0) & (target._data <= 1)).all():
        raise ValueRangeError("binary_cross_entropy: every target must be in [0, 1]")
    losses = _binary_cross_entropy(input, target)
    if weight is not None:
        losses = losses * weight
    return _reduce("binary_cross_entropy", losses, reduction)
