"""Test set-up shared by every file.

- `from tests import ...` works however pytest is started (`pytest` or `python -m pytest`).
- PyTorch, the oracle, runs on one thread: the tests' tensors are tiny, and thread hand-offs on
  2 cores cost ten times the work.
- SCRATCHGRAD_DATA points at ../shared/data (when it is there), so no test downloads.
- Under CI (CI=true) hypothesis draws the same examples every run, so a red build always means a
  change, never a newly drawn example; locally it keeps exploring.
"""
import os
import sys
from pathlib import Path

import torch
from hypothesis import settings

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

torch.set_num_threads(1)

# sg.data reads its text corpora from the shared copy (../shared/data beside the checkout, or
# the workplace's /work/shared/data): tests never download. Without a copy, the tests that need
# the corpora skip (tests.helpers.needs_corpora).
_DATA = next((d for d in (Path(ROOT).parent / "shared" / "data", Path("/work/shared/data"))
              if (d / "names.txt").is_file()), None)
if _DATA is not None:
    os.environ.setdefault("SCRATCHGRAD_DATA", str(_DATA))

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
