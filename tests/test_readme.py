"""The README's code runs as written (so its first screen can't drift from the library)."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs(snippet, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(snippet, str(README), "exec"), namespace)  # noqa: S102  (our own README)
    if "z" in namespace:  # the worked example
        assert (namespace["z"].item(), namespace["x"].grad.item(), namespace["y"].grad.item()) == (49, 56, 14)
    if "loss" in namespace:  # the training loop
        assert namespace["loss"].item() < 0.05
        assert (tmp_path / "xor.safetensors").exists()


def test_readme_has_snippets():
    assert len(SNIPPETS) >= 2
