"""PyTorch's CPU random streams, number for number, so that a seeded program draws what it
draws in PyTorch: the same initial weights, batches, dropout masks and samples.

PyTorch's CPU generator is the Mersenne Twister (MT19937) seeded with the seed's low 32 bits;
NumPy has the same engine, and this module puts PyTorch's transforms on top of its 32-bit
outputs (what each is, was read off PyTorch 2.13's results; tests/test_streams.py checks them):

- uniform: the low 24 bits of one output over 2^24 (float32, float16), and the low 53 bits of
  two outputs (first << 32 | second) over 2^53 for float64; then x·(high - low) + low;
- normal, 16 or more elements: every element uniform first, then Box-Muller on each block of
  16 (element j and j + 8 from u1 = 1 - u[j], u2 = u[j + 8]), the last 16 redrawn when 16 does
  not divide the size; float32 works in float32 with the Cephes-style log and sincos of the
  AVX2 kernel PyTorch runs on x86 (reproduced step by step below);
- normal, fewer than 16 elements (or into a tensor that isn't contiguous): one double
  Box-Muller pair per two elements, the second kept for the next draw (the generator's cached
  normal);
- integers: output mod range (two outputs as one 64-bit number from a range of 2^28 on);
- randperm: a forward Fisher-Yates shuffle, swap i with i + output mod (n - i);
- exponential: -log(1 - u) of a 53-bit uniform; bernoulli: a 53-bit uniform < p for one p,
  a uniform of the probabilities' precision < each one for a tensor of them;
- multinomial: with replacement a binary search of the cumulative weights per draw; without
  (or for one draw) the weights over exponential noise, largest first.
"""
import math

import numpy as np

_MT_SIZE = 624


def engine(seed):
    """An MT19937 engine in the state std::mt19937(seed & 0xffffffff) starts from, as PyTorch's
    CPU generator after manual_seed(seed)."""
    key = np.empty(_MT_SIZE, np.uint32)
    x = key[0] = seed & 0xFFFFFFFF
    for i in range(1, _MT_SIZE):
        x = (1812433253 * (x ^ (x >> 30)) + i) & 0xFFFFFFFF
        key[i] = x
    mt = np.random.MT19937()
    mt.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": _MT_SIZE}}
    return mt


def random32(gen, n):
    """n raw 32-bit outputs (as uint64)."""
    return gen._engine.random_raw(n)


def random64(gen, n):
    """n 64-bit numbers, each from two outputs: the first is the high half."""
    raw = random32(gen, 2 * n)
    out = raw[0::2] << np.uint64(32)
    out |= raw[1::2]
    return out


def _unit(gen, n, dtype):
    """n uniform numbers on [0, 1) as float64: 53 random bits for float64, else float32's 24."""
    if dtype == np.float64:
        return (random64(gen, n) & np.uint64((1 << 53) - 1)).astype(np.float64) * 2.0**-53
    return (random32(gen, n) & np.uint64((1 << 24) - 1)).astype(np.float64) * 2.0**-24


def uniform(gen, shape, dtype, low=0.0, high=1.0):
    """Uniform on [low, high): the bounds rounded to dtype, the arithmetic in float64."""
    dtype = np.dtype(dtype)
    low, high = float(dtype.type(low)), float(dtype.type(high))
    x = _unit(gen, math.prod(shape), dtype)
    return (x * (high - low) + low).astype(dtype).reshape(shape)


def normal(gen, shape, dtype, mean=0.0, std=1.0, serial=False):
    """Normal samples, in PyTorch's order and arithmetic (see the module's docstring); serial:
    one pair at a time whatever the size, as PyTorch fills a tensor that isn't contiguous.
    (float16 draws in float32 and rounds, which is close to PyTorch's half arithmetic but not
    always the same number.)"""
    dtype = np.dtype(dtype)
    n = math.prod(shape)
    if n < 16 or serial:
        return (_normal_doubles(gen, n) * std + mean).astype(dtype).reshape(shape)
    if dtype == np.float64:
        data = _unit(gen, n, dtype)
        _box_muller_blocks(data[:n - n % 16], _box_muller_double)
        if n % 16:
            data[n - 16:] = _unit(gen, 16, dtype)
            _box_muller_blocks(data[n - 16:], _box_muller_double)
        return (data * std + mean).reshape(shape)
    data = _unit(gen, n, np.float32).astype(np.float32)
    _box_muller_blocks(data[:n - n % 16], _box_muller_float)
    if n % 16:
        data[n - 16:] = _unit(gen, 16, np.float32)
        _box_muller_blocks(data[n - 16:], _box_muller_float)
    # the kernel's fused multiply-add: one rounding of n·std + mean
    values = data.astype(np.float64) * float(np.float32(std)) + float(np.float32(mean))
    return values.astype(dtype).reshape(shape)


def _normal_doubles(gen, n):
    """n standard normals one at a time, as PyTorch's serial kernel draws them: each Box-Muller
    pair of 53-bit uniforms (u1, u2) gives r·cos θ now and keeps r·sin θ in the generator for
    the next number (r = √(-2 log(1 - u2)), θ = 2π u1)."""
    out = np.empty(n)
    start = 0
    if n and gen._normal is not None:
        out[0], gen._normal, start = gen._normal, None, 1
    pairs = (n - start + 1) // 2
    u = _unit(gen, 2 * pairs, np.float64).reshape(pairs, 2)
    radius = np.sqrt(-2.0 * np.log1p(-u[:, 1]))
    theta = 2.0 * math.pi * u[:, 0]
    both = np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1).reshape(-1)
    out[start:] = both[:n - start]
    if (n - start) % 2:
        gen._normal = float(both[-1])
    return out


def _box_muller_blocks(data, transform):
    """Each block of 16 uniforms becomes 16 normals, in place."""
    blocks = data.reshape(-1, 16)
    blocks[:, :8], blocks[:, 8:] = transform(1 - blocks[:, :8], blocks[:, 8:])


def _box_muller_double(u1, u2):
    radius = np.sqrt(-2 * np.log(u1))
    theta = 2 * math.pi * u2
    return radius * np.cos(theta), radius * np.sin(theta)


def _box_muller_float(u1, u2):
    radius = np.sqrt(np.float32(-2) * _log_float(u1))
    sine, cosine = _sincos_float(np.float32(2 * math.pi) * u2)
    return radius * cosine, radius * sine


# ---------------------------------------------------------------- PyTorch's AVX2 float32 math
# The log and sincos of the vectorised kernel (Cephes' polynomials, as in the SSE/AVX "mathfun"
# routines), every step in float32 and the multiply-adds fused as the compiler fuses them, so
# the results agree bit for bit. _fma rounds once from float64, where float32 products are exact.

_F = np.float32


def _fma(a, b, c):
    return (np.asarray(a, np.float64) * np.asarray(b, np.float64)
            + np.asarray(c, np.float64)).astype(_F)


_LOG_P = (7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1,
          -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1)


def _log_float(x):
    """log(x) for x in (0, 1]: x = m·2^e with m in [√½, √2), log m by a polynomial."""
    bits = np.maximum(x, _F(np.finfo(_F).tiny)).view(np.uint32)
    exponent = (bits >> 23).astype(np.int32) - 0x7F
    m = ((bits & np.uint32(0x807FFFFF)) | np.uint32(0x3F000000)).view(_F)  # in [0.5, 1)
    e = exponent.astype(_F) + _F(1)
    small = m < _F(0.707106781186547524)
    e -= small.astype(_F)
    m = (m - _F(1)) + np.where(small, m, _F(0))
    z = m * m
    y = np.full_like(m, _F(_LOG_P[0]))
    for p in _LOG_P[1:]:
        y = _fma(y, m, _F(p))
    y = _fma(y * m, z, e * _F(-2.12194440e-4))
    y = _fma(z, _F(-0.5), y)
    return _fma(e, _F(0.693359375), m + y)


def _sincos_float(x):
    """(sin x, cos x) for x ≥ 0: x reduced by multiples of π/4 (in three parts, for precision),
    then the sine or cosine polynomial, whichever the octant needs, and the signs."""
    j = (x * _F(1.27323954473516)).astype(np.int32)
    j = (j + 1) & ~1
    y = j.astype(_F)
    for part in (-0.78515625, -2.4187564849853515625e-4, -3.77489497744594108e-8):
        x = _fma(y, _F(part), x)
    z = x * x
    cos_poly = _fma(_fma(_F(2.443315711809948E-005), z, _F(-1.388731625493765E-003)), z,
                    _F(4.166664568298827E-002))
    cos_poly = _fma(cos_poly * z, z, -(z * _F(0.5))) + _F(1)
    sin_poly = _fma(_fma(_F(-1.9515295891E-4), z, _F(8.3321608736E-3)), z, _F(-1.6666654611E-1))
    sin_poly = _fma(sin_poly * z, x, x)
    near_zero = (j & 2) == 0
    sine = np.where(near_zero, sin_poly, cos_poly)
    cosine = np.where(near_zero, cos_poly, sin_poly)
    sine = np.where((j & 4) != 0, -sine, sine)
    cosine = np.where(((j - 2) & 4) == 0, -cosine, cosine)
    return sine, cosine


# ---------------------------------------------------------------- integers, permutations, draws

def integers(gen, low, high, shape):
    """Integers on [low, high): an output mod the range."""
    span = high - low
    n = math.prod(shape)
    raw = random64(gen, n) if span >= 1 << 28 else random32(gen, n)
    return ((raw % np.uint64(span)).astype(np.int64) + low).reshape(shape)


def permutation(gen, n):
    """0 .. n-1 shuffled: position i swaps with i + (output mod (n - i))."""
    order = list(range(n))
    if n > 1:
        picks = (random32(gen, n - 1) % np.arange(n, 1, -1, dtype=np.uint64)).tolist()
        for i, z in enumerate(picks):
            order[i], order[i + z] = order[i + z], order[i]
    return np.array(order, dtype=np.int64)


def int64(gen):
    """A number on [0, 2^63): what torch.empty((), dtype=torch.int64).random_() draws (the seed
    PyTorch's RandomSampler and DataLoader take from the global generator)."""
    return int(random64(gen, 1)[0]) % 2**63


def exponential(gen, n):
    """n samples of Exp(1), as float64."""
    return -np.log1p(-_unit(gen, n, np.float64))


def bernoulli(gen, shape, p):
    """A bool array of `shape`, True with probability p: a 53-bit uniform u < p, compared as
    integers (u·2^53 < p·2^53, exact), which spares dropout a float conversion."""
    bits = random64(gen, math.prod(shape))
    bits &= np.uint64((1 << 53) - 1)
    return (bits < np.uint64(math.ceil(p * 2**53))).reshape(shape)


def bernoulli_each(gen, probabilities, dtype):
    """A bool array, True where a uniform of dtype's precision (24 or 53 random bits) falls
    below that element's probability."""
    return _unit(gen, probabilities.size, dtype).reshape(probabilities.shape) < probabilities


def multinomial(gen, rows, n, replacement):
    """n category indices per row of non-negative weights (rows: a 2-D float array)."""
    if not replacement or n == 1:
        keys = rows / exponential(gen, rows.size).astype(rows.dtype).reshape(rows.shape)
        if n == 1:
            return np.argmax(keys, axis=1)[:, None]
        return np.argsort(-keys, axis=1, kind="stable")[:, :n]
    cumulative = np.cumsum(rows, axis=1, dtype=rows.dtype)
    cumulative /= cumulative[:, -1:]
    cumulative[:, -1] = 1
    draws = _unit(gen, rows.shape[0] * n, np.float64).reshape(rows.shape[0], n)
    return np.stack([np.searchsorted(c.astype(np.float64), u, side="left")
                     for c, u in zip(cumulative, draws)]).reshape(rows.shape[0], n)
