"""sg.utils.data (API.md "The everyday PyTorch surface"): datasets, samplers, DataLoader and
default collation, against torch.utils.data wherever the result doesn't depend on randomness."""
import collections
import importlib

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import scratchgrad as sg
import scratchgrad.utils.data as sud
from scratchgrad.utils.data import DataLoader


def plain(value):
    """A batch as nested Python values with ("tensor", dtype, values) leaves, comparable across
    the two libraries."""
    if isinstance(value, (sg.Tensor, torch.Tensor)):
        dtype = str(value.dtype).replace("torch.", "")
        return ("tensor", {"bool": "bool"}.get(dtype, dtype), value.tolist())
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value).__name__, [plain(v) for v in value])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [plain(v) for v in value])
    return value


Point = collections.namedtuple("Point", "x y")


def samples(lib):
    """Samples of every kind default_collate knows, built with lib's tensors."""
    return [
        [lib.tensor([1.0, 2.0]), lib.tensor([3.0, 4.0])],
        [np.array([1, 2], dtype=np.int32), np.array([3, 4], dtype=np.int32)],
        [np.float32(1.5), np.float32(2.5)],
        [1.5, 2.5],
        [1, 2],
        [True, False],
        ["a", "bc"],
        [(1.0, 2), (3.0, 4)],
        [[1, 2.0], [3, 4.0]],
        [{"x": lib.tensor(1), "y": "p"}, {"x": lib.tensor(2), "y": "q"}],
        [Point(1, 2.0), Point(3, 4.0)],
        [{"a": (np.zeros(2), [1, 2])}, {"a": (np.ones(2), [3, 4])}],
    ]


@pytest.mark.parametrize("index", range(len(samples(sg))))
def test_default_collate_matches_torch(index):
    assert plain(sud.default_collate(samples(sg)[index])) == \
        plain(tud.default_collate(samples(torch)[index]))


def test_default_convert_matches_torch():
    batch = {"a": np.arange(3), "b": (np.float64(2.0), 1.5, "s")}
    assert plain(sud.default_convert(batch)) == plain(tud.default_convert(batch))


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        sud.default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        sud.default_collate([object(), object()])
    with pytest.raises(ValueError, match=r"different shapes: \(2,\), \(3,\)"):
        sud.default_collate([np.zeros(2), np.zeros(3)])


class Squares:
    """A map-style dataset that isn't a Dataset subclass: (x, x², label dict)."""

    def __init__(self, n, lib):
        self.n, self.lib = n, lib

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.lib.tensor([float(i), float(i * i)]), {"label": i % 3, "name": f"s{i}"}


@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True),
                                                      (2, 5, False), (2, 5, True), (4, 1, False)])
def test_batches_in_order_match_torch(n, batch_size, drop_last):
    ours = DataLoader(Squares(n, sg), batch_size=batch_size, drop_last=drop_last)
    theirs = tud.DataLoader(Squares(n, torch), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [plain(b) for b in ours] == [plain(b) for b in theirs]


def test_tensor_dataset_batches_match_torch_and_are_lists():
    X, y = np.arange(20.0).reshape(10, 2).astype(np.float32), np.arange(10)
    ours = list(DataLoader(sud.TensorDataset(sg.tensor(X), sg.tensor(y)), batch_size=4))
    theirs = list(tud.DataLoader(tud.TensorDataset(torch.tensor(X), torch.tensor(y)), batch_size=4))
    assert [plain(b) for b in ours] == [plain(b) for b in theirs]
    assert isinstance(ours[0], list)


def test_without_batching_samples_are_converted_one_by_one():
    data = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    ours, theirs = DataLoader(data, batch_size=None), tud.DataLoader(data, batch_size=None)
    assert len(ours) == len(theirs) == 2
    assert [plain(b) for b in ours] == [plain(b) for b in theirs]


@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffle_covers_every_sample_once_per_epoch(drop_last):
    loader = DataLoader(list(range(23)), batch_size=5, shuffle=True, drop_last=drop_last)
    epochs = [[i for b in loader for i in b.tolist()] for _ in range(2)]
    for seen in epochs:
        assert len(seen) == len(set(seen)) == (20 if drop_last else 23)
    assert epochs[0] != epochs[1] and epochs[0] != sorted(epochs[0])


def test_shuffle_follows_manual_seed_and_a_generator():
    loader = DataLoader(list(range(30)), batch_size=30, shuffle=True)
    sg.manual_seed(5)
    first = next(iter(loader)).tolist()
    sg.manual_seed(5)
    assert next(iter(loader)).tolist() == first
    make = sg.Generator
    runs = [next(iter(DataLoader(list(range(30)), batch_size=30, shuffle=True,
                            generator=make().manual_seed(1)))).tolist() for _ in range(2)]
    assert runs[0] == runs[1]
    splits = [[list(s) for s in sud.random_split(range(10), [0.5, 0.5],
                                                 generator=make().manual_seed(3))]
              for _ in range(2)]
    assert splits[0] == splits[1]
    with pytest.raises(TypeError, match="RandomSampler: generator must be an sg.Generator, got int"):
        list(sud.RandomSampler(range(3), generator=7))


def test_samplers_and_batch_sampler_match_torch():
    data = list(range(10))
    assert list(sud.SequentialSampler(data)) == list(tud.SequentialSampler(data))
    assert list(sud.BatchSampler(sud.SequentialSampler(data), 3, False)) == \
        list(tud.BatchSampler(tud.SequentialSampler(data), 3, False))
    assert len(sud.BatchSampler(range(10), 3, True)) == len(tud.BatchSampler(range(10), 3, True))
    draws = list(sud.RandomSampler(data, replacement=True, num_samples=25))
    assert len(draws) == 25 and set(draws) <= set(data)
    longer = list(sud.RandomSampler(data, num_samples=25))
    assert len(longer) == 25 and sorted(longer[:10]) == data and sorted(longer[10:20]) == data
    assert sorted(sud.SubsetRandomSampler([3, 5, 7])) == [3, 5, 7]
    assert set(sud.WeightedRandomSampler([0.0, 1.0, 0.0], 5)) == {1}


def test_sampler_and_batch_sampler_arguments():
    data = [10, 11, 12, 13, 14]
    loader = DataLoader(data, sampler=[4, 0, 2], batch_size=2)
    assert [b.tolist() for b in loader] == [[14, 10], [12]]
    loader = DataLoader(data, batch_sampler=[[1, 2], [0]])
    assert [b.tolist() for b in loader] == [[11, 12], [10]] and len(loader) == 2


@pytest.mark.parametrize("kwargs", [
    {"sampler": [0], "shuffle": True},
    {"batch_sampler": [[0]], "batch_size": 2},
    {"batch_sampler": [[0]], "drop_last": True},
    {"batch_size": None, "drop_last": True},
    {"num_workers": -1},
])
def test_inconsistent_options_raise_like_torch(kwargs):
    with pytest.raises(ValueError) as expected:
        tud.DataLoader([1, 2, 3], **kwargs)
    with pytest.raises(ValueError, match=str(expected.value).split(" option")[0].split(";")[0]):
        DataLoader([1, 2, 3], **kwargs)


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but got "
                                         "batch_size=0"):
        DataLoader([1, 2], batch_size=0)


@pytest.mark.parametrize("thing", [5, None, iter([1, 2]), (x for x in range(3))])
def test_something_that_is_not_a_dataset_is_named(thing):
    with pytest.raises(TypeError, match=f"DataLoader: dataset must be a Dataset .* got "
                                        f"{type(thing).__name__}"):
        DataLoader(thing)


class Stream(sud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class TorchStream(tud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


@pytest.mark.parametrize("drop_last", [False, True])
def test_iterable_dataset_batches_in_order_like_torch(drop_last):
    ours = DataLoader(Stream(7), batch_size=3, drop_last=drop_last)
    theirs = tud.DataLoader(TorchStream(7), batch_size=3, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [plain(b) for b in ours] == [plain(b) for b in theirs]
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(3), shuffle=True)


def test_num_workers_and_pin_memory_run_in_process():
    loader = DataLoader(list(range(6)), batch_size=4, num_workers=2, pin_memory=True,
                        persistent_workers=True, prefetch_factor=2)
    assert [b.tolist() for b in loader] == [[0, 1, 2, 3], [4, 5]]
    assert sud.get_worker_info() is None


def test_random_split_sizes_match_torch_and_cover_the_data():
    data = list(range(10))
    for lengths in ([3, 7], [0.5, 0.3, 0.2], [0.33, 0.33, 0.34], [0.25, 0.75]):
        ours = sud.random_split(data, lengths)
        theirs = tud.random_split(data, lengths)
        assert [len(s) for s in ours] == [len(s) for s in theirs]
        assert sorted(x for s in ours for x in s) == data
    with pytest.raises(ValueError, match="sum to 9, but the dataset has 10 samples"):
        sud.random_split(data, [4, 5])


def test_subset_concat_and_add_match_torch():
    a, b = sud.TensorDataset(sg.arange(3)), sud.TensorDataset(sg.arange(10, 14))
    ta, tb = tud.TensorDataset(torch.arange(3)), tud.TensorDataset(torch.arange(10, 14))
    both, theirs = a + b, ta + tb
    assert len(both) == len(theirs) == 7
    assert [plain(both[i]) for i in range(-7, 7)] == [plain(theirs[i]) for i in range(-7, 7)]
    sub = sud.Subset(both, [6, 0])
    assert [plain(x) for x in sub] == [plain(x) for x in tud.Subset(theirs, [6, 0])]


def test_every_import_form_works():
    assert importlib.import_module("scratchgrad.utils.data").DataLoader is DataLoader
    assert sg.utils.data.DataLoader is DataLoader
    assert issubclass(sg.data.DataLoader, DataLoader)
    assert sg.data.TensorDataset is sud.TensorDataset
