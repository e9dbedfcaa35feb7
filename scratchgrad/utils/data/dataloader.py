"""The DataLoader (PyTorch's torch.utils.data.DataLoader) and its default collation.

Everything runs in the calling process: num_workers, pin_memory, prefetch_factor and the other
multiprocessing options are accepted (so PyTorch scripts run unchanged) and change nothing.
"""
import math
from collections.abc import Mapping, Sequence

import numpy as np

from scratchgrad import random
from scratchgrad.core.errors import ShapeError, describe_shape
from scratchgrad.core.tensor import Tensor
from scratchgrad.ops import stack
from scratchgrad.utils.data.dataset import IterableDataset, TensorDataset
from scratchgrad.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    SequentialSampler,
)

_COLLATE_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                  "lists; found {}")


def default_collate(batch):
    """Stack a list of samples into a batch with the samples' structure, as PyTorch.

    Tensors and arrays are stacked; Python floats become a float64 tensor, ints an int64 one,
    bools a bool one; strings stay a list; dicts, tuples and lists are collated field by field
    (a tuple of fields comes back as a list, as in PyTorch).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch)  # an op, so a sample that requires grad keeps its graph
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "USO":
            raise TypeError(_COLLATE_ERROR.format(elem.dtype))
        shapes = {np.shape(sample) for sample in batch}
        if len(shapes) > 1:
            raise ShapeError(f"DataLoader: samples in a batch have different shapes: "
                             f"{', '.join(describe_shape(s) for s in sorted(shapes))}")
        return Tensor._wrap(np.stack(batch))
    if isinstance(elem, np.generic):
        return Tensor._wrap(np.array(batch))
    if isinstance(elem, float):
        return Tensor._wrap(np.array(batch, dtype=np.float64))
    if isinstance(elem, int):  # bools too: a bool tensor
        return Tensor._wrap(np.array(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, Mapping):
        collated = {key: default_collate([sample[key] for sample in batch]) for key in elem}
        return _same_type(elem, collated)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError(f"default_collate: each element in list of batch should be of equal "
                               f"size, got lengths {sorted({len(sample) for sample in batch})}")
        fields = [default_collate(list(field)) for field in zip(*batch)]
        return fields if isinstance(elem, tuple) else _same_type(elem, fields)
    raise TypeError(_COLLATE_ERROR.format(type(elem)))


def default_convert(data):
    """Without batching: NumPy arrays and scalars become Tensors, containers are walked."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "USO" or isinstance(data, np.generic):
        return Tensor._wrap(np.asarray(data))
    if isinstance(data, Mapping):
        return _same_type(data, {key: default_convert(value) for key, value in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return _same_type(data, [default_convert(d) for d in data])
    return data


def _same_type(original, collated):
    """The collated container as the sample's own type where it can be built from one (as PyTorch)."""
    try:
        return type(original)(collated)
    except TypeError:
        return collated


def get_worker_info():
    """None: there are no worker processes (everything runs in the calling process)."""
    return


class DataLoader:
    """Iterate over a dataset in batches: which samples from a sampler, how joined from collate_fn."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        _check_dataset(dataset, needs_len=sampler is None and batch_sampler is None)
        if num_workers < 0:
            raise ValueError("DataLoader: num_workers option should be non-negative; use "
                             "num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("DataLoader: timeout option should be non-negative")
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                     f"{name} option, but got {name}={value}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle \
                else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        elif batch_size is not None and self._iterable:
            BatchSampler([], batch_size, drop_last)  # the same argument checks

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.pin_memory_device = pin_memory_device
        self.in_order = in_order
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    def __len__(self):
        """The number of batches in one epoch (of samples, without batching)."""
        if self._iterable:
            n = len(self.dataset)  # a TypeError if the stream has no length, as in PyTorch
            if self.batch_size is None:
                return n
            rounded = math.floor if self.drop_last else math.ceil
            return rounded(n / self.batch_size)
        return len(self.batch_sampler if self._auto_collation else self.sampler)

    def __iter__(self):
        # PyTorch's iterator draws a seed for its workers from the generator when it starts,
        # workers or not: drawn here too, so the global stream stays in step with PyTorch's
        if not isinstance(self.generator, np.random.Generator):
            random.seed_int64(self.generator)
        return self._batches()

    def _batches(self):
        if self._iterable:
            yield from self._iterate_stream()
        elif self._auto_collation:
            for indices in self.batch_sampler:
                if self._gathers_rows():
                    # One fancy-indexing gather per tensor rather than a stack of single rows:
                    # the same values, dtypes and list of fields as default_collate's.
                    yield list(self.dataset[np.asarray(indices, dtype=np.int64)])
                else:
                    yield self.collate_fn(self._fetch(indices))
        else:
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])

    def _gathers_rows(self):
        return (isinstance(self.dataset, TensorDataset) and self.collate_fn is default_collate
                and type(self.dataset).__getitem__ is TensorDataset.__getitem__)

    def _fetch(self, indices):
        dataset = self.dataset
        if hasattr(dataset, "__getitems__"):
            return dataset.__getitems__(indices)
        return [dataset[i] for i in indices]

    def _iterate_stream(self):
        if not self._auto_collation:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)


def _check_dataset(dataset, needs_len):
    """A clear TypeError for something a DataLoader can't load from."""
    if isinstance(dataset, IterableDataset):
        return
    missing = [name for name in ("__getitem__", "__len__") if not hasattr(dataset, name)]
    if not needs_len and "__len__" in missing:
        missing.remove("__len__")
    if missing:
        hint = " (an iterator or generator must be wrapped in an IterableDataset)" \
            if hasattr(dataset, "__iter__") else ""
        raise TypeError(f"DataLoader: dataset must be a Dataset (with __getitem__ and __len__) or "
                        f"an IterableDataset, got {type(dataset).__name__}, which has no "
                        f"{' or '.join(missing)}{hint}")
