"""Batches and small data sets (PyTorch's DataLoader, plus XOR and digits)."""
import math
import operator

import numpy as np

from scratchgrad import factories
from scratchgrad.errors import ShapeError, describe_shape
from scratchgrad.ops import as_tensor, stack
from scratchgrad.tensor import Tensor


class TensorDataset:
    """Samples are rows: dataset[i] is (t[i] for each tensor), as torch.utils._data.TensorDataset."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.tensors = tuple(as_tensor(t) for t in tensors)
        shapes = [t.shape for t in self.tensors]
        if any(len(shape) == 0 for shape in shapes) or len({shape[0] for shape in shapes}) != 1:
            listed = ", ".join(describe_shape(shape) for shape in shapes)
            raise ShapeError(f"TensorDataset: every tensor needs the same size in dimension 0 (one "
                             f"row per sample), got shapes {listed}")

    def __len__(self):
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        """One sample for an int index; a whole batch at once for an array of indices."""
        return tuple(t[index] for t in self.tensors)


class DataLoader:
    """Iterate over a dataset in batches, optionally reshuffled every epoch."""

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None):
        if isinstance(dataset, tuple):
            dataset = TensorDataset(*dataset)
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader: dataset must be a TensorDataset, a tuple of tensors or "
                            f"arrays, or an object with __len__ and __getitem__; got "
                            f"{type(dataset).__name__}")
        self.dataset = dataset
        self.batch_size = _batch_size(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        # With a seed the loader owns its generator, so the whole sequence of epochs repeats
        # run after run; without one it shares scratchgrad's (sg.manual_seed makes that repeat).
        self._rng = None if seed is None else np.random.default_rng(seed)

    def __len__(self):
        """The number of batches in one epoch."""
        if self.drop_last:
            return len(self.dataset) // self.batch_size
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        """One epoch: batches of samples, each a tuple of Tensors for a TensorDataset."""
        n = len(self.dataset)
        order = self._generator().permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self._fetch(order[start:start + self.batch_size])

    def _generator(self):
        # Looked up at each epoch, since sg.manual_seed replaces scratchgrad's generator.
        return self._rng if self._rng is not None else factories.generator()

    def _fetch(self, indices):
        if isinstance(self.dataset, TensorDataset):
            return self.dataset[indices]  # one fancy-indexing gather per tensor, no Python loop
        return collate([self.dataset[int(i)] for i in indices])


def collate(samples):
    """Stack samples into a batch that mirrors one sample's structure, as PyTorch's default_collate."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(len(sample) != len(first) for sample in samples):
            raise ValueError(f"DataLoader: samples in a batch have different lengths: "
                             f"{sorted({len(sample) for sample in samples})}")
        return tuple(collate(list(field)) for field in zip(*samples))
    if isinstance(first, dict):
        return {key: collate([sample[key] for sample in samples]) for key in first}
    if isinstance(first, Tensor):
        return stack(samples)  # an op, so a sample that requires grad keeps its graph
    if isinstance(first, (np.ndarray, np.generic)):
        shapes = {np.shape(sample) for sample in samples}
        if len(shapes) > 1:
            raise ShapeError(f"DataLoader: samples in a batch have different shapes: "
                             f"{', '.join(describe_shape(s) for s in sorted(shapes))}")
        return Tensor._wrap(np.stack(samples))
    return as_tensor(samples)  # Python numbers: sg.tensor's default dtypes


def _batch_size(batch_size):
    """batch_size as a positive int, or a clear error."""
    if isinstance(batch_size, bool):
        raise TypeError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
    try:
        batch_size = operator.index(batch_size)
    except TypeError:
        raise TypeError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}") from None
    if batch_size < 1:
        raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
    return batch_size


# ---------------------------------------------------------------- data sets

def make_xor(n=1000, seed=None, noise=0.0):
    """n points uniform in [-1, 1]², labelled 1.0 where x0 * x1 > 0; a fraction `noise` flipped."""
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"make_xor: n must be non-negative, got {n}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"make_xor: noise is the fraction of labels flipped, in [0, 1]; got {noise}")
    rng = factories.generator() if seed is None else np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 2)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.float32)  # from the float32 points, so the rule holds exactly
    flipped = rng.choice(n, size=round(noise * n), replace=False)
    y[flipped] = 1.0 - y[flipped]
    return Tensor._wrap(X), Tensor._wrap(y)


def load_digits(test_fraction=0.2, seed=0):
    """scikit-learn's 8x8 digits, pixels scaled to [0, 1], split stratified into train and test.

    Returns (X_train, y_train, X_test, y_test): float32 (n, 64) pixels and int64 labels 0-9.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise ImportError("load_digits needs scikit-learn: pip install 'scratchgrad[demo]' "
                          "(or scikit-learn)") from None
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"load_digits: test_fraction must be between 0 and 1, got {test_fraction}")
    if seed is None:
        seed = int(factories.generator().integers(2**31))  # sklearn wants an int, not a Generator
    digits = sklearn_digits()
    X = (digits.data / 16.0).astype(np.float32)  # pixels are 0-16 counts
    y = digits.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_fraction, random_state=seed, stratify=y)
    return tuple(Tensor._wrap(a) for a in (X_train, y_train, X_test, y_test))
