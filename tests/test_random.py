"""Randomness (API.md "The everyday PyTorch surface"): sg.Generator, generator= on the random
factories, randint/randperm/normal/multinomial: determinism under a seed, independence of
streams, the distributions (chi-square) and the errors. That the numbers are PyTorch's own is
tests/test_streams.py."""
import numpy as np
import pytest
import torch

import scratchgrad as sg
from scratchgrad import random as R

# Upper 0.1% points of the chi-square distribution, by degrees of freedom: a correct sampler
# fails one of these checks once in a thousand seeds, and the seeds here are fixed.
CHI2_999 = {1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52, 9: 27.88}


def chi_square(counts, probabilities):
    """Σ (observed - expected)² / expected."""
    counts = np.asarray(counts, dtype=np.float64)
    expected = counts.sum() * np.asarray(probabilities, dtype=np.float64)
    return float(np.sum((counts - expected) ** 2 / expected))


def assert_fits(counts, probabilities):
    stat = chi_square(counts, probabilities)
    assert stat < CHI2_999[len(probabilities) - 1], (stat, counts)


# ---------------------------------------------------------------- Generator

def test_generator_manual_seed_returns_itself_and_repeats():
    g = sg.Generator()
    assert g.manual_seed(7) is g
    a = sg.rand(5, generator=g)
    b = sg.rand(5, generator=sg.Generator().manual_seed(7))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), sg.rand(5, generator=g).numpy())  # the stream moved on


def test_generator_seeds_like_torch():
    """A new Generator starts from PyTorch's default seed; negative seeds wrap to 64 bits."""
    assert sg.Generator().initial_seed() == torch.Generator().initial_seed()
    assert sg.Generator().manual_seed(-1).initial_seed() == torch.Generator().manual_seed(-1).initial_seed()
    assert sg.Generator().manual_seed(123).initial_seed() == 123


@pytest.mark.parametrize("seed", [3.0, "a"])
def test_manual_seed_refuses_what_torch_refuses(seed):
    with pytest.raises(Exception) as want:
        torch.Generator().manual_seed(seed)
    with pytest.raises(type(want.value), match="manual_seed: the seed must be an int"):
        sg.Generator().manual_seed(seed)


@pytest.mark.parametrize("call", [
    lambda lib: lib.rand(2, dtype=lib.int64), lambda lib: lib.randn(2, dtype=lib.int64),
    lambda lib: lib.zeros(2, dtype=lib.int64).uniform_(), lambda lib: lib.zeros(2, dtype=lib.int64).normal_(),
    lambda lib: lib.zeros(2, dtype=lib.bool).normal_(),
])
def test_float_draws_into_integers_are_not_implemented_like_torch(call):
    with pytest.raises(NotImplementedError):
        call(torch)
    with pytest.raises(NotImplementedError, match="needs a floating-point dtype"):
        call(sg)


def test_generator_seed_is_fresh_and_recorded():
    g = sg.Generator()
    s1, s2 = g.seed(), g.seed()
    assert s1 != s2 and g.initial_seed() == s2


def test_generator_device_is_cpu_and_cuda_is_refused():
    assert sg.Generator(device="cpu").device == "cpu"
    with pytest.raises(RuntimeError, match="CPU"):
        sg.Generator(device="cuda")


def test_generator_state_round_trip():
    g = sg.Generator().manual_seed(5)
    sg.rand(3, generator=g)
    state = g.get_state()
    assert isinstance(state, sg.Tensor) and state.dtype == sg.uint8
    a = sg.randn(4, generator=g)
    assert g.set_state(state) is g
    np.testing.assert_array_equal(sg.randn(4, generator=g).numpy(), a.numpy())
    with pytest.raises(RuntimeError, match="get_state"):
        g.set_state(sg.tensor([1, 2, 3], dtype=sg.uint8))


def test_global_rng_state_round_trip():
    state = sg.get_rng_state()
    a = sg.rand(3)
    sg.set_rng_state(state)
    np.testing.assert_array_equal(sg.rand(3).numpy(), a.numpy())


def test_manual_seed_returns_the_default_generator():
    assert sg.manual_seed(3) is sg.default_generator
    assert sg.initial_seed() == 3


def test_global_seed_and_a_generator_are_independent():
    """Drawing from a Generator doesn't move the global stream, and reseeding one leaves the other."""
    sg.manual_seed(0)
    want = sg.rand(3).numpy()
    sg.manual_seed(0)
    g = sg.Generator().manual_seed(0)
    sg.randn(10, generator=g)
    sg.randint(0, 5, (4,), generator=g)
    np.testing.assert_array_equal(sg.rand(3).numpy(), want)
    g.manual_seed(1)
    sg.manual_seed(0)
    np.testing.assert_array_equal(sg.rand(3).numpy(), want)


@pytest.mark.parametrize("draw", [
    lambda g: sg.rand(2, 3, generator=g),
    lambda g: sg.randn(4, generator=g, dtype=sg.float64),
    lambda g: sg.randint(0, 10, (5,), generator=g),
    lambda g: sg.randperm(6, generator=g),
    lambda g: sg.multinomial(sg.tensor([0.2, 0.3, 0.5]), 4, True, generator=g),
    lambda g: sg.multinomial(sg.ones(3, 5), 3, generator=g),
    lambda g: sg.normal(0.0, 1.0, (3,), generator=g),
])
def test_same_seed_same_draws(draw):
    a = draw(sg.Generator().manual_seed(11))
    b = draw(sg.Generator().manual_seed(11))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    sg.manual_seed(4)
    c = draw(None)
    sg.manual_seed(4)
    np.testing.assert_array_equal(draw(None).numpy(), c.numpy())


def test_generator_argument_must_be_a_generator():
    with pytest.raises(TypeError, match="Generator"):
        sg.rand(3, generator=np.random.default_rng(0))


# ---------------------------------------------------------------- rand, randn, randint, randperm

def test_rand_randn_dtypes_and_device():
    g = sg.Generator().manual_seed(0)
    for dtype in (sg.float16, sg.float32, sg.float64):
        assert sg.rand(3, dtype=dtype, generator=g).dtype == dtype
        assert sg.randn((2, 2), dtype=dtype, generator=g, device="cpu").dtype == dtype
    with pytest.raises(RuntimeError, match="cuda.*CPU"):
        sg.rand(3, device="cuda")
    with pytest.raises(TypeError):
        sg.randn(3, dtype=sg.int64)


def test_size_spellings():
    for fn in (sg.rand, sg.randn):
        assert fn(2, 3).shape == fn((2, 3)).shape == fn([2, 3]).shape == fn(size=(2, 3)).shape == (2, 3)
        assert fn().shape == () and fn(0).shape == (0,)


def test_rand_and_randn_distributions():
    g = sg.Generator().manual_seed(2)
    u = sg.rand(20000, generator=g).numpy()
    assert 0 <= u.min() and u.max() < 1
    assert_fits(np.histogram(u, bins=10, range=(0, 1))[0], [0.1] * 10)
    z = sg.randn(20000, generator=g, dtype=sg.float64).numpy()
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03


@pytest.mark.parametrize("call, low, high, shape", [
    (lambda g: sg.randint(10, (3,), generator=g), 0, 10, (3,)),
    (lambda g: sg.randint(10, size=(2, 2), generator=g), 0, 10, (2, 2)),
    (lambda g: sg.randint(2, 10, (4,), generator=g), 2, 10, (4,)),
    (lambda g: sg.randint(low=-3, high=3, size=(5,), generator=g), -3, 3, (5,)),
    (lambda g: sg.randint(0, 2, [6], generator=g), 0, 2, (6,)),
    (lambda g: sg.randint(5, ()), 0, 5, ()),
])
def test_randint_forms(call, low, high, shape):
    """randint(high, size) and randint(low, high, size), as torch.randint; int64."""
    t = call(sg.Generator().manual_seed(0))
    assert t.shape == shape and t.dtype == sg.int64 and not t.requires_grad
    assert np.all((low <= t.numpy()) & (t.numpy() < high))


def test_randint_is_uniform_and_reaches_both_ends():
    counts = np.bincount(sg.randint(3, 8, (10000,), generator=sg.Generator().manual_seed(1)).numpy())
    assert counts[:3].sum() == 0
    assert_fits(counts[3:], [0.2] * 5)


def test_randint_dtype_argument():
    assert sg.randint(0, 5, (3,), dtype=sg.float32).dtype == sg.float32
    assert sg.randint(0, 5, (3,), dtype=sg.int32).dtype == sg.int32


@pytest.mark.parametrize("call, error", [
    (lambda: sg.randint(5, 5, (3,)), RuntimeError),
    (lambda: sg.randint(10, 3), TypeError),
    (lambda: sg.randint(10), TypeError),
    (lambda: sg.randint(0, 5, (-1,)), RuntimeError),
])
def test_randint_bad_input(call, error):
    with pytest.raises(error, match="randint"):
        call()


def test_randperm():
    g = sg.Generator().manual_seed(3)
    p = sg.randperm(10, generator=g)
    assert p.dtype == sg.int64 and sorted(p.tolist()) == list(range(10))
    assert sg.randperm(0).shape == (0,)
    firsts = np.bincount([sg.randperm(4, generator=g)[0].item() for _ in range(4000)], minlength=4)
    assert_fits(firsts, [0.25] * 4)
    with pytest.raises(RuntimeError, match="randperm"):
        sg.randperm(-1)


def test_rand_like_randn_like_keep_shape_and_dtype():
    x = sg.zeros(2, 3, dtype=sg.float64)
    assert sg.rand_like(x).shape == (2, 3) and sg.rand_like(x).dtype == sg.float64
    assert sg.randn_like(x, dtype=sg.float32).dtype == sg.float32


# ---------------------------------------------------------------- normal

def test_normal_with_numbers_needs_size():
    t = sg.normal(2.0, 0.5, (20000,), generator=sg.Generator().manual_seed(0))
    assert t.dtype == sg.float32 and t.shape == (20000,)
    assert abs(t.numpy().mean() - 2) < 0.02 and abs(t.numpy().std() - 0.5) < 0.02
    with pytest.raises(TypeError, match="size"):
        sg.normal(0.0, 1.0)
    with pytest.raises(RuntimeError, match="std"):
        sg.normal(0.0, -1.0, (2,))


def test_normal_with_tensors_broadcasts_and_has_gradients():
    """mean + std·ε: d/dmean = 1, d/dstd = ε = (out - mean) / std, as in PyTorch."""
    mean = sg.tensor([0.0, 10.0], requires_grad=True)
    std = sg.tensor([[1.0], [2.0], [3.0]], requires_grad=True)
    out = sg.normal(mean, std, generator=sg.Generator().manual_seed(0))
    assert out.shape == (3, 2)
    out.sum().backward()
    np.testing.assert_allclose(mean.grad.numpy(), [3.0, 3.0])
    eps = (out.detach().numpy() - mean.detach().numpy()) / std.detach().numpy()
    np.testing.assert_allclose(std.grad.numpy(), eps.sum(axis=1, keepdims=True), rtol=1e-5)


# ---------------------------------------------------------------- multinomial

def test_multinomial_with_replacement_frequencies():
    probs = sg.tensor([0.1, 0.2, 0.3, 0.4])
    draws = sg.multinomial(probs, 20000, replacement=True, generator=sg.Generator().manual_seed(0))
    assert draws.shape == (20000,) and draws.dtype == sg.int64
    assert_fits(np.bincount(draws.numpy(), minlength=4), [0.1, 0.2, 0.3, 0.4])


def test_multinomial_unnormalised_weights_and_zeros():
    """Weights need not sum to 1, and a zero weight is never drawn (with replacement)."""
    weights = sg.tensor([0.0, 2.0, 0.0, 6.0, 0.0])
    draws = sg.multinomial(weights, 8000, True, generator=sg.Generator().manual_seed(1)).numpy()
    counts = np.bincount(draws, minlength=5)
    assert counts[[0, 2, 4]].sum() == 0
    assert_fits(counts[[1, 3]], [0.25, 0.75])


def test_multinomial_without_replacement_follows_successive_draws():
    """The ordered pair (first, second) has probability p_i · p_j / (1 - p_i)."""
    p = np.array([0.5, 0.3, 0.2])
    g = sg.Generator().manual_seed(2)
    rows = sg.multinomial(sg.tensor(np.tile(p, (6000, 1))), 2, generator=g).numpy()
    assert np.all(rows[:, 0] != rows[:, 1])
    pairs = [(i, j) for i in range(3) for j in range(3) if i != j]
    counts = [np.sum((rows[:, 0] == i) & (rows[:, 1] == j)) for i, j in pairs]
    assert_fits(counts, [p[i] * p[j] / (1 - p[i]) for i, j in pairs])


def test_multinomial_without_replacement_takes_every_category_once():
    draws = sg.multinomial(sg.tensor([1.0, 5.0, 2.0, 0.5]), 4, generator=sg.Generator().manual_seed(0))
    assert sorted(draws.tolist()) == [0, 1, 2, 3]


def test_multinomial_zero_weights_come_last_without_replacement():
    """As in PyTorch, zero-weight categories are drawn only after every positive one."""
    draws = sg.multinomial(sg.tensor([0.0, 1.0, 0.0, 2.0]), 3).tolist()
    assert sorted(draws[:2]) == [1, 3] and draws[2] in (0, 2)
    assert torch.multinomial(torch.tensor([0.0, 1.0, 0.0, 2.0]), 3).shape == (3,)


def test_multinomial_2d_rows_are_separate_distributions():
    probs = sg.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 3.0], [0.0, 2.0, 0.0]])
    out = sg.multinomial(probs, 5, replacement=True)
    assert out.shape == (3, 5)
    np.testing.assert_array_equal(out.numpy(), [[0] * 5, [2] * 5, [1] * 5])
    assert sg.multinomial(probs, 1).shape == (3, 1)
    assert probs.multinomial(1).shape == (3, 1)  # the method, as in PyTorch
    assert sg.multinomial(sg.ones(0, 3), 2).shape == (0, 2)


def test_multinomial_float64_input_and_no_grad():
    p = sg.tensor([0.3, 0.7], dtype=sg.float64, requires_grad=True)
    out = sg.multinomial(p, 3, True)
    assert out.dtype == sg.int64 and not out.requires_grad


@pytest.mark.parametrize("probs, n, replacement, match", [
    ([1.0, -1.0], 1, False, "finite and >= 0"),
    ([1.0, float("inf")], 1, False, "finite and >= 0"),
    ([1.0, float("nan")], 1, True, "finite and >= 0"),
    ([0.0, 0.0], 1, False, "sum to 0"),
    ([0.0, 0.0], 1, True, "sum to 0"),
    ([1.0, 2.0], 3, False, "without replacement"),
    ([1.0, 2.0], 0, True, "positive"),
    ([[[1.0]]], 1, True, "1-D or 2-D"),
])
def test_multinomial_errors_like_torch(probs, n, replacement, match):
    """Every input PyTorch refuses, refused with RuntimeError naming the op and the problem."""
    with pytest.raises(RuntimeError):
        torch.multinomial(torch.tensor(probs), n, replacement)
    with pytest.raises(RuntimeError, match=f"multinomial.*{match}"):
        sg.multinomial(sg.tensor(probs), n, replacement)


def test_multinomial_refuses_integer_weights():
    with pytest.raises(TypeError, match="floating-point"):
        sg.multinomial(sg.tensor([1, 2]), 1)


# ---------------------------------------------------------------- the helpers behind normal_/uniform_

def test_uniform_and_normal_arrays():
    """R.uniform_array / R.normal_array: NumPy arrays of a shape and dtype, from a generator."""
    g = sg.Generator().manual_seed(0)
    u = R.uniform_array((4000,), sg.float32, -2.0, 3.0, generator=g)
    assert isinstance(u, np.ndarray) and u.dtype == np.float32 and u.shape == (4000,)
    assert -2 <= u.min() and u.max() < 3
    n = R.normal_array((2, 3), sg.float16, mean=1.0, std=0.0)
    assert n.dtype == np.float16 and np.all(n == 1.0)
    a = R.normal_array((5,), sg.float64, generator=sg.Generator().manual_seed(9))
    b = R.normal_array((5,), sg.float64, generator=sg.Generator().manual_seed(9))
    np.testing.assert_array_equal(a, b)
    assert R.numpy_rng() is R.numpy_rng(None) is sg.default_generator._rng


def test_in_place_uniform_and_normal_take_a_generator():
    """t.uniform_(a, b, generator=g) and t.normal_(mean, std, generator=g) repeat under a seed."""
    draws = []
    for _ in range(2):
        g = sg.Generator().manual_seed(21)
        draws.append((sg.zeros(2000).uniform_(-1.0, 2.0, generator=g).numpy().copy(),
                      sg.zeros(2000, dtype=sg.float64).normal_(3.0, 0.5, generator=g).numpy().copy()))
    (u, n), (u2, n2) = draws
    np.testing.assert_array_equal(u, u2)
    np.testing.assert_array_equal(n, n2)
    assert u.dtype == np.float32 and -1 <= u.min() and u.max() < 2
    assert n.dtype == np.float64 and abs(n.mean() - 3) < 0.05 and abs(n.std() - 0.5) < 0.05
