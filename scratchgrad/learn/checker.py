"""`scratchgrad learn check`: is the learner's derivative right, and if not, what went wrong?

The learner's backward(g, out, *inputs) is wrapped as an sg.Function (so it runs inside the real
engine, exactly like a custom op), fed read-only float64 copies of inputs of several shapes, and
its gradients are compared with central finite differences of the exercise's forward. A failure
names the case, the input, the first wrong element, expected and got, and, for the classic
mistakes (recognised from the values they produce), a hint that teaches what to fix without
giving the answer away: the answer is `scratchgrad learn solution`'s job.
"""
import importlib.util
import os
import re
import traceback
from dataclasses import dataclass

import numpy as np

import scratchgrad as sg
from scratchgrad.core.errors import describe_shape
from scratchgrad.learn.capstone import Capstone, DataUnavailable
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

def load_module(path):
    """The learner's file as a module, or a Mistake explaining why it doesn't load."""
    name = os.path.basename(path)
    spec = importlib.util.spec_from_file_location(f"learner_{name[:-3]}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        line = (exc.text or "").strip()
        raise Mistake(f"{name} has a syntax error at line {exc.lineno}: {exc.msg}"
                      + (f"\n  {line}" if line else "")) from None
    except Exception as exc:  # noqa: BLE001  (anything the learner's code raises is reported)
        raise Mistake(f"{name} raised {_crash(exc, path)} while loading") from None
    return module


def load_functions(path, names):
    """The learner's functions called names, from their file."""
    module = load_module(path)
    missing = [n for n in names if not callable(getattr(module, n, None))]
    if missing:
        raise Mistake(f"{os.path.basename(path)} has no function named {' or '.join(missing)}")
    return {n: getattr(module, n) for n in names}


def load_backward(path):
    """The backward function of a learner's file, or a Mistake explaining why there is none."""
    return load_functions(path, ("backward",))["backward"]


def check_file(exercise, path):
    """The verdict on the learner's file for exercise (a ladder rung or the capstone)."""
    try:
        if isinstance(exercise, Capstone):
            return _check_capstone(exercise, load_functions(path, exercise.functions), path)
        return check(exercise, load_backward(path), path)
    except Mistake as problem:
        return Verdict(exercise.name, "fail", str(problem))


def _check_capstone(exercise, functions, path):
    try:
        feedback = exercise.check(functions)
    except NotImplementedError:
        return Verdict(exercise.name, "todo", "not filled in yet")
    except DataUnavailable as missing:
        return Verdict(exercise.name, "todo", f"can't check: {missing}")
    except Exception as exc:  # noqa: BLE001  (anything the learner's code raises is reported)
        if isinstance(exc, ValueError) and "read-only" in str(exc):
            raise Mistake(_read_only_hint(exc, path, ("v", "d_h_pre_act"))) from None
        raise Mistake(f"your code raised {_crash(exc, path)}") from None
    return Verdict(exercise.name, feedback.status, feedback.message)


def _crash(exc, path):
    """'ValueError: ... at file.py:12: the line', pointing at the learner's own code."""
    frame = _learners_frame(exc, path)
    where = (f"\n  at {os.path.basename(frame.filename)}:{frame.lineno}: {(frame.line or '').strip()}"
             if frame else "")
    return f"{type(exc).__name__}: {exc}{where}"


def _learners_frame(exc, path):
    """The innermost frame of the learner's file (of the traceback, for a function handed to
    check() directly), or None."""
    frames = traceback.extract_tb(exc.__traceback__)
    if path:
        frames = [f for f in frames if os.path.abspath(f.filename) == os.path.abspath(path)]
    return frames[-1] if frames else None


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


def frozen(value):
    """A read-only copy: the learner's code can't change the arrays the check itself uses."""
    copy = np.array(value, copy=True)
    copy.flags.writeable = False
    return copy


def _call(backward, g, out, xs, exercise, path):
    """The learner's answer as a tuple with one array per input in exercise.wrt."""
    names = ("g", "out", *exercise.inputs)
    try:
        answer = backward(frozen(g), frozen(out), *[frozen(x) for x in xs])
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001  (anything the learner's code raises is reported)
        if isinstance(exc, ValueError) and "read-only" in str(exc):
            raise Mistake(_read_only_hint(exc, path, names)) from None
        shapes = ""
        if isinstance(exc, ValueError):  # NumPy's shape complaints: list the shapes to work with
            shapes = "\n  the shapes you have: " + ", ".join(
                f"{n} {describe_shape(np.shape(v))}" for n, v in zip(names, (g, out, *xs)))
        raise Mistake(f"your backward raised {_crash(exc, path)}{shapes}") from None
    want = ", ".join(f"grad_{n}" for n in exercise.wrt)
    if answer is None:
        raise Mistake(f"your backward returned None: is its `return` missing? It must return "
                      f"{want}")
    if len(exercise.wrt) == 1 and not isinstance(answer, (tuple, list)):
        answer = (answer,)
    if not isinstance(answer, (tuple, list)) or len(answer) != len(exercise.wrt):
        raise Mistake(f"backward must return {len(exercise.wrt)} gradient"
                      f"{'s' if len(exercise.wrt) > 1 else ''} ({want}), got {describe(answer)}")
    for name, a in zip(exercise.wrt, answer):
        if a is None:
            raise Mistake(f"your gradient for `{name}` is None: backward must return {want}, "
                          "an array for each")
    try:
        return tuple(np.asarray(a, dtype=np.float64) for a in answer)
    except (TypeError, ValueError):
        raise Mistake(f"backward must return arrays of numbers ({want}), got {describe(answer)}") from None


def describe(answer):
    """What a learner's backward returned, in words (never cut short)."""
    if isinstance(answer, (tuple, list)):
        kind = type(answer).__name__
        return f"a {kind} of {len(answer)}: ({', '.join(describe(a) for a in answer)})"
    if isinstance(answer, np.ndarray):
        return f"an array of shape {describe_shape(answer.shape)}"
    if isinstance(answer, (int, float, np.number)):
        return f"the number {answer!r}"
    return f"a {type(answer).__name__}"


def _read_only_hint(exc, path, names):
    """A write into one of backward's arguments, which are read-only."""
    frame = _learners_frame(exc, path)
    line = (frame.line or "") if frame else ""
    match = next((m for n in names
                  if (m := re.match(rf"\s*({re.escape(n)}(\.\w+)*)\s*(\[|[-+*/]=)", line))), None)
    target = match.group(1) if match else None
    what = f"`{target}`" if target else "one of its arguments"
    crash = _crash(exc, path)
    where = crash[crash.index("\n  at "):] if frame else ""
    return (f"your backward writes into {what}, but the arrays backward receives are read-only "
            f"(the check uses them too){where}\n  work on a copy of your own (y = {target or 'x'}"
            ".copy()), or build the new array in one go with np.where(condition, this, that)")


def _through_the_engine(exercise, backward, xs, g, path):
    """Run the learner's rule as the backward of an sg.Function; the gradients it delivers."""
    forward = exercise.forward
    wrt = exercise.wrt

    class LearnersOp(sg.Function):
        @staticmethod
        def forward(ctx, *inputs):
            return sg.tensor(forward(*[x._data for x in inputs]))

        @staticmethod
        def backward(ctx, grad):
            answers = dict(zip(wrt, _call(backward, grad.numpy(), forward(*xs), xs, exercise, path)))
            for name, answer in answers.items():
                want = np.shape(xs[exercise.inputs.index(name)])
                if answer.shape != want:
                    raise Mistake(_shape_hint(exercise, name, answer.shape, want,
                                              np.shape(grad._data)))
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

def _shape_hint(exercise, name, got, want, out_shape):
    text = f"your gradient for `{name}` has shape {describe_shape(got)} but `{name}` has shape {describe_shape(want)}"
    if got == out_shape and _broadcasts(want, got):
        axes = _broadcast_axes(want, got)
        where = (f"axes {axes}" if isinstance(axes, tuple) else f"axis {axes}") + (
            ", kept as size 1" if len(want) == len(got) else "")
        return (f"{text}: sum over the broadcast dimensions ({where} here): `{name}` was used "
                "once per position broadcasting copied it to, and the gradients of its uses add up")
    if _has_matmul(exercise) and len(got) >= 2 and got[:-2] + got[-2:][::-1] == want:
        return (f"{text}, its transpose's: line up the shapes of the matmul that makes it. "
                f"Which factors, in which order and which of them transposed, multiply out to "
                f"{describe_shape(want)}?")
    if len(got) > len(want) and got[len(got) - len(want):] == want:
        return f"{text}: sum over the leading dimensions that `{name}` doesn't have"
    return f"{text}: a gradient always has the shape of its input"


def _has_matmul(exercise):
    return "@" in exercise.forward_source


def _broadcasts(small, big):
    if len(small) > len(big):
        return False
    return all(s in (1, b) for s, b in zip(small[::-1], big[::-1]))


def _broadcast_axes(small, big):
    lead = len(big) - len(small)
    axes = list(range(lead)) + [lead + k for k, s in enumerate(small) if s == 1 and big[lead + k] != 1]
    return axes[0] if len(axes) == 1 else tuple(axes)


def _close(a, b):
    return np.shape(a) == np.shape(b) and bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))


def constant_factor(got, expected):
    """c where got = c·expected everywhere (expected not all 0), else None."""
    if np.shape(got) != np.shape(expected):
        return None
    big = np.abs(expected) > 1e-3 * max(np.abs(expected).max(initial=0), 1e-12)
    if not np.any(big):
        return None
    c = float(np.median(got[big] / expected[big]))
    return c if _close(got, c * expected) else None


def _classic(exercise, name, got, expected, g, xs):
    """The hint of the classic mistake the learner's gradient for `name` matches, if any."""
    index = exercise.wrt.index(name)
    out = exercise.forward(*xs)
    for mistake in exercise.mistakes:
        if mistake.name not in (None, name):
            continue
        if mistake.test is not None:
            matches = mistake.test(got, expected, g, out, *xs)
        else:
            wrong = mistake.wrong(g, out, *xs)
            wrong = wrong[index] if len(wrong) == len(exercise.wrt) else None
            matches = wrong is not None and not _close(wrong, expected) and _close(got, wrong)
        if matches:
            ratio = constant_factor(expected, got)
            return mistake.hint.format(N=np.shape(xs[0])[0] if np.ndim(xs[0]) else 1,
                                       copies=f"{ratio:.4g}" if ratio else "some number")
    return None


def _wrong_values(exercise, backward, xs, g, name, got, expected, path):
    classic = _classic(exercise, name, got, expected, g, xs)
    if classic:
        return f"your gradient for `{name}`: {classic}" if not classic.startswith("your") else classic
    index = exercise.wrt.index(name)
    doubled = _call(backward, 2 * g, exercise.forward(*xs), xs, exercise, path)[index]
    if np.any(expected != 0) and np.allclose(doubled, got, rtol=RTOL, atol=ATOL):
        return (f"your gradient for `{name}` doesn't change when g does: multiply by the incoming "
                "gradient g (the chain rule: ∂L/∂input = g · ∂out/∂input)")
    if np.allclose(got, -expected, rtol=RTOL, atol=ATOL):
        return f"your gradient for `{name}` has the wrong sign (it is minus the right one)"
    swapped = np.swapaxes(got, -1, -2) if got.ndim >= 2 else None
    if _has_matmul(exercise) and swapped is not None and _close(swapped, expected):
        return (f"your gradient for `{name}` is the transpose of the right one. The case is square, "
                "so the shapes can't catch it: write out[i, j] as a sum over the shared index and "
                f"see which index of `{name}` lines up with g's rows and which with its columns")
    bad = ~np.isclose(got, expected, rtol=RTOL, atol=ATOL)
    j = np.unravel_index(np.argmax(bad), bad.shape) if bad.ndim else ()
    element = f" element {tuple(int(k) for k in j)}" if bad.ndim else ""
    factor = constant_factor(got, expected)
    factor = (f" Every element is off by the same factor: yours is {factor:.4g} × the right one."
              if factor is not None else "")
    return (f"gradient for `{name}`,{element or ' the value'}: expected {float(expected[j]):.6g} "
            f"(finite differences), got {float(got[j]):.6g}.{factor} "
            f"Stuck? scratchgrad learn hint {exercise.name}")
