"""The package as a user gets it: build the sdist and wheel, check them with twine, install the
wheel into a fresh virtual environment that has NumPy alone, and use it there.

About 20 s, most of it pip installing NumPy into the new environment (from pip's cache).
"""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import scratchgrad

ROOT = Path(__file__).resolve().parent.parent

# What the fresh environment runs: the package works, reports its version, ships its type hints
# and its command, and nothing but NumPy came with it.
SMOKE = """
import importlib.metadata as md, importlib.util, pathlib, sys
import scratchgrad as sg
x = sg.tensor(2.0, requires_grad=True)
((x ** 2 + 3) ** 2).backward()
assert x.grad.item() == 56.0, x.grad
assert sg.__version__ == md.version("scratchgrad")
assert (pathlib.Path(sg.__file__).parent / "py.typed").is_file()
assert importlib.util.find_spec("torch") is None
installed = sorted(d.metadata["Name"].lower() for d in md.distributions())
assert installed == ["numpy", "scratchgrad"], installed
assert (pathlib.Path(sys.executable).parent / "scratchgrad").is_file()
print("ok", sg.__version__)
"""


def run(*command, cwd=None):
    result = subprocess.run(command, check=False, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_wheel_builds_checks_and_installs_with_numpy_alone(tmp_path):
    # Build from a copy, so the working tree gets no build/ or egg-info from the test.
    source = tmp_path / "src"
    shutil.copytree(ROOT / "scratchgrad", source / "scratchgrad",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source))
    version = scratchgrad.__version__
    wheel = dist / f"scratchgrad-{version}-py3-none-any.whl"
    sdist = dist / f"scratchgrad-{version}.tar.gz"
    assert wheel.is_file() and sdist.is_file(), sorted(p.name for p in dist.iterdir())
    assert "PASSED" in run(sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist))

    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / "scratchgrad").rglob("*.py")}
    assert expected <= names, sorted(expected - names)  # every subpackage found, none listed by hand
    assert "scratchgrad/py.typed" in names
    assert f"scratchgrad-{version}.dist-info/licenses/LICENSE" in names
    assert not [n for n in names if n.startswith(("tests/", "docs/", "examples/"))]

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", str(wheel))
    assert run(str(python), "-c", SMOKE, cwd=tmp_path).strip() == f"ok {version}"
