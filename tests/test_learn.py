"""`scratchgrad learn`: the ladder's reference answers pass, the classic mistakes get their hints,
the workspace is found from inside it and never overwritten, and the streak counts days.
The capstone (a whole network's backward by hand) is tested in test_learn_capstone.py."""
import datetime
import importlib.util
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scratchgrad.formulas import rule_formulas
from scratchgrad.learn import ALL, BY_NAME, EXERCISES, checker, workspace
from scratchgrad.learn.cli import learn, main
from scratchgrad.learn.ladder import sample_inputs

DAY = datetime.date(2026, 11, 25)
TODO = '    raise NotImplementedError("derive it on paper first, then write it here")'


def run(*argv, today=DAY):
    """Run `scratchgrad learn ARGV`; (exit status, printed text)."""
    out = io.StringIO()
    status = learn(list(argv), today=today, out=out)
    return status, out.getvalue()


@pytest.fixture
def work(tmp_path):
    directory = tmp_path / "my-derivatives"
    assert run("start", str(directory))[0] == 0
    return directory


def fill(directory, name, body):
    """Write body in place of the stub's `raise NotImplementedError` line."""
    path = workspace.stub_path(str(directory), BY_NAME[name])
    with open(path) as f:
        text = f.read()
    assert TODO in text
    with open(path, "w") as f:
        f.write(text.replace(TODO, body))


def check(directory, name, today=DAY):
    return run("check", name, "--dir", str(directory), today=today)


# ---------------------------------------------------------------- the ladder

def test_the_ladder_is_in_the_issues_order():
    assert [e.name for e in EXERCISES] == [
        "add", "mul", "sub", "div", "pow_base", "pow_exponent", "exp", "log", "relu", "tanh",
        "sigmoid", "broadcast_add", "mean", "matmul", "batched_matmul", "softmax", "log_softmax",
        "cross_entropy", "max",
        "embedding", "layer_norm", "masked_softmax", "rnn_step"]  # the rungs a language model needs
    assert [e.name for e in ALL[len(EXERCISES):]] == ["mlp_by_hand", "mlp_fused"]  # the capstone


@pytest.mark.parametrize("exercise", EXERCISES, ids=[e.name for e in EXERCISES])
def test_reference_answers_pass(exercise):
    verdict = checker.check(exercise, exercise.solution)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("exercise", EXERCISES, ids=[e.name for e in EXERCISES])
def test_a_blank_answer_fails(exercise):
    def zeros(g, out, *xs):
        grads = tuple(np.zeros(np.shape(xs[exercise.inputs.index(n)])) for n in exercise.wrt)
        return grads if len(grads) > 1 else grads[0]
    assert checker.check(exercise, zeros).status == "fail"


def test_new_rungs_draw_what_they_are_about():
    rng = np.random.default_rng(0)
    _, idx = sample_inputs(BY_NAME["embedding"], ((5, 3), (4,)), rng)
    assert idx.dtype.kind == "i" and len(set(idx.tolist())) < len(idx)  # a row picked twice
    x, mask = sample_inputs(BY_NAME["masked_softmax"], ((4, 4), (4, 4)), rng)
    assert mask.dtype == bool and mask.tolist() == np.tril(np.ones((4, 4), bool)).tolist()
    out = BY_NAME["masked_softmax"].forward(x, mask)
    assert np.all(out[~mask] == 0) and np.allclose(out.sum(-1), 1)


def test_stubs_state_the_maths_and_run_the_checkers_forward(work):
    for exercise in EXERCISES:
        path = workspace.stub_path(str(work), exercise)
        assert f"Exercise {EXERCISES.index(exercise) + 1} of {len(ALL)}" in Path(path).read_text()
        spec = importlib.util.spec_from_file_location("stub", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        doc = module.__doc__
        assert exercise.maths.splitlines()[0] in doc and "Shapes checked:" in doc
        assert f"scratchgrad learn check {exercise.name}" in doc
        xs = sample_inputs(exercise, exercise.cases[0], np.random.default_rng(0))
        np.testing.assert_allclose(module.forward(*xs), exercise.forward(*xs))
        with pytest.raises(NotImplementedError):
            module.backward(None, None, *xs)


# ---------------------------------------------------------------- the newcomer's path

def test_fill_in_mul_and_see_it_pass(work):
    status, text = check(work, "mul")
    assert status == 0 and "· mul: todo — not filled in yet" in text
    fill(work, "mul", "    return g * b, g * a")
    status, text = check(work, "mul")
    assert status == 0
    assert "✔ mul: pass (new!)" in text and "1 of 25 passed; streak: 1 day" in text


def test_broadcast_add_without_the_sum_gets_the_shape_hint(work):
    fill(work, "broadcast_add", "    return g, g")
    status, text = check(work, "broadcast_add")
    assert status == 1
    assert ("your gradient for `b` has shape (32, 10) but `b` has shape (10,): sum over the "
            "broadcast dimensions (axis 0 here)") in text


def test_transposed_matmul_gradient_gets_a_hint_without_the_answer(work):
    fill(work, "matmul", "    return g @ b.T, g.T @ a")
    _, text = check(work, "matmul")
    assert ("your gradient for `b` has shape (5, 4) but `b` has shape (4, 5), its transpose's: "
            "line up the shapes of the matmul that makes it") in text
    assert "multiply out to (4, 5)?" in text
    assert "ᵀ" not in text and "a.T" not in text  # the answer comes only from `solution`


def test_transposed_values_in_a_square_case_get_the_hint():
    exercise = BY_NAME["matmul"]
    square = checker.check(type(exercise)(**{**exercise.__dict__, "cases": (((3, 3), (3, 3)),)}),
                           lambda g, out, a, b: (g @ b.T, (a.T @ g).T))
    assert "your gradient for `b` is the transpose of the right one" in square.message
    assert "ᵀ" not in square.message and "@" not in square.message


def test_the_transposed_hint_never_fires_without_a_matmul():
    exercise = BY_NAME["broadcast_add"]
    flipped = checker.check(exercise, lambda g, out, a, b: (g, g.sum(axis=0).reshape(b.shape[::-1])))
    assert "has shape (3, 1) but `b` has shape (1, 3)" in flipped.message
    assert "transpose" not in flipped.message


def test_missing_chain_factor_gets_its_hint(work):
    fill(work, "tanh", "    return 1 - out**2")
    _, text = check(work, "tanh")
    assert "doesn't change when g does: multiply by the incoming gradient g" in text


def test_missing_sign_gets_its_hint(work):
    fill(work, "sub", "    return g, g")
    _, text = check(work, "sub")
    assert "your gradient for `b` has the wrong sign" in text


def test_other_wrong_values_name_the_element_expected_and_got(work):
    fill(work, "exp", "    return g * out * 2")
    _, text = check(work, "exp")
    assert "gradient for `x`, element (0, 0): expected" in text and "(finite differences), got" in text
    assert "Every element is off by the same factor: yours is 2 × the right one." in text
    assert "scratchgrad learn hint exp" in text


# Each classic mistake, planted, and the hint it must get: (exercise, wrong backward, hint).
CLASSIC = [
    ("max", lambda g, out, x: np.expand_dims(g, -1) * (x == np.expand_dims(out, -1)),
     "in the rows with a tie you gave each tied maximum all of g"),
    ("softmax", lambda g, out, x: g * out * (1 - out), "the diagonal of softmax's Jacobian"),
    ("cross_entropy", lambda g, out, logits, target: g * (
        np.exp(logits) / np.exp(logits).sum(-1, keepdims=True) - np.eye(logits.shape[-1])[target]),
     "exactly N = 4 times the right one"),
    ("broadcast_add", lambda g, out, a, b: (g, g.mean(axis=0)),
     "the right one divided by 32, the number of copies broadcasting made"),
    ("batched_matmul", lambda g, out, a, b: (
        g @ np.swapaxes(b, -1, -2),
        (np.swapaxes(a, -1, -2) @ g).mean(axis=0) if b.ndim < a.ndim else np.swapaxes(a, -1, -2) @ g),
     "divided by the batch size, 2: you took the mean over the batch"),
    ("pow_exponent", lambda g, out, x, y: g * y * x ** (y - 1), "that is the power rule"),
    ("log_softmax", lambda g, out, x: g - np.exp(out), "every g[i] of the row flows back"),
    ("embedding", lambda g, out, weight, idx: _assigned(weight, idx, g), "picked more than once"),
    ("layer_norm", lambda g, out, x: g / np.sqrt(x.var(-1, keepdims=True) + 1e-5),
     "you treated the mean and the variance as constants"),
    ("masked_softmax", lambda g, out, x, mask: np.where(
        mask, out * (g - (g * out).sum(-1, keepdims=True)), g), "reaches the masked positions"),
    ("rnn_step", lambda g, out, x, h, Wx, Wh, b: (g @ Wx.T, g @ Wh.T, x.T @ g, h.T @ g, g.sum(0)),
     "the step without its tanh"),
]


def _assigned(weight, idx, g):
    grad = np.zeros_like(weight)
    grad[idx] = g  # a repeated row keeps one of its gradients
    return grad


@pytest.mark.parametrize(("name", "wrong", "hint"), CLASSIC, ids=[c[0] for c in CLASSIC])
def test_each_classic_mistake_gets_its_hint(name, wrong, hint):
    verdict = checker.check(BY_NAME[name], wrong)
    assert verdict.status == "fail"
    assert hint in verdict.message
    assert "expected" not in verdict.message  # a lesson, not a number to match


def test_a_missing_return_is_named(work):
    fill(work, "matmul", "    grad_a, grad_b = g @ b.T, a.T @ g")
    _, text = check(work, "matmul")
    assert "your backward returned None: is its `return` missing? It must return grad_a, grad_b" in text
    verdict = checker.check(BY_NAME["mul"], lambda g, out, a, b: (g * b, None))
    assert "your gradient for `b` is None" in verdict.message


def test_inputs_are_read_only_copies_and_a_write_gets_a_hint(work):
    fill(work, "relu", "    x[x < 0] = 0\n    x[x > 0] = 1\n    return g * x")
    _, text = check(work, "relu")
    assert "your backward writes into `x`, but the arrays backward receives are read-only" in text
    assert "at 09_relu.py:25: x[x < 0] = 0" in text
    assert "x.copy()" in text and "np.where(condition, this, that)" in text
    fill_again(work, "relu", "    x = x.copy()\n    x[x < 0] = 0\n    x[x > 0] = 1\n    return g * x")
    status, text = check(work, "relu")
    assert status == 0 and "✔ relu: pass" in text  # the check's own inputs were never touched


def test_writing_into_g_gets_the_same_hint():
    verdict = checker.check(BY_NAME["relu"], _zero_g_where_negative)
    assert "your backward writes into `g`" in verdict.message and "np.where" in verdict.message


def _zero_g_where_negative(g, out, x):
    g[x < 0] = 0
    return g


def fill_again(directory, name, body):
    path = workspace.stub_path(str(directory), BY_NAME[name])
    text = Path(path).read_text()
    end = text.index('"""', text.index("    \"\"\"Return") + 7) + 3  # the end of backward's docstring
    Path(path).write_text(text[:end] + "\n" + body + "\n")


def test_a_syntax_error_is_reported_cleanly(work):
    fill(work, "exp", "    return g * out +")
    status, text = check(work, "exp")
    assert status == 1
    assert "07_exp.py has a syntax error at line" in text and "return g * out +" in text
    assert "Traceback" not in text


def test_an_exception_points_at_the_learners_line(work):
    fill(work, "log", "    scale = 1.0\n    return g / x[5] * scale")
    _, text = check(work, "log")
    assert "your backward raised IndexError" in text
    assert "at 08_log.py:26: return g / x[5] * scale" in text
    assert "scratchgrad/" not in text  # no frames from inside the library


def test_a_numpy_shape_error_lists_the_shapes_to_work_with(work):
    fill(work, "matmul", "    return g @ b, a.T @ g")
    _, text = check(work, "matmul")
    assert "the shapes you have: g (3, 5), out (3, 5), a (3, 4), b (4, 5)" in text


def test_wrong_number_of_gradients(work):
    fill(work, "mul", "    return g * b")
    _, text = check(work, "mul")
    assert "backward must return 2 gradients (grad_a, grad_b), got an array of shape (3, 4)" in text
    verdict = checker.check(BY_NAME["mul"], lambda g, out, a, b: (g * b, g * a, g * a * b))
    assert verdict.message.endswith(  # never cut short
        "got a tuple of 3: (an array of shape (3, 4), an array of shape (3, 4), an array of shape (3, 4))")


def test_checking_everything_reports_each_exercise(work):
    fill(work, "add", "    return g, g")
    status, text = run("check", "--dir", str(work))
    assert status == 0  # unfilled ones are to-do, not failures
    assert "✔ add: pass" in text and "· mul: todo" in text and text.count("todo") == 24


# ---------------------------------------------------------------- workspace, progress, streak

def test_start_never_overwrites_the_learners_files(work):
    path = workspace.stub_path(str(work), BY_NAME["mul"])
    with open(path, "w") as f:
        f.write("# my own work\n")
    (work / workspace.stub_name(BY_NAME["add"])).unlink()
    status, text = run("start", str(work))
    assert status == 0 and "1 exercise files written" in text and "kept your 24 existing ones" in text
    with open(path) as f:
        assert f.read() == "# my own work\n"


def test_streak_counts_consecutive_days_with_a_new_pass(work):
    day = datetime.timedelta(days=1)
    fill(work, "add", "    return g, g")
    fill(work, "mul", "    return g * b, g * a")
    fill(work, "sub", "    return g, -g")
    assert "streak: 1 day" in check(work, "add", today=DAY)[1]
    assert "streak: 2 days" in check(work, "mul", today=DAY + day)[1]
    assert "streak: 2 days" in check(work, "mul", today=DAY + day)[1]   # not new: still 2
    assert "streak: 2 days" in run("list", "--dir", str(work), today=DAY + 2 * day)[1]  # alive
    assert "streak: 0 days" in run("list", "--dir", str(work), today=DAY + 3 * day)[1]  # broken
    assert "streak: 1 day" in check(work, "sub", today=DAY + 3 * day)[1]


def test_a_damaged_progress_file_is_reported_and_never_overwritten(work):
    (work / workspace.PROGRESS).write_text('{"passed": {"add": "2026-11-2')
    fill(work, "add", "    return g, g")
    status, text = check(work, "add")
    assert "progress.json is damaged (JSONDecodeError" in text
    assert "will not be overwritten: repair the file" in text
    assert status == 0 and "✔ add: pass" in text  # the check itself still runs
    assert (work / workspace.PROGRESS).read_text() == '{"passed": {"add": "2026-11-2'
    assert "is damaged" in run("list", "--dir", str(work))[1]
    (work / workspace.PROGRESS).write_text('["a list"]')
    assert "expected a JSON object" in workspace.Progress(str(work)).damaged


def test_list_shows_the_ladder_and_whats_done(work):
    fill(work, "add", "    return g, g")
    check(work, "add")
    _, text = run("list", "--dir", str(work))
    assert "✔  1 add" in text and "(passed 2026-11-25)" in text and "·  2 mul" in text
    assert "1 of 25 done" in text
    assert "· 24 mlp_by_hand" in text and "· 25 mlp_fused" in text


def test_list_checks_again_what_it_shows(work):
    fill(work, "add", "    return g, g")
    check(work, "add")
    fill_again(work, "add", "    return g, 2 * g")  # broken after it passed
    _, text = run("list", "--dir", str(work))
    assert "✘  1 add" in text and "(passed 2026-11-25, fails now)" in text and "0 of 25 done" in text


def test_hint_shows_one_more_step_each_time(work):
    first = run("hint", "matmul", "--dir", str(work))[1]
    assert "step 1:" in first and "step 2:" not in first and "2 more" in first
    second = run("hint", "matmul", "--dir", str(work))[1]
    assert "step 2:" in second and "step 3:" not in second
    everything = run("hint", "matmul", "--all", "--dir", str(work))[1]
    assert "step 3: Likewise ∂L/∂b = aᵀ @ g" in everything


def test_solution_prints_scratchgrads_own_rule_and_formula():
    _, text = run("solution", "mul")
    assert "backward(g, out, a, b) = (g·b, g·a)" in text
    for line in rule_formulas(BY_NAME["mul"].primitive):  # the text sg.viz.trace prints
        assert line in text
    _, text = run("solution", "softmax")
    assert "composite of primitives" in text
    _, text = run("solution", "embedding")
    assert "add_at(zeros_like(weight), idx, g)" in text and "add_at(g, shape=x.shape, key=key)" in text


def test_cross_entropys_rule_reads_as_softmax_minus_one_hot():
    _, text = run("solution", "cross_entropy")
    assert "∂/∂x = g·(softmax(x) − p): softmax − one-hot" in text


# ---------------------------------------------------------------- naming exercises, finding the workspace

def test_an_exercise_by_name_number_or_file(work):
    fill(work, "sub", "    return g, -g")
    for name in ("sub", "3", "03_sub.py", str(work / "03_sub.py")):
        status, text = check(work, name)
        assert status == 0 and "✔ sub: pass" in text, name
    assert run("hint", "14", "--dir", str(work))[1].startswith("matmul:")
    status, text = check(work, "04_sub.py")  # a number that doesn't match the name
    assert status == 2 and "no exercise '04_sub.py'" in text and "a number (2 of 1 to 25)" in text


def test_the_workspace_is_found_from_inside_it_like_git(work, monkeypatch):
    fill(work, "add", "    return g, g")
    inside = work / "notes" / "deeper"
    inside.mkdir(parents=True)
    monkeypatch.chdir(inside)
    status, text = run("check", "add")
    assert status == 0 and "✔ add: pass" in text
    assert "✔  1 add" in run("list")[1]
    monkeypatch.chdir(work.parent)  # beside it: ./my-derivatives is found too
    assert run("check", "add")[0] == 0
    monkeypatch.chdir(work)
    status, text = run("start")  # inside: never a my-derivatives/my-derivatives
    assert status == 0 and "0 exercise files written" in text and "kept your 25" in text
    assert not (work / "my-derivatives").exists()


def test_no_workspace_anywhere_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, text = run("check", "mul")
    assert status == 2 and "no workspace here or in any folder above" in text
    assert "run `scratchgrad learn start` first" in text


def test_the_renamed_exercise_keeps_old_progress_and_files(work):
    """`sum` (a broadcast add) is now `broadcast_add`: 12_sum.py and progress under "sum" count."""
    new = work / workspace.stub_name(BY_NAME["broadcast_add"])
    lead = "g.sum(axis=tuple(range(g.ndim - b.ndim)))"
    ones = "tuple(i for i, n in enumerate(b.shape) if n == 1)"
    text = new.read_text().replace(TODO, f"    return g, {lead}.sum(axis={ones}, keepdims=True)")
    new.unlink()
    (work / "12_sum.py").write_text(text)
    (work / workspace.PROGRESS).write_text('{"passed": {"sum": "2026-11-24"}, "hints": {"sum": 2}}')
    assert run("start", str(work))[1].startswith("0 exercise files written")  # 12_sum.py is it
    status, text = check(work, "sum")
    assert status == 0 and "✔ broadcast_add: pass —" in text and "(new!)" not in text
    assert "(passed 2026-11-24)" in run("list", "--dir", str(work))[1]
    assert "step 3:" in run("hint", "broadcast_add", "--dir", str(work))[1]


def test_bad_usage():
    assert run("check", "no_such_exercise")[0] == 2
    assert main(["unknown"], out=io.StringIO()) == 2
    status, text = run("check", "mul", "--dir", "/nonexistent/place")
    assert status == 2 and "run `scratchgrad learn start` first" in text


def test_help_exits_zero():
    out = io.StringIO()
    assert main(["--help"], out=out) == 0 and "scratchgrad learn --help" in out.getvalue()
    assert main([], out=io.StringIO()) == 2
    assert run("--help")[0] == 0


def test_python_dash_m_and_console_entry(tmp_path):
    result = subprocess.run([sys.executable, "-m", "scratchgrad.learn", "list", "--dir", str(tmp_path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "19 max" in result.stdout and "25 mlp_fused" in result.stdout
    assert main(["learn", "list", "--dir", str(tmp_path)], out=io.StringIO()) == 0
