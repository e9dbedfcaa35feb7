"""Optimisers (PyTorch's torch.optim)."""
