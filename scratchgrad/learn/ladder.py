"""The ladder: nineteen derivatives to work out on paper and then write, easiest first.

Each Exercise holds everything a learner's stub file shows (the maths, the shapes, the forward)
and everything the checker needs (the inputs to draw, which gradients to check, the hints, a
reference answer, and the scratchgrad primitive whose rule is the answer, where there is one).
The forward is kept as source text: the stub shows exactly the code the checker runs.
"""
from dataclasses import dataclass, field

import numpy as np

from scratchgrad import primitives as P
from scratchgrad.autograd import sum_to


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

    @property
    def forward(self):
        namespace = {"np": np}
        exec(self.forward_source, namespace)  # noqa: S102  (our own table's source)
        return namespace["forward"]


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


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


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
        {"x": positive}),
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
        "sum", "summing with broadcasting",
        "out = a + b, where b is broadcast: b of shape (10,) is added to every row of a of shape\n"
        "(32, 10), like a bias. Derive ∂L/∂a and ∂L/∂b; each gradient must have its input's shape.",
        ("a", "b"), ("a", "b"), "def forward(a, b):\n    return a + b\n",
        (((32, 10), (10,)), ((4, 3), (1, 3)), ((2, 3, 4), (4,))),
        ("Broadcasting copied b into every row: b[j] is used in out[0, j], out[1, j], ...",
         "A variable used several times gets the sum of the gradients of all its uses.",
         ("So ∂L/∂b = g summed over the dimensions broadcasting added or stretched "
         "(here g.sum(axis=0) for a (32, 10) a and a (10,) b); ∂L/∂a = g.")),
        lambda g, out, a, b: (sum_to(g, a.shape), sum_to(g, b.shape)), P.add),
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
        P.matmul),
    Exercise(
        "softmax", "softmax over the last axis",
        "out = softmax(x) over the last axis: out[i] = e^x[i] / Σⱼ e^x[j].\nDerive ∂L/∂x.",
        ("x",), ("x",),
        "def forward(x):\n    e = np.exp(x - x.max(axis=-1, keepdims=True))\n"
        "    return e / e.sum(axis=-1, keepdims=True)\n", LAST_AXIS_CASES,
        ("∂out[i]/∂x[j] = out[i]·(δᵢⱼ - out[j]) (quotient rule).",
         "∂L/∂x[j] = Σᵢ g[i]·out[i]·(δᵢⱼ - out[j]) = out[j]·(g[j] - Σᵢ g[i]·out[i]).",
         "In NumPy: out * (g - (g * out).sum(axis=-1, keepdims=True))."),
        lambda g, out, x: out * (g - (g * out).sum(axis=-1, keepdims=True))),
    Exercise(
        "log_softmax", "log-softmax over the last axis",
        "out = log(softmax(x)) = x - log Σⱼ e^x[j], over the last axis.\nDerive ∂L/∂x.",
        ("x",), ("x",),
        "def forward(x):\n    m = x.max(axis=-1, keepdims=True)\n"
        "    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))\n", LAST_AXIS_CASES,
        ("∂ log Σⱼ e^x[j] / ∂x[k] = softmax(x)[k].",
         "So ∂out[i]/∂x[k] = δᵢₖ - softmax(x)[k].",
         "∂L/∂x = g - softmax(x)·Σᵢ g[i], with softmax(x) = exp(out)."),
        lambda g, out, x: g - np.exp(out) * g.sum(axis=-1, keepdims=True)),
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
        lambda g, out, logits, target: g * (_softmax(logits) - np.eye(logits.shape[-1])[target])
        / len(target),
        P.softmax_cross_entropy),
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
        {"x": with_ties}),
)

BY_NAME = {e.name: e for e in EXERCISES}


def sample_inputs(exercise, shapes, rng):
    """The inputs of one case: float64 arrays (class indices for a cross-entropy target)."""
    values = []
    for name, shape in zip(exercise.inputs, shapes):
        if name == "target":  # cross-entropy's class indices, as many classes as logits columns
            values.append(rng.integers(0, values[0].shape[-1], shape))
            continue
        sampler = exercise.sample.get(name) or (lambda r, s: r.standard_normal(s))
        values.append(np.asarray(sampler(rng, shape), dtype=np.float64))
    return values
