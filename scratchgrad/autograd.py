"""sg.autograd, as torch.autograd: the names PyTorch programs reach for under that module.

The engine itself is scratchgrad/core/engine.py; this module only gathers the public names.
"""
from scratchgrad.core.engine import grad
from scratchgrad.core.gradmode import enable_grad, no_grad, set_grad_enabled
from scratchgrad.debug.anomaly import detect_anomaly
from scratchgrad.function import Function, FunctionCtx
from scratchgrad.gradcheck import gradcheck

__all__ = ["Function", "FunctionCtx", "detect_anomaly", "enable_grad", "grad",
           "gradcheck", "no_grad", "set_grad_enabled"]
