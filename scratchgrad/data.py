"""Small data sets (XOR, digits, names, Shakespeare) and the DataLoader with sg.data's conveniences."""
import hashlib
import operator
import os
import urllib.request
from pathlib import Path

import numpy as np

from scratchgrad import factories
from scratchgrad.core.tensor import Tensor
from scratchgrad.utils import data as utils_data
from scratchgrad.utils.data import TensorDataset


class DataLoader(utils_data.DataLoader):
    """sg.utils.data.DataLoader plus two conveniences of sg.data.

    A tuple of tensors or arrays is taken as a TensorDataset, and `seed=` gives the loader its
    own generator, so that the whole sequence of shuffled epochs repeats run after run (without
    one it shares scratchgrad's, which sg.manual_seed makes repeat).
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, **kwargs):
        if isinstance(dataset, tuple):
            dataset = TensorDataset(*dataset)
        if seed is not None:
            kwargs["generator"] = np.random.default_rng(seed)
        super().__init__(dataset, _batch_size(batch_size), shuffle, drop_last=drop_last, **kwargs)


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


# ---------------------------------------------------------------- text corpora

# name: (file name, public source, SHA-256 of the file)
TEXTS = {
    "names": ("names.txt",
              "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt",
              "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"),
    "tiny_shakespeare": ("tinyshakespeare.txt",
                         ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
                         "tinyshakespeare/input.txt"),
                         "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"),
}


def names(root=None):
    """The 32,033 first names of makemore's names.txt, one a line, as one str."""
    return _text("names", root)


def tiny_shakespeare(root=None):
    """The 1,115,394 characters of char-rnn's tiny Shakespeare, as one str."""
    return _text("tiny_shakespeare", root)


def cache_dir():
    """Where downloads are kept: $XDG_CACHE_HOME/scratchgrad, else ~/.cache/scratchgrad."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scratchgrad"


def _text(name, root):
    """The file's text from root (or $SCRATCHGRAD_DATA) if given, else from the cache, downloaded
    there the first time; its SHA-256 checked either way."""
    filename, url, sha256 = TEXTS[name]
    directory = root if root is not None else os.environ.get("SCRATCHGRAD_DATA") or None
    if directory is not None:
        path = Path(directory) / filename
        if not path.is_file():
            source = "root=" if root is not None else "SCRATCHGRAD_DATA"
            raise FileNotFoundError(f"{name}: {path} does not exist ({source} points at "
                                    f"{directory}); put {filename} there (from {url})")
        content = path.read_bytes()
    else:
        path = cache_dir() / filename
        if path.is_file():
            content = path.read_bytes()
        else:
            content = _download(name, url, path)
    _verify(name, content, sha256, path)
    return content.decode("utf-8")


def _fetch(url):
    """The bytes at url (tests replace this function: they never touch the network)."""
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def _download(name, url, path):
    """Fetch url, check it, and keep it at path (written whole or not at all)."""
    filename = path.name
    try:
        content = _fetch(url)
    except OSError as exc:  # URLError, timeouts and refused connections are all OSErrors
        raise FileNotFoundError(
            f"{name}: couldn't download {filename} from {url} ({exc}). Without network, put a "
            f"copy at {path}, or set SCRATCHGRAD_DATA to a directory holding {filename}") from None
    _verify(name, content, TEXTS[name][2], url)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(content)
    os.replace(partial, path)
    return content


def _verify(name, content, sha256, where):
    digest = hashlib.sha256(content).hexdigest()
    if digest != sha256:
        raise ValueError(f"{name}: {where} has SHA-256 {digest}, expected {sha256}: the file is "
                         "damaged or a different version; delete it and try again")
