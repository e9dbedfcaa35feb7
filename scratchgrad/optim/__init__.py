"""Optimisers (PyTorch's torch.optim): SGD, Adam, AdamW and RMSprop, and their learning-rate
schedulers.

Each `step()` follows PyTorch's documented algorithm on the parameters' NumPy arrays, in place;
no graph is recorded.
"""
from scratchgrad.optim import lr_scheduler
from scratchgrad.optim.adam import Adam, AdamW
from scratchgrad.optim.optimizer import Optimizer
from scratchgrad.optim.rmsprop import RMSprop
from scratchgrad.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
