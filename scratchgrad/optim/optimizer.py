"""The optimiser base class (torch.optim.Optimizer): parameter groups, state and state dicts.

Hyper-parameters live in `param_groups`, per-parameter state in `state` (arrays of the
parameter's dtype, wrapped as Tensors), and `state_dict()` has PyTorch's layout. Subclasses
define `step()`, which updates each parameter's NumPy array in place and records no graph.
"""
import warnings
from collections import defaultdict

import numpy as np

from scratchgrad.core import dtypes
from scratchgrad.core.errors import user_stacklevel
from scratchgrad.core.gradmode import enable_grad
from scratchgrad.core.tensor import Tensor, retaining_grad

__all__ = ["Optimizer"]


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
