"""Neural-network building blocks: modules, layers, losses, initialisation (PyTorch's torch.nn)."""
from scratchgrad.nn.module import IncompatibleKeys, Module, Parameter, StateDictError

__all__ = ["IncompatibleKeys", "Module", "Parameter", "StateDictError"]
