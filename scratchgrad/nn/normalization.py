"""Batch normalisation layers (PyTorch's nn.BatchNorm1d and nn.BatchNorm2d)."""
from scratchgrad import factories
from scratchgrad.core import dtypes
from scratchgrad.core.errors import ShapeError, describe_shape
from scratchgrad.nn import functional as F
from scratchgrad.nn.layers import check_sizes
from scratchgrad.nn.module import Module, Parameter


class _BatchNorm(Module):
    """Normalise each channel by the batch's statistics in training (keeping running averages
    of them as buffers) and by those running averages in evaluation; then scale and shift."""
    dims = ()  # the input ranks the layer accepts

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=None, *, bias=True):
        super().__init__()
        check_sizes(type(self).__name__, num_features=num_features)
        dtype = dtypes.default_float if dtype is None else dtype
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(factories.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(factories.zeros(num_features, dtype=dtype)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", factories.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", factories.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", factories.tensor(0))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.weight is not None:
            self.weight._data[...] = 1
        if self.bias is not None:
            self.bias._data[...] = 0

    def forward(self, x):
        if x.ndim not in self.dims:
            expected = " or ".join(f"{d}-D" for d in self.dims)
            raise ShapeError(f"{type(self).__name__}: expected a {expected} input, got shape "
                             f"{describe_shape(x.shape)}")
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            if momentum is None:  # a cumulative average of every batch so far
                momentum = 1 / int(self.num_batches_tracked._data)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            use_batch_stats, 0.0 if momentum is None else momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs over N (and L), per channel C."""
    dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images over N, H and W, per channel C."""
    dims = (4,)
