"""Batches and small data sets (PyTorch's DataLoader, plus XOR and digits)."""
