"""Make `from tests import ...` work however pytest is started (`pytest` or `python -m pytest`)."""
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
