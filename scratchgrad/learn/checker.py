"""`scratchgrad learn check`: is the learner's derivative right, and if not, what went wrong?

The learner's backward(g, out, *inputs) is wrapped as an sg.Function (so it runs inside the real
engine, exactly like a custom op), fed float64 inputs of several shapes, and its gradients are
compared with central finite differences of the exercise's forward. A failure names the case,
the input, the first wrong element, expected and got, and, for the classic mistakes, a hint
that says what to fix.
"""
import importlib.util
import os
import traceback
from dataclasses import dataclass

import numpy as np

import scratchgrad as sg
from scratchgrad.errors import describe_shape
from scratchgrad.learn.ladder import sample_inputs

EPS = 1e-6
RTOL, ATOL = 1e-4, 1e-6


@dataclass
class Verdict:
    name: str
    status: str        # "pass", "fail" or "todo"
    message: str = ""

    @property
    def passed(self):
        return self.status == "pass"


class Mistake(Exception):
    """The learner's answer is wrong in a way worth its own message."""


# ---------------------------------------------------------------- loading the learner's file

def load_backward(path):
    """The backward function of a learner's file, or a Mistake explaining why there is none."""
    name = os.path.basename(path)
    spec = importlib.util.spec_from_file_location(f"learner_{name[:-3]}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        line = (exc.text or "").strip()
        raise Mistake(f"{name} has a syntax error at line {exc.lineno}: {exc.msg}"
                      + (f"\n  {line}" if line else "")) from None
    except Exception as exc:  # noqa: BLE001  (the learner's module-level code: report their line)
        raise Mistake(f"{name} raised {_crash(exc, path)} while loading") from None
    backward = getattr(module, "backward", None)
    if not callable(backward):
        raise Mistake(f"{name} has no function named backward")
    return backward


def _crash(exc, path):
    """'ValueError: ... at file.py:12: the line', pointing at the learner's own code."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if os.path.abspath(f.filename) == os.path.abspath(path)]
    where = ""
    if frames:
        f = frames[-1]
        where = f"\n  at {os.path.basename(f.filename)}:{f.lineno}: {(f.line or '').strip()}"
    return f"{type(exc).__name__}: {exc}{where}"


# ---------------------------------------------------------------- checking

def check(exercise, backward, path=None, seed=0):
    """Check backward on every case of the exercise; the verdict of the first failing case."""
    forward = exercise.forward
    for number, shapes in enumerate(exercise.cases):
        rng = np.random.default_rng(seed + number)
        xs = sample_inputs(exercise, shapes, rng)
        g = rng.standard_normal(np.shape(forward(*xs)))
        case = ", ".join(f"{n} {describe_shape(s)}" for n, s in zip(exercise.inputs, shapes))
        try:
            got = _through_the_engine(exercise, backward, xs, g, path)
            for name, answer in zip(exercise.wrt, got):
                i = exercise.inputs.index(name)
                expected = _finite_differences(forward, xs, i, g)
                if not np.allclose(answer, expected, rtol=RTOL, atol=ATOL):
                    raise Mistake(_wrong_values(exercise, backward, xs, g, name, answer, expected, path))
        except NotImplementedError:
            return Verdict(exercise.name, "todo", "not filled in yet")
        except Mistake as mistake:
            return Verdict(exercise.name, "fail", f"with {case}: {mistake}")
    count = len(exercise.cases)
    return Verdict(exercise.name, "pass",
                   f"{count} cases of shapes agree with float64 finite differences")


def _call(backward, g, out, xs, exercise, path):
    """The learner's answer as a tuple with one array per input in exercise.wrt."""
    try:
        answer = backward(g, out, *xs)
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001  (anything the learner's code raises is reported)
        shapes = ""
        if isinstance(exc, ValueError):  # NumPy's shape complaints: list the shapes to work with
            names = ("g", "out", *exercise.inputs)
            shapes = "\n  the shapes you have: " + ", ".join(
                f"{n} {describe_shape(np.shape(v))}" for n, v in zip(names, (g, out, *xs)))
        raise Mistake(f"your backward raised {_crash(exc, path)}{shapes}") from None
    if len(exercise.wrt) == 1 and not isinstance(answer, (tuple, list)):
        answer = (answer,)
    if not isinstance(answer, (tuple, list)) or len(answer) != len(exercise.wrt):
        want = ", ".join(f"grad_{n}" for n in exercise.wrt)
        raise Mistake(f"backward must return {len(exercise.wrt)} gradient"
                      f"{'s' if len(exercise.wrt) > 1 else ''} ({want}), got {answer!r:.60}")
    return tuple(np.asarray(a, dtype=np.float64) for a in answer)


def _through_the_engine(exercise, backward, xs, g, path):
    """Run the learner's rule as the backward of an sg.Function; the gradients it delivers."""
    forward = exercise.forward
    wrt = exercise.wrt

    class LearnersOp(sg.Function):
        @staticmethod
        def forward(ctx, *inputs):
            return sg.tensor(forward(*[x.data for x in inputs]))

        @staticmethod
        def backward(ctx, grad):
            answers = dict(zip(wrt, _call(backward, grad.numpy(), forward(*xs), xs, exercise, path)))
            for name, answer in answers.items():
                want = np.shape(xs[exercise.inputs.index(name)])
                if answer.shape != want:
                    raise Mistake(_shape_hint(name, answer.shape, want, np.shape(grad.data)))
            return tuple(sg.tensor(answers[n]) if n in answers else None for n in exercise.inputs)

    LearnersOp.__name__ = exercise.name
    tensors = [sg.tensor(x, requires_grad=name in wrt) for name, x in zip(exercise.inputs, xs)]
    LearnersOp.apply(*tensors).backward(sg.tensor(g))
    return [tensors[exercise.inputs.index(n)].grad.numpy() for n in wrt]


def _finite_differences(forward, xs, i, g):
    """∂(Σ g·forward)/∂xs[i], element by element, by central differences."""
    x = np.array(xs[i], dtype=np.float64)
    flat = x.reshape(-1)
    result = np.zeros(flat.size)
    for j in range(flat.size):
        original = flat[j]
        flat[j] = original + EPS
        plus = np.sum(g * forward(*xs[:i], x, *xs[i + 1:]))
        flat[j] = original - EPS
        minus = np.sum(g * forward(*xs[:i], x, *xs[i + 1:]))
        flat[j] = original
        result[j] = (plus - minus) / (2 * EPS)
    return result.reshape(x.shape)


# ---------------------------------------------------------------- hints for the classic mistakes

def _shape_hint(name, got, want, out_shape):
    text = f"your gradient for `{name}` has shape {describe_shape(got)} but `{name}` has shape {describe_shape(want)}"
    if got == out_shape and _broadcasts(want, got):
        axes = _broadcast_axes(want, got)
        keep = ", keepdims=True" if len(want) == len(got) else ""
        return (f"{text}: sum over the broadcast dimensions (g.sum(axis={axes}{keep}) here): "
                f"`{name}` was used once per position broadcasting copied it to")
    if len(got) >= 2 and got[:-2] + got[-2:][::-1] == want:
        return (f"{text}: it looks transposed; for a matmul, ∂L/∂a = g @ bᵀ and ∂L/∂b = aᵀ @ g "
                "(the shapes must multiply out to the input's)")
    if len(got) > len(want) and got[len(got) - len(want):] == want:
        return f"{text}: sum over the leading dimensions that `{name}` doesn't have"
    return f"{text}: a gradient always has the shape of its input"


def _broadcasts(small, big):
    if len(small) > len(big):
        return False
    return all(s in (1, b) for s, b in zip(small[::-1], big[::-1]))


def _broadcast_axes(small, big):
    lead = len(big) - len(small)
    axes = list(range(lead)) + [lead + k for k, s in enumerate(small) if s == 1 and big[lead + k] != 1]
    return axes[0] if len(axes) == 1 else tuple(axes)


def _wrong_values(exercise, backward, xs, g, name, got, expected, path):
    index = exercise.wrt.index(name)
    doubled = _call(backward, 2 * g, exercise.forward(*xs), xs, exercise, path)[index]
    if np.any(expected != 0) and np.allclose(doubled, got, rtol=RTOL, atol=ATOL):
        return (f"your gradient for `{name}` doesn't change when g does: multiply by the incoming "
                "gradient g (the chain rule: ∂L/∂input = g · ∂out/∂input)")
    if np.allclose(got, -expected, rtol=RTOL, atol=ATOL):
        return f"your gradient for `{name}` has the wrong sign (it is minus the right one)"
    swapped = np.swapaxes(got, -1, -2) if got.ndim >= 2 else None
    if swapped is not None and swapped.shape == expected.shape and np.allclose(
            swapped, expected, rtol=RTOL, atol=ATOL):
        return (f"your gradient for `{name}` is the transpose of the right one; for a matmul, "
                "∂L/∂a = g @ bᵀ and ∂L/∂b = aᵀ @ g")
    bad = ~np.isclose(got, expected, rtol=RTOL, atol=ATOL)
    j = np.unravel_index(np.argmax(bad), bad.shape) if bad.ndim else ()
    element = f" element {tuple(int(k) for k in j)}" if bad.ndim else ""
    return (f"gradient for `{name}`,{element or ' the value'}: expected {float(expected[j]):.6g} "
            f"(finite differences), got {float(got[j]):.6g}. "
            f"Stuck? scratchgrad learn hint {exercise.name}")
