"""Optimisers (PyTorch's torch.optim): SGD, Adam and AdamW.

Each update follows PyTorch's default single-tensor implementation operation by
operation, on the parameters' NumPy arrays: no graph is recorded, and in-place
NumPy ops keep a step to a temporary array or two per parameter. State arrays
keep their parameter's dtype. Hyper-parameters live in `param_groups`, per-parameter
state in `state`, and `state_dict()` has PyTorch's layout.
"""
import warnings
from collections import defaultdict

import numpy as np

from scratchgrad.core import dtypes
from scratchgrad.core.errors import user_stacklevel
from scratchgrad.core.gradmode import enable_grad
from scratchgrad.core.tensor import Tensor, retaining_grad

__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]


class Optimizer:
    """Base class: parameter groups (params and their hyper-parameters) and per-parameter state."""

    # State entries shaped like their parameter, checked when a state dict is loaded.
    _param_shaped_state = ()

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        self._check_options(defaults)
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name}: params should be an iterable of Tensors or dicts, "
                            "got a single Tensor (wrap it in a list)")
        param_groups = list(params)
        if not param_groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    @property
    def _name(self):
        return type(self).__name__

    def _check_options(self, group):
        """Raise ValueError for invalid hyper-parameters (each optimiser checks its own)."""

    def __repr__(self):
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines) + "\n)"

    # ------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Add a group of parameters; options it leaves out take the optimiser's defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a param group must be a dict, "
                            f"got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{self._name}: parameters must be in an ordered collection such as a "
                            "list, not a set (its order changes between runs)")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]  # from model.named_parameters()
        if names:
            if len(names) != len(params):
                raise ValueError(f"{self._name}: all parameters should be given with names or all "
                                 "without; some names are missing")
            param_group["param_names"] = names
            params = [p[1] for p in params]
        param_group["params"] = params
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: can only optimise Tensors, but one of the "
                                f"parameters is a {type(p).__name__}")
            if p.grad_fn is not None and id(p) not in retaining_grad:
                raise ValueError(f"{self._name}: can't optimise a non-leaf Tensor")
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        self._check_options(param_group)

        ids = {id(p) for p in params}
        if len(ids) != len(params):
            warnings.warn(f"{self._name}: a parameter group contains duplicate parameters; "
                          "they would be updated more than once per step",
                          stacklevel=user_stacklevel())
        for group in self.param_groups:
            if ("param_names" in group) != ("param_names" in param_group):
                raise ValueError(f"{self._name}: all param groups should be with names or all "
                                 "without; can't mix them")
            if any(id(p) in ids for p in group["params"]):
                raise ValueError(f"{self._name}: some parameters appear in more than one "
                                 "parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none=True):
        """Reset every parameter's .grad: to None, or (set_to_none=False) to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                g.grad_fn = None  # detach in place, as PyTorch's detach_()
                g.requires_grad = False
                if isinstance(g._data, np.ndarray) and g._data.flags.writeable:
                    g._data.fill(0)
                else:
                    g._data = np.zeros_like(g._data)

    def step(self, closure=None):
        """Update the parameters from their .grad; a closure re-evaluates and returns the loss."""
        raise NotImplementedError(f"{self._name} must define step()")

    @staticmethod
    def _evaluate(closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------ state dicts
    def state_dict(self):
        """{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}, as in PyTorch.

        Parameters are numbered in group order; the state's Tensors are the live ones (not copies),
        as in PyTorch.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load what state_dict() returned (or a PyTorch optimiser's, its tensors made sg Tensors).

        Parameters are matched by position; state arrays are copied and cast to their parameter's
        dtype (the step counter keeps its own).
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{self._name}.load_state_dict: the state dict has "
                             f"{len(saved_groups)} parameter groups, the optimiser "
                             f"{len(self.param_groups)}")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"{self._name}.load_state_dict: parameter group {i} has "
                                 f"{len(saved['params'])} parameters in the state dict, "
                                 f"{len(group['params'])} in the optimiser")
        params = {}
        for group, saved in zip(self.param_groups, saved_groups):
            params.update(zip(saved["params"], group["params"]))

        state = defaultdict(dict)
        for key, values in state_dict["state"].items():
            p = params.get(key)
            if p is None:  # state not tied to a parameter is kept as it is, as in PyTorch
                state[key] = values
                continue
            for name in self._param_shaped_state:
                value = values.get(name)
                if value is not None and np.shape(_array(value)) != p.shape:
                    raise ValueError(f"{self._name}.load_state_dict: state {name!r} of parameter "
                                     f"{key} has shape {tuple(np.shape(_array(value)))}, the "
                                     f"parameter {tuple(p.shape)}")
            state[p] = {name: _copy_state(name, value, p) for name, value in values.items()}

        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            new = dict(saved, params=group["params"])
            if "param_names" in group and "param_names" not in saved:
                new["param_names"] = group["param_names"]
            for name, default in self.defaults.items():
                new.setdefault(name, default)
            new_groups.append(new)
        self.state = state
        self.param_groups = new_groups


def _array(value):
    return value._data if isinstance(value, Tensor) else np.asarray(value)


def _step_dtype():
    """The dtype of the step counter: float32, or float64 when that is the default (as PyTorch)."""
    return dtypes.float64 if dtypes.default_float == dtypes.float64 else dtypes.float32


def _copy_state(name, value, param):
    """A copy of one saved state value: arrays cast to the parameter's dtype, except the step."""
    if isinstance(value, (Tensor, np.ndarray)):
        array = _array(value)
        dtype = array.dtype if name == "step" or param.dtype.kind != "f" else param.dtype
        return Tensor._wrap(np.array(array, dtype=dtype, copy=True))
    if name == "step":  # a plain number, as older PyTorch saved it
        return Tensor._wrap(np.array(value, dtype=_step_dtype()))
    if isinstance(value, dict):
        return {k: _copy_state(k, v, param) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_state(None, v, param) for v in value)
    return value


# ---------------------------------------------------------------- SGD


class SGD(Optimizer):
    """g ← ±∇ + wd p; b ← μ b + (1-τ) g (b₁ = g); g ← g + μ b if nesterov else b; p ← p - lr g."""

    _param_shaped_state = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False):
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_options(self, group):
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        if lr < 0.0:
            raise ValueError(f"{self._name}: Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"{self._name}: Invalid momentum value: {momentum}")
        if group["weight_decay"] < 0.0:
            raise ValueError(f"{self._name}: Invalid weight_decay value: {group['weight_decay']}")
        if group["nesterov"] and (momentum <= 0 or dampening != 0):
            raise ValueError(f"{self._name}: Nesterov momentum requires a momentum and zero "
                             f"dampening, got momentum={momentum}, dampening={dampening}")

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            momentum = float(group["momentum"])
            dampening = float(group["dampening"])
            weight_decay = float(group["weight_decay"])
            nesterov = group["nesterov"]
            maximize = group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                # owned: whether g is a temporary of ours that may be changed in place
                g, owned = _regularised_gradient(p, p.grad._data, weight_decay, maximize)

                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:  # the first buffer is the gradient itself, undamped
                        buf = Tensor._wrap(np.array(g, dtype=p.dtype, copy=True))
                        state["momentum_buffer"] = buf
                    else:
                        b = buf._data
                        b *= momentum
                        b += g if dampening == 0 else (1 - dampening) * g
                    if nesterov:
                        g, owned = buf._data * momentum + g, True
                    else:
                        g, owned = buf._data, False

                if owned:
                    g *= lr
                    p._data -= g
                else:
                    p._data -= lr * g
                p._bump_version()
        return loss


def _regularised_gradient(p, g, weight_decay, maximize):
    """(g, or -g when maximising) + weight_decay·p, and whether that is a new array of ours."""
    if weight_decay != 0:
        decayed = p._data * weight_decay
        if maximize:
            decayed -= g
        else:
            decayed += g
        return decayed, True
    if maximize:
        return np.negative(g), True
    return g, False


# ---------------------------------------------------------------- Adam and AdamW


class Adam(Optimizer):
    """m ← β1 m + (1-β1) g; v ← β2 v + (1-β2) g²; p ← p - lr m̂/(√v̂ + ε); m̂ = m/(1-β1ᵗ), v̂ alike."""

    _param_shaped_state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                 *, maximize=False, decoupled_weight_decay=False):
        defaults = {"lr": lr, "betas": _pair(self, betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _check_options(self, group):
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"] = _pair(self, group["betas"])
        if not 0.0 <= lr:
            raise ValueError(f"{self._name}: Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"{self._name}: Invalid epsilon value: {eps}")
        for index, beta in enumerate((beta1, beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{self._name}: Invalid beta parameter at index {index}: {beta} "
                                 "(must be in [0, 1))")
        if not 0.0 <= weight_decay:
            raise ValueError(f"{self._name}: Invalid weight_decay value: {weight_decay}")

    def _init_state(self, p, amsgrad):
        state = self.state[p]
        state["step"] = Tensor._wrap(np.zeros((), dtype=_step_dtype()))
        state["exp_avg"] = Tensor._wrap(np.zeros_like(p._data))
        state["exp_avg_sq"] = Tensor._wrap(np.zeros_like(p._data))
        if amsgrad:
            state["max_exp_avg_sq"] = Tensor._wrap(np.zeros_like(p._data))
        return state

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = float(group["betas"][0]), float(group["betas"][1])
            eps = float(group["eps"])
            weight_decay = float(group["weight_decay"])
            decoupled = group["decoupled_weight_decay"]
            amsgrad = group["amsgrad"]
            maximize = group["maximize"]
            if not (amsgrad or maximize or weight_decay) and self._step_flat(group, lr, beta1,
                                                                            beta2, eps):
                continue
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state = self._init_state(p, amsgrad)
                g = p.grad._data
                step_t = state["step"]._data
                step_t[()] = float(step_t) + 1  # ten times faster than step_t += 1 on a 0-d array

                if weight_decay != 0 and decoupled:
                    p._data *= 1 - lr * weight_decay
                    g = np.negative(g) if maximize else g
                else:
                    g, _ = _regularised_gradient(p, g, weight_decay, maximize)

                if amsgrad and "max_exp_avg_sq" not in state:  # amsgrad switched on later
                    state["max_exp_avg_sq"] = Tensor._wrap(np.zeros_like(p._data))
                p._data += _adam_update(g, state["exp_avg"]._data, state["exp_avg_sq"]._data,
                                       state["max_exp_avg_sq"]._data if amsgrad else None,
                                       float(step_t), lr, beta1, beta2, eps)
                p._bump_version()
        return loss


    def _step_flat(self, group, lr, beta1, beta2, eps):
        """The same update on all of a group's parameters at once, as one flat array.

        Small networks have few, small parameters: one NumPy call over all of them beats a dozen
        per parameter. Used when every parameter has a gradient, all share one float dtype and
        one step count; the per-parameter state entries stay (views into the flat buffers).
        Returns False when the group doesn't qualify.
        """
        params = group["params"]
        if len(params) < 2 or any(p.grad is None for p in params):
            return False
        dtype = params[0].dtype
        if dtype.kind != "f" or any(p.dtype != dtype or p.grad.dtype != dtype for p in params):
            return False
        states = [self.state[p] for p in params]
        if len({float(st["step"]._data) if st else 0.0 for st in states}) != 1:
            return False
        m, v = self._flat_buffers(params, states)
        g = np.concatenate([p.grad._data.ravel() for p in params])
        for st in states:
            st["step"]._data[()] = float(st["step"]._data) + 1
        update = _adam_update(g, m, v, None, float(states[0]["step"]._data), lr, beta1, beta2, eps)
        start = 0
        for p in params:
            p._data += update[start:start + p._data.size].reshape(p.shape)
            p._bump_version()
            start += p._data.size
        return True

    def _flat_buffers(self, params, states):
        """exp_avg and exp_avg_sq of all params as two flat arrays whose slices are the states."""
        m = states[0].get("exp_avg") if states[0] else None
        if m is not None and all(st and st["exp_avg"]._data.base is m._data.base
                                 and st["exp_avg_sq"]._data.base is states[0]["exp_avg_sq"]._data.base
                                 for st in states) and m._data.base is not None \
                and m._data.base.size == sum(p._data.size for p in params):
            return m._data.base, states[0]["exp_avg_sq"]._data.base
        # First step, or the states were loaded or made per parameter: gather them.
        for p, st in zip(params, states):
            if not st:
                self._init_state(p, False)
        flat_m = np.concatenate([st["exp_avg"]._data.ravel() for st in states])
        flat_v = np.concatenate([st["exp_avg_sq"]._data.ravel() for st in states])
        start = 0
        for p, st in zip(params, states):
            window = slice(start, start + p._data.size)
            st["exp_avg"] = Tensor._wrap(flat_m[window].reshape(p.shape))
            st["exp_avg_sq"] = Tensor._wrap(flat_v[window].reshape(p.shape))
            start += p._data.size
        return flat_m, flat_v


def _adam_update(g, m, v, v_max, step, lr, beta1, beta2, eps):
    """Advance m and v in place by one step of gradient g; return the change to the parameter.

    Operation by operation as PyTorch's single-tensor Adam, so results agree to rounding.
    """
    # m.lerp_(g, 1 - β1), with PyTorch's two formulas for small and large weights
    weight = 1 - beta1
    scratch = np.empty_like(m)
    np.subtract(g, m, out=scratch)
    if abs(weight) < 0.5:
        scratch *= weight
        m += scratch
    else:
        scratch *= 1 - weight
        np.subtract(g, scratch, out=m)
    # v ← β2 v + (1-β2) g g
    v *= beta2
    np.multiply(g, 1 - beta2, out=scratch)
    scratch *= g
    v += scratch
    step_size = lr / (1 - beta1**step)
    bias_correction2_sqrt = (1 - beta2**step) ** 0.5
    if v_max is not None:  # amsgrad
        np.maximum(v_max, v, out=v_max)
        np.sqrt(v_max, out=scratch)
    else:
        np.sqrt(v, out=scratch)
    scratch /= bias_correction2_sqrt
    scratch += eps  # the denominator
    # p.addcdiv_(m, denom, value=-step_size): the change is (-step_size m) / denom
    update = m * -step_size
    update /= scratch
    return update


class AdamW(Adam):
    """p ← p (1 - lr wd); then Adam without weight decay: p ← p - lr m̂/(√v̂ + ε)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict):
        # An Adam state dict loaded here must not turn the decoupled weight decay off (as PyTorch).
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


def _pair(optimizer, betas):
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"{optimizer._name}: betas must be a pair (beta1, beta2), "
                         f"got {betas!r}") from None
    return (beta1, beta2)


from scratchgrad.optim import lr_scheduler  # noqa: F401  (last: it needs Optimizer, defined above)
