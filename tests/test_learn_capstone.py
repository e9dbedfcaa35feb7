"""The capstone of `scratchgrad learn`: a whole network's backward by hand. The reference answers
pass, and each planted bug is named at the right intermediate, with what is already right and
how it is wrong."""
import inspect
import io
import sys

import numpy as np
import pytest

from scratchgrad.learn import BY_NAME, capstone, checker, workspace
from scratchgrad.learn.cli import learn

pytest.importorskip("sklearn")  # the digits; without it the capstone says so (tested below)


@pytest.fixture(scope="module")
def prob():
    return capstone.problem()


def planted(old, new):
    """The reference backward with one line's expression changed, as a learner would write it:
    every later gradient is computed from the planted one."""
    source = inspect.getsource(capstone.reference_backward)
    assert source.count(old) == 1, old
    namespace = {"np": np}
    exec(source.replace(old, new), namespace)  # noqa: S102  (our own reference, edited)
    return namespace["reference_backward"]


def test_the_forward_on_numpy_and_on_scratchgrad_agree(prob):
    v = prob.values
    assert v.x.shape == (32, 64) and v.logits.shape == (32, 10) and v.h.shape == (32, 16)
    assert 1.5 < v.loss < 4 and np.isclose(v.loss, -np.log(v.probs[np.arange(32), v.y]).mean())
    assert not v.h_pre_bn.flags.writeable  # the learner can't change what the check uses
    assert list(prob.grads) == list(capstone.ORDER) and len(capstone.ORDER) == 22


def test_the_reference_answers_pass(prob):
    feedback = capstone.check_by_hand(capstone.reference_backward(prob.values), prob)
    assert feedback.status == "pass" and len(feedback.right) == 22
    fused = capstone.check_fused(capstone.reference_cross_entropy_backward,
                                 capstone.reference_batchnorm_backward, prob)
    assert fused.status == "pass", fused.message


# (the line to change, the learner's version, where it must be named, how it is wrong)
BUGS = [
    ('d["logprobs"][np.arange(v.N), v.y] = -1 / v.N', 'd["logprobs"][np.arange(v.N), v.y] = -1',
     "logprobs", "a factor: yours is N = 32 times the right one: a 1/N is missing"),
    ('d["counts_sum"] = d["counts_sum_inv"] * -v.counts_sum ** -2',
     'd["counts_sum"] = d["counts_sum_inv"] * v.counts_sum ** -2', "counts_sum", "the wrong sign"),
    ('d["counts"] = d["probs"] * v.counts_sum_inv + d["counts_sum"]',
     'd["counts"] = d["probs"] * v.counts_sum_inv', "counts",
     "a missing path: yours is the gradient through probs alone. counts is used twice"),
    ('d["W2"] = v.h.T @ d["logits"]', 'd["W2"] = d["logits"].T @ v.h', "W2",
     "a transpose: yours has shape (10, 16), W2's transpose's, and W2 is (16, 10)"),
    ('d["b2"] = d["logits"].sum(axis=0)', 'd["b2"] = d["logits"]', "b2",
     "a missing sum: yours has shape (32, 10) but b2 has shape (10,). b2 was broadcast along axis 0"),
    ('d["h_pre_act"] = d["h"] * (1 - v.h**2)', 'd["h_pre_act"] = d["h"] * (1 - v.h_pre_act**2)',
     "h_pre_act", "wrong, with no single factor or transpose that fixes it"),
    ('d["bn_gain"] = (d["h_pre_act"] * v.bn_raw).sum(axis=0)',
     'd["bn_gain"] = (d["h_pre_act"] * v.bn_raw).mean(axis=0)', "bn_gain",
     "a factor: yours is 1/N = 1/32 of the right one"),
    ('d["bn_var_inv"] = (d["bn_raw"] * v.bn_diff).sum(axis=0, keepdims=True)',
     'd["bn_var_inv"] = (d["bn_raw"] * v.bn_diff).sum(axis=0)', "bn_var_inv",
     "the right numbers in the wrong shape: yours has shape (16,) but bn_var_inv has shape (1, 16)"),
    ('d["bn_diff2"] = np.ones_like(v.bn_diff2) * d["bn_var"] / v.N',
     'd["bn_diff2"] = np.ones_like(v.bn_diff2) * d["bn_var"]', "bn_diff2",
     "a factor: yours is N = 32 times the right one"),
    ('d["bn_diff"] = d["bn_raw"] * v.bn_var_inv + 2 * v.bn_diff * d["bn_diff2"]',
     'd["bn_diff"] = d["bn_raw"] * v.bn_var_inv', "bn_diff",
     ("a missing path: yours is the gradient through bn_raw alone. bn_diff is used twice in the "
     "forward (also by bn_diff2)")),
    ('d["h_pre_bn"] = d["bn_diff"] + np.ones_like(v.h_pre_bn) * d["bn_mean"] / v.N',
     'd["h_pre_bn"] = d["bn_diff"]', "h_pre_bn", "a missing path: yours is the gradient through bn_diff alone"),
    ('d["W1"] = v.x.T @ d["h_pre_bn"]', 'd["W1"] = 2 * v.x.T @ d["h_pre_bn"]', "W1",
     "twice the right one"),
]


@pytest.mark.parametrize(("old", "new", "where", "how"), BUGS, ids=[b[2] for b in BUGS])
def test_each_planted_bug_is_named_at_its_intermediate(prob, old, new, where, how):
    feedback = capstone.check_by_hand(planted(old, new)(prob.values), prob)
    assert feedback.status == "fail" and feedback.wrong == where
    assert feedback.right == capstone.ORDER[:capstone.ORDER.index(where)]  # what is already right
    assert f'd["{where}"] is the first wrong gradient, in backward order' in feedback.message
    assert how in feedback.message
    if feedback.right:
        assert f"Right so far ({len(feedback.right)} of 22): logprobs" in feedback.message


def test_unfinished_work_says_what_is_next(prob):
    d = capstone.reference_backward(prob.values)
    for name in capstone.ORDER[5:]:
        del d[name]
    feedback = capstone.check_by_hand(d, prob)
    assert feedback.status == "todo"
    assert 'right so far (5 of 22): logprobs, probs, counts_sum_inv, counts_sum, counts' in feedback.message
    assert 'next: d["norm_logits"] (from counts = exp(norm_logits)), still missing' in feedback.message


def test_fused_forms_are_checked_and_their_mistakes_described(prob):
    def no_mean(v):
        return v.probs - np.eye(10)[v.y]

    def only_direct(v, d):
        return d * v.bn_gain * v.bn_var_inv

    feedback = capstone.check_fused(no_mean, only_direct, prob)
    assert feedback.status == "fail"
    assert "✘ cross_entropy_backward(v): a factor: yours is N = 32 times the right one" in feedback.message
    assert "✘ batchnorm_backward(v, d_h_pre_act):" in feedback.message
    feedback = capstone.check_fused(capstone.reference_cross_entropy_backward, lambda v, d: None, prob)
    assert feedback.status == "todo" and "✔ cross_entropy_backward(v)" in feedback.message


def _run(*argv):
    out = io.StringIO()
    return learn(list(argv), out=out), out.getvalue()


def test_the_capstone_from_the_command_line(tmp_path):
    work = tmp_path / "ws"
    _run("start", str(work))
    path = work / "24_mlp_by_hand.py"
    status, text = _run("check", "24", "--dir", str(work))
    assert status == 0 and '· mlp_by_hand: todo — none right yet; next: d["logprobs"]' in text
    source = inspect.getsource(capstone.reference_backward).replace("reference_backward", "backward")
    stub = path.read_text()
    path.write_text(stub[:stub.index("def backward(v):")] + source)
    status, text = _run("check", "mlp_by_hand", "--dir", str(work))
    assert status == 0 and "✔ mlp_by_hand: pass (new!) — all 22 gradients agree" in text
    path.write_text(stub[:stub.index("def backward(v):")]
                    + source.replace('d["b2"] = d["logits"].sum(axis=0)', 'd["b2"] = d["logits"]'))
    status, text = _run("check", "mlp_by_hand", "--dir", str(work))
    assert status == 1 and 'd["b2"] is the first wrong gradient' in text and "a missing sum" in text
    path.write_text(stub[:stub.index("def backward(v):")]
                    + "def backward(v):\n    v.probs[0, 0] = 1\n")
    _, text = _run("check", "mlp_by_hand", "--dir", str(work))
    assert "your backward writes into `v.probs`, but the arrays backward receives are read-only" in text
    assert "at 24_mlp_by_hand.py:" in text
    _, text = _run("solution", "mlp_fused")
    assert "def reference_cross_entropy_backward(v):" in text and "np.eye" in text
    assert "step 1:" in _run("hint", "mlp_by_hand", "--dir", str(work))[1]
    assert workspace.stub_path(str(work), BY_NAME["mlp_fused"]).endswith("25_mlp_fused.py")


def test_without_scikit_learn_the_capstone_says_what_it_needs(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import fails, as if not installed
    work = tmp_path / "ws"
    _run("start", str(work))
    verdict = checker.check_file(BY_NAME["mlp_by_hand"], workspace.stub_path(str(work), BY_NAME["mlp_by_hand"]))
    assert verdict.status == "todo"
    assert "can't check: the capstone works on scikit-learn's 8×8 digits" in verdict.message
    assert "pip install scikit-learn" in verdict.message
