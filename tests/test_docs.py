"""docs/seeing-gradients.md shows what its examples print today (the page is generated)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("dot") is None, reason="the page draws a graph with Graphviz's dot")
def test_seeing_gradients_page_is_up_to_date():
    pytest.importorskip("graphviz")
    result = subprocess.run([sys.executable, str(ROOT / "docs" / "make_seeing_gradients.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (ROOT / "docs" / "images" / "broadcast-graph.svg").stat().st_size > 1000
