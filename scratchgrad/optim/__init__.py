"""Optimisers (PyTorch's torch.optim): SGD, Adam and AdamW, and their learning-rate schedulers.

Each `step()` follows PyTorch's documented algorithm on the parameters' NumPy arrays, in place;
no graph is recorded.
"""
from scratchgrad.optim import lr_scheduler
from scratchgrad.optim.adam import Adam, AdamW
from scratchgrad.optim.optimizer import Optimizer
from scratchgrad.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
