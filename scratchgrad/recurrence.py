"""The recurrent primitives: one time step of a GRU or LSTM cell, and whole sequences of RNN,
GRU and LSTM steps, each forward with its derivative rules beside it. Gates are in PyTorch's
order: (r, z, n) for the GRU, (i, f, g, o) for the LSTM.

Every op takes the input's projection gi = x·W_ihᵀ + b_ih, made beforehand by one `linear` over
the whole sequence, and returns its states and gates side by side along the last axis: the rules
read the gates from `ans` instead of recomputing them, and the layers slice the states off.

A sequence is one node rather than a few per time step, because that is what makes a GRU layer
fast: a char-level GRU training step (benchmarks/sequence.py: batch 32, length 16, hidden 128,
Adam; CPU time, one thread each, on a busy 2-core machine) took 1.20x PyTorch's time as
per-step nodes (index, two linears, a fused cell, a slice) and 0.8-1.04x as a sequence.
The forward loops over time in NumPy; the rules run backpropagation through time once per
incoming gradient (primitives.memoized, as function.py does for custom Functions) and hand out
each input's share. They are written with operators, slices, stack and concatenate only, so
they also run on Tensors, recording a graph (create_graph=True).
"""
import numpy as np

from scratchgrad.core.engine import Primitive
from scratchgrad.primitives import memoized


def _split(a, parts):
    """a's last axis cut into `parts` equal pieces (views)."""
    n = a.shape[-1] // parts
    return [a[..., i * n:(i + 1) * n] for i in range(parts)]


def _logistic(x, out):
    """1 / (1 + e^-x) written into out: a third of primitives._sigmoid's time (which is careful
    about overflow warnings in general use); an e^-x that overflows to inf gives the right 0."""
    np.negative(x, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)


def _time_order(length, reverse):
    return range(length - 1, -1, -1) if reverse else range(length)


def _previous_states(ans, start, steps, size, offset=0):
    """Each step's incoming state: `start` for the first step, then the state the step before
    made (columns offset:offset+size of ans), in processing order; indexed by time."""
    previous = [None] * len(steps)
    for k, t in enumerate(steps):
        previous[t] = start if k == 0 else ans[steps[k - 1], :, offset:offset + size]
    return previous


def _weight_grads(d_gates, previous, has_bias):
    """Σ_t d_gatesᵀ·h_{t-1} for W_hh and Σ d_gates for b_hh, each one product over all steps."""
    d_all = np.stack(d_gates)
    h_all = np.stack(previous)
    d_w = d_all.reshape(-1, d_all.shape[-1]).T @ h_all.reshape(-1, h_all.shape[-1])
    return d_all, d_w, (d_all.sum(axis=(0, 1)) if has_bias else None)


# ---------------------------------------------------------------- RNN (tanh or relu)

def _rnn_sequence(gi, h0, w_hh, b_hh, nonlinearity, reverse, memo):
    """h_t = act(gi_t + h_{t-1}·W_hhᵀ + b_hh) for every t: (L, N, H)."""
    out = np.empty(gi.shape[:2] + (h0.shape[-1],), dtype=np.result_type(gi, h0, w_hh))
    h, w_t = h0, w_hh.T
    for t in _time_order(len(gi), reverse):
        a = h @ w_t
        a += gi[t]
        if b_hh is not None:
            a += b_hh
        h = np.tanh(a, out=out[t]) if nonlinearity == "tanh" else np.maximum(a, 0, out=out[t])
    return out


def _rnn_sequence_vjp(g, ans, gi, h0, w_hh, b_hh, nonlinearity, reverse):
    """Backpropagation through time: d a_t = (g_t + d h_t)·act'(a_t), d h_{t-1} = d a_t·W_hh."""
    steps = list(_time_order(len(ans), reverse))
    previous = _previous_states(ans, h0, steps, h0.shape[-1])
    d_a, d_h = [None] * len(steps), None
    for t in reversed(steps):
        g_h = g[t] if d_h is None else g[t] + d_h
        h = ans[t]
        d_a[t] = g_h * (1 - h * h) if nonlinearity == "tanh" else g_h * (h > 0)
        d_h = d_a[t] @ w_hh
    d_gi, d_w, d_b = _weight_grads(d_a, previous, b_hh is not None)
    return d_gi, d_h, d_w, d_b


rnn_sequence = Primitive("rnn_sequence", _rnn_sequence, memoized(_rnn_sequence_vjp))


# ---------------------------------------------------------------- GRU

def _gru_step(gi, gh, h, out):
    """One GRU step into out = [h', r, z, n] (N, 4H):
    r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r·gh_n), h' = (1 - z)·n + z·h."""
    hidden = h.shape[-1]
    new_h, r, z, n = _split(out, 4)
    _logistic(gi[..., :2 * hidden] + gh[..., :2 * hidden], out[..., hidden:3 * hidden])  # r, z
    np.multiply(r, gh[..., 2 * hidden:], out=n)
    n += gi[..., 2 * hidden:]
    np.tanh(n, out=n)
    np.multiply(z, h - n, out=new_h)
    new_h += n


def _gru_gate_grads(g_h, g_r, g_z, g_n, r, z, n, gh_n, h):
    """The gradients of the pre-activations of r, z and n, given those of h', r, z and n."""
    d_n = (g_h * (1 - z) + g_n) * (1 - n * n)
    d_z = (g_h * (h - n) + g_z) * (z - z * z)
    d_r = (d_n * gh_n + g_r) * (r - r * r)
    return d_r, d_z, d_n


def _gru_cell(gi, gh, h, memo):
    """One GRU step from gi and gh = h·W_hhᵀ + b_hh: [h', r, z, n] (N, 4H)."""
    out = np.empty(h.shape[:-1] + (4 * h.shape[-1],), dtype=np.result_type(gi, gh, h))
    _gru_step(gi, gh, h, out)
    return out


def _gru_cell_vjp(g, ans, gi, gh, h):
    """[d_r, d_z, d_n] for gi, [d_r, d_z, d_n·r] for gh (it enters as r·gh_n), g_h'·z for h."""
    g_h, g_r, g_z, g_n = _split(g, 4)
    _, r, z, n = _split(ans, 4)
    d_r, d_z, d_n = _gru_gate_grads(g_h, g_r, g_z, g_n, r, z, n, _split(gh, 3)[2], h)
    return (np.concatenate([d_r, d_z, d_n], axis=-1),
            np.concatenate([d_r, d_z, d_n * r], axis=-1), g_h * z)


gru_cell = Primitive("gru_cell", _gru_cell, memoized(_gru_cell_vjp))


def _gru_sequence(gi, h0, w_hh, b_hh, reverse, memo):
    """Every step of a GRU layer: [h_t, r, z, n, gh_n] for each t, (L, N, 5H); gh_n (the
    hidden state's n-projection) rides along for the rules."""
    hidden = h0.shape[-1]
    out = np.empty(gi.shape[:2] + (5 * hidden,), dtype=np.result_type(gi, h0, w_hh))
    h, w_t = h0, w_hh.T
    for t in _time_order(len(gi), reverse):
        gh = h @ w_t
        if b_hh is not None:
            gh += b_hh
        out[t, :, 4 * hidden:] = gh[:, 2 * hidden:]
        _gru_step(gi[t], gh, h, out[t, :, :4 * hidden])
        h = out[t, :, :hidden]
    return out


def _gru_sequence_vjp(g, ans, gi, h0, w_hh, b_hh, reverse):
    """Backpropagation through time, step by step with _gru_gate_grads, d h_{t-1} =
    d h_t·z + d gh_t·W_hh; then W_hh's and b_hh's gradients in one product over all steps."""
    hidden = h0.shape[-1]
    steps = list(_time_order(len(ans), reverse))
    previous = _previous_states(ans, h0, steps, hidden)
    d_gi, d_gh, d_h = [None] * len(steps), [None] * len(steps), None
    for t in reversed(steps):
        g_h, g_r, g_z, g_n, g_ghn = _split(g[t], 5)
        if d_h is not None:
            g_h = g_h + d_h
        _, r, z, n, gh_n = _split(ans[t], 5)
        d_r, d_z, d_n = _gru_gate_grads(g_h, g_r, g_z, g_n, r, z, n, gh_n, previous[t])
        d_gi[t] = np.concatenate([d_r, d_z, d_n], axis=-1)
        d_gh[t] = np.concatenate([d_r, d_z, d_n * r + g_ghn], axis=-1)
        d_h = g_h * z + d_gh[t] @ w_hh
    _, d_w, d_b = _weight_grads(d_gh, previous, b_hh is not None)
    return np.stack(d_gi), d_h, d_w, d_b


gru_sequence = Primitive("gru_sequence", _gru_sequence, memoized(_gru_sequence_vjp))


# ---------------------------------------------------------------- LSTM

def _lstm_step(a, c, out):
    """One LSTM step into out = [h', c', i, f, g, o] (N, 6H) from the summed projections
    a = gi + h·W_hhᵀ + b_hh: c' = σ(f)·c + σ(i)·tanh(g), h' = σ(o)·tanh(c')."""
    hidden = c.shape[-1]
    new_h, new_c, i, f, gg, o = _split(out, 6)
    _logistic(a[..., :2 * hidden], out[..., 2 * hidden:4 * hidden])  # i, f
    np.tanh(a[..., 2 * hidden:3 * hidden], out=gg)
    _logistic(a[..., 3 * hidden:], o)
    np.multiply(f, c, out=new_c)
    new_c += i * gg
    np.tanh(new_c, out=new_h)
    new_h *= o


def _lstm_gate_grads(g, state, c):
    """The gradients of the four pre-activations and of c, given g for [h', c', i, f, g, o]."""
    g_h, g_c, g_i, g_f, g_g, g_o = _split(g, 6)
    _, new_c, i, f, gg, o = _split(state, 6)
    tanh_c = np.tanh(new_c)
    d_c = g_c + g_h * o * (1 - tanh_c * tanh_c)
    d_a = np.concatenate([(d_c * gg + g_i) * (i - i * i),
                          (d_c * c + g_f) * (f - f * f),
                          (d_c * i + g_g) * (1 - gg * gg),
                          (g_h * tanh_c + g_o) * (o - o * o)], axis=-1)
    return d_a, d_c * f


def _lstm_cell(a, c, memo):
    """One LSTM step from a = gi + h·W_hhᵀ + b_hh: [h', c', i, f, g, o] (N, 6H)."""
    out = np.empty(c.shape[:-1] + (6 * c.shape[-1],), dtype=np.result_type(a, c))
    _lstm_step(a, c, out)
    return out


def _lstm_cell_vjp(g, ans, a, c):
    """The gradients of the four pre-activations (for a) and of c."""
    return _lstm_gate_grads(g, ans, c)


lstm_cell = Primitive("lstm_cell", _lstm_cell, memoized(_lstm_cell_vjp))


def _lstm_sequence(gi, h0, c0, w_hh, b_hh, reverse, memo):
    """Every step of an LSTM layer: [h_t, c_t, i, f, g, o] for each t, (L, N, 6H)."""
    hidden = h0.shape[-1]
    out = np.empty(gi.shape[:2] + (6 * hidden,), dtype=np.result_type(gi, h0, c0, w_hh))
    h, c, w_t = h0, c0, w_hh.T
    for t in _time_order(len(gi), reverse):
        a = h @ w_t
        a += gi[t]
        if b_hh is not None:
            a += b_hh
        _lstm_step(a, c, out[t])
        h, c = out[t, :, :hidden], out[t, :, hidden:2 * hidden]
    return out


def _lstm_sequence_vjp(g, ans, gi, h0, c0, w_hh, b_hh, reverse):
    """Backpropagation through time: each step's gate gradients from _lstm_gate_grads,
    d h_{t-1} = d a_t·W_hh, d c_{t-1} = d c_t·f; W_hh and b_hh in one product over all steps."""
    hidden = h0.shape[-1]
    steps = list(_time_order(len(ans), reverse))
    previous_h = _previous_states(ans, h0, steps, hidden)
    previous_c = _previous_states(ans, c0, steps, hidden, offset=hidden)
    d_a, d_h, d_c = [None] * len(steps), None, None
    for t in reversed(steps):
        g_t = g[t]
        if d_h is not None:
            carried = np.concatenate([d_h, d_c], axis=-1)
            g_t = np.concatenate([g_t[:, :2 * hidden] + carried, g_t[:, 2 * hidden:]], axis=-1)
        d_a[t], d_c = _lstm_gate_grads(g_t, ans[t], previous_c[t])
        d_h = d_a[t] @ w_hh
    d_gi, d_w, d_b = _weight_grads(d_a, previous_h, b_hh is not None)
    return d_gi, d_h, d_c, d_w, d_b


lstm_sequence = Primitive("lstm_sequence", _lstm_sequence, memoized(_lstm_sequence_vjp))
