"""The capstone: the whole backward pass of a small network, by hand, checked against autograd.

The network is a 2-layer MLP with BatchNorm and a cross-entropy loss, on one batch of 32 of
scikit-learn's 8×8 handwritten digits (a real data set that needs no download and no file:
scikit-learn ships it, and the demo's extras install scikit-learn):

    pixels (32, 64) → @ W1 → BatchNorm (gain, bias) → tanh → @ W2 + b2 → cross-entropy

The forward is written as one small step per line (FORWARD_SOURCE) and run twice: on NumPy
arrays, for the values the learner is handed, and on scratchgrad tensors, whose autograd gives
the gradient of every step. Two exercises use it:

    mlp_by_hand   every intermediate's gradient, in backward order (ORDER: 22 of them, from the
                  log-probabilities back to the first layer's weights). The check names the first
                  wrong one, what is already right, and how it is wrong: a constant factor, a
                  transpose, a missing sum, a missing path.
    mlp_fused     the same gradients in two expressions: cross-entropy's backward from the logits,
                  BatchNorm's backward from its output to its input.

Why the digits and not a language model's names: they need nothing beyond scikit-learn (no
data file: the project must work without one), and the input weights play the role the
embedding plays in a language model; the embedding itself is the ladder's `embedding` rung.
"""
import inspect
import types
from dataclasses import dataclass

import numpy as np

import scratchgrad as sg
from scratchgrad.core.engine import sum_to
from scratchgrad.core.errors import describe_shape

N, HIDDEN, CLASSES, PIXELS = 32, 16, 10, 64
EPS = 1e-5
RTOL, ATOL = 1e-5, 1e-8

FORWARD_SOURCE = '''\
def forward(x, y, W1, bn_gain, bn_bias, W2, b2):
    """The network, one step per line; every name below gets a gradient. It runs on NumPy
    arrays (the values you are given) and on scratchgrad tensors (autograd's answers)."""
    N = x.shape[0]
    h_pre_bn = x @ W1                                  # (N, H); no bias: BatchNorm would cancel it
    bn_mean = h_pre_bn.mean(axis=0, keepdims=True)     # (1, H)
    bn_diff = h_pre_bn - bn_mean                       # (N, H)
    bn_diff2 = bn_diff ** 2                            # (N, H)
    bn_var = bn_diff2.mean(axis=0, keepdims=True)      # (1, H), biased, as BatchNorm trains
    bn_var_inv = (bn_var + 1e-5) ** -0.5               # (1, H)
    bn_raw = bn_diff * bn_var_inv                      # (N, H)
    h_pre_act = bn_gain * bn_raw + bn_bias             # (N, H); bn_gain, bn_bias are (H,)
    h = np.tanh(h_pre_act)                             # (N, H)
    logits = h @ W2 + b2                               # (N, C)
    logit_maxes = np.max(logits, axis=1, keepdims=True)  # (N, 1)
    norm_logits = logits - logit_maxes                 # (N, C), so that exp can't overflow
    counts = np.exp(norm_logits)                       # (N, C)
    counts_sum = counts.sum(axis=1, keepdims=True)     # (N, 1)
    counts_sum_inv = counts_sum ** -1                  # (N, 1)
    probs = counts * counts_sum_inv                    # (N, C): the softmax
    logprobs = np.log(probs)                           # (N, C)
    loss = -logprobs[np.arange(N), y].mean()           # the mean cross-entropy
    return locals()
'''

# Backward order: each gradient needs only the ones before it.
ORDER = ("logprobs", "probs", "counts_sum_inv", "counts_sum", "counts", "norm_logits",
         "logit_maxes", "logits", "h", "W2", "b2", "h_pre_act", "bn_gain", "bn_bias", "bn_raw",
         "bn_var_inv", "bn_var", "bn_diff2", "bn_diff", "bn_mean", "h_pre_bn", "W1")
PARAMETERS = ("W1", "bn_gain", "bn_bias", "W2", "b2")

# Where each step's gradient comes from (shown in the stub, one line per gradient).
FROM = {
    "logprobs": "loss = -logprobs[range(N), y].mean()",
    "probs": "logprobs = log(probs)",
    "counts_sum_inv": "probs = counts * counts_sum_inv (broadcast over C)",
    "counts_sum": "counts_sum_inv = counts_sum ** -1",
    "counts": "probs = counts * counts_sum_inv, AND counts_sum = counts.sum(1)",
    "norm_logits": "counts = exp(norm_logits)",
    "logit_maxes": "norm_logits = logits - logit_maxes (broadcast over C); ≈ 0, why?",
    "logits": "norm_logits = logits - logit_maxes, AND logit_maxes = logits.max(1)",
    "h": "logits = h @ W2 + b2",
    "W2": "logits = h @ W2 + b2",
    "b2": "logits = h @ W2 + b2 (b2 broadcast over N)",
    "h_pre_act": "h = tanh(h_pre_act)",
    "bn_gain": "h_pre_act = bn_gain * bn_raw + bn_bias (bn_gain broadcast over N)",
    "bn_bias": "h_pre_act = bn_gain * bn_raw + bn_bias (bn_bias broadcast over N)",
    "bn_raw": "h_pre_act = bn_gain * bn_raw + bn_bias",
    "bn_var_inv": "bn_raw = bn_diff * bn_var_inv (broadcast over N)",
    "bn_var": "bn_var_inv = (bn_var + 1e-5) ** -0.5",
    "bn_diff2": "bn_var = bn_diff2.mean(0)",
    "bn_diff": "bn_raw = bn_diff * bn_var_inv, AND bn_diff2 = bn_diff ** 2",
    "bn_mean": "bn_diff = h_pre_bn - bn_mean (broadcast over N)",
    "h_pre_bn": "bn_diff = h_pre_bn - bn_mean, AND bn_mean = h_pre_bn.mean(0)",
    "W1": "h_pre_bn = x @ W1",
}


class DataUnavailable(Exception):
    """The capstone's data set can't be loaded (scikit-learn is missing)."""


# ---------------------------------------------------------------- the batch and the network

def forward_function():
    namespace = {"np": np}
    exec(FORWARD_SOURCE, namespace)  # noqa: S102  (our own source, shown to the learner as is)
    return namespace["forward"]


def batch(seed=0):
    """32 digits (pixels scaled to [0, 1], float64) and their labels, and the network's weights."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataUnavailable(
            "the capstone works on scikit-learn's 8×8 digits, and scikit-learn is not installed: "
            "pip install scikit-learn (or pip install 'scratchgrad[demo]')") from None
    digits = load_digits()
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(digits.target), N, replace=False)
    x = digits.data[rows] / 16.0
    y = digits.target[rows].astype(np.int64)
    weights = {  # not a trained network: a fresh one, scaled so that every step matters
        "W1": rng.standard_normal((PIXELS, HIDDEN)) * (5 / 3) / PIXELS**0.5,
        "bn_gain": 1 + 0.1 * rng.standard_normal(HIDDEN),
        "bn_bias": 0.1 * rng.standard_normal(HIDDEN),
        "W2": rng.standard_normal((HIDDEN, CLASSES)) * 0.5,
        "b2": 0.1 * rng.standard_normal(CLASSES),
    }
    return x, y, weights


@dataclass
class Problem:
    values: types.SimpleNamespace   # every forward value by name (read-only arrays), and N
    grads: dict                     # every name in ORDER -> autograd's gradient of the loss


def problem(seed=0):
    """The forward values the learner gets, and scratchgrad's autograd gradients to check against."""
    x, y, weights = batch(seed)
    forward = forward_function()
    values = forward(x, y, **weights)
    tensors = {name: sg.tensor(w, requires_grad=True) for name, w in weights.items()}
    steps = forward(sg.tensor(x), y, **tensors)
    for name in ORDER:
        if name not in PARAMETERS:
            steps[name].retain_grad()
    steps["loss"].backward()
    grads = {name: (tensors[name] if name in PARAMETERS else steps[name]).grad.numpy()
             for name in ORDER}
    namespace = types.SimpleNamespace(**{k: _frozen(v) for k, v in values.items()})
    return Problem(namespace, grads)


def _frozen(value):
    if isinstance(value, np.ndarray):
        value = value.copy()
        value.flags.writeable = False
    return value


# ---------------------------------------------------------------- reference answers

def reference_backward(v):
    """Every gradient, one step at a time (the answer `scratchgrad learn solution` shows)."""
    d = {}
    d["logprobs"] = np.zeros_like(v.logprobs)
    d["logprobs"][np.arange(v.N), v.y] = -1 / v.N
    d["probs"] = d["logprobs"] / v.probs
    d["counts_sum_inv"] = (d["probs"] * v.counts).sum(axis=1, keepdims=True)
    d["counts_sum"] = d["counts_sum_inv"] * -v.counts_sum ** -2
    d["counts"] = d["probs"] * v.counts_sum_inv + d["counts_sum"]   # two uses: the sum of both
    d["norm_logits"] = d["counts"] * v.counts
    d["logit_maxes"] = -d["norm_logits"].sum(axis=1, keepdims=True)
    d["logits"] = d["norm_logits"] + (v.logits == v.logit_maxes) * d["logit_maxes"]
    d["h"] = d["logits"] @ v.W2.T
    d["W2"] = v.h.T @ d["logits"]
    d["b2"] = d["logits"].sum(axis=0)
    d["h_pre_act"] = d["h"] * (1 - v.h**2)
    d["bn_gain"] = (d["h_pre_act"] * v.bn_raw).sum(axis=0)
    d["bn_bias"] = d["h_pre_act"].sum(axis=0)
    d["bn_raw"] = d["h_pre_act"] * v.bn_gain
    d["bn_var_inv"] = (d["bn_raw"] * v.bn_diff).sum(axis=0, keepdims=True)
    d["bn_var"] = d["bn_var_inv"] * -0.5 * (v.bn_var + 1e-5) ** -1.5
    d["bn_diff2"] = np.ones_like(v.bn_diff2) * d["bn_var"] / v.N
    d["bn_diff"] = d["bn_raw"] * v.bn_var_inv + 2 * v.bn_diff * d["bn_diff2"]
    d["bn_mean"] = -d["bn_diff"].sum(axis=0, keepdims=True)
    d["h_pre_bn"] = d["bn_diff"] + np.ones_like(v.h_pre_bn) * d["bn_mean"] / v.N
    d["W1"] = v.x.T @ d["h_pre_bn"]
    return d


def reference_cross_entropy_backward(v):
    """∂loss/∂logits in one expression: softmax − one-hot, over N (the loss is a mean)."""
    return (v.probs - np.eye(v.probs.shape[1])[v.y]) / v.N


def reference_batchnorm_backward(v, d_h_pre_act):
    """∂loss/∂h_pre_bn in one expression, from the gradient of BatchNorm's output."""
    return v.bn_gain * v.bn_var_inv / v.N * (
        v.N * d_h_pre_act - d_h_pre_act.sum(axis=0)
        - v.bn_raw * (d_h_pre_act * v.bn_raw).sum(axis=0))


# ---------------------------------------------------------------- how a gradient is wrong

def paths(name, v, d):
    """For a value used twice in the forward: its gradient through each use, from the right
    gradients d of what came after it (so a one-path answer can be recognised)."""
    if name == "counts":
        return {"probs": d["probs"] * v.counts_sum_inv,
                "counts_sum": np.broadcast_to(d["counts_sum"], v.counts.shape)}
    if name == "bn_diff":
        return {"bn_raw": d["bn_raw"] * v.bn_var_inv, "bn_diff2": 2 * v.bn_diff * d["bn_diff2"]}
    if name == "h_pre_bn":
        return {"bn_diff": d["bn_diff"],
                "bn_mean": np.broadcast_to(d["bn_mean"] / v.N, v.h_pre_bn.shape)}
    return {}


def diagnose(name, got, expected, v=None, d=None):
    """How got differs from expected, in words (None if it doesn't)."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != expected.shape:
        return _shape_diagnosis(name, got, expected)
    if _close(got, expected):
        return None
    if got.ndim == 2 and got.shape[0] == got.shape[1] and _close(got.T, expected):
        return (f"a transpose: yours is the right matrix transposed. Line up the indices: which "
                f"index of {name} goes with the rows of the gradient you multiply by?")
    uses = paths(name, v, d) if v is not None and d is not None else {}
    for use, part in uses.items():
        if _close(got, part):
            others = ", ".join(u for u in uses if u != use)
            return (f"a missing path: yours is the gradient through {use} alone. {name} is used "
                    f"twice in the forward (also by {others}), and the gradients of its uses add up")
    factor = _factor(got, expected)
    if factor is not None:
        return _factor_words(factor, v.N if v is not None else N)
    bad = ~np.isclose(got, expected, rtol=RTOL, atol=ATOL)
    j = np.unravel_index(np.argmax(bad), bad.shape) if bad.ndim else ()
    where = f"element {tuple(int(k) for k in j)}" if bad.ndim else "the value"
    share = f"{bad.mean():.0%} of its elements" if bad.ndim else "it"
    return (f"{share} wrong, with no single factor or transpose that fixes it: at {where}, "
            f"autograd has {float(expected[j]):.6g} and you have {float(got[j]):.6g}")


def _shape_diagnosis(name, got, expected):
    want, have = describe_shape(expected.shape), describe_shape(got.shape)
    if got.ndim == 2 and got.shape[::-1] == expected.shape:
        return (f"a transpose: yours has shape {have}, {name}'s transpose's, and {name} is {want}. "
                "Line up the shapes of the matmul that makes it: which factors, in which order "
                f"and which of them transposed, multiply out to {want}?")
    if got.size == expected.size and got.ndim != expected.ndim:
        same = _close(got.reshape(expected.shape), expected)
        return (f"{'the right numbers in ' if same else ''}the wrong shape: yours has shape {have} "
                f"but {name} has shape {want}: a sum that should keep its axis (keepdims=True), "
                "or one that shouldn't?")
    if _broadcastable(expected.shape, got.shape):
        axes = _extra_axes(expected.shape, got.shape)
        summed = sum_to(got, expected.shape)
        detail = (" (summed over them, yours would be right)" if _close(summed, expected) else "")
        return (f"a missing sum: yours has shape {have} but {name} has shape {want}. {name} was "
                f"broadcast along axis {axes} in the forward, used once per position there, and "
                f"those uses add up{detail}")
    if _broadcastable(got.shape, expected.shape):
        return (f"summed too far: yours has shape {have} but {name} has shape {want}; each "
                f"element of {name} has a gradient of its own")
    return f"the wrong shape: yours has shape {have} but {name} has shape {want}"


def _broadcastable(small, big):
    return len(small) <= len(big) and small != big and all(
        s in (1, b) for s, b in zip(small[::-1], big[::-1]))


def _extra_axes(small, big):
    lead = len(big) - len(small)
    axes = list(range(lead)) + [lead + k for k, s in enumerate(small) if s == 1 and big[lead + k] != 1]
    return axes[0] if len(axes) == 1 else tuple(axes)


def _close(a, b):
    return np.shape(a) == np.shape(b) and bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))


def _factor(got, expected):
    big = np.abs(expected) > 1e-3 * max(float(np.abs(expected).max(initial=0)), 1e-12)
    if not np.any(big):
        return None
    c = float(np.median(got[big] / expected[big]))
    return c if _close(got, c * expected) else None


def _factor_words(c, n):
    if np.isclose(c, -1):
        return "the wrong sign: yours is minus the right one"
    if np.isclose(c, 0):
        return "all zeros, where it shouldn't be"
    for value, words in ((n, f"N = {n} times the right one: a 1/N is missing (the mean?)"),
                         (1 / n, f"1/N = 1/{n} of the right one: there is a 1/N too many"),
                         (-n, f"-N = -{n} times the right one: a 1/N is missing, and the sign"),
                         (n - 1, f"N - 1 = {n - 1} times the right one"),
                         (2, "twice the right one: a factor 2 too many"),
                         (0.5, "half the right one: a factor 2 is missing")):
        if np.isclose(c, value):
            return f"a factor: yours is {words}"
    return f"a factor: yours is {c:.4g} times the right one, in every element"


# ---------------------------------------------------------------- checking the learner's work

@dataclass
class Feedback:
    status: str            # "pass", "fail" or "todo"
    message: str
    right: tuple = ()      # the names already right, in backward order
    wrong: str | None = None   # the first wrong one


def check_by_hand(d, prob):
    """The learner's dict of gradients against autograd's, in backward order."""
    v, expected = prob.values, prob.grads
    right = []
    for name in ORDER:
        got = d.get(name) if isinstance(d, dict) else None
        if got is None:
            if not right and not isinstance(d, dict):
                return Feedback("fail", f"backward must return a dict of gradients, got {_kind(d)}")
            return Feedback("todo", f"{_so_far(right)}; next: d[\"{name}\"] "
                                    f"(from {FROM[name]}), still missing", tuple(right))
        try:
            got = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            return Feedback("fail", f"d[\"{name}\"] is {_kind(got)}, not an array of numbers",
                            tuple(right), name)
        how = diagnose(name, got, expected[name], v, expected)
        if how is not None:
            return Feedback("fail", f"d[\"{name}\"] is the first wrong gradient, in backward order "
                                    f"(from {FROM[name]}).\n  {_so_far(right, capital=True)}.\n"
                                    "  How it is wrong: "
                                    f"{how}", tuple(right), name)
        right.append(name)
    return Feedback("pass", f"all {len(ORDER)} gradients agree with scratchgrad's autograd, from "
                            "logprobs back to W1", tuple(right))


def check_fused(cross_entropy, batchnorm, prob):
    """The two fused expressions against autograd's ∂loss/∂logits and ∂loss/∂h_pre_bn."""
    v, expected = prob.values, prob.grads
    results = []
    for label, name, function, args in (
            ("cross_entropy_backward(v)", "logits", cross_entropy, (v,)),
            ("batchnorm_backward(v, d_h_pre_act)", "h_pre_bn", batchnorm,
             (v, _frozen(expected["h_pre_act"])))):
        got = function(*args)
        if got is None:
            results.append((label, "todo", "returns None (is its `return` missing, or not written yet?)"))
            continue
        how = diagnose(name, got, expected[name], v)
        results.append((label, "pass" if how is None else "fail",
                        f"agrees with autograd's ∂loss/∂{name}" if how is None else how))
    statuses = {status for _, status, _ in results}
    status = "fail" if "fail" in statuses else "todo" if "todo" in statuses else "pass"
    lines = "\n".join(f"  {'✔' if s == 'pass' else '✘' if s == 'fail' else '·'} {label}: {text}"
                      for label, s, text in results)
    summary = {"pass": "both fused forms agree with autograd",
               "fail": "a fused form is wrong", "todo": "not finished yet"}[status]
    return Feedback(status, f"{summary}\n{lines}")


def _so_far(right, capital=False):
    text = (f"right so far ({len(right)} of {len(ORDER)}): {', '.join(right)}" if right
            else "none right yet")
    return text[0].upper() + text[1:] if capital else text


def _kind(value):
    if isinstance(value, np.ndarray):
        return f"an array of shape {describe_shape(value.shape)}"
    return f"a {type(value).__name__}"


# ---------------------------------------------------------------- the two exercises

@dataclass(frozen=True)
class Capstone:
    name: str
    title: str
    maths: str
    hints: tuple
    functions: tuple       # the functions the learner's file defines
    stub_body: str
    references: tuple      # the reference answers, shown by `solution`
    old_names: tuple = ()

    def stub_text(self, number, total):
        return (f'"""Exercise {number} of {total}: {self.name} ({self.title})\n\n{self.maths}\n\n'
                f"Check with\n    scratchgrad learn check {self.name}\nStuck? `scratchgrad learn "
                f"hint {self.name}` shows the way one step at a time.\n\n"
                "v, the forward pass: v.x (N, 64) pixels, v.y (N,) labels, the weights v.W1, "
                "v.bn_gain, v.bn_bias,\nv.W2, v.b2, v.N = 32 (and H = 16 hidden units, C = 10 classes), every value the forward below "
                'computes, by name (v.probs, v.bn_raw, ...).\nAll are read-only NumPy arrays."""\n'
                f"import numpy as np\n\n\n# The forward the check runs, on NumPy arrays and on scratchgrad "
                f"tensors (changing it here changes nothing).\n{FORWARD_SOURCE}\n\n{self.stub_body}")

    def check(self, module_functions):
        """Feedback for the learner's functions (a dict name -> function)."""
        prob = problem()
        if self.name == "mlp_by_hand":
            return check_by_hand(module_functions["backward"](prob.values), prob)
        return check_fused(module_functions["cross_entropy_backward"],
                           module_functions["batchnorm_backward"], prob)

    def solution_lines(self):
        lines = []
        for function in self.references:
            lines.extend(inspect.getsource(function).rstrip().splitlines())
            lines.append("")
        return lines[:-1]


def _by_hand_stub():
    lines = ["def backward(v):",
             '    """Return d: d["logprobs"] = ∂loss/∂logprobs, ... one gradient per name below, each',
             "    with its value's shape. Work down the list: the check goes in this order and stops",
             '    at the first gradient that is wrong or still None."""',
             "    d = {}"]
    for name in ORDER:
        lines.append(f'    d["{name}"] = None  # from {FROM[name]}')
    lines.append("    return d\n")
    return "\n".join(lines)


FUSED_STUB = '''def cross_entropy_backward(v):
    """∂loss/∂logits in one expression, straight from the forward's values (no intermediates:
    the whole softmax and log and mean at once)."""
    return None


def batchnorm_backward(v, d_h_pre_act):
    """∂loss/∂h_pre_bn in one expression, given d_h_pre_act, the gradient of BatchNorm's output
    (bn_gain * bn_raw + bn_bias), and the forward's values (v.bn_raw, v.bn_var_inv, v.bn_gain, v.N)."""
    return None
'''

CAPSTONE = (
    Capstone(
        "mlp_by_hand", "a whole network's backward, step by step",
        "A 2-layer MLP with BatchNorm and cross-entropy on 32 handwritten digits (8×8 pixels,\n"
        "scikit-learn's): x (32, 64) @ W1 → BatchNorm → tanh → @ W2 + b2 → cross-entropy.\n"
        "Write the gradient of the loss with respect to every intermediate of the forward below,\n"
        "from logprobs back to W1: 22 of them, each checked against scratchgrad's autograd.",
        (("Start at the end: the loss is -(1/N)·Σₙ logprobs[n, y[n]]. Which elements of logprobs "
         "does it touch, and with what slope? The rest get 0."),
         ("Every later step is one rung of the ladder: log, mul with broadcasting, pow, exp, sum, "
         "max, matmul, tanh. Each d[...] is the previous d times the local derivative, and a "
         "broadcast in the forward is a sum in the backward."),
         ("Watch for values used twice (counts, logits, bn_diff, h_pre_bn: the comments say AND): "
         "their gradient is the sum of the gradients through each use."),
         ("d[\"logit_maxes\"] comes out as (almost) 0: subtracting the row's max never changes the "
         "softmax. It is still worth computing: it checks your sums."),
         ("Shapes are the best check: d[name] has name's shape. A (1, H) value broadcast over N "
         "rows gets the sum over axis 0 with keepdims=True; an (H,) parameter, without keepdims."),
         ("BatchNorm's steps: bn_var = mean of bn_diff2 over the batch, so each element of bn_diff2 "
         "gets d[\"bn_var\"] / N; bn_mean, likewise, hands d[\"bn_mean\"] / N to every row of "
         "h_pre_bn.")),
        ("backward",), _by_hand_stub(), (reference_backward,)),
    Capstone(
        "mlp_fused", "the same network's backward, fused",
        "The network of exercise mlp_by_hand. Now write two of its backward steps in one\n"
        "expression each, as a library does: cross-entropy's, from the loss straight to the\n"
        "logits, and BatchNorm's, from its output straight to its input h_pre_bn.",
        (("Cross-entropy: per sample, -log softmax(z)[y] = -z[y] + log Σⱼ e^z[j]. Differentiate "
         "that with respect to z, then remember the loss is a mean over N samples."),
         "It comes out as softmax minus the one-hot of the label, over N: v.probs is the softmax.",
         ("BatchNorm: write bn_raw = (h - μ)·s with s = (σ² + ε)^-½, and collect the three paths "
         "from h_pre_bn[n, j] to the loss: direct, through μ, through σ²."),
         ("With dr = d_h_pre_act·bn_gain (the gradient of bn_raw), the paths through μ and σ² "
         "contribute the column means of dr and of dr·bn_raw."),
         "∂loss/∂h_pre_bn = s/N · (N·dr - Σₙ dr - bn_raw·Σₙ(dr·bn_raw)), sums over the batch."),
        ("cross_entropy_backward", "batchnorm_backward"), FUSED_STUB,
        (reference_cross_entropy_backward, reference_batchnorm_backward)),
)
