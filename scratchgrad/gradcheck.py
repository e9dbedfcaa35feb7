"""Gradient checking: analytic gradients (backward) against central finite differences."""
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from scratchgrad.core import dtypes
from scratchgrad.core.engine import grad
from scratchgrad.core.errors import GradcheckError
from scratchgrad.core.gradmode import no_grad
from scratchgrad.core.tensor import Tensor


def gradcheck(fn: Callable[..., Any], inputs: Tensor | Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check d fn / d input for every input that requires grad, in float64.

    Returns True, or raises GradcheckError naming the input, the element, the
    finite-difference value expected and the backward value got.
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    xs = [Tensor(x._data.astype(dtypes.float64), requires_grad=True) if _checked(x) else x
          for x in inputs]
    checked = [i for i, x in enumerate(inputs) if _checked(x)]
    analytic = _analytic_jacobians(fn, xs, checked)
    numeric = _numeric_jacobians(fn, xs, checked, eps)
    for i in checked:
        a, n = analytic[i], numeric[i]
        bad = np.abs(a - n) > atol + rtol * np.abs(n)
        bad |= np.isnan(a) != np.isnan(n)
        if bad.any():
            out_k, in_j = np.unravel_index(np.argmax(np.where(bad, np.abs(a - n), -1)), a.shape)
            element = np.unravel_index(in_j, xs[i].shape) if xs[i].ndim else ()
            message = (f"gradcheck: input {i}, element {tuple(int(e) for e in element)}, output "
                       f"element {int(out_k)}: expected {float(n[out_k, in_j])!r} (finite differences) "
                       f"but got {float(a[out_k, in_j])!r} (backward)")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


def _checked(x: Any) -> bool:
    return isinstance(x, Tensor) and x.requires_grad


def _outputs(fn: Callable[..., Any], xs: list[Any]) -> list[Any]:
    out = fn(*xs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _flat_outputs(fn: Callable[..., Any], xs: list[Any]) -> np.ndarray:
    with no_grad():
        return np.concatenate([np.asarray(o._data, dtype=np.float64).ravel()
                               for o in _outputs(fn, xs)])


def _analytic_jacobians(fn: Callable[..., Any], xs: list[Any],
                        checked: list[int]) -> dict[int, np.ndarray]:
    """J[i][k, j] = d output_k / d input_i[j], one backward per output element."""
    outputs = _outputs(fn, xs)
    total = sum(o.size for o in outputs)
    jac = {i: np.zeros((total, xs[i].size)) for i in checked}
    row = 0
    for out in outputs:
        for k in range(out.size):
            if out.requires_grad:
                seed = np.zeros(out.size, dtype=out.dtype)
                seed[k] = 1
                grads = grad(out, [xs[i] for i in checked], Tensor._wrap(seed.reshape(out.shape)),
                             retain_graph=True, allow_unused=True)
                for i, g in zip(checked, grads):
                    if g is not None:
                        jac[i][row + k] = np.asarray(g._data).ravel()
        row += out.size
    return jac


def _numeric_jacobians(fn: Callable[..., Any], xs: list[Any], checked: list[int],
                       eps: float) -> dict[int, np.ndarray]:
    """Central differences (f(x + eps) - f(x - eps)) / 2 eps, one input element at a time."""
    jac: dict[int, np.ndarray] = {}
    for i in checked:
        data = xs[i]._data
        if not isinstance(data, np.ndarray):
            data = xs[i]._data = np.array(data)
        flat = data.reshape(-1)
        columns = []
        for j in range(flat.size):
            original = flat[j]
            flat[j] = original + eps
            plus = _flat_outputs(fn, xs)
            flat[j] = original - eps
            minus = _flat_outputs(fn, xs)
            flat[j] = original
            columns.append((plus - minus) / (2 * eps))
        size = len(_flat_outputs(fn, xs))
        jac[i] = np.stack(columns, axis=1) if columns else np.zeros((size, 0))
    return jac
