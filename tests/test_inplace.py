"""In-place ops, views and version counters: a differential table against PyTorch.

Each scenario is written once against a library `L` (scratchgrad or torch: the same names) and
returns what it computed, gradients included. Run on both, it must give PyTorch's numbers, or
raise where PyTorch raises (a RuntimeError, at the same step). A silent wrong gradient is the
defect this table exists to catch.
"""
import sys

import numpy as np
import pytest
import torch

import scratchgrad as sg


def leaf(L, values):
    return L.tensor(values, requires_grad=True)


def plain(L, values):
    return L.tensor(values)


def no_grad(L):
    return L.no_grad()


# ---------------------------------------------------------------- the scenarios

def saved_input_modified(L):
    w, x = leaf(L, [1., 2., 3.]), plain(L, [1., 2., 3.])
    y = (w * x).sum()
    x += 1
    y.backward()
    return w.grad


def unsaved_input_modified(L):
    w, x = leaf(L, [1., 2., 3.]), plain(L, [1., 2., 3.])
    y = (w + x).sum()
    x += 1
    y.backward()
    return w.grad


def mask_filled_after_use(L):
    h, mask = leaf(L, [1., 2., 3.]), plain(L, [1., 0., 1.])
    y = (h * mask).sum()
    mask.fill_(1)
    y.backward()
    return h.grad


def weight_changed_under_no_grad(L):
    w = leaf(L, [1., 2., 3.])
    y = (w * w).sum()
    with no_grad(L):
        w += 1
    y.backward()
    return w.grad


def weight_changed_after_backward(L):
    w = leaf(L, [1., 2., 3.])
    (w * w).sum().backward()
    with no_grad(L):
        w -= 0.1 * w.grad
    (w * w).sum().backward()
    return w.grad, w


def linear_input_modified(L):
    layer = L.nn.Linear(2, 1)
    with no_grad(L):
        layer.weight.copy_(L.tensor([[1., 2.]]))
        layer.bias.zero_()
    x = plain(L, [[4., 6.]])
    loss = layer(x).sum()
    x -= 10
    loss.backward()
    return layer.weight.grad


def leaf_in_place_in_graph(L):
    w = leaf(L, [1., 2.])
    w.add_(1)
    return w


def leaf_in_place_under_no_grad(L):
    w = leaf(L, [1., 2.])
    with no_grad(L):
        w.mul_(3)
    (w * w).sum().backward()
    return w.grad, w


def view_of_leaf_in_place(L):
    w = leaf(L, [1., 2., 3.])
    w[0:2].mul_(2)
    return w


def setitem_on_leaf(L):
    w = leaf(L, [1., 2., 3.])
    w[0] = 5.
    return w


def exp_output_modified(L):
    w = leaf(L, [0., 1.])
    y = w.exp()
    y.mul_(2)
    y.sum().backward()
    return w.grad


def exp_input_modified(L):
    w = leaf(L, [0., 1.])
    x = w * 1
    y = x.exp()
    x.add_(5)
    y.sum().backward()
    return w.grad, x


def tanh_output_modified(L):
    w = leaf(L, [0.5, 1.])
    y = w.tanh()
    y.add_(1)
    y.sum().backward()
    return w.grad


def sigmoid_input_modified(L):
    w = leaf(L, [0.5, 1.])
    x = w * 2
    y = x.sigmoid()
    x.zero_()
    y.sum().backward()
    return w.grad


def relu_in_place_then_sum(L):
    w = leaf(L, [-1., 2.])
    y = w * 3
    y.relu_()
    y.sum().backward()
    return w.grad, y


def add_inputs_modified(L):
    a, b = leaf(L, [1., 2.]), leaf(L, [3., 4.])
    x, z = a * 1, b * 1
    y = x + z
    x.mul_(10)
    z.mul_(10)
    (y * 2).sum().backward()
    return a.grad, b.grad


def non_leaf_add_(L):
    w = leaf(L, [1., 2., 3.])
    y = w * 2
    y.add_(1)
    (y * y).sum().backward()
    return w.grad, y


def non_leaf_mul_by_grad_tensor(L):
    a, b = leaf(L, [1., 2., 3.]), leaf(L, [2., 2., 5.])
    y = a * 1
    y.mul_(b)
    y.sum().backward()
    return a.grad, b.grad


def non_leaf_pow_(L):
    w = leaf(L, [1., 2., 3.])
    y = w * 1
    y.pow_(3)
    y.sum().backward()
    return w.grad


def two_in_place_ops(L):
    w = leaf(L, [1., 2.])
    y = w * 1
    y.add_(1)
    y.mul_(2)
    y.div_(4)
    y.sub_(w)
    y.sum().backward()
    return w.grad, y


def older_consumer_keeps_old_value(L):
    w = leaf(L, [1., 2.])
    y = w * 2
    z = y * 3     # reads only the constant 3: y may change afterwards
    y.mul_(5)
    (z + y).sum().backward()
    return w.grad, z, y


def saved_by_square_then_modified(L):
    w = leaf(L, [1., 2.])
    y = w * 2
    z = y * y
    y.add_(1)
    z.sum().backward()
    return w.grad


def matmul_operand_modified(L):
    a, b = leaf(L, [[1., 2.], [3., 4.]]), plain(L, [[1., 0.], [0., 1.]])
    y = (a @ b).sum()
    b.mul_(2)
    y.backward()
    return a.grad


def div_numerator_modified(L):
    x, y = plain(L, [1., 2.]), leaf(L, [2., 4.])
    z = (x / y).sum()
    x.add_(1)
    z.backward()
    return y.grad


def div_quotient_modified(L):
    x, y = plain(L, [1., 2.]), leaf(L, [2., 4.])
    z = x / y
    z.add_(1)
    z.sum().backward()
    return y.grad


def slice_of_non_leaf_mul_(L):
    w = leaf(L, [1., 2., 3.])
    y = w * 2
    y[0:2].mul_(3)
    (y * y).sum().backward()
    return w.grad, y


def view_then_base_sees_change(L):
    w = leaf(L, [[1., 2.], [3., 4.]])
    y = w * 1
    v = y.t()
    v.add_(10)
    (y * L.tensor([[1., 2.], [3., 4.]])).sum().backward()
    return w.grad, y


def in_place_on_view_then_view_used(L):
    w = leaf(L, [1., 2., 3., 4.])
    y = w * 1
    v = y.view(2, 2)
    v.mul_(2)
    (v * v).sum().backward()
    return w.grad, y


def setitem_in_graph(L):
    w = leaf(L, [1., 2., 3.])
    y = w * 2
    y[1] = 0.
    (y * y).sum().backward()
    return w.grad, y


def setitem_with_grad_value(L):
    w = leaf(L, [1., 2.])
    buf = L.zeros(4)
    buf[1:3] = w * 3
    (buf * L.tensor([1., 2., 3., 4.])).sum().backward()
    return w.grad, buf


def setitem_advanced_index(L):
    w = leaf(L, [1., 2., 3.])
    y = w * 1
    y[L.tensor([0, 2])] = L.tensor([7., 8.])
    (y * y).sum().backward()
    return w.grad, y


def setitem_bool_mask(L):
    w = leaf(L, [1., -2., 3.])
    y = w * 1
    y[y < 0] = 0.
    (y * y).sum().backward()
    return w.grad, y


def detach_then_modified(L):
    w = leaf(L, [1., 2.])
    y = (w * w).sum()
    d = w.detach()
    d.add_(1)
    y.backward()
    return w.grad


def detach_shares_memory(L):
    w = leaf(L, [1., 2.])
    d = w.detach()
    d[0] = 9.
    return w, d._version, w._version


def expanded_in_place(L):
    x = plain(L, [1., 2.]).expand(3, 2)
    x.add_(1)
    return x


def alias_sees_augmented_add(L):
    acc = plain(L, [0., 0.])
    alias = acc
    acc += plain(L, [1., 2.])
    return alias, acc._version


def running_total_in_graph(L):
    w = leaf(L, [1., 2.])
    total = L.zeros(2)
    total += w * 2
    total += w * 3
    total.sum().backward()
    return w.grad, total


def grad_accumulates_in_place(L):
    w = leaf(L, [1., 2.])
    (w * 3).sum().backward()
    g = w.grad
    (w * 4).sum().backward()
    return g, w.grad


def grad_zeroed_in_place(L):
    w = leaf(L, [1., 2.])
    (w * 3).sum().backward()
    g = w.grad
    w.grad.zero_()
    (w * 4).sum().backward()
    return g


def clamp_non_leaf(L):
    w = leaf(L, [-2., 0.5, 3.])
    y = w * 1
    y.clamp_(-1, 1)
    (y * 2).sum().backward()
    return w.grad, y


def masked_fill_non_leaf(L):
    w = leaf(L, [1., 2., 3.])
    y = w * 2
    y.masked_fill_(L.tensor([True, False, True]), 0.)
    (y * y).sum().backward()
    return w.grad, y


def fill_non_leaf(L):
    w = leaf(L, [1., 2.])
    y = w * 2
    y.fill_(3)
    (y * y).sum().backward()
    return w.grad, y


def copy_into_buffer(L):
    w = leaf(L, [1., 2.])
    buf = L.zeros(2)
    buf.copy_(w * 5)
    (buf * buf).sum().backward()
    return w.grad, buf


def exp_then_in_place_under_no_grad(L):
    w = leaf(L, [0., 1.])
    z = (w * 1).exp()
    with no_grad(L):
        z.add_(1)
    z.sum().backward()
    return w.grad


def sqrt_in_place(L):
    w = leaf(L, [4., 9.])
    y = w * 1
    y.sqrt_()
    (y * 3).sum().backward()
    return w.grad, y


def sibling_view_after_base_change(L):
    w = leaf(L, [1., 2., 3.])
    y = w * 2
    v = y[1:]
    y[0:2].mul_(3)
    (v * 1).sum().backward()
    return w.grad, v


def integer_in_place_wrong_dtype(L):
    x = L.tensor([1, 2])
    x += 0.5
    return x


def broadcast_grows_in_place(L):
    x = L.zeros(3)
    x += L.ones(2, 3)
    return x


def max_values_indices(L):
    x = leaf(L, [[1., 5., 5.], [7., 2., 0.]])
    values, indices = x.max(dim=1)
    _, predicted = x.min(1)
    (values * L.tensor([1., 2.])).sum().backward()
    return values, indices, predicted, x.grad


def max_keepdim_gradient(L):
    x = leaf(L, [[3., 3.], [1., 2.]])
    out = x.max(0, keepdim=True)
    (out.values * 2).sum().backward()
    return out.values, out.indices, x.grad


def write_through_data_is_not_tracked(L):
    w = leaf(L, [1., 2.])
    y = (w * w).sum()
    w.data.add_(1)   # .data: shared memory, its own version counter, as in PyTorch
    y.backward()
    return w.grad, w, w._version


def assign_data(L):
    w = leaf(L, [1., 2.])
    w.data = L.tensor([5., 6.])
    (w * w).sum().backward()
    return w.grad


def data_shares_memory(L):
    w = leaf(L, [1., 2.])
    d = w.data
    d.mul_(3)
    return w, d.requires_grad


def asarray_of_tensor_requiring_grad(L):
    w = leaf(L, [1., 2.])
    return np.asarray(w)


def numpy_of_plain_tensor_shares_memory(L):
    t = plain(L, [1., 2.])
    t.numpy()[0] = 7.
    return t


def adam_by_hand_in_place(L):
    p, g = plain(L, [1., 2., 3.]), plain(L, [0.5, -1., 2.])
    m, v = L.zeros(3), L.zeros(3)
    for _ in range(3):
        m.mul_(0.9).add_(g, alpha=0.1)
        v.mul_(0.999).addcmul_(g, g, value=0.001)
        p.addcdiv_(m, v.sqrt().add_(1e-8), value=-0.01)
    ema = plain(L, [0., 0., 0.])
    ema.lerp_(p, 0.5)
    return p, m, v, ema


def addcmul_in_graph(L):
    w, a = leaf(L, [1., 2.]), leaf(L, [3., 4.])
    y = w * 1
    y.addcmul_(a, a, value=0.5)
    y.lerp_(a, 0.25)
    (y * y).sum().backward()
    return w.grad, a.grad, y


def relu_module_in_place(L):
    x = leaf(L, [-1., 2., -3.])
    h = x * 2
    out = L.nn.ReLU(inplace=True)(h)
    out2 = L.nn.LeakyReLU(0.1, inplace=True)(h * 1)
    (h * h + out2).sum().backward()
    return x.grad, h, out


def functional_relu_in_place_on_a_leaf(L):
    x = leaf(L, [-1., 2.])
    return L.nn.functional.relu(x, inplace=True)


def rounding_in_place(L):
    y = plain(L, [1.7, -2.2, 0.5])
    z = plain(L, [1., 5., 3.])
    y.floor_()
    z.clamp_min_(2.).clamp_max_(4.)
    w = plain(L, [0.5, 1.5])
    w.log1p_().expm1_()
    return y, z, w


def two_losses_with_a_step_between(L):
    layer1, layer2 = L.nn.Linear(3, 3), L.nn.Linear(3, 1)
    with no_grad(L):
        layer1.weight.copy_(L.tensor([[1., 2., 3.], [0., 1., 0.], [1., 0., 1.]]))
        layer1.bias.zero_()
        layer2.weight.copy_(L.tensor([[0.5, -1., 2.]]))
        layer2.bias.zero_()
    opt = L.optim.SGD(list(layer1.parameters()) + list(layer2.parameters()), lr=0.1)
    x = L.tensor([[1., 1., 1.]])
    h = layer1(x).tanh()
    loss1 = layer2(h).sum()
    loss2 = (layer2(h) ** 2).sum()
    loss1.backward(retain_graph=True)
    opt.step()
    loss2.backward()
    return layer1.weight.grad


def step_before_backward_in_a_loop(L):
    w = leaf(L, [1., 2., 3.])
    opt = L.optim.SGD([w], lr=0.1)
    for _ in range(2):
        loss = (w * w).sum()
        opt.step()        # the bug: a step between the forward and its backward
        loss.backward()
    return w.grad, w


def adam_steps_keep_aliases_current(L):
    w = leaf(L, [1., -2.])
    alias = w.detach()
    opt = L.optim.Adam([w], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    return alias, w._version > 0


def chunk_view_modified_in_place(L):
    w = leaf(L, [1., 2., 3., 4.])
    a = w * 1
    first, _ = a.chunk(2)
    first.mul_(10)
    (a * a).sum().backward()
    return w.grad


def split_view_used_after_base_modified(L):
    w = leaf(L, [1., 2., 3., 4.])
    a = w * 1
    _, second = a.split(2)
    a.mul_(2)
    (second * second).sum().backward()
    return w.grad


def split_views_without_grad_can_change(L):
    a = L.zeros(4)
    first, second = a.split(2)
    first.add_(1)
    a.mul_(3)
    return a, second


def detach_in_place(L):
    w = leaf(L, [1., 2.])
    a = w * 2
    a.detach_()
    return a, a.requires_grad, a.grad_fn is None


def layer_norm_output_modified(L):
    x = L.tensor([[0.5, -1.0, 2.0, 0.25], [1.5, 0.0, -0.5, 3.0]], dtype=L.float64,
                 requires_grad=True)
    y = L.nn.functional.layer_norm(x, (4,))    # no weight, no bias
    y.mul_(2)                                   # layer norm's rule doesn't read its output
    (y * L.tensor([[1., 2., 3., 4.], [0., -1., 5., 2.]], dtype=L.float64)).sum().backward()
    return x.grad


def layer_norm_affine_output_modified(L):
    x = L.tensor([[0.5, -1.0, 2.0, 0.25]], dtype=L.float64, requires_grad=True)
    norm = L.nn.LayerNorm(4, dtype=L.float64)  # float64: float32's rounding differs
    y = norm(x)
    y.add_(1)
    (y * L.tensor([[1., 2., 3., 4.]], dtype=L.float64)).sum().backward()
    return x.grad, norm.weight.grad


def gelu_output_modified(L):
    x = leaf(L, [-3.0, -0.5, 0.0, 1.5])
    y = L.nn.functional.gelu(x)
    y.mul_(3)
    (y * L.tensor([1., 2., 3., 4.])).sum().backward()
    return x.grad


def attention_output_modified(L):
    q = L.tensor([[[0.5, -1.0], [2.0, 0.25], [1.0, 1.0]]], dtype=L.float64, requires_grad=True)
    out = L.nn.functional.scaled_dot_product_attention(q, q * 1, q * 2, is_causal=True)
    out.mul_(2)                                 # 3-D: PyTorch's math kernel, which doesn't
    out.sum().backward()                        # save the output
    return q.grad


def attention_4d_output_modified(L):
    q = L.tensor([[[[0.5, -1.0], [2.0, 0.25], [1.0, 1.0]]]], dtype=L.float64,
                 requires_grad=True)
    out = L.nn.functional.scaled_dot_product_attention(q, q * 1, q * 2, is_causal=True)
    out.mul_(2)                                 # 4-D: PyTorch's flash kernel saves its output
    out.sum().backward()
    return q.grad


def attention_4d_wider_values_output_modified(L):
    q = L.tensor([[[[0.5, -1.0], [2.0, 0.25], [1.0, 1.0]]]], dtype=L.float64,
                 requires_grad=True)
    v = L.tensor([[[[1., 2., 3.], [0., -1., 1.], [2., 2., 0.5]]]], dtype=L.float64)
    out = L.nn.functional.scaled_dot_product_attention(q, q * 1, v)
    out.mul_(2)                                 # a value size of its own: the math kernel
    out.sum().backward()
    return q.grad


def round_decimals_tril_triu_scatter_add_in_place(L):
    a = leaf(L, [[1.25, -2.5], [3.5, 4.75]])
    src = leaf(L, [[1., 2.], [3., 4.]])
    b = a * 2
    b.round_(decimals=1)
    c = (a * 3).tril_(-1) + (a * 5).triu_(1)
    d = (a * 7).scatter_add_(1, L.tensor([[0, 0], [1, 1]]), src * 3)
    (b * L.tensor([[1., 2.], [3., 4.]])).sum().backward(retain_graph=True)
    ((c + d) * L.tensor([[1., 2.], [3., 4.]])).sum().backward()
    return b, c, d, a.grad, src.grad


SCENARIOS = [
    chunk_view_modified_in_place, split_view_used_after_base_modified,
    split_views_without_grad_can_change, detach_in_place,
    two_losses_with_a_step_between, step_before_backward_in_a_loop, adam_steps_keep_aliases_current,
    relu_module_in_place, functional_relu_in_place_on_a_leaf, rounding_in_place,
    adam_by_hand_in_place, addcmul_in_graph,
    write_through_data_is_not_tracked, assign_data, data_shares_memory,
    asarray_of_tensor_requiring_grad, numpy_of_plain_tensor_shares_memory,
    saved_input_modified, unsaved_input_modified, mask_filled_after_use,
    weight_changed_under_no_grad, weight_changed_after_backward, linear_input_modified,
    leaf_in_place_in_graph, leaf_in_place_under_no_grad, view_of_leaf_in_place, setitem_on_leaf,
    exp_output_modified, exp_input_modified, tanh_output_modified, sigmoid_input_modified,
    relu_in_place_then_sum, add_inputs_modified, non_leaf_add_, non_leaf_mul_by_grad_tensor,
    non_leaf_pow_, two_in_place_ops, older_consumer_keeps_old_value, saved_by_square_then_modified,
    matmul_operand_modified, div_numerator_modified, div_quotient_modified,
    slice_of_non_leaf_mul_, view_then_base_sees_change, in_place_on_view_then_view_used,
    setitem_in_graph, setitem_with_grad_value, setitem_advanced_index, setitem_bool_mask,
    detach_then_modified, detach_shares_memory, expanded_in_place, alias_sees_augmented_add,
    running_total_in_graph, grad_accumulates_in_place, grad_zeroed_in_place, clamp_non_leaf,
    masked_fill_non_leaf, fill_non_leaf, copy_into_buffer, exp_then_in_place_under_no_grad,
    sqrt_in_place, sibling_view_after_base_change, integer_in_place_wrong_dtype,
    broadcast_grows_in_place, max_values_indices, max_keepdim_gradient,
    layer_norm_output_modified, layer_norm_affine_output_modified, gelu_output_modified,
    attention_output_modified, attention_4d_output_modified,
    attention_4d_wider_values_output_modified, round_decimals_tril_triu_scatter_add_in_place,
]


def run(scenario, L):
    """('ok', results as arrays) or ('raised', the exception)."""
    try:
        out = scenario(L)
    except RuntimeError as exc:
        return "raised", exc
    out = out if isinstance(out, tuple) else (out,)
    return "ok", [np.asarray(o.detach().numpy() if hasattr(o, "detach") else o) for o in out]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_matches_pytorch(scenario):
    expected_kind, expected = run(scenario, torch)
    kind, got = run(scenario, sg)
    if expected_kind == "raised":
        assert kind == "raised", f"PyTorch raised ({expected}) but scratchgrad gave {got}"
        return
    assert kind == "ok", f"scratchgrad raised {got!r} where PyTorch gave {expected}"
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)


def test_table_is_big_enough():
    assert len(SCENARIOS) >= 40


def test_error_names_op_versions_and_the_modifying_line():
    w, x = sg.tensor([1., 2.], requires_grad=True), sg.tensor([3., 4.])
    y = (w * x).sum()
    x.mul_(2)  # the line the error must name
    with pytest.raises(RuntimeError) as info:
        y.backward()
    message = str(info.value)
    assert "mul" in message and "version 0" in message and "version 1" in message
    assert "test_inplace.py" in message and "x.mul_(2)" in message


# ---------------------------------------------------------------- threads

def test_concurrent_backward_into_shared_leaf_accumulates_exactly():
    import threading
    w = sg.tensor(np.ones((256, 256), dtype=np.float32), requires_grad=True)
    x = sg.tensor(np.ones((4, 256), dtype=np.float32))
    passes, threads_n = 25, 4

    def work():
        for _ in range(passes):
            (x @ w).sum().backward()

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(w.grad.detach().numpy(), np.full((256, 256), 4.0 * passes * threads_n))


def test_no_grad_object_entered_from_two_threads_restores_each_threads_mode():
    import threading
    shared = sg.no_grad()
    inside, release = threading.Event(), threading.Event()
    seen = {}

    def other():
        with shared:
            inside.set()
            release.wait(5)
        seen["after"] = sg.is_grad_enabled()

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(5)
    with shared:
        assert not sg.is_grad_enabled()
    release.set()
    thread.join()
    assert sg.is_grad_enabled() and seen["after"]


def test_trace_watches_only_its_own_thread():
    import io
    import threading
    out = io.StringIO()
    w = sg.tensor([1.0, 2.0], requires_grad=True)
    with sg.viz.trace(file=out):
        thread = threading.Thread(target=lambda: (w * 3).sum().backward())
        thread.start()
        thread.join()
    assert out.getvalue() == ""
    np.testing.assert_array_equal(w.grad.detach().numpy(), [3.0, 3.0])


def test_training_loops_in_eight_threads_never_warn_of_graph_growth():
    import threading
    import warnings
    failures = []
    start = threading.Barrier(8)

    def train(seed):
        start.wait(10)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", sg.GraphGrowthWarning)
                rng = np.random.default_rng(seed)
                model = sg.nn.Sequential(sg.nn.Linear(4, 8), sg.nn.Tanh(), sg.nn.Linear(8, 1))
                opt = sg.optim.SGD(model.parameters(), lr=0.05)
                x = sg.tensor(rng.standard_normal((16, 4)).astype(np.float32))
                y = sg.tensor(rng.standard_normal((16, 1)).astype(np.float32))
                for _ in range(150):
                    opt.zero_grad()
                    loss = ((model(x) - y) ** 2).mean()
                    loss.backward()
                    opt.step()
        except Exception as exc:  # noqa: BLE001 - reported below, in the main thread
            failures.append(exc)

    threads = [threading.Thread(target=train, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_broadcast_mode_is_per_thread():
    import threading
    seen = {}

    def other():
        seen["mode"] = sg.get_broadcast_mode()
        seen["sum"] = (sg.ones(3, 1) + sg.ones(3)).shape  # would raise under this thread's mode

    with sg.set_broadcast_mode("raise"):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        with pytest.raises(ValueError):
            sg.ones(3, 1) + sg.ones(3)
    assert seen == {"mode": "allow", "sum": (3, 3)}


def test_saved_value_checks_cover_ops_with_parameters_and_fused_rules():
    x = sg.tensor([[1.0, 3.0], [2.0, 0.5]], requires_grad=True)
    h = x * 1
    m = h.amax(1)            # reads h and its output; axis and keepdims are parameters
    h.add_(1)
    with pytest.raises(RuntimeError, match="amax|max"):
        m.sum().backward()
    q = sg.tensor(np.ones((1, 2, 3), np.float32), requires_grad=True)
    k = q * 1
    v = sg.ones(1, 2, 3)
    out = sg.nn.functional.scaled_dot_product_attention(q, k, v)
    k.mul_(2)                # the attention weights' rule reads k
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_the_error_names_the_line_that_modified_a_saved_value():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    line = sys._getframe().f_lineno + 1
    y.mul_(3)  # the culprit
    with pytest.raises(RuntimeError) as error:
        y.sum().backward()
    assert f"{__file__}:{line}: y.mul_(3)  # the culprit" in str(error.value)
