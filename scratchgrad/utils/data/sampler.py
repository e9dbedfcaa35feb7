"""Samplers (PyTorch's torch.utils.data): which indices a DataLoader fetches, and in what order."""
import math
import operator

import numpy as np

from scratchgrad import random


def checked_generator(generator, where):
    """generator (an sg.Generator, or None for the global one), checked."""
    if generator is not None and not isinstance(generator, random.Generator):
        raise TypeError(f"{where}: generator must be an sg.Generator, got "
                        f"{type(generator).__name__}")
    return generator


def _numpy_order(rng, n, num_samples, replacement):
    """Indices drawn with a NumPy generator (what sg.data.DataLoader(seed=...) passes)."""
    if replacement:
        return rng.integers(n, size=num_samples).tolist()
    whole = [i for _ in range(num_samples // n) for i in rng.permutation(n).tolist()]
    return whole + rng.permutation(n)[:num_samples % n].tolist()


class Sampler:
    """Base class: __iter__ yields indices (or lists of indices, for a batch sampler)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation (each epoch a new one), or num_samples draws with replacement."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        if not _is_positive_int(self.num_samples):
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, but "
                             f"got num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        if isinstance(self.generator, np.random.Generator):  # sg.data.DataLoader(seed=...)
            yield from _numpy_order(self.generator, n, self.num_samples, self.replacement)
            return
        generator = checked_generator(self.generator, "RandomSampler")
        if generator is None:  # as PyTorch: a generator of its own, seeded from the global one
            generator = random.Generator().manual_seed(random.seed_int64())
        # PyTorch's draws, in its order (the last randperm even when it yields nothing), so a
        # seeded program sees the same batches
        if self.replacement:
            for _ in range(self.num_samples // 32):
                yield from random.randint(n, (32,), generator=generator).tolist()
            yield from random.randint(n, (self.num_samples % 32,), generator=generator).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from random.randperm(n, generator=generator).tolist()
        yield from random.randperm(n, generator=generator).tolist()[:self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        generator = checked_generator(self.generator, "SubsetRandomSampler")
        order = random.randperm(len(self.indices), generator=generator).tolist()
        return (self.indices[i] for i in order)

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """num_samples indices drawn with probability proportional to `weights`."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not _is_positive_int(num_samples):
            raise ValueError(f"WeightedRandomSampler: num_samples should be a positive integer "
                             f"value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement should be a boolean value, but "  # noqa: TRY004 (PyTorch's type)
                             f"got replacement={replacement}")
        weights = np.asarray(weights.detach() if hasattr(weights, "detach") else weights, np.float64)
        if weights.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1d sequence but given "
                             f"weights have shape {tuple(weights.shape)}")
        self.weights = weights
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        generator = checked_generator(self.generator, "WeightedRandomSampler")
        return iter(random.multinomial(self.weights, self.num_samples, self.replacement,
                                       generator=generator).tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Group another sampler's indices into lists of batch_size (the last one shorter, or dropped)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not _is_positive_int(batch_size):
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(  # noqa: TRY004 (PyTorch's type)
                f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return math.ceil(len(self.sampler) / self.batch_size)


def _is_positive_int(n):
    if isinstance(n, bool):
        return False
    try:
        return operator.index(n) > 0
    except TypeError:
        return False
