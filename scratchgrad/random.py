"""Random numbers: sg.Generator, the global generator behind sg.manual_seed, and the random
factories (rand, randn, randint, randperm, normal, multinomial).

Each Generator is its own Mersenne Twister, seeded as PyTorch seeds its CPU generator, and the
draws go through PyTorch's transforms (streams.py): a program seeded with sg.manual_seed draws
the same numbers as with torch.manual_seed. A Generator and the global seed are independent
streams, as in PyTorch.

`uniform_array` and `normal_array` are the one place an array of random numbers is drawn; the
in-place `uniform_`/`normal_` and nn.init draw through them, dropout through `bernoulli_array`.
`numpy_rng` is a NumPy generator on the same engine, for draws PyTorch has no counterpart of.
"""
import json
import secrets

import numpy as np

from scratchgrad import streams
from scratchgrad.core import dtypes
from scratchgrad.core.devices import check_device, cpu
from scratchgrad.core.engine import Primitive, apply
from scratchgrad.core.errors import (
    DTypeError,
    DTypeNotImplementedError,
    ShapeError,
    ValueRangeError,
    check_sizes,
    describe_shape,
)
from scratchgrad.core.tensor import Tensor
from scratchgrad.ops.elementwise import as_tensor

# The seed a new torch.Generator() starts from, so a fresh Generator is repeatable there too.
DEFAULT_SEED = 67280421310721
_SEED_RANGE = 2**64


class Generator:
    """An independent stream of random numbers: sg.Generator().manual_seed(42)."""

    def __init__(self, device="cpu"):
        check_device("Generator", device)
        self.manual_seed(DEFAULT_SEED)

    device = property(lambda self: cpu)

    def manual_seed(self, seed):
        """Restart the stream from seed (any int; negatives wrap as in PyTorch); returns self."""
        is_int = isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
        if not is_int and not (isinstance(seed, Tensor) and seed.ndim == 0 and seed.dtype.kind in "iu"):
            # PyTorch: a RuntimeError for a float, the ValueError of int() for a string
            error = ValueRangeError if isinstance(seed, str) else DTypeError
            raise error(f"manual_seed: the seed must be an int, got {seed!r}")
        seed = int(seed)
        if not -2**63 <= seed < _SEED_RANGE:
            raise ValueRangeError(f"manual_seed: seed {seed} is out of range "
                                  f"[-2**63, 2**64); give a 64-bit seed")
        self._seed = seed % _SEED_RANGE
        self._engine = streams.engine(self._seed)
        self._rng = np.random.Generator(self._engine)  # the same engine, NumPy's transforms
        self._normal = None  # the second of a Box-Muller pair, for the next small normal draw
        return self

    def seed(self):
        """Reseed from the operating system's entropy; returns the new seed."""
        seed = secrets.randbits(63)
        self.manual_seed(seed)
        return seed

    def initial_seed(self):
        """The seed this stream started from."""
        return self._seed

    def get_state(self):
        """The stream's position, as a uint8 tensor (give it back with set_state)."""
        state = self._engine.state["state"]
        text = json.dumps({"seed": self._seed, "key": state["key"].tolist(), "pos": state["pos"],
                           "normal": self._normal})
        return Tensor._wrap(np.frombuffer(text.encode(), dtype=np.uint8).copy())

    def set_state(self, new_state):
        """Go back to a position saved by get_state; returns self."""
        data = new_state._data if isinstance(new_state, Tensor) else np.asarray(new_state)
        try:
            saved = json.loads(np.asarray(data, dtype=np.uint8).tobytes().decode())
            engine = np.random.MT19937()
            engine.state = {"bit_generator": "MT19937",
                            "state": {"key": np.array(saved["key"], np.uint32), "pos": saved["pos"]}}
            seed, normal = int(saved["seed"]), saved["normal"]
        except (ValueError, TypeError, KeyError, UnicodeDecodeError):
            raise ValueRangeError("set_state: this is not a state from Generator.get_state()") from None
        self._seed, self._engine, self._normal = seed, engine, normal
        self._rng = np.random.Generator(engine)
        return self

    def __repr__(self):
        return f"<scratchgrad.Generator seed={self._seed}>"


default_generator = Generator()
default_generator.seed()  # the global stream differs from run to run until sg.manual_seed


def manual_seed(seed):
    """Seed the global generator (sg.rand, sg.randn, dropout, init, ...); returns it."""
    return default_generator.manual_seed(seed)


def seed():
    """Reseed the global generator from the operating system; returns the seed."""
    return default_generator.seed()


def initial_seed():
    """The seed the global generator started from."""
    return default_generator.initial_seed()


def get_rng_state():
    """The global generator's state, for set_rng_state."""
    return default_generator.get_state()


def set_rng_state(new_state):
    """Restore the global generator to a state from get_rng_state."""
    default_generator.set_state(new_state)


# ---------------------------------------------------------------- drawing arrays

def _generator(generator):
    """generator, or the global one when it is None."""
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be an sg.Generator, got {type(generator).__name__}")
    return generator


def numpy_rng(generator=None):
    """A NumPy generator on the engine of `generator` (the global one when None), for draws
    PyTorch has no counterpart of (scratchgrad's own data helpers)."""
    return _generator(generator)._rng


def uniform_array(shape, dtype=dtypes.default_float, low=0.0, high=1.0, generator=None):
    """A NumPy array of `shape` and float `dtype`, uniform on [low, high)."""
    return streams.uniform(_generator(generator), shape, dtype, low, high)


def normal_array(shape, dtype=dtypes.default_float, mean=0.0, std=1.0, generator=None,
                 serial=False):
    """A NumPy array of `shape` and float `dtype`, normal with the given mean and std (serial:
    drawn as PyTorch fills a tensor that isn't contiguous)."""
    return streams.normal(_generator(generator), shape, dtype, mean, std, serial)


def bernoulli_array(shape, p, generator=None):
    """A bool NumPy array of `shape`, each element True with probability p (dropout's mask)."""
    return streams.bernoulli(_generator(generator), shape, p)


def seed_int64(generator=None):
    """A seed on [0, 2^63), drawn as PyTorch's samplers and DataLoader draw theirs."""
    return streams.int64(_generator(generator))


# ---------------------------------------------------------------- the random factories

def float_dtype(name, dtype):
    """dtype (float32 when None), if floating point; else PyTorch's NotImplementedError (it has
    no integer kernel for uniform or normal draws)."""
    dtype = dtypes.default_float if dtype is None else dtypes.as_dtype(dtype)
    if dtype.kind != "f":
        raise DTypeNotImplementedError(f"{name}: needs a floating-point dtype, got {dtype}")
    return dtype


def _finish(array, requires_grad):
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def rand(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1): rand(2, 3), rand((2, 3)) or rand(size=(2, 3))."""
    check_device("rand", device)
    dtype = float_dtype("rand", dtype)
    shape = check_sizes("rand", sizes if size is None else (size,))
    return _finish(uniform_array(shape, dtype, generator=generator), requires_grad)


def randn(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal: randn(2, 3), randn((2, 3)) or randn(size=(2, 3))."""
    check_device("randn", device)
    dtype = float_dtype("randn", dtype)
    shape = check_sizes("randn", sizes if size is None else (size,))
    return _finish(normal_array(shape, dtype, generator=generator), requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1), with t's shape (and dtype, unless given)."""
    return rand(t.shape, dtype=t.dtype if dtype is None else dtype, device=device,
                requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    """Standard normal, with t's shape (and dtype, unless given)."""
    return randn(t.shape, dtype=t.dtype if dtype is None else dtype, device=device,
                 requires_grad=requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Integers uniform on [low, high): randint(high, size) or randint(low, high, size); int64."""
    if isinstance(high, (tuple, list)) and size is None:  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:                                   # randint(high, size=...)
        low, high = 0, low
    if size is None:
        raise TypeError("randint: missing the size argument, e.g. sg.randint(10, (3,))")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint: size must be a tuple of ints, got {size!r}")
    check_device("randint", device)
    size = check_sizes("randint", size)
    low, high = int(low), int(high)
    if low >= high:
        raise ValueRangeError(f"randint: low must be less than high, got low={low} >= high={high}")
    dtype = dtypes.int64 if dtype is None else dtypes.as_dtype(dtype)
    array = streams.integers(_generator(generator), low, high, size)
    return _finish(array.astype(dtype, copy=False), requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0 .. n-1 (int64)."""
    check_device("randperm", device)
    n = int(n)
    if n < 0:
        raise ValueRangeError(f"randperm: n must be non-negative, got {n}")
    dtype = dtypes.int64 if dtype is None else dtypes.as_dtype(dtype)
    return _finish(streams.permutation(_generator(generator), n).astype(dtype), requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False):
    """Normal samples: mean + std · ε. With tensor mean/std the result has their broadcast
    shape, and gradients reach mean (g) and std (g·ε), as in PyTorch; with numbers, give size."""
    check_device("normal", device)
    if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
        if size is None:
            raise TypeError("normal: with a number mean and std, give size, "
                            "e.g. sg.normal(0.0, 1.0, size=(3,))")
        if std < 0:
            raise ValueRangeError(f"normal: std must be >= 0, got {std}")
        dtype = float_dtype("normal", dtype)
        array = normal_array(check_sizes("normal", (size,)), dtype, mean, std, generator)
        return _finish(array, requires_grad)
    mean, std = as_tensor(mean), as_tensor(std)
    if std._data.size and np.min(std._data) < 0:
        raise ValueRangeError("normal: every std must be >= 0")
    try:
        shape = np.broadcast_shapes(mean.shape, std.shape)
    except ValueError:
        raise ShapeError(f"normal: mean of shape {describe_shape(mean.shape)} and std of shape "
                         f"{describe_shape(std.shape)} don't broadcast") from None
    dtype = np.result_type(*(t.dtype for t in (mean, std) if t.dtype.kind == "f"),
                           dtypes.default_float if dtype is None else dtypes.as_dtype(dtype))
    noise = Tensor._wrap(normal_array(shape, dtype, generator=generator))
    return mean + std * noise


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Draw category indices (int64) from the rows of input, weights proportional to its values.

    Without replacement the order is that of successive draws: the categories sorted by
    E / w, E exponential, which gives exactly that distribution, for every row at once.
    """
    p = input._data if isinstance(input, Tensor) else np.asarray(input)
    if p.dtype.kind != "f":
        raise DTypeError(f"multinomial: only floating-point probabilities are supported, "
                         f"got {p.dtype}")
    if p.ndim not in (1, 2):
        raise ShapeError(f"multinomial: probabilities must be 1-D or 2-D, got shape "
                         f"{describe_shape(p.shape)}")
    n = int(num_samples)
    k = p.shape[-1]
    if n <= 0:
        raise ValueRangeError(f"multinomial: num_samples must be positive, got {n}")
    if not replacement and n > k:
        raise ValueRangeError(f"multinomial: can't draw {n} samples without replacement from "
                              f"{k} categories (pass replacement=True)")
    rows = p.reshape(-1, k)
    if not np.all(np.isfinite(rows) & (rows >= 0)):
        raise ValueRangeError("multinomial: probabilities must be finite and >= 0 "
                              "(found inf, nan or a negative value)")
    totals = rows.sum(axis=1, dtype=np.float64)
    if np.any(totals <= 0):
        raise ValueRangeError(f"multinomial: row {int(np.argmax(totals <= 0))} has no weight "
                              "(its probabilities sum to 0)")
    out = streams.multinomial(_generator(generator), rows, n, replacement)
    return Tensor._wrap(out.astype(dtypes.int64).reshape(p.shape[:-1] + (n,)))


Tensor.multinomial = multinomial  # probs.multinomial(1), as in PyTorch


# A draw's gradient is zero (PyTorch's rule for bernoulli): the sample is a parameter, not an
# input, so only the probabilities' shape is read.
_sampled = Primitive("bernoulli", lambda p, sample: sample,
                     lambda g, ans, p, sample: np.zeros_like(p), saves=False)


def _probability(name, p):
    if not 0 <= p <= 1:
        raise ValueRangeError(f"{name}: p must be in [0, 1], got p={p}")
    return p


def bernoulli_values(name, shape, dtype, p, generator=None):
    """A NumPy array of `shape` and `dtype`: 1 with probability p (a number, or an array or
    tensor of probabilities broadcast to shape), else 0."""
    gen = _generator(generator)
    if isinstance(p, Tensor) or np.ndim(p):
        probabilities = np.broadcast_to(as_tensor(p)._data, shape)
        if probabilities.size and not ((probabilities >= 0) & (probabilities <= 1)).all():
            raise ValueRangeError(f"{name}: every probability must be in [0, 1]")
        work = dtype if np.dtype(dtype).kind == "f" else dtypes.float64
        return streams.bernoulli_each(gen, probabilities, work).astype(dtype)
    return streams.bernoulli(gen, shape, _probability(name, float(p))).astype(dtype)


def bernoulli(input, p=None, *, generator=None):
    """0 or 1 for each element of input, 1 with the probability that element gives (or p, if
    given), in input's dtype; its gradient is zero, as in PyTorch."""
    input = as_tensor(input)
    data = input._data
    if data.dtype.kind != "f":
        raise DTypeNotImplementedError(f"bernoulli: needs floating-point probabilities, got "
                                       f"{data.dtype}")
    sample = bernoulli_values("bernoulli", data.shape, data.dtype, data if p is None else p,
                              generator)
    return apply(_sampled, (input,), (data,), {"sample": sample})


Tensor.bernoulli = bernoulli  # probs.bernoulli(), as in PyTorch
