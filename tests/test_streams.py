"""PyTorch's random numbers, number for number (scratchgrad/streams.py): the same seed gives the
same draws as in PyTorch, in every factory, in nn.init and the layers' initial weights, in
dropout's masks, multinomial's samples and the DataLoader's shuffles, and the two streams stay
in step afterwards (the same number of draws). float32 is compared bit for bit; float64 to the
last bit or two, where PyTorch's C library rounds sin, cos and log differently from NumPy's."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchgrad as sg

SEEDS = [0, 1337, 2147483647, -5, 2**40 + 3]
SIZES = [1, 2, 5, 15, 16, 17, 31, 54, 1000]


def both(seed, generators=False):
    """Seed both libraries' global streams (or return a fresh pair of seeded generators)."""
    if generators:
        return sg.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
    sg.manual_seed(seed)
    torch.manual_seed(seed)
    return None, None


def same(ours, theirs, float64_ulps=False):
    ours = ours.detach().numpy() if isinstance(ours, sg.Tensor) else np.asarray(ours)
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    if float64_ulps:
        np.testing.assert_allclose(ours, theirs, rtol=1e-15, atol=1e-15)
    else:
        np.testing.assert_array_equal(ours, theirs)


def in_step():
    """After the same draws, the global streams go on alike."""
    same(sg.rand(4), torch.rand(4))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("seed", SEEDS[:3])
def test_rand_and_randn_float32_are_pytorchs_bit_for_bit(seed, size):
    g, tg = both(seed, generators=True)
    same(sg.rand(size, generator=g), torch.rand(size, generator=tg))
    same(sg.randn(size, generator=g), torch.randn(size, generator=tg))
    same(sg.randn(3, size, generator=g), torch.randn(3, size, generator=tg))
    same(sg.rand(1, generator=g), torch.rand(1, generator=tg))  # still in step


@pytest.mark.parametrize("size", SIZES)
def test_rand_and_randn_float64_are_pytorchs(size):
    g, tg = both(7, generators=True)
    same(sg.rand(size, dtype=sg.float64, generator=g), torch.rand(size, dtype=torch.float64, generator=tg))
    same(sg.randn(size, dtype=sg.float64, generator=g),
         torch.randn(size, dtype=torch.float64, generator=tg), float64_ulps=True)
    same(sg.rand(2, generator=g), torch.rand(2, generator=tg))


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(0, 9), min_size=0, max_size=3), seed=st.integers(0, 2**32))
def test_randn_of_any_shape_is_pytorchs(shape, seed):
    g, tg = both(seed, generators=True)
    same(sg.randn(shape, generator=g), torch.randn(shape, generator=tg))
    same(sg.randn(shape, generator=g), torch.randn(shape, generator=tg))  # the cached half too


def test_small_normal_draws_share_the_cached_half_across_calls():
    """Below 16 elements each Box-Muller pair gives one number now and keeps the other."""
    both(3)
    for n in (1, 1, 3, 2, 5):
        same(sg.randn(n), torch.randn(n))
    in_step()


def test_the_global_stream_and_in_place_fills():
    both(11)
    same(sg.empty(40).uniform_(-0.3, 0.7), torch.empty(40).uniform_(-0.3, 0.7))
    same(sg.empty(40).normal_(2.0, 0.5), torch.empty(40).normal_(2.0, 0.5))
    same(sg.empty(7).normal_(-1.0, 3.0), torch.empty(7).normal_(-1.0, 3.0))
    same(sg.normal(1.5, 2.0, size=(5, 5)), torch.normal(1.5, 2.0, size=(5, 5)))
    mean, std = np.linspace(-1, 1, 20).astype(np.float32), np.linspace(0.1, 2, 20).astype(np.float32)
    same(sg.normal(sg.tensor(mean), sg.tensor(std)), torch.normal(torch.tensor(mean), torch.tensor(std)))
    in_step()


@pytest.mark.parametrize("low, high", [(0, 27), (-5, 1000), (0, 2**28 - 1), (0, 2**28), (3, 2**40)])
@pytest.mark.parametrize("seed", SEEDS)
def test_randint_is_pytorchs(seed, low, high):
    g, tg = both(seed, generators=True)
    same(sg.randint(low, high, (40,), generator=g), torch.randint(low, high, (40,), generator=tg))
    same(sg.randint(high, (3, 4), generator=g), torch.randint(high, (3, 4), generator=tg))
    same(sg.rand(1, generator=g), torch.rand(1, generator=tg))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 1000])
def test_randperm_is_pytorchs_and_draws_as_many_numbers(n):
    g, tg = both(42, generators=True)
    same(sg.randperm(n, generator=g), torch.randperm(n, generator=tg))
    same(sg.rand(3, generator=g), torch.rand(3, generator=tg))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n, replacement", [(1, False), (1, True), (3, False), (7, True), (7, False)])
def test_multinomial_is_pytorchs(n, replacement, dtype):
    """(Zero weights are drawn last without replacement, in an order PyTorch leaves to its sort:
    at most as many draws as there are positive weights here.)"""
    weights = np.random.default_rng(0).random((4, 10)).astype(dtype)
    weights[1, :3] = 0
    for rows in (weights, weights[0]):
        g, tg = both(5, generators=True)
        same(sg.multinomial(sg.tensor(rows), n, replacement, generator=g),
             torch.multinomial(torch.tensor(rows), n, replacement, generator=tg))
        same(sg.rand(2, generator=g), torch.rand(2, generator=tg))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_masks_and_values_are_pytorchs(p):
    x = np.random.default_rng(1).standard_normal((8, 33)).astype(np.float32)
    both(9)
    same(sg.nn.functional.dropout(sg.tensor(x), p), torch.nn.functional.dropout(torch.tensor(x), p))
    ours, theirs = sg.nn.Dropout(p), torch.nn.Dropout(p)
    same(ours(sg.tensor(x)), theirs(torch.tensor(x)))
    in_step()


LAYERS = {
    "Linear": lambda nn: nn.Linear(7, 5),
    "Linear no bias": lambda nn: nn.Linear(300, 2, bias=False),
    "Embedding": lambda nn: nn.Embedding(11, 6),
    "Conv2d": lambda nn: nn.Conv2d(3, 4, 3),
    "RNN": lambda nn: nn.RNN(4, 6, num_layers=2),
    "GRU": lambda nn: nn.GRU(4, 6, batch_first=True),
    "LSTM": lambda nn: nn.LSTM(4, 6),
    "GRUCell": lambda nn: nn.GRUCell(4, 6),
    "LSTMCell": lambda nn: nn.LSTMCell(4, 6),
    "MultiheadAttention": lambda nn: nn.MultiheadAttention(8, 2),
    "MultiheadAttention kdim": lambda nn: nn.MultiheadAttention(8, 2, kdim=5, vdim=3),
    "MLP": lambda nn: nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_layers_start_from_pytorchs_weights(name):
    both(1337)
    ours, theirs = LAYERS[name](sg.nn), LAYERS[name](torch.nn)
    ours, theirs = ours.state_dict(), theirs.state_dict()
    assert list(ours) == list(theirs)
    for key in theirs:
        same(ours[key], theirs[key])
    in_step()


@pytest.mark.parametrize("init", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                                  "kaiming_normal_", "uniform_", "normal_"])
def test_nn_init_draws_pytorchs_numbers(init):
    both(4)
    ours, theirs = sg.empty(17, 9), torch.empty(17, 9)
    getattr(sg.nn.init, init)(ours)
    getattr(torch.nn.init, init)(theirs)
    same(ours, theirs)
    g, tg = both(4, generators=True)
    getattr(sg.nn.init, init)(ours, generator=g)
    getattr(torch.nn.init, init)(theirs, generator=tg)
    same(ours, theirs)


def test_dataloader_shuffles_as_pytorch_does():
    """Each pass draws the workers' seed, then the sampler's own seed, then a permutation."""
    both(2147483647)
    ours = sg.utils.data.DataLoader(sg.utils.data.TensorDataset(sg.arange(10)), batch_size=4, shuffle=True)
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.arange(10)), batch_size=4,
                                         shuffle=True)
    for _ in range(2):
        assert [b[0].tolist() for b in ours] == [b[0].tolist() for b in theirs]
    in_step()
    sequential = sg.utils.data.DataLoader(sg.utils.data.TensorDataset(sg.arange(5)), batch_size=2)
    list(sequential)  # a pass without shuffling draws its seed too
    list(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.arange(5)), batch_size=2))
    in_step()


def test_samplers_and_random_split_are_pytorchs():
    data = list(range(23))
    for make in (lambda u, g: u.RandomSampler(data, generator=g),
                 lambda u, g: u.RandomSampler(data, replacement=True, num_samples=70, generator=g),
                 lambda u, g: u.RandomSampler(data, num_samples=30, generator=g),
                 lambda u, g: u.SubsetRandomSampler([5, 3, 9, 11], generator=g),
                 lambda u, g: u.WeightedRandomSampler([0.1, 0.5, 2.0, 1.0], 12, generator=g),
                 lambda u, g: u.WeightedRandomSampler([0.1, 0.5, 2.0, 1.0], 3, replacement=False,
                                                      generator=g)):
        g, tg = both(8, generators=True)
        assert list(make(sg.utils.data, g)) == list(make(torch.utils.data, tg))
        same(sg.rand(2, generator=g), torch.rand(2, generator=tg))
    g, tg = both(8, generators=True)
    ours = sg.utils.data.random_split(range(30), [0.3, 0.3, 0.4], generator=g)
    theirs = torch.utils.data.random_split(range(30), [0.3, 0.3, 0.4], generator=tg)
    assert [list(s) for s in ours] == [list(s) for s in theirs]
    both(8)
    assert [list(s) for s in sg.utils.data.random_split(range(9), [4, 5])] == \
        [list(s) for s in torch.utils.data.random_split(range(9), [4, 5])]


def test_a_saved_state_brings_back_the_cached_normal():
    g = sg.Generator().manual_seed(1)
    sg.randn(1, generator=g)  # keeps the second number of its pair
    state = g.get_state()
    first = sg.randn(3, generator=g).numpy()
    g.set_state(state)
    np.testing.assert_array_equal(sg.randn(3, generator=g).numpy(), first)
    tg = torch.Generator().manual_seed(1)
    torch.randn(1, generator=tg)
    same(first, torch.randn(3, generator=tg).numpy())


def test_a_seeded_training_run_gives_pytorchs_losses():
    """No weights copied: the same seed, model code, dropout and shuffled batches."""
    def run(lib):
        lib.manual_seed(0)
        x = lib.randn(64, 5)
        y = (x[:, 0] > 0).long()
        model = lib.nn.Sequential(lib.nn.Linear(5, 16), lib.nn.ReLU(), lib.nn.Dropout(0.2),
                                  lib.nn.Linear(16, 2))
        opt = lib.optim.Adam(model.parameters(), lr=0.01)
        loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(x, y), batch_size=16,
                                           shuffle=True)
        losses = []
        for _ in range(3):
            for xb, yb in loader:
                loss = lib.nn.functional.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
        return losses
    np.testing.assert_allclose(run(sg), run(torch), rtol=1e-5, atol=1e-6)


def test_float16_uniforms_and_fills_of_views_are_pytorchs():
    """float16 takes float32's 24 random bits; a view that isn't contiguous is filled in the
    order of its memory, normals one pair at a time (PyTorch's serial kernel)."""
    both(3)
    same(sg.rand(40, dtype=sg.float16), torch.rand(40, dtype=torch.float16))
    ours, theirs = sg.empty(8, 40), torch.empty(8, 40)
    ours.T.normal_()
    theirs.T.normal_()
    ours.T.uniform_(-1, 2)
    theirs.T.uniform_(-1, 2)
    ours[:, ::2].normal_(0.5, 2.0)
    theirs[:, ::2].normal_(0.5, 2.0)
    same(ours, theirs)
    ours, theirs = sg.empty(4, 5, 6), torch.empty(4, 5, 6)
    ours.permute(2, 0, 1).uniform_()
    theirs.permute(2, 0, 1).uniform_()
    same(ours, theirs)
    in_step()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bernoulli_is_pytorchs(dtype):
    """bernoulli(p): a uniform of p's precision < p; bernoulli_(number): a 53-bit one; the
    result has p's dtype, and a gradient of zero (PyTorch's rule)."""
    p = np.random.default_rng(0).random((5, 40)).astype(dtype)
    g, tg = both(5, generators=True)
    same(sg.bernoulli(sg.tensor(p), generator=g), torch.bernoulli(torch.tensor(p), generator=tg))
    same(sg.tensor(p).bernoulli(generator=g), torch.tensor(p).bernoulli(generator=tg))
    ours, theirs = sg.tensor(p), torch.tensor(p)
    same(ours.bernoulli_(0.3, generator=g), theirs.bernoulli_(0.3, generator=tg))
    same(ours.bernoulli_(sg.tensor(p[0]), generator=g), theirs.bernoulli_(torch.tensor(p[0]), generator=tg))
    same(sg.rand(2, generator=g), torch.rand(2, generator=tg))
    x = sg.tensor(p, requires_grad=True)
    sg.bernoulli(x).sum().backward()
    assert (x.grad.numpy() == 0).all()


def test_bernoulli_errors_are_pytorchs():
    with pytest.raises(NotImplementedError):
        sg.bernoulli(sg.tensor([1, 0]))
    with pytest.raises(RuntimeError, match="0, 1"):
        sg.bernoulli(sg.tensor([1.5]))
    with pytest.raises(RuntimeError, match="0, 1"):
        sg.empty(3).bernoulli_(1.5)
    assert sg.empty(3, dtype=sg.int64).bernoulli_(0.5).dtype == sg.int64
