"""Layer maths and losses as functions (PyTorch's torch.nn.functional, imported as F).

Everything here is composed from Tensor ops: there is no derivative code in this file.
"""
import math
import warnings

import numpy as np

from scratchgrad import dtypes, factories
from scratchgrad import primitives as P
from scratchgrad.autograd import apply
from scratchgrad.errors import DTypeError, ShapeError, ValueRangeError, describe_shape
from scratchgrad.ops import (
    as_tensor,
    elementwise_function,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    softplus,
    tanh,
    where,
)
from scratchgrad.tensor import Tensor

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout",
    "embedding", "gelu", "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax",
    "mse_loss", "nll_loss", "relu", "sigmoid", "softmax", "softplus", "tanh",
]


# ---------------------------------------------------------------- layers

def linear(x, weight, bias=None):
    """x @ weightᵀ + bias, with weight of shape (out_features, in_features)."""
    x = as_tensor(x)
    if x.ndim == 0 or x.shape[-1] != weight.shape[-1]:
        raise ShapeError(f"linear: input of shape {describe_shape(x.shape)} doesn't fit a weight "
                         f"of shape {describe_shape(weight.shape)}: the input's last dimension "
                         f"must be {weight.shape[-1]} (in_features)")
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        out = x @ weight.T  # mixed dtypes: the general ops apply PyTorch's promotion rules
        return out if bias is None else out + _same_rank(bias, out)
    args = (x.data, weight.data, None if bias is None else bias.data)
    return apply(P.linear, (x, weight, bias), args)


def dropout(x, p=0.5, training=True):
    """In training, zero each element with probability p and scale the rest by 1/(1-p)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability must be between 0 and 1, got {p}")
    if not training or p == 0:
        return x
    keep = factories.generator().random(x.shape) >= p
    scale = 0.0 if p == 1 else 1.0 / (1 - p)
    return x * (keep * scale).astype(x.dtype)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / √(var + eps) over the last dims, then · weight + bias."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.ndim - len(shape):]) != shape or len(shape) > x.ndim:
        raise ShapeError(f"layer_norm: normalized_shape {describe_shape(shape)} doesn't match the "
                         f"last dimensions of the input's shape {describe_shape(x.shape)}")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    centred = x - x.mean(axes, keepdims=True)
    variance = (centred * centred).mean(axes, keepdims=True)
    out = centred * (variance + eps) ** -0.5
    if weight is not None:
        out = out * _same_rank(weight, out)
    return out if bias is None else out + _same_rank(bias, out)


def _same_rank(parameter, x):
    """parameter with leading 1s up to x's rank: broadcasting stays within a rank, so layers
    never trip sg.set_broadcast_mode("raise")."""
    parameter = as_tensor(parameter)
    return parameter.reshape((1,) * (x.ndim - parameter.ndim) + parameter.shape)


def embedding(indices, weight, padding_idx=None):
    """Rows of weight picked by integer indices; the padding row gets no gradient."""
    indices = as_tensor(indices)
    if indices.dtype.kind not in "iu":
        raise DTypeError(f"embedding: indices must be integers, got {indices.dtype}")
    n = weight.shape[0]
    if indices.data.size and (indices.data.min() < 0 or indices.data.max() >= n):
        bad = indices.data[(indices.data < 0) | (indices.data >= n)].flat[0]
        raise IndexError(f"embedding: index {int(bad)} is out of range for {n} embeddings")
    rows = weight[indices]
    if padding_idx is not None:
        keep = Tensor._wrap((indices.data != padding_idx)[..., None])
        rows = where(keep, rows, rows.detach())
    return rows


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
                      "probably not what you want", UserWarning, stacklevel=3)


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
    t = target.data
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
    w = np.ones(n_classes) if weight is None else np.asarray(as_tensor(weight).data, np.float64)
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
    logits = _classes_last("cross_entropy", input, target)
    n_classes = logits.shape[-1]
    picks, w = _class_weights("cross_entropy", target, n_classes, weight, ignore_index)
    soft = picks
    if label_smoothing:  # each target becomes (1 - ε) on its class plus ε/C on every class
        valid = target.data != ignore_index
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
    if ((input.data < 0) | (input.data > 1)).any():
        raise ValueRangeError("binary_cross_entropy: every input must be a probability in "
                              "[0, 1]; for logits use binary_cross_entropy_with_logits")
    losses = _binary_cross_entropy(input, target)
    if weight is not None:
        losses = losses * weight
    return _reduce("binary_cross_entropy", losses, reduction)


def one_hot(indices, num_classes=-1):
    """int64 one-hot rows for integer class indices."""
    t = as_tensor(indices).data
    if t.dtype.kind not in "iu":
        raise DTypeError(f"one_hot: indices must be integers, got {t.dtype}")
    n = (int(t.max()) + 1 if t.size else 0) if num_classes == -1 else num_classes
    if t.size and (t.min() < 0 or t.max() >= n):
        raise ValueRangeError(f"one_hot: indices must be in [0, {n}), got values from "
                              f"{int(t.min())} to {int(t.max())}")
    return Tensor._wrap((np.arange(n) == t[..., None]).astype(dtypes.int64))
