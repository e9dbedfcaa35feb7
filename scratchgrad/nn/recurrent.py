"""Recurrent layers (RNN, GRU, LSTM) and their cells, with PyTorch's arguments, parameter
names, gate order and initialisation, so that state dicts load both ways.

A layer projects the whole sequence through W_ih in one matrix product, then runs the recurrence
over time as one node per layer and direction (scratchgrad/recurrence.py has the maths).
"""
import math
import numbers
import warnings

import numpy as np

from scratchgrad import recurrence as R
from scratchgrad.core.engine import apply
from scratchgrad.core.errors import (
    DTypeError,
    ShapeError,
    ValueRangeError,
    describe_shape,
)
from scratchgrad.core.tensor import Tensor
from scratchgrad.nn import functional as F
from scratchgrad.nn import init
from scratchgrad.nn.module import Module, check_device, new_parameter
from scratchgrad.ops import as_tensor, cat, relu, stack, tanh
from scratchgrad.primitives import Memo

# How many gate blocks each mode's weights stack, in PyTorch's order.
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


def _gru_step(gi, gh, h):
    """h' from the projections of x and h (gates r, z, n); see recurrence.gru_cell."""
    inputs = (gi, gh, h)
    out = apply(R.gru_cell, inputs, (gi._data, gh._data, h._data), {"memo": Memo(inputs)})
    return out[..., :h.shape[-1]]


def _lstm_step(gates, c):
    """(h', c') from the summed projections (gates i, f, g, o); see recurrence.lstm_cell."""
    inputs = (gates, c)
    out = apply(R.lstm_cell, inputs, (gates._data, c._data), {"memo": Memo(inputs)})
    n = c.shape[-1]
    return out[..., :n], out[..., n:2 * n]


def _raw(t):
    return None if t is None else t._data


def _rnn_step(gi, gh, nonlinearity):
    return tanh(gi + gh) if nonlinearity == "tanh" else relu(gi + gh)


def _check_size(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise ValueRangeError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)


def _uniform_parameters(module, hidden_size):
    """Every parameter ~ U(-1/√hidden_size, 1/√hidden_size), PyTorch's init for recurrent layers."""
    bound = 1 / math.sqrt(hidden_size) if hidden_size > 0 else 0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)




# ---------------------------------------------------------------- cells

class _CellBase(Module):
    """One time step: weight_ih (G·hidden, input), weight_hh (G·hidden, hidden), bias_ih, bias_hh."""
    mode = "RNN_TANH"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        check_device(name, device)
        self.input_size = _check_size(f"{name}: input_size", input_size)
        self.hidden_size = _check_size(f"{name}: hidden_size", hidden_size)
        self.bias = bias
        rows = GATES[self.mode] * hidden_size
        self.weight_ih = new_parameter(rows, input_size, dtype=dtype)
        self.weight_hh = new_parameter(rows, hidden_size, dtype=dtype)
        if bias:
            self.bias_ih = new_parameter(rows, dtype=dtype)
            self.bias_hh = new_parameter(rows, dtype=dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _uniform_parameters(self, self.hidden_size)

    def _input(self, x):
        """x as a batch (N, input_size), and whether it came unbatched."""
        name = type(self).__name__
        x = as_tensor(x)
        if x.ndim not in (1, 2):
            raise ShapeError(f"{name}: Expected input to be 1D or 2D, got {x.ndim}D input "
                             f"instead (shape {describe_shape(x.shape)})")
        if x.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: input has shape {describe_shape(x.shape)}, but its last "
                             f"dimension must be input_size={self.input_size}")
        return (x.reshape(1, -1), True) if x.ndim == 1 else (x, False)

    def _state(self, x, state, unbatched, what="hx"):
        """A given hidden (or cell) state checked against the input's batch, or zeros."""
        name = type(self).__name__
        shape = (x.shape[0], self.hidden_size)
        if state is None:
            return Tensor._wrap(np.zeros(shape, dtype=x.dtype))
        state = as_tensor(state)
        expected = shape[1:] if unbatched else shape
        if state.shape != expected:
            raise ShapeError(f"{name}: {what} has shape {describe_shape(state.shape)}, expected "
                             f"{describe_shape(expected)} for an input of shape "
                             f"{describe_shape(x.shape[1:] if unbatched else x.shape)}")
        return state.reshape(shape) if unbatched else state

    def _projections(self, x, h):
        return F.linear(x, self.weight_ih, self.bias_ih), F.linear(h, self.weight_hh, self.bias_hh)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        return text


def _unbatch(t, unbatched):
    return t.reshape(t.shape[1:]) if unbatched else t


class RNNCell(_CellBase):
    """h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r} "
                             "(expected 'tanh' or 'relu')")
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, unbatched = self._input(input)
        h = self._state(x, hx, unbatched)
        return _unbatch(_rnn_step(*self._projections(x, h), self.nonlinearity), unbatched)


class GRUCell(_CellBase):
    """r = σ(..), z = σ(..), n = tanh(W_in x + b_in + r·(W_hn h + b_hn)), h' = (1 - z)·n + z·h."""
    mode = "GRU"

    def forward(self, input, hx=None):
        x, unbatched = self._input(input)
        h = self._state(x, hx, unbatched)
        return _unbatch(_gru_step(*self._projections(x, h), h), unbatched)


class LSTMCell(_CellBase):
    """Gates (i, f, g, o): c' = σ(f)·c + σ(i)·tanh(g), h' = σ(o)·tanh(c'); returns (h', c')."""
    mode = "LSTM"

    def forward(self, input, hx=None):
        x, unbatched = self._input(input)
        if hx is None:
            hx = (None, None)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError("LSTMCell: hx must be a tuple (h_0, c_0)")
        h = self._state(x, hx[0], unbatched, "h_0")
        c = self._state(x, hx[1], unbatched, "c_0")
        gi, gh = self._projections(x, h)
        new_h, new_c = _lstm_step(gi + gh, c)
        return _unbatch(new_h, unbatched), _unbatch(new_c, unbatched)


# ---------------------------------------------------------------- layers over sequences

class _RNNBase(Module):
    """num_layers stacked recurrent layers over a sequence, each one or two directions."""
    mode = "RNN_TANH"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        check_device(name, device)
        self.input_size = _check_size(f"{name}: input_size", input_size)
        self.hidden_size = _check_size(f"{name}: hidden_size", hidden_size)
        if not isinstance(num_layers, numbers.Integral) or num_layers < 1:
            raise ValueRangeError(f"{name}: num_layers must be a positive int, got {num_layers!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueRangeError(f"{name}: dropout must be a number in [0, 1] representing the "
                                  f"probability of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout option adds dropout after all but last recurrent "
                          f"layer, so non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", UserWarning,
                          stacklevel=2)
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size is not supported by scratchgrad")
        self.num_layers, self.bias, self.batch_first = int(num_layers), bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, 0
        rows = GATES[self.mode] * hidden_size
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                setattr(self, f"weight_ih_l{layer}{suffix}", new_parameter(rows, layer_input, dtype=dtype))
                setattr(self, f"weight_hh_l{layer}{suffix}", new_parameter(rows, hidden_size, dtype=dtype))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", new_parameter(rows, dtype=dtype))
                    setattr(self, f"bias_hh_l{layer}{suffix}", new_parameter(rows, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        _uniform_parameters(self, self.hidden_size)

    def _weights(self, layer, suffix):
        get = self._parameters.get
        return (get(f"weight_ih_l{layer}{suffix}"), get(f"weight_hh_l{layer}{suffix}"),
                get(f"bias_ih_l{layer}{suffix}"), get(f"bias_hh_l{layer}{suffix}"))

    def flatten_parameters(self):
        """A no-op: PyTorch compacts the weights for cuDNN here; there is nothing to compact."""

    @property
    def all_weights(self):
        directions = 2 if self.bidirectional else 1
        return [[w for w in self._weights(layer, suffix) if w is not None]
                for layer in range(self.num_layers) for suffix in ("", "_reverse")[:directions]]

    # ------------------------------------------------------------ checking the input
    def _sequence(self, input):
        """input as (L, N, input_size), and whether it came unbatched (L, input_size)."""
        name = type(self).__name__
        x = as_tensor(input)
        if x.ndim not in (2, 3):
            raise ShapeError(f"{name}: Expected input to be 2D or 3D, got {x.ndim}D tensor "
                             f"instead (shape {describe_shape(x.shape)})")
        if x.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {x.shape[-1]} (input of shape "
                             f"{describe_shape(x.shape)})")
        if x.dtype != self.weight_ih_l0.dtype:
            raise DTypeError(f"{name}: input ({x.dtype}) and parameters "
                             f"({self.weight_ih_l0.dtype}) must have the same dtype")
        if x.ndim == 2:
            return x.unsqueeze(1), True
        return (x.transpose(0, 1) if self.batch_first else x), False

    def _initial(self, state, x, unbatched, what):
        """A given h_0 (or c_0) as (layers·directions, N, hidden), checked; or zeros."""
        directions = 2 if self.bidirectional else 1
        shape = (self.num_layers * directions, x.shape[1], self.hidden_size)
        if state is None:
            return Tensor._wrap(np.zeros(shape, dtype=x.dtype))
        state = as_tensor(state)
        expected = (shape[0], shape[2]) if unbatched else shape
        if state.ndim != len(expected):
            raise ShapeError(f"{type(self).__name__}: for {'un' if unbatched else ''}batched "
                             f"{x.ndim - unbatched}-D input, {what} should also be "
                             f"{len(expected)}-D but got {state.ndim}-D tensor (shape "
                             f"{describe_shape(state.shape)})")
        if state.shape != expected:
            raise ShapeError(f"{type(self).__name__}: Expected hidden size "
                             f"{describe_shape(expected)}, got {describe_shape(state.shape)} "
                             f"for {what}")
        if state.dtype != x.dtype:
            raise DTypeError(f"{type(self).__name__}: input ({x.dtype}) and {what} "
                             f"({state.dtype}) must have the same dtype")
        return state.unsqueeze(1) if unbatched else state

    # ------------------------------------------------------------ running
    def _run_direction(self, x, state, layer, suffix):
        """One layer in one direction over x (L, N, features): (outputs (L, N, H), final state)."""
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, suffix)
        gi = F.linear(x, w_ih, b_ih)  # every step's input projection in one product
        states = self._sequence_states(gi, state, w_hh, b_hh, bool(suffix))
        last = 0 if suffix else x.shape[0] - 1
        hidden = self.hidden_size
        final = tuple(s[last, :, i * hidden:(i + 1) * hidden] for i, s in enumerate(states))
        return states[0][..., :hidden], (final if len(final) > 1 else final[0])

    def _sequence_states(self, gi, state, w_hh, b_hh, reverse):
        raise NotImplementedError

    def _layers(self, x, initial):
        """Run every layer and direction over x (L, N, input_size); returns the last layer's
        outputs (L, N, directions·hidden) and the final states (a list over layers·directions)."""
        if x.shape[0] == 0:
            raise ShapeError(f"{type(self).__name__}: the input's sequence is empty (shape "
                             f"{describe_shape(x.shape)})")
        directions = ("", "_reverse") if self.bidirectional else ("",)
        finals = []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout)
            outs = []
            for d, suffix in enumerate(directions):
                out, final = self._run_direction(x, initial(layer * len(directions) + d),
                                                 layer, suffix)
                outs.append(out)
                finals.append(final)
            x = outs[0] if len(outs) == 1 else cat(outs, -1)
        return x, finals

    def _output(self, out, unbatched):
        if unbatched:
            return out.squeeze(1)
        return out.transpose(0, 1) if self.batch_first else out

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        # (PyTorch's layers leave nonlinearity out of their repr; the cells show it)
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text


def _final(states, unbatched):
    out = stack(states)
    return out.squeeze(1) if unbatched else out


class RNN(_RNNBase):
    """h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh) (or relu), layer after layer."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r} (expected 'tanh' or 'relu')")
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def _sequence_states(self, gi, h0, w_hh, b_hh, reverse):
        inputs = (gi, h0, w_hh, b_hh)
        args = (gi._data, h0._data, w_hh._data, _raw(b_hh))
        params = {"nonlinearity": self.nonlinearity, "reverse": reverse, "memo": Memo(inputs)}
        return (apply(R.rnn_sequence, inputs, args, params),)

    def forward(self, input, hx=None):
        x, unbatched = self._sequence(input)
        h0 = self._initial(hx, x, unbatched, "hx")
        out, finals = self._layers(x, lambda i: h0[i])
        return self._output(out, unbatched), _final(finals, unbatched)


class GRU(_RNNBase):
    """Gates (r, z, n) per step: h_t = (1 - z)·n + z·h_{t-1}, layer after layer."""
    mode = "GRU"

    def _sequence_states(self, gi, h0, w_hh, b_hh, reverse):
        inputs = (gi, h0, w_hh, b_hh)
        args = (gi._data, h0._data, w_hh._data, _raw(b_hh))
        params = {"reverse": reverse, "memo": Memo(inputs)}
        return (apply(R.gru_sequence, inputs, args, params),)

    def forward(self, input, hx=None):
        x, unbatched = self._sequence(input)
        h0 = self._initial(hx, x, unbatched, "hx")
        out, finals = self._layers(x, lambda i: h0[i])
        return self._output(out, unbatched), _final(finals, unbatched)


class LSTM(_RNNBase):
    """Gates (i, f, g, o) per step: c_t = f·c_{t-1} + i·g, h_t = o·tanh(c_t); returns
    (output, (h_n, c_n))."""
    mode = "LSTM"

    def _sequence_states(self, gi, state, w_hh, b_hh, reverse):
        (h0, c0) = state
        inputs = (gi, h0, c0, w_hh, b_hh)
        args = (gi._data, h0._data, c0._data, w_hh._data, _raw(b_hh))
        params = {"reverse": reverse, "memo": Memo(inputs)}
        out = apply(R.lstm_sequence, inputs, args, params)
        return out, out  # h in columns [0, H), c in [H, 2H)

    def forward(self, input, hx=None):
        x, unbatched = self._sequence(input)
        if hx is None:
            hx = (None, None)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError("LSTM: hx must be a tuple (h_0, c_0)")
        h0 = self._initial(hx[0], x, unbatched, "h_0")
        c0 = self._initial(hx[1], x, unbatched, "c_0")
        out, finals = self._layers(x, lambda i: (h0[i], c0[i]))
        h_n = _final([h for h, _ in finals], unbatched)
        c_n = _final([c for _, c in finals], unbatched)
        return self._output(out, unbatched), (h_n, c_n)
