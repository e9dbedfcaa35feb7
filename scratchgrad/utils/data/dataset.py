"""Datasets (PyTorch's torch.utils.data): anything indexable with a length, or iterable."""
import bisect
import itertools
import math
import warnings

from scratchgrad import random
from scratchgrad.core.errors import ArgumentError, AxisError, describe_shape
from scratchgrad.ops import as_tensor
from scratchgrad.utils.data.sampler import checked_generator


class Dataset:
    """A map-style dataset: subclasses define __getitem__(index) and __len__()."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Dataset should "
                                  "implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define __iter__(); the DataLoader batches it in order."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of IterableDataset should "
                                  "implement __iter__")


class TensorDataset(Dataset):
    """Samples are rows: dataset[i] is (t[i] for each tensor); arrays are made Tensors."""

    def __init__(self, *tensors):
        # PyTorch's error types: an IndexError where there is no dimension 0 to count samples
        # along (no tensor, or a 0-d one), its assertion where the counts differ.
        if not tensors:
            raise AxisError("TensorDataset: needs at least one tensor")
        self.tensors = tuple(as_tensor(t) for t in tensors)
        shapes = [t.shape for t in self.tensors]
        listed = ", ".join(describe_shape(shape) for shape in shapes)
        if any(len(shape) == 0 for shape in shapes):
            raise AxisError(f"TensorDataset: every tensor needs a dimension 0 (one row per "
                            f"sample), got shapes {listed}")
        if len({shape[0] for shape in shapes}) != 1:
            raise ArgumentError(f"TensorDataset: every tensor needs the same size in dimension 0 "
                                f"(one row per sample), got shapes {listed}")

    def __len__(self):
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        """One sample for an int index; a whole batch at once for an array of indices."""
        return tuple(t[index] for t in self.tensors)


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several map-style datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            index += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]


def random_split(dataset, lengths, generator=None):
    """Split into non-overlapping random Subsets of the given lengths (or fractions summing to 1)."""
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
            sizes.append(math.floor(n * fraction))
        for i in range(n - sum(sizes)):  # the rounding's leftovers, one each, round robin
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; this might "
                              "result in an empty dataset", stacklevel=2)
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError(f"random_split: the lengths {list(lengths)} sum to {sum(lengths)}, but "
                         f"the dataset has {n} samples (give lengths summing to {n}, or "
                         "fractions summing to 1)")
    order = random.randperm(n, generator=checked_generator(generator, "random_split")).tolist()
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, order[end - length:end]) for end, length in zip(ends, lengths)]
