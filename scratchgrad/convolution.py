"""The convolution and pooling primitives: each forward with its derivative rules beside it.

Images are NCHW-shaped, as in PyTorch. Every op here reads an image through its *windows*, the
(kh, kw) patches a kernel sees, one per output pixel: either copied out at once through a strided
view (`as_strided`, for convolution's one matrix product), or one kernel offset at a time, each
offset a strided slice that holds that offset's element of every window (pooling). There is never
a Python loop over pixels or batch elements; loops run over the kh·kw kernel offsets at most.

The arrays these ops make are laid out channels-last in memory (NCHW-shaped views of NHWC data):
copying windows then moves whole runs of channels, ~10x faster than 3-element kernel rows out of
NCHW data (measured: 0.5-0.7 ms vs 6-8 ms for the windows of a (64, 32, 14, 14) image).

Each rule is one line that calls a primitive of this module, so rules work on Tensors too
(create_graph=True): the ops come in groups of linear maps that are each other's adjoints.
  window_sum / window_spread        the sum of each window (average pooling), and its adjoint
  max_pool2d, max_pool2d_scatter / max_pool2d_gather
                                    the maximum of each window; sending a gradient to where the
                                    maximum was, and reading one from there
  conv2d, conv2d_input_grad, conv2d_weight_grad
                                    convolution, bilinear in (x, w), and its two gradients

conv2d is a primitive rather than a composite because it measured as fast and reads better: one
node in the graph instead of seven. Per SGD step of a digits / MNIST-shaped CNN: as a primitive
2.5 / 36-38 ms; as windows (a primitive pair) times `linear` 2.4 / 38-39 ms; composed from the
primitives that existed before it (pad, a slice and a matmul per kernel offset) ~5x slower.
"""
from collections import namedtuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from scratchgrad.core.engine import Primitive, call
from scratchgrad.core.quiet import quietly

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


def _padded(x, window, value):
    """x (N, C, H, W) padded by window.padding, as a channels-last (N, Hp, Wp, C) array."""
    (top, bottom), (left, right) = window.padding
    if top == bottom == left == right == 0:
        return _channels_last(x)
    n, c, h, w = x.shape
    image = np.full((n, h + top + bottom, w + left + right, c), value, dtype=x.dtype)
    image[:, top:top + h, left:left + w] = _channels_last(x)
    return image


def _offsets(window, out_hw):
    """Per kernel offset, row by row, the (rows, columns) slices of the padded image that hold
    that offset's element of every window."""
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    ho, wo = out_hw
    return [(slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
             slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)) for i in range(kh) for j in range(kw)]


def _overlaps(window):
    """Can two windows share an input element? Not when the stride clears the dilated kernel."""
    return any(s < d * (k - 1) + 1
               for k, s, d in zip(window.kernel, window.stride, window.dilation))


def _unfold(x, window, value):
    """x (N, C, H, W) -> a copy of every window, (N, Ho, Wo, kh, kw, C); padding reads as value."""
    image = _padded(x, window, value)
    out_hw = output_size(x.shape[2:], window)
    n, c = x.shape[:2]
    kh, kw = window.kernel
    if c < kh * kw:  # few channels: a copy per offset moves whole rows, not kw-element runs
        cols = np.empty((n, *out_hw, kh, kw, c), dtype=x.dtype)
        for k, (rows, columns) in enumerate(_offsets(window, out_hw)):
            cols[:, :, :, k // kw, k % kw] = image[:, rows, columns]
        return cols
    n_stride, h_stride, w_stride, c_stride = image.strides
    (sh, sw), (dh, dw) = window.stride, window.dilation
    strides = (n_stride, h_stride * sh, w_stride * sw, h_stride * dh, w_stride * dw, c_stride)
    return np.ascontiguousarray(as_strided(image, (n, *out_hw, kh, kw, c), strides,
                                           writeable=False))


def _scatter(parts, shape, window, masks=None):
    """The adjoint of reading each offset's slice: each offset's part (N, Ho, Wo, C), times its
    mask if given, added back where that slice came from, in an image of `shape` (N, C, H, W)."""
    n, c, h, w = shape
    (top, bottom), (left, right) = window.padding
    image = np.zeros((n, h + top + bottom, w + left + right, c), dtype=parts[0].dtype)
    masks = masks or [None] * len(parts)
    overlapping = _overlaps(window)
    for (rows, columns), part, mask in zip(_offsets(window, parts[0].shape[1:3]), parts, masks):
        target = image[:, rows, columns]
        if overlapping:
            target += part if mask is None else part * mask
        elif mask is None:  # every element is in one window at most: write, don't add
            target[...] = part
        else:
            np.multiply(part, mask, out=target)
    return image[:, top:top + h, left:left + w].transpose(0, 3, 1, 2)


# ---------------------------------------------------------------- pooling

def _window_sum(x, window):
    """Σ of each window of x (N, C, H, W), padding as zeros: (N, C, Ho, Wo)."""
    image = _padded(x, window, 0)
    slices = _offsets(window, output_size(x.shape[2:], window))
    out = image[:, slices[0][0], slices[0][1]].copy()
    for rows, columns in slices[1:]:
        out += image[:, rows, columns]
    return out.transpose(0, 3, 1, 2)


def _window_spread(g, window, shape):
    """Each window's g added to every element of that window: an image of `shape`."""
    return _scatter([_channels_last(g)] * (window.kernel[0] * window.kernel[1]), shape, window)


window_sum = Primitive(
    "window_sum", quietly(_window_sum),
    lambda g, ans, x, window: call(window_spread, g, window=window, shape=x.shape),
    saves=False)
window_spread = Primitive(
    "window_spread", quietly(_window_spread),
    lambda g, ans, y, window, shape: call(window_sum, g, window=window),
    saves=False)


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _max_pool2d(x, window):
    """The largest element of each window of x (N, C, H, W); padding reads as -inf."""
    image = _padded(x, window, _lowest(x.dtype))
    slices = _offsets(window, output_size(x.shape[2:], window))
    out = image[:, slices[0][0], slices[0][1]].copy()
    for rows, columns in slices[1:]:
        np.maximum(out, image[:, rows, columns], out=out)
    return out.transpose(0, 3, 1, 2)


def first_max_masks(x, ans, window):
    """Per kernel offset, a boolean (N, Ho, Wo, C) mask: is it where the window's maximum `ans`
    is? One offset per window: the first maximum row by row, as in PyTorch; in a window holding
    NaN, its last NaN (PyTorch's scan lets each NaN replace the maximum)."""
    image = _padded(x, window, _lowest(x.dtype))
    best = _channels_last(ans)
    parts = [image[:, rows, columns] for rows, columns in _offsets(window, best.shape[1:3])]
    masks = _first_hits([part == best for part in parts])
    if x.dtype.kind == "f" and np.isnan(best).any():
        last_nans = _first_hits([np.isnan(part) for part in reversed(parts)])[::-1]
        masks = [mask | nan for mask, nan in zip(masks, last_nans)]
    return masks


def _first_hits(hits):
    """Keep, at each position, only the first True among the boolean arrays `hits`."""
    taken = hits[0].copy()
    firsts = [hits[0]]
    for hit in hits[1:]:
        first = hit & ~taken
        taken |= first
        firsts.append(first)
    return firsts


def _max_pool2d_scatter(g, x, ans, window):
    """Each window's g sent to where its maximum is (zeros elsewhere): an image of x's shape."""
    masks = first_max_masks(x, ans, window)
    return _scatter([_channels_last(g)] * len(masks), x.shape, window, masks)


def _max_pool2d_gather(image_g, x, ans, window):
    """Each window's element of image_g (x's shape) where the window's maximum is."""
    image = _padded(image_g, window, 0)
    masks = first_max_masks(x, ans, window)
    slices = _offsets(window, masks[0].shape[1:3])
    out = sum(image[:, rows, columns] * mask for (rows, columns), mask in zip(slices, masks))
    return out.transpose(0, 3, 1, 2)


max_pool2d = Primitive(
    "max_pool2d", quietly(_max_pool2d),
    lambda g, ans, x, window: call(max_pool2d_scatter, g, x, ans, window=window))
# Where the maximum sits is piecewise constant in x (and in the pooled y): zero gradient.
max_pool2d_scatter = Primitive(
    "max_pool2d_scatter", quietly(_max_pool2d_scatter),
    lambda gg, ans, g, x, y, window: call(max_pool2d_gather, gg, x, y, window=window),
    lambda gg, ans, g, x, y, window: x * 0,
    lambda gg, ans, g, x, y, window: y * 0)
max_pool2d_gather = Primitive(
    "max_pool2d_gather", quietly(_max_pool2d_gather),
    lambda gg, ans, image_g, x, y, window: call(max_pool2d_scatter, gg, x, y, window=window),
    lambda gg, ans, image_g, x, y, window: x * 0,
    lambda gg, ans, image_g, x, y, window: y * 0)


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
    """dL/dx, a transposed convolution: each output pixel's g, through the weight, back into its
    window; the windows' gradients g·w are summed back into the image (the adjoint of unfold)."""
    if window.stride == (1, 1) and all(max(pad) <= d * (k - 1) for k, d, pad in zip(
            window.kernel, window.dilation, window.padding)):
        return _conv2d_flipped(g, w, window, groups)
    n, c, ho, wo = shape[0], shape[1], *g.shape[2:]
    cols = _ungroup_cols(_group_pixels(g, groups) @ _group_weight(w, groups),
                         (n, ho, wo, *window.kernel, c))
    kh, kw = window.kernel
    return _scatter([cols[:, :, :, k // kw, k % kw] for k in range(kh * kw)], shape, window)


def _conv2d_flipped(g, w, window, groups):
    """With stride 1 the transposed convolution is a convolution: of g, padded so that each input
    pixel sees every output pixel whose window held it, by the kernel flipped, in and out channels
    swapped. Its one matmul sums what kh·kw strided adds would: 7-9 % off an MNIST-shaped CNN
    step (within noise on 8×8 digits)."""
    o, cg, kh, kw = w.shape
    flipped = w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 2, 1, 3, 4).reshape(
        groups * cg, o // groups, kh, kw)[:, :, ::-1, ::-1]
    padding = tuple((d * (k - 1) - before, d * (k - 1) - after)
                    for k, d, (before, after) in zip(window.kernel, window.dilation, window.padding))
    return _conv2d(g, flipped, None, window._replace(padding=padding), groups)


conv2d = Primitive(
    "conv2d", quietly(_conv2d),
    lambda g, ans, x, w, b, window, groups: call(
        conv2d_input_grad, g, w, shape=x.shape, window=window, groups=groups),
    lambda g, ans, x, w, b, window, groups: call(
        conv2d_weight_grad, x, g, shape=w.shape, window=window, groups=groups),
    lambda g, ans, x, w, b, window, groups: g.sum(axis=(0, 2, 3)))
# Both gradients are linear in each argument, so their rules are the three ops again:
# <G, input_grad(g, w)> = <conv2d(G, w), g> = <w, weight_grad(G, g)>.
conv2d_input_grad = Primitive(
    "conv2d_input_grad", quietly(_conv2d_input_grad),
    lambda gg, ans, g, w, shape, window, groups: call(
        conv2d, gg, w, None, window=window, groups=groups),
    lambda gg, ans, g, w, shape, window, groups: call(
        conv2d_weight_grad, gg, g, shape=w.shape, window=window, groups=groups))
conv2d_weight_grad = Primitive(
    "conv2d_weight_grad", quietly(_conv2d_weight_grad),
    lambda gw, ans, x, g, shape, window, groups: call(
        conv2d_input_grad, g, gw, shape=x.shape, window=window, groups=groups),
    lambda gw, ans, x, g, shape, window, groups: call(
        conv2d, x, gw, None, window=window, groups=groups))
