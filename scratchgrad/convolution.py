"""The convolution and pooling primitives: each forward with its derivative rules beside it.

Images are NCHW-shaped, as in PyTorch. Every op here reads an image through its *windows*:
the (kh, kw) patches a kernel sees, one per output pixel, found with a strided view
(`as_strided`), never a Python loop over pixels or batch elements.

Arrays these ops make are laid out channels-last in memory (an NCHW-shaped view of NHWC data):
a window copy then moves whole runs of channels at a time, which is ~10x faster than copying
3-element kernel rows out of NCHW data (measured: 0.5 ms vs 6-8 ms for a (64, 32, 14, 14) image).

Three pairs of linear maps, each pair the other's adjoint, so every rule is one line that calls
the other member of its pair (and so works under create_graph too):
  unfold / fold                       an image's windows, and summing windows back into an image
  take_along_axis / put_along_axis    one element per window (max pooling), and its scatter
  conv2d / conv2d_input_grad / conv2d_weight_grad   convolution, bilinear in (x, w)
"""
from collections import namedtuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from scratchgrad.autograd import Primitive, call

# The geometry of a sliding window, each entry per spatial dimension (height, width):
# kernel and stride sizes, padding as (before, after) pairs, dilation (gaps between taps).
Window = namedtuple("Window", "kernel stride padding dilation")


def output_size(size, window):
    """Output (height, width) of a window sliding over an input of (height, width) `size`."""
    return tuple((n + before + after - d * (k - 1) - 1) // s + 1
                 for n, (before, after), k, s, d in zip(size, window.padding, window.kernel,
                                                        window.stride, window.dilation))


def _channels_last(x):
    """x (N, C, H, W) as an (N, H, W, C) view: no copy."""
    return x.transpose(0, 2, 3, 1)


def _window_view(image, window, out_hw):
    """An (N, Ho, Wo, kh, kw, C) strided view of the channels-last, padded image (N, Hp, Wp, C)."""
    n_stride, h_stride, w_stride, c_stride = image.strides
    (sh, sw), (dh, dw) = window.stride, window.dilation
    shape = (image.shape[0], *out_hw, *window.kernel, image.shape[3])
    strides = (n_stride, h_stride * sh, w_stride * sw, h_stride * dh, w_stride * dw, c_stride)
    return as_strided(image, shape, strides, writeable=False)


def _padded(x, window, value):
    """x (N, C, H, W) padded by window.padding, as a channels-last (N, Hp, Wp, C) array."""
    (top, bottom), (left, right) = window.padding
    if top == bottom == left == right == 0:
        return _channels_last(x)
    n, c, h, w = x.shape
    image = np.full((n, h + top + bottom, w + left + right, c), value, dtype=x.dtype)
    image[:, top:top + h, left:left + w] = _channels_last(x)
    return image


# ---------------------------------------------------------------- windows (im2col) and back

def _unfold(x, window, value):
    """x (N, C, H, W) -> every window, (N, Ho, Wo, kh, kw, C): padding reads as `value`."""
    out_hw = output_size(x.shape[2:], window)
    return np.ascontiguousarray(_window_view(_padded(x, window, value), window, out_hw))


def _overlaps(window):
    """Can two windows share an input element? Not when the stride clears the dilated kernel."""
    return any(s < d * (k - 1) + 1
               for k, s, d in zip(window.kernel, window.stride, window.dilation))


def _fold(cols, shape, window):
    """Windows (N, Ho, Wo, kh, kw, C) -> image of `shape` (N, C, H, W): each element is the sum
    of its copies in every window (the adjoint of unfold); padding is dropped."""
    n, c, h, w = shape
    (top, bottom), (left, right) = window.padding
    image = np.zeros((n, h + top + bottom, w + left + right, c), dtype=cols.dtype)
    ho, wo = cols.shape[1:3]
    if not _overlaps(window):  # each element sits in at most one window: one strided copy
        as_strided(image, cols.shape, _window_view(image, window, (ho, wo)).strides)[...] = cols
    else:  # one strided add per kernel offset (kh·kw of them), never a loop over pixels
        (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
        for i in range(kh):
            for j in range(kw):
                image[:, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                      j * dw:j * dw + sw * (wo - 1) + 1:sw] += cols[:, :, :, i, j]
    return image[:, top:top + h, left:left + w].transpose(0, 3, 1, 2)


unfold = Primitive("unfold", _unfold,
                   lambda g, ans, x, window, value: call(fold, g, shape=x.shape, window=window),
                   saves=False)
fold = Primitive("fold", _fold,
                 lambda g, ans, cols, shape, window: call(unfold, g, window=window, value=0),
                 saves=False)


# ---------------------------------------------------------------- one element per window

def _put_along_axis(g, index, axis, shape):
    """Zeros of `shape` with g written where `index` points (one index per position)."""
    out = np.zeros(shape, dtype=g.dtype)
    np.put_along_axis(out, index, g, axis)
    return out


take_along_axis = Primitive(
    "take_along_axis", lambda x, index, axis: np.take_along_axis(x, index, axis),
    lambda g, ans, x, index, axis: call(put_along_axis, g, index=index, axis=axis, shape=x.shape),
    saves=False)
put_along_axis = Primitive(
    "put_along_axis", _put_along_axis,
    lambda g, ans, y, index, axis, shape: call(take_along_axis, g, index=index, axis=axis),
    saves=False)


# ---------------------------------------------------------------- convolution
# With G groups, channel c belongs to group c // (C/G) and output channel o to o // (O/G);
# each group is its own matrix product, so all three ops are one batched matmul over groups.
# A "row" is one output pixel (n, y, x); a "column" one (kernel offset, input channel) pair.

def _group_cols(cols, groups):
    """Windows (N, Ho, Wo, kh, kw, C) -> (G, rows, kh·kw·C/G), one matrix per group."""
    n, ho, wo, kh, kw, c = cols.shape
    by_group = cols.reshape(n * ho * wo, kh * kw, groups, c // groups).transpose(2, 0, 1, 3)
    return by_group.reshape(groups, n * ho * wo, kh * kw * (c // groups))


def _ungroup_cols(cols, shape):
    """The inverse of _group_cols: (G, rows, kh·kw·C/G) -> windows of `shape`."""
    groups, rows = cols.shape[:2]
    kh, kw, c = shape[3:]
    return cols.reshape(groups, rows, kh * kw, c // groups).transpose(1, 2, 0, 3).reshape(shape)


def _group_weight(w, groups):
    """Weight (O, C/G, kh, kw) -> (G, O/G, kh·kw·C/G), columns ordered like _group_cols."""
    o, cg, kh, kw = w.shape
    return w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 1, 3, 4, 2).reshape(
        groups, o // groups, kh * kw * cg)


def _ungroup_weight(w, shape):
    """The inverse of _group_weight: (G, O/G, kh·kw·C/G) -> a weight of `shape`."""
    groups, og = w.shape[:2]
    _, cg, kh, kw = shape
    return w.reshape(groups, og, kh, kw, cg).transpose(0, 1, 4, 2, 3).reshape(shape)


def _group_pixels(y, groups):
    """An output (N, O, Ho, Wo) -> (G, rows, O/G)."""
    n, o, ho, wo = y.shape
    return _channels_last(y).reshape(n * ho * wo, groups, o // groups).transpose(1, 0, 2)


def _ungroup_pixels(y, shape):
    """The inverse of _group_pixels: (G, rows, O/G) -> (N, O, Ho, Wo), channels-last in memory."""
    n, o, ho, wo = shape
    return y.transpose(1, 0, 2).reshape(n, ho, wo, o).transpose(0, 3, 1, 2)


def _conv2d(x, w, b, window, groups):
    """y[n, o] = Σ_(c, i, j) w[o, c, i, j] · x[n, c] shifted by (i, j), plus b[o]: one matmul
    of the windows (rows: output pixels) by the weight (columns: kernel offset and channel)."""
    cols = _unfold(x, window, 0)
    y = _group_cols(cols, groups) @ _group_weight(w, groups).transpose(0, 2, 1)
    if b is not None:
        y += b.reshape(groups, 1, -1)
    n, ho, wo = cols.shape[:3]
    return _ungroup_pixels(y, (n, w.shape[0], ho, wo))


def _conv2d_weight_grad(x, g, shape, window, groups):
    """dL/dw = Σ over pixels of g times x's windows: windows (again) times g, one matmul."""
    cols = _group_cols(_unfold(x, window, 0), groups)
    return _ungroup_weight(_group_pixels(g, groups).transpose(0, 2, 1) @ cols, shape)


def _conv2d_input_grad(g, w, shape, window, groups):
    """dL/dx: each output pixel's g, through the weight, back into its window (a transposed
    convolution): the windows' gradient g·w, summed back into the image by fold."""
    n, c, ho, wo = shape[0], shape[1], *g.shape[2:]
    cols = _group_pixels(g, groups) @ _group_weight(w, groups)
    cols = _ungroup_cols(cols, (n, ho, wo, *window.kernel, c))
    return _fold(cols, shape, window)


conv2d = Primitive(
    "conv2d", _conv2d,
    lambda g, ans, x, w, b, window, groups: call(
        conv2d_input_grad, g, w, shape=x.shape, window=window, groups=groups),
    lambda g, ans, x, w, b, window, groups: call(
        conv2d_weight_grad, x, g, shape=w.shape, window=window, groups=groups),
    lambda g, ans, x, w, b, window, groups: g.sum(axis=(0, 2, 3)))
# Both gradients are linear in each argument, so their rules are the three ops again:
# <G, input_grad(g, w)> = <conv2d(G, w), g> = <w, weight_grad(G, g)>.
conv2d_input_grad = Primitive(
    "conv2d_input_grad", _conv2d_input_grad,
    lambda gg, ans, g, w, shape, window, groups: call(
        conv2d, gg, w, None, window=window, groups=groups),
    lambda gg, ans, g, w, shape, window, groups: call(
        conv2d_weight_grad, gg, g, shape=w.shape, window=window, groups=groups))
conv2d_weight_grad = Primitive(
    "conv2d_weight_grad", _conv2d_weight_grad,
    lambda gw, ans, x, g, shape, window, groups: call(
        conv2d_input_grad, g, gw, shape=x.shape, window=window, groups=groups),
    lambda gw, ans, x, g, shape, window, groups: call(
        conv2d, x, gw, None, window=window, groups=groups))
