"""The ladder: twenty-three derivatives to work out on paper and then write, easiest first
(then the capstone, capstone.py: a whole network's backward by hand).

Each Exercise holds everything a learner's stub file shows (the maths, the shapes, the forward)
and everything the checker needs (the inputs to draw, which gradients to check, the hints, a
reference answer, the scratchgrad primitive whose rule is the answer, where there is one, and
the classic mistakes, each recognised from the values it produces, with a hint that teaches
without giving the answer away).
The forward is kept as source text: the stub shows exactly the code the checker runs.
"""
from dataclasses import dataclass, field

import numpy as np

from scratchgrad import primitives as P
from scratchgrad.core.engine import sum_to


@dataclass(frozen=True)
class Exercise:
    name: str
    title: str
    maths: str                 # the function and what to derive, as on paper
    inputs: tuple              # the forward's parameter names
    wrt: tuple                 # the inputs whose gradients backward returns, in this order
    forward_source: str        # `def forward(...)`, shown in the stub and run by the checker
    cases: tuple               # one tuple of input shapes per checked case
    hints: tuple               # the derivation, one step at a time
    solution: object           # reference backward(g, out, *inputs) -> gradient or tuple
    primitive: object = None   # scratchgrad's own primitive for this op, when it has one
    sample: dict = field(default_factory=dict)  # input name -> (rng, shape) -> array
    mistakes: tuple = ()       # Classic(...): wrong answers recognised from their values
    old_names: tuple = ()      # earlier names of this exercise (progress and files still count)

    @property
    def forward(self):
        namespace = {"np": np}
        exec(self.forward_source, namespace)  # noqa: S102  (our own table's source)
        return namespace["forward"]


@dataclass(frozen=True)
class Classic:
    """A classic mistake: `wrong(g, out, *inputs)` is the answer it gives (a tuple in wrt's order,
    None where that gradient is not affected), or `test(got, expected, g, out, *inputs)` says
    whether the learner's gradient for `name` is this mistake. The hint may use {N} (the first
    input's first dimension) and {copies} (the right answer over the learner's, a number)."""
    name: str
    hint: str
    wrong: object = None
    test: object = None


# ---------------------------------------------------------------- input samplers

def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def away_from_zero(rng, shape):
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)


def with_ties(rng, shape):
    """Rows whose maximum is shared by exactly two elements (the tie the exercise is about)."""
    x = rng.standard_normal(shape)
    if x.shape and x.shape[-1] >= 2:
        rows = x.reshape(-1, x.shape[-1])
        rows[:, 1] = rows[:, 0] = rows.max(axis=1) + 0.5
    return x


def causal_mask(rng, shape):
    """True where a position may be attended to: j <= i in the last two axes (a decoder's mask)."""
    rows, columns = shape[-2], shape[-1]
    return np.broadcast_to(np.tril(np.ones((rows, columns), dtype=bool)), shape).copy()


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def onehot(target, classes):
    return np.eye(classes)[target]


ELEMENTWISE_CASES = (((3, 4), (3, 4)), ((5,), (5,)), ((), ()))
UNARY_CASES = (((3, 4),), ((5,),), ((),), ((2, 3, 2),))
LAST_AXIS_CASES = (((3, 4),), ((5,),), ((2, 3, 4),))

# ---------------------------------------------------------------- the ladder

EXERCISES = (
    Exercise(
        "add", "addition", "out = a + b (elementwise).\nDerive ∂L/∂a and ∂L/∂b from g = ∂L/∂out.",
        ("a", "b"), ("a", "b"), "def forward(a, b):\n    return a + b\n", ELEMENTWISE_CASES,
        ("Each out[i] depends on a[i] alone, with ∂out[i]/∂a[i] = 1.",
         "Chain rule: ∂L/∂a[i] = g[i] · ∂out[i]/∂a[i] = g[i].",
         "The same holds for b: both gradients are g itself."),
        lambda g, out, a, b: (g, g), P.add),
    Exercise(
        "mul", "multiplication", "out = a * b (elementwise).\nDerive ∂L/∂a and ∂L/∂b.",
        ("a", "b"), ("a", "b"), "def forward(a, b):\n    return a * b\n", ELEMENTWISE_CASES,
        ("∂out[i]/∂a[i] = b[i]: hold b fixed and a·b is a line of slope b.",
         "Chain rule: ∂L/∂a = g · b, elementwise.",
         "By symmetry ∂L/∂b = g · a."),
        lambda g, out, a, b: (g * b, g * a), P.mul),
    Exercise(
        "sub", "subtraction (and negation)",
        "out = a - b (elementwise); -b is the same with a = 0.\nDerive ∂L/∂a and ∂L/∂b.",
        ("a", "b"), ("a", "b"), "def forward(a, b):\n    return a - b\n", ELEMENTWISE_CASES,
        ("∂out/∂a = 1 and ∂out/∂b = -1.",
         "So ∂L/∂a = g and ∂L/∂b = -g: mind the sign."),
        lambda g, out, a, b: (g, -g), P.sub),
    Exercise(
        "div", "division", "out = a / b (elementwise, b ≠ 0).\nDerive ∂L/∂a and ∂L/∂b.",
        ("a", "b"), ("a", "b"), "def forward(a, b):\n    return a / b\n", ELEMENTWISE_CASES,
        ("∂(a/b)/∂a = 1/b.",
         "∂(a/b)/∂b = -a/b² (write a/b as a·b⁻¹ and use the power rule).",
         "Times g: ∂L/∂a = g/b, ∂L/∂b = -g·a/b², which is also -g·out/b."),
        lambda g, out, a, b: (g / b, -g * a / b**2), P.div,
        {"b": away_from_zero}),
    Exercise(
        "pow_base", "a power, with respect to the base",
        "out = x ** 3 (elementwise).\nDerive ∂L/∂x.",
        ("x",), ("x",), "def forward(x):\n    return x ** 3\n", UNARY_CASES,
        ("The power rule: d(xⁿ)/dx = n·xⁿ⁻¹.",
         "Here n = 3: ∂out/∂x = 3x².",
         "Times g: ∂L/∂x = g·3x²."),
        lambda g, out, x: g * 3 * x**2, P.pow),
    Exercise(
        "pow_exponent", "a power, with respect to the exponent",
        "out = x ** y (elementwise, x > 0 is a constant here).\nDerive ∂L/∂y.",
        ("x", "y"), ("y",), "def forward(x, y):\n    return x ** y\n", ELEMENTWISE_CASES,
        ("Write xʸ = e^(y·ln x).",
         "d/dy e^(y·ln x) = e^(y·ln x)·ln x = xʸ·ln x: the answer times ln x.",
         "∂L/∂y = g·out·ln x (you are given out)."),
        lambda g, out, x, y: g * out * np.log(x), P.pow,
        {"x": positive},
        (Classic("y", "that is the power rule, d(xⁿ)/dx = n·xⁿ⁻¹, which differentiates with "
                 "respect to the base, for a fixed exponent. Here the base x is the constant and "
                 "the exponent y varies: xʸ is an exponential in y, like eʸ, not a power of it. "
                 "Rewrite xʸ with e and ln and differentiate that.",
                 wrong=lambda g, out, x, y: (g * y * x ** (y - 1),)),)),
    Exercise(
        "exp", "the exponential", "out = exp(x).\nDerive ∂L/∂x.",
        ("x",), ("x",), "def forward(x):\n    return np.exp(x)\n", UNARY_CASES,
        ("eˣ is its own derivative.",
         "So ∂L/∂x = g·eˣ = g·out: reuse the answer instead of recomputing it."),
        lambda g, out, x: g * out, P.exp),
    Exercise(
        "log", "the natural logarithm", "out = log(x), x > 0.\nDerive ∂L/∂x.",
        ("x",), ("x",), "def forward(x):\n    return np.log(x)\n", UNARY_CASES,
        ("d(ln x)/dx = 1/x.", "∂L/∂x = g / x."),
        lambda g, out, x: g / x, P.log,
        {"x": positive}),
    Exercise(
        "relu", "ReLU", "out = max(x, 0) (elementwise).\nDerive ∂L/∂x (x is never exactly 0 here).",
        ("x",), ("x",), "def forward(x):\n    return np.maximum(x, 0)\n", UNARY_CASES,
        ("Where x > 0, out = x: slope 1. Where x < 0, out = 0: slope 0.",
         "So the gradient passes where x > 0 and is blocked elsewhere: ∂L/∂x = g·(x > 0)."),
        lambda g, out, x: g * (x > 0), P.relu,
        {"x": away_from_zero}),
    Exercise(
        "tanh", "tanh", "out = tanh(x).\nDerive ∂L/∂x in terms of out.",
        ("x",), ("x",), "def forward(x):\n    return np.tanh(x)\n", UNARY_CASES,
        ("tanh x = (eˣ - e⁻ˣ)/(eˣ + e⁻ˣ); differentiate with the quotient rule.",
         "The result simplifies to 1 - tanh²x.",
         "∂L/∂x = g·(1 - out²)."),
        lambda g, out, x: g * (1 - out**2), P.tanh),
    Exercise(
        "sigmoid", "the sigmoid", "out = σ(x) = 1 / (1 + e⁻ˣ).\nDerive ∂L/∂x in terms of out.",
        ("x",), ("x",), "def forward(x):\n    return 1 / (1 + np.exp(-x))\n", UNARY_CASES,
        ("dσ/dx = e⁻ˣ / (1 + e⁻ˣ)².",
         "Split it as 1/(1 + e⁻ˣ) · e⁻ˣ/(1 + e⁻ˣ) = σ · (1 - σ).",
         "∂L/∂x = g·out·(1 - out)."),
        lambda g, out, x: g * out * (1 - out), P.sigmoid),
    Exercise(
        "broadcast_add", "adding with broadcasting (a bias)",
        "out = a + b, where b is broadcast: b of shape (10,) is added to every row of a of shape\n"
        "(32, 10), like a bias. Derive ∂L/∂a and ∂L/∂b; each gradient must have its input's shape.",
        ("a", "b"), ("a", "b"), "def forward(a, b):\n    return a + b\n",
        (((32, 10), (10,)), ((4, 3), (1, 3)), ((2, 3, 4), (4,))),
        ("Broadcasting copied b into every row: b[j] is used in out[0, j], out[1, j], ...",
         "A variable used several times gets the sum of the gradients of all its uses.",
         ("So ∂L/∂b = g summed over the dimensions broadcasting added or stretched "
         "(here g.sum(axis=0) for a (32, 10) a and a (10,) b); ∂L/∂a = g.")),
        lambda g, out, a, b: (sum_to(g, a.shape), sum_to(g, b.shape)), P.add,
        mistakes=(Classic("b", "your gradient for `b` is the right one divided by {copies}, the "
                          "number of copies broadcasting made of each element of b: you took the "
                          "mean over the broadcast dimensions. Each copy is a separate use of "
                          "b[j], and the gradients of separate uses add up.",
                          wrong=lambda g, out, a, b: (None, sum_to(g, b.shape) * b.size / g.size)),),
        old_names=("sum",)),
    Exercise(
        "mean", "the mean over the last axis",
        "out = x.mean(axis=-1): x of shape (3, 4) gives out of shape (3,).\nDerive ∂L/∂x.",
        ("x",), ("x",), "def forward(x):\n    return x.mean(axis=-1)\n", LAST_AXIS_CASES,
        ("out[i] = (x[i, 0] + ... + x[i, n-1]) / n, so ∂out[i]/∂x[i, j] = 1/n.",
         "∂L/∂x[i, j] = g[i] / n: every element of row i gets g[i] / n.",
         ("In NumPy: np.broadcast_to(g[..., None] / n, x.shape) (g has lost the last axis: add it "
         "back).")),
        lambda g, out, x: np.broadcast_to(np.expand_dims(g, -1) / x.shape[-1], x.shape)),
    Exercise(
        "matmul", "matrix multiplication",
        "out = a @ b, a of shape (m, k), b of shape (k, n), out of shape (m, n).\n"
        "Derive ∂L/∂a and ∂L/∂b; check that their shapes come out as a's and b's.",
        ("a", "b"), ("a", "b"), "def forward(a, b):\n    return a @ b\n",
        (((3, 4), (4, 5)), ((2, 3), (3, 2)), ((3, 3), (3, 3)), ((1, 4), (4, 1))),
        ("out[i, j] = Σₖ a[i, k]·b[k, j], so ∂out[i, j]/∂a[i, k] = b[k, j].",
         "∂L/∂a[i, k] = Σⱼ g[i, j]·b[k, j] = (g @ bᵀ)[i, k].",
         "Likewise ∂L/∂b = aᵀ @ g. Shapes check it: (m, n) @ (n, k) = (m, k) is a's shape."),
        lambda g, out, a, b: (g @ b.T, a.T @ g), P.matmul),
    Exercise(
        "batched_matmul", "batched matrix multiplication",
        "out = a @ b with a batch dimension in front: a (batch, m, k) @ b (batch, k, n); b may\n"
        "also be a single (k, n) matrix shared by the whole batch.\nDerive ∂L/∂a and ∂L/∂b.",
        ("a", "b"), ("a", "b"), "def forward(a, b):\n    return a @ b\n",
        (((2, 3, 4), (2, 4, 5)), ((3, 2, 2), (3, 2, 2)), ((2, 3, 4), (4, 5))),
        ("Each batch element is an ordinary matmul: per element, ∂L/∂a = g @ bᵀ, ∂L/∂b = aᵀ @ g.",
         "Transpose only the last two axes: np.swapaxes(b, -1, -2).",
         ("A b shared by the batch was used once per batch element: sum its gradients over the "
         "batch axis.")),
        lambda g, out, a, b: (g @ np.swapaxes(b, -1, -2), sum_to(np.swapaxes(a, -1, -2) @ g, b.shape)),
        P.matmul,
        mistakes=(Classic("b", "your gradient for the shared `b` is the right one divided by the "
                          "batch size, {copies}: you took the mean over the batch. b was used "
                          "once per batch element, and the gradients of separate uses add up.",
                          wrong=lambda g, out, a, b: (None, sum_to(
                              np.swapaxes(a, -1, -2) @ g, b.shape) / (np.prod(a.shape[:-2])
                                                                      if b.ndim < a.ndim else 1))),)),
    Exercise(
        "softmax", "softmax over the last axis",
        "out = softmax(x) over the last axis: out[i] = e^x[i] / Σⱼ e^x[j].\nDerive ∂L/∂x.",
        ("x",), ("x",),
        "def forward(x):\n    e = np.exp(x - x.max(axis=-1, keepdims=True))\n"
        "    return e / e.sum(axis=-1, keepdims=True)\n", LAST_AXIS_CASES,
        ("∂out[i]/∂x[j] = out[i]·(δᵢⱼ - out[j]) (quotient rule).",
         "∂L/∂x[j] = Σᵢ g[i]·out[i]·(δᵢⱼ - out[j]) = out[j]·(g[j] - Σᵢ g[i]·out[i]).",
         "In NumPy: out * (g - (g * out).sum(axis=-1, keepdims=True))."),
        lambda g, out, x: out * (g - (g * out).sum(axis=-1, keepdims=True)),
        mistakes=(Classic("x", "your gradient uses only ∂out[i]/∂x[i], the diagonal of softmax's "
                          "Jacobian, as if softmax were elementwise. But all of x sits in every "
                          "output's denominator, so x[i] moves the other outputs too (∂out[j]/∂x[i] "
                          "is not 0 for j ≠ i), and g at every j sends something back to x[i].",
                          wrong=lambda g, out, x: (g * out * (1 - out),)),)),
    Exercise(
        "log_softmax", "log-softmax over the last axis",
        "out = log(softmax(x)) = x - log Σⱼ e^x[j], over the last axis.\nDerive ∂L/∂x.",
        ("x",), ("x",),
        "def forward(x):\n    m = x.max(axis=-1, keepdims=True)\n"
        "    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))\n", LAST_AXIS_CASES,
        ("∂ log Σⱼ e^x[j] / ∂x[k] = softmax(x)[k].",
         "So ∂out[i]/∂x[k] = δᵢₖ - softmax(x)[k].",
         "∂L/∂x = g - softmax(x)·Σᵢ g[i], with softmax(x) = exp(out)."),
        lambda g, out, x: g - np.exp(out) * g.sum(axis=-1, keepdims=True),
        mistakes=(Classic("x", "your softmax term is multiplied by 1, as if only one output pulled "
                          "on the log Σ: but every output of the row subtracts the same log Σⱼ e^x[j], "
                          "so every g[i] of the row flows back through it.",
                          wrong=lambda g, out, x: (g - np.exp(out),)),)),
    Exercise(
        "cross_entropy", "cross-entropy of logits",
        "out = mean over the batch of -log softmax(logits)[n, target[n]]: logits (N, C), target\n"
        "(N,) of class indices (a constant), out a number.\nDerive ∂L/∂logits.",
        ("logits", "target"), ("logits",),
        "def forward(logits, target):\n    m = logits.max(axis=-1, keepdims=True)\n"
        "    logp = logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))\n"
        "    return -logp[np.arange(len(target)), target].mean()\n",
        (((4, 3), (4,)), ((8, 10), (8,)), ((1, 5), (1,))),
        ("Per sample, -log softmax(z)[t] = -z[t] + log Σⱼ e^z[j].",
         "Its gradient is softmax(z) - onehot(t) (use the log_softmax result).",
         ("The mean divides by N, and the chain rule multiplies by g (a number here): "
         "∂L/∂logits = g·(softmax(logits) - onehot(target)) / N.")),
        lambda g, out, logits, target: g * (softmax(logits) - onehot(target, logits.shape[-1]))
        / len(target),
        P.softmax_cross_entropy,
        mistakes=(Classic("logits", "your gradient is exactly N = {N} times the right one, in every "
                          "element: the loss is the mean over the batch, not the sum. What does "
                          "the mean do to each sample's share of the loss?",
                          wrong=lambda g, out, logits, target: (g * (
                              softmax(logits) - onehot(target, logits.shape[-1])),)),)),
    Exercise(
        "max", "max over the last axis, with ties",
        "out = x.max(axis=-1). In some rows two elements share the maximum.\nDerive ∂L/∂x, "
        "splitting the gradient evenly between tied elements (as PyTorch does).",
        ("x",), ("x",), "def forward(x):\n    return x.max(axis=-1)\n", LAST_AXIS_CASES,
        ("Only the winning element moves the max: its slope is 1, the others' 0.",
         ("With a tie, either winner could move it; the even split gives each 1/2 (also what a "
         "central finite difference measures)."),
         "hits = x == out[..., None]; ∂L/∂x = g[..., None] · hits / hits.sum(axis=-1, keepdims=True)."),
        lambda g, out, x: np.expand_dims(g, -1) * (x == np.expand_dims(out, -1))
        / (x == np.expand_dims(out, -1)).sum(axis=-1, keepdims=True),
        P.max,
        {"x": with_ties},
        (Classic("x", "in the rows with a tie you gave each tied maximum all of g, so together "
                 "they pass back 2g. Nudge both up by ε and the max rises by ε, not 2ε: the tied "
                 "elements have to share the row's g.",
                 wrong=lambda g, out, x: (np.expand_dims(g, -1) * (x == np.expand_dims(out, -1)),)),)),
)

# ---------------------------------------------------------------- the rungs a language model needs

def add_at(target, index, values):
    """target with values added at target[index], repeated indices adding up (np.add.at); returns
    target, so a rule can be one expression."""
    np.add.at(target, index, values)
    return target


def repeated_indices(rng, shape, rows):
    """Class or row indices in [0, rows), with at least one index used twice (where it matters)."""
    idx = rng.integers(0, rows, shape)
    if idx.size >= 2:
        idx.flat[-1] = idx.flat[0]
    return idx


def _layer_norm_scale(x):
    return np.sqrt(x.var(axis=-1, keepdims=True) + 1e-5)


RNN_SHAPES = ("x (N, D), h (N, H), Wx (D, H), Wh (H, H), b (H,)")

EXERCISES += (
    Exercise(
        "embedding", "an embedding lookup (a scatter-add)",
        "out = weight[idx]: weight of shape (V, D) is a table of V rows, idx holds row numbers (a\n"
        "constant), and out stacks the rows it picks; a row may be picked several times.\n"
        "Derive ∂L/∂weight.",
        ("weight", "idx"), ("weight",), "def forward(weight, idx):\n    return weight[idx]\n",
        (((5, 3), (4,)), ((4, 2), (2, 3)), ((3, 4), (6,))),
        (("out[n] is a copy of row idx[n] of weight: ∂out[n, d]/∂weight[v, d] is 1 if idx[n] == v, "
         "else 0."),
         ("So row v's gradient collects g[n] from every n that picked it, and a row picked twice "
         "gets the sum of two g rows; a row never picked gets 0."),
         ("Start from zeros of weight's shape and add g's rows at idx: np.add.at(grad, idx, g) "
         "(grad[idx] += g would count a repeated row once).")),
        lambda g, out, weight, idx: add_at(np.zeros_like(weight), idx, g), P.index,
        mistakes=(Classic("weight", "the rows picked more than once get only one of their "
                          "gradients: a repeated index in an assignment (or in +=) overwrites "
                          "instead of adding. Each pick is a separate use of the row, and the "
                          "gradients of separate uses add up.",
                          test=lambda got, expected, g, out, weight, idx: _only_repeats_wrong(
                              got, expected, idx)),)),
    Exercise(
        "layer_norm", "layer normalisation",
        "out = (x - μ) / √(σ² + ε) over the last axis: μ and σ² are the mean and the (biased)\n"
        "variance of each row, ε = 1e-5. Derive ∂L/∂x (in terms of g, out and the row's √(σ² + ε)).",
        ("x",), ("x",),
        "def forward(x):\n    mu = x.mean(axis=-1, keepdims=True)\n"
        "    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)\n"
        "    return (x - mu) / np.sqrt(var + 1e-5)\n",
        (((3, 4),), ((5,),), ((2, 3, 6),)),
        (("Call s = √(σ² + ε) and n the row length. x[i] reaches out[j] three ways: directly "
         "(when i = j), through μ, and through σ²."),
         "∂μ/∂x[i] = 1/n and ∂σ²/∂x[i] = 2(x[i] - μ)/n, so ∂s/∂x[i] = (x[i] - μ)/(n·s) = out[i]/n.",
         "Together: ∂out[j]/∂x[i] = (δᵢⱼ - 1/n - out[i]·out[j]/n) / s.",
         "∂L/∂x = (g - mean(g) - out·mean(g·out)) / s, the means over the last axis (keepdims)."),
        lambda g, out, x: (g - g.mean(axis=-1, keepdims=True)
                           - out * (g * out).mean(axis=-1, keepdims=True)) / _layer_norm_scale(x),
        mistakes=(
            Classic("x", "you treated the mean and the variance as constants. Both are computed "
                    "from x, so every x[i] also moves every output of its row through them: "
                    "two more paths to add.",
                    wrong=lambda g, out, x: (g / _layer_norm_scale(x),)),
            Classic("x", "you have the path through the mean but not the one through the "
                    "variance: σ² is computed from x too, and each x[i] moves it.",
                    wrong=lambda g, out, x: ((g - g.mean(axis=-1, keepdims=True))
                                             / _layer_norm_scale(x),)),
            Classic("x", "you have the path through the variance but not the one through the "
                    "mean: μ is computed from x too, and each x[i] moves it (by 1/n).",
                    wrong=lambda g, out, x: ((g - out * (g * out).mean(axis=-1, keepdims=True))
                                             / _layer_norm_scale(x),)))),
    Exercise(
        "masked_softmax", "masked softmax (causal attention weights)",
        "out = softmax over the last axis of x with the masked-out positions set to -∞ first:\n"
        "where mask is False, out is 0. mask (a constant) lets row i see columns j ≤ i.\n"
        "Derive ∂L/∂x.",
        ("x", "mask"), ("x",),
        "def forward(x, mask):\n    z = np.where(mask, x, -np.inf)\n"
        "    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
        "    return e / e.sum(axis=-1, keepdims=True)\n",
        (((4, 4), (4, 4)), ((2, 3, 3), (2, 3, 3)), ((5, 5), (5, 5))),
        (("A masked position's x never reaches the output: e^(-∞) = 0 whatever x is there. Its "
         "gradient is 0."),
         "The others form an ordinary softmax over the visible positions (exercise softmax).",
         ("The softmax answer, out·(g - Σ g·out), is already 0 where out is 0: it needs no "
         "change.")),
        lambda g, out, x, mask: out * (g - (g * out).sum(axis=-1, keepdims=True)),
        sample={"mask": causal_mask},
        mistakes=(
            Classic("x", "your gradient reaches the masked positions, but x there never reaches "
                    "the output (e^(-∞) is 0 whatever x is), so nudging it changes nothing: its "
                    "gradient is 0.",
                    test=lambda got, expected, g, out, x, mask: bool(
                        np.allclose(got[mask], expected[mask]) and np.any(got[~mask] != 0))),
            Classic("x", "your gradient uses only ∂out[i]/∂x[i], the diagonal of softmax's "
                    "Jacobian: but each visible x[i] sits in the denominator of every output of "
                    "its row, so g at every j sends something back to x[i].",
                    wrong=lambda g, out, x, mask: (g * out * (1 - out),)))),
    Exercise(
        "rnn_step", "one step of a tanh RNN",
        "out = tanh(x @ Wx + h @ Wh + b): the new hidden state from the input x and the previous\n"
        f"state h, with {RNN_SHAPES}.\nDerive the gradients of all five.",
        ("x", "h", "Wx", "Wh", "b"), ("x", "h", "Wx", "Wh", "b"),
        "def forward(x, h, Wx, Wh, b):\n    return np.tanh(x @ Wx + h @ Wh + b)\n",
        (((4, 3), (4, 5), (3, 5), (5, 5), (5,)), ((1, 2), (1, 3), (2, 3), (3, 3), (3,)),
         ((3, 2), (3, 2), (2, 2), (2, 2), (2,))),
        (("Name the pre-activation a = x @ Wx + h @ Wh + b. First ∂L/∂a: tanh's rung, in terms of "
         "out."),
         ("Then each term of a is a rung you have done: two matmuls (exercise matmul) and a bias "
         "broadcast over the batch (exercise broadcast_add)."),
         ("da = g·(1 - out²); ∂L/∂x = da @ Wxᵀ, ∂L/∂h = da @ Whᵀ, ∂L/∂Wx = xᵀ @ da, "
         "∂L/∂Wh = hᵀ @ da, ∂L/∂b = da summed over the batch.")),
        lambda g, out, x, h, Wx, Wh, b: _rnn_step_grads(g * (1 - out**2), x, h, Wx, Wh),
        mistakes=(Classic(None, "your gradients are those of the step without its tanh: the "
                          "tanh between the sum and out scales every path by its slope at that "
                          "point (tanh's rung: in terms of out).",
                          wrong=lambda g, out, x, h, Wx, Wh, b: _rnn_step_grads(g, x, h, Wx, Wh)),)),
)


def _rnn_step_grads(da, x, h, Wx, Wh):
    return da @ Wx.T, da @ Wh.T, x.T @ da, h.T @ da, da.sum(axis=0)


def _only_repeats_wrong(got, expected, idx):
    """Right on the rows picked once, wrong on a row picked more than once."""
    counts = np.bincount(np.ravel(idx), minlength=len(expected))
    once = counts <= 1
    return bool(np.allclose(got[once], expected[once])
                and not np.allclose(got[~once], expected[~once]))


BY_NAME = {e.name: e for e in EXERCISES}
OLD_NAMES = {old: e.name for e in EXERCISES for old in e.old_names}


def sample_inputs(exercise, shapes, rng):
    """The inputs of one case: float64 arrays, class or row indices for a cross-entropy target or
    an embedding's idx (drawn for the inputs before them), and whatever a sampler draws (a mask)."""
    values = []
    for name, shape in zip(exercise.inputs, shapes):
        if name == "target":  # cross-entropy's class indices, as many classes as logits columns
            values.append(rng.integers(0, values[0].shape[-1], shape))
        elif name == "idx":   # an embedding's rows, one of them picked twice
            values.append(repeated_indices(rng, shape, values[0].shape[0]))
        else:
            sampler = exercise.sample.get(name) or (lambda r, s: r.standard_normal(s))
            values.append(np.asarray(sampler(rng, shape)))
    return values
