"""Make `from tests import ...` work however pytest is started (`pytest` or `python -m pytest`),
and keep PyTorch (the oracle) on one thread: the tests' tensors are tiny, and thread hand-offs
on 2 cores cost ten times the work."""
import sys
from pathlib import Path

import torch

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

torch.set_num_threads(1)
