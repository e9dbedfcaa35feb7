"""`scratchgrad learn`: the ladder's reference answers pass, the classic mistakes get their hints,
the workspace is never overwritten, and the streak counts days."""
import datetime
import importlib.util
import io
import subprocess
import sys

import numpy as np
import pytest

from scratchgrad.formulas import rule_formulas
from scratchgrad.learn import BY_NAME, EXERCISES, checker, workspace
from scratchgrad.learn.cli import learn, main

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
        "sigmoid", "sum", "mean", "matmul", "batched_matmul", "softmax", "log_softmax",
        "cross_entropy", "max"]


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


def test_stubs_state_the_maths_and_run_the_checkers_forward(work):
    for exercise in EXERCISES:
        path = workspace.stub_path(str(work), exercise)
        spec = importlib.util.spec_from_file_location("stub", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        doc = module.__doc__
        assert exercise.maths.splitlines()[0] in doc and "Shapes checked:" in doc
        assert f"scratchgrad learn check {exercise.name}" in doc
        xs = [np.full(s, 0.5) if n != "target" else np.zeros(s, int)
              for n, s in zip(exercise.inputs, exercise.cases[0])]
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
    assert "✔ mul: pass (new!)" in text and "1 of 19 passed; streak: 1 day" in text


def test_sum_without_the_broadcast_gets_the_shape_hint(work):
    fill(work, "sum", "    return g, g")
    status, text = check(work, "sum")
    assert status == 1
    assert ("your gradient for `b` has shape (32, 10) but `b` has shape (10,): sum over the "
            "broadcast dimensions (g.sum(axis=0) here)") in text


def test_transposed_matmul_gradient_gets_its_hint(work):
    fill(work, "matmul", "    return g @ b.T, g.T @ a")
    _, text = check(work, "matmul")
    assert "your gradient for `b` has shape (5, 4) but `b` has shape (4, 5): it looks transposed" in text


def test_transposed_values_in_a_square_case_get_the_hint():
    exercise = BY_NAME["matmul"]
    square = checker.check(type(exercise)(**{**exercise.__dict__, "cases": (((3, 3), (3, 3)),)}),
                           lambda g, out, a, b: (g @ b.T, (a.T @ g).T))
    assert "is the transpose of the right one" in square.message


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
    assert "scratchgrad learn hint exp" in text


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
    assert "backward must return 2 gradients (grad_a, grad_b)" in text


def test_checking_everything_reports_each_exercise(work):
    fill(work, "add", "    return g, g")
    status, text = run("check", "--dir", str(work))
    assert status == 0  # unfilled ones are to-do, not failures
    assert "✔ add: pass" in text and "· mul: todo" in text and text.count("todo") == 18


# ---------------------------------------------------------------- workspace, progress, streak

def test_start_never_overwrites_the_learners_files(work):
    path = workspace.stub_path(str(work), BY_NAME["mul"])
    with open(path, "w") as f:
        f.write("# my own work\n")
    (work / workspace.stub_name(BY_NAME["add"])).unlink()
    status, text = run("start", str(work))
    assert status == 0 and "1 exercise files written" in text and "kept your 18 existing ones" in text
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


def test_progress_file_survives_damage(work):
    (work / workspace.PROGRESS).write_text("{not json")
    assert workspace.Progress(str(work)).passed == {}


def test_list_shows_the_ladder_and_whats_done(work):
    fill(work, "add", "    return g, g")
    check(work, "add")
    _, text = run("list", "--dir", str(work))
    assert "✔  1 add" in text and "(passed 2026-11-25)" in text and "·  2 mul" in text
    assert "1 of 19 done" in text


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


def test_bad_usage():
    assert run("check", "no_such_exercise")[0] == 2
    assert main(["unknown"], out=io.StringIO()) == 2
    status, text = run("check", "mul", "--dir", "/nonexistent/place")
    assert status == 2 and "run `scratchgrad learn start` first" in text


def test_python_dash_m_and_console_entry(tmp_path):
    result = subprocess.run([sys.executable, "-m", "scratchgrad.learn", "list", "--dir", str(tmp_path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "19 max" in result.stdout
    assert main(["learn", "list", "--dir", str(tmp_path)], out=io.StringIO()) == 0
