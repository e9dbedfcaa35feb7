"""sg.data: TensorDataset, DataLoader, make_xor and load_digits."""
import sys

import numpy as np
import pytest
import torch
import torch.utils.data

import scratchgrad as sg
from scratchgrad.data import DataLoader, TensorDataset, load_digits, make_xor


def rows(n=10):
    """Features whose first column is the sample's index, and int labels equal to it."""
    X = np.stack([np.arange(n), -np.arange(n)], axis=1).astype(np.float32)
    return X, np.arange(n)


def epoch_indices(loader):
    """The sample indices of one epoch, batch by batch (labels are the indices)."""
    return [y.tolist() for _, y in loader]


# ---------------------------------------------------------------- TensorDataset

def test_tensor_dataset_indexing():
    X, y = rows(5)
    data = TensorDataset(sg.tensor(X), y)  # tensors and arrays both work
    assert len(data) == 5
    x2, y2 = data[2]
    assert x2.tolist() == [2.0, -2.0] and y2.item() == 2
    xb, yb = data[np.array([4, 0])]
    assert xb.shape == (2, 2) and yb.tolist() == [4, 0]
    assert isinstance(xb, sg.Tensor) and xb.dtype == np.float32 and yb.dtype == np.int64


def test_tensor_dataset_shape_errors():
    """Clear messages, with PyTorch's error types (its assertion, or an IndexError)."""
    with pytest.raises(AssertionError):
        torch.utils.data.TensorDataset(torch.zeros(3, 2), torch.zeros(4))
    with pytest.raises(AssertionError, match=r"dimension 0 .* shapes \(3, 2\), \(4,\)"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(IndexError):
        torch.utils.data.TensorDataset(torch.tensor(1.0))
    with pytest.raises(IndexError, match=r"shapes \(\)"):
        TensorDataset(sg.tensor(1.0))
    with pytest.raises(IndexError, match="at least one tensor"):
        TensorDataset()


# ---------------------------------------------------------------- DataLoader

@pytest.mark.parametrize("n, batch_size, drop_last, sizes", [
    (10, 3, False, [3, 3, 3, 1]),
    (10, 3, True, [3, 3, 3]),
    (9, 3, False, [3, 3, 3]),
    (9, 3, True, [3, 3, 3]),
    (2, 5, False, [2]),
    (2, 5, True, []),
    (0, 4, False, []),
    (4, 1, False, [1, 1, 1, 1]),
])
@pytest.mark.parametrize("shuffle", [False, True])
def test_batches_cover_every_sample_once(n, batch_size, drop_last, sizes, shuffle):
    X, y = rows(n)
    if n == 0 and shuffle:  # as PyTorch's RandomSampler
        with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
            DataLoader((X, y), batch_size=batch_size, shuffle=shuffle, seed=0)
        return
    loader = DataLoader((X, y), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=0)
    assert len(loader) == len(sizes)
    batches = list(loader)
    assert [len(yb.tolist()) for _, yb in batches] == sizes
    for xb, yb in batches:
        assert xb.shape == (len(yb.tolist()), 2) and xb.dtype == np.float32
        assert xb.detach().numpy()[:, 0].tolist() == yb.tolist()  # rows stay paired with their labels
    seen = [i for _, yb in batches for i in yb.tolist()]
    assert len(set(seen)) == len(seen) == sum(sizes)  # no sample twice
    if not drop_last:
        assert sorted(seen) == list(range(n))  # and none left out
    if not shuffle:
        assert seen == list(range(sum(sizes)))  # in order


def test_shuffle_is_repeatable_with_a_seed_and_differs_between_epochs():
    data = rows(50)
    first = DataLoader(data, batch_size=8, shuffle=True, seed=7)
    second = DataLoader(data, batch_size=8, shuffle=True, seed=7)
    epochs = [epoch_indices(first) for _ in range(3)]
    assert epochs == [epoch_indices(second) for _ in range(3)]  # the same run, epoch by epoch
    assert epochs[0] != epochs[1] != epochs[2]
    assert epochs[0] != epoch_indices(DataLoader(data, batch_size=8, shuffle=True, seed=8))
    assert epochs[0] != epoch_indices(DataLoader(data, batch_size=8))  # actually shuffled


def test_shuffle_without_seed_follows_manual_seed():
    loader = DataLoader(rows(50), batch_size=8, shuffle=True)
    sg.manual_seed(3)
    first = [epoch_indices(loader), epoch_indices(loader)]
    sg.manual_seed(3)
    assert [epoch_indices(loader), epoch_indices(loader)] == first
    assert first[0] != first[1]


class Squares:
    """A map-style dataset: anything with __len__ and __getitem__."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.array([i, i * i], dtype=np.float64), i % 2


def test_dataset_objects():
    batches = list(DataLoader(Squares(), batch_size=3))
    assert len(batches) == 3
    xb, yb = batches[0]
    assert xb.dtype == np.float64 and xb.tolist() == [[0, 0], [1, 1], [2, 4]]
    assert yb.dtype == np.int64 and yb.tolist() == [0, 1, 0]
    assert batches[-1][0].shape == (1, 2)


def test_dataset_of_single_values_and_dicts():
    # As PyTorch's default_collate: the batch mirrors the sample (a Tensor, a dict, a tuple).
    singles = list(DataLoader([sg.tensor([1.0, 2.0]), sg.tensor([3.0, 4.0])], batch_size=2))
    assert len(singles) == 1 and singles[0].tolist() == [[1, 2], [3, 4]]
    dicts = list(DataLoader([{"x": 1.5, "y": 1}, {"x": 2.5, "y": 0}], batch_size=2))
    # Python floats collate to float64, ints to int64, as PyTorch's default_collate
    assert dicts[0]["x"].dtype == np.float64 and dicts[0]["y"].tolist() == [1, 0]


def test_tensor_dataset_is_gathered_in_one_go():
    """A TensorDataset batch is fetched with one array index, not sample by sample."""
    calls = []
    data = TensorDataset(*rows(10))
    original = type(data).__getitem__

    def counting(self, index):
        calls.append(np.shape(index))
        return original(self, index)

    type(data).__getitem__ = counting
    try:
        list(DataLoader(data, batch_size=4, shuffle=True, seed=0))
    finally:
        type(data).__getitem__ = original
    assert calls == [(4,), (4,), (2,)]


@pytest.mark.parametrize("batch_size, error, words", [
    (0, ValueError, "batch_size must be at least 1, got 0"),
    (-2, ValueError, "batch_size must be at least 1, got -2"),
    (2.5, TypeError, "batch_size must be a positive int, got 2.5"),
    (True, TypeError, "batch_size must be a positive int, got True"),
])
def test_bad_batch_size(batch_size, error, words):
    with pytest.raises(error, match=f"^DataLoader: {words}"):
        DataLoader(rows(4), batch_size=batch_size)


def test_bad_datasets():
    with pytest.raises(TypeError, match="^DataLoader: dataset must be .* got int"):
        DataLoader(5)
    with pytest.raises(ValueError, match=r"^TensorDataset: .* \(4, 2\), \(3,\)"):
        DataLoader((np.zeros((4, 2)), np.zeros(3)))
    with pytest.raises(ValueError, match=r"^DataLoader: samples in a batch have different shapes"):
        list(DataLoader([np.zeros(2), np.zeros(3)], batch_size=2))


# ---------------------------------------------------------------- make_xor

def test_make_xor():
    X, y = make_xor(500, seed=0)
    assert X.shape == (500, 2) and y.shape == (500,)
    assert X.dtype == np.float32 and y.dtype == np.float32
    x = X.detach().numpy()
    assert np.all((-1 <= x) & (x <= 1))
    np.testing.assert_array_equal(y.detach().numpy(), (x[:, 0] * x[:, 1] > 0).astype(np.float32))
    assert 0.4 < y.detach().numpy().mean() < 0.6  # both classes, about equally
    np.testing.assert_array_equal(make_xor(500, seed=0)[0].detach().numpy(), x)
    assert not np.array_equal(make_xor(500, seed=1)[0].detach().numpy(), x)


def test_make_xor_noise_flips_that_fraction():
    X, y = make_xor(200, seed=0, noise=0.1)
    clean = (X.detach().numpy()[:, 0] * X.detach().numpy()[:, 1] > 0).astype(np.float32)
    assert int((y.detach().numpy() != clean).sum()) == 20


def test_make_xor_without_seed_follows_manual_seed():
    sg.manual_seed(5)
    first = make_xor(10)[0].detach().numpy()
    sg.manual_seed(5)
    np.testing.assert_array_equal(make_xor(10)[0].detach().numpy(), first)
    assert make_xor(0)[0].shape == (0, 2)


def test_make_xor_errors():
    with pytest.raises(ValueError, match="^make_xor: n must be non-negative, got -1"):
        make_xor(-1)
    with pytest.raises(ValueError, match=r"^make_xor: noise .* in \[0, 1\]; got 1.5"):
        make_xor(10, noise=1.5)


# ---------------------------------------------------------------- load_digits

def test_load_digits():
    pytest.importorskip("sklearn")
    X_train, y_train, X_test, y_test = load_digits(test_fraction=0.25, seed=1)
    assert X_train.shape[0] + X_test.shape[0] == 1797
    assert X_test.shape == (450, 64) and X_train.shape == (1347, 64)  # ceil(0.25 * 1797) for test
    assert X_train.dtype == X_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64 and y_train.shape == (1347,)
    assert X_train.detach().numpy().min() == 0.0 and X_train.detach().numpy().max() == 1.0
    assert set(y_test.tolist()) == set(range(10))  # stratified: every digit is tested
    again = load_digits(test_fraction=0.25, seed=1)
    np.testing.assert_array_equal(again[3].detach().numpy(), y_test.detach().numpy())
    assert not np.array_equal(load_digits(test_fraction=0.25, seed=2)[3].detach().numpy(), y_test.detach().numpy())


def test_load_digits_bad_fraction():
    pytest.importorskip("sklearn")
    with pytest.raises(ValueError, match="^load_digits: test_fraction must be between 0 and 1, got 1.5"):
        load_digits(test_fraction=1.5)


def test_load_digits_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn...` fail
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"load_digits needs scikit-learn: pip install "
                                          r"'scratchgrad\[demo\]' \(or scikit-learn\)"):
        load_digits()


# ---------------------------------------------------------------- text corpora

DATA = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(not (DATA / "names.txt").is_file(), reason="no ../shared/data")


@needs_data
def test_names_and_shakespeare_from_scratchgrad_data(monkeypatch):
    monkeypatch.setenv("SCRATCHGRAD_DATA", str(DATA))
    monkeypatch.setattr(sg.data, "_fetch", _no_network)
    names = sg.data.names()
    assert isinstance(names, str) and len(names.splitlines()) == 32033
    assert names.splitlines()[:3] == ["emma", "olivia", "ava"]
    text = sg.data.tiny_shakespeare()
    assert len(text) == 1115394 and len(set(text)) == 65 and text.startswith("First Citizen:")


@needs_data
def test_root_argument_wins_over_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SCRATCHGRAD_DATA", str(tmp_path))  # empty
    monkeypatch.setattr(sg.data, "_fetch", _no_network)
    assert len(sg.data.names(root=DATA).splitlines()) == 32033


def _no_network(url):
    raise AssertionError(f"tests never download, but {url} was fetched")


def test_a_missing_file_in_scratchgrad_data_says_where_to_put_it(monkeypatch, tmp_path):
    monkeypatch.setenv("SCRATCHGRAD_DATA", str(tmp_path))
    monkeypatch.setattr(sg.data, "_fetch", _no_network)
    with pytest.raises(FileNotFoundError, match=r"names.txt does not exist .*put names.txt there"):
        sg.data.names()


def test_a_damaged_file_is_refused(monkeypatch, tmp_path):
    (tmp_path / "names.txt").write_text("emma\nolivia")
    monkeypatch.setattr(sg.data, "_fetch", _no_network)
    with pytest.raises(ValueError, match="names: .* has SHA-256 .* expected 0a30b555"):
        sg.data.names(root=tmp_path)


def test_download_once_into_the_cache_and_check_it(monkeypatch, tmp_path):
    """The download path, with the network replaced by a function handing out bytes."""
    monkeypatch.delenv("SCRATCHGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    content = b"emma\nolivia"
    fetched = []

    def fetch(url):
        fetched.append(url)
        return content

    filename, url, _ = sg.data.TEXTS["names"]
    monkeypatch.setitem(sg.data.TEXTS, "names",
                        (filename, url, __import__("hashlib").sha256(content).hexdigest()))
    monkeypatch.setattr(sg.data, "_fetch", fetch)
    assert sg.data.names() == "emma\nolivia"
    assert sg.data.names() == "emma\nolivia"
    assert fetched == [url] and "makemore" in url  # once, from the public source
    assert (tmp_path / "scratchgrad" / "names.txt").read_bytes() == content

    (tmp_path / "scratchgrad" / "names.txt").unlink()
    monkeypatch.setattr(sg.data, "_fetch", lambda url: b"tampered")
    with pytest.raises(ValueError, match="SHA-256"):
        sg.data.names()
    assert not (tmp_path / "scratchgrad" / "names.txt").exists()  # a bad download isn't kept


def test_without_network_the_error_says_where_to_put_the_file(monkeypatch, tmp_path):
    monkeypatch.delenv("SCRATCHGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def offline(url):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(sg.data, "_fetch", offline)
    where = tmp_path / "scratchgrad" / "tinyshakespeare.txt"
    with pytest.raises(FileNotFoundError, match=f"couldn't download tinyshakespeare.txt .*"
                                                f"Network is unreachable.*put a copy at {where}.*"
                                                f"SCRATCHGRAD_DATA"):
        sg.data.tiny_shakespeare()
