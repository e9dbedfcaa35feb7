"""sg.utils (PyTorch's torch.utils): the data loading tools live in sg.utils.data."""
from scratchgrad.utils import data

__all__ = ["data"]
