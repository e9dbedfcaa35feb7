"""The package's layout: no import cycle, and any module can be imported first."""
import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "scratchgrad"


def module_names():
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def imports_at_import_time(name):
    """The scratchgrad modules that module `name` imports while it is being imported: its
    top-level imports (those inside functions run later, when called)."""
    path = PACKAGE.parent / (name.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE.parent / name.replace(".", "/") / "__init__.py"
    known = set(module_names())
    found = set()
    for statement in ast.parse(path.read_text()).body:
        if isinstance(statement, ast.Import):
            found.update(a.name for a in statement.names if a.name.startswith("scratchgrad"))
        elif isinstance(statement, ast.ImportFrom) and (statement.module or "").startswith("scratchgrad"):
            for alias in statement.names:
                submodule = f"{statement.module}.{alias.name}"
                found.add(submodule if submodule in known else statement.module)
    return {m for m in found if m in known and m != name}


def test_no_module_imports_itself_back_at_import_time():
    graph = {name: imports_at_import_time(name) for name in module_names()}
    state = {}

    def visit(name, path):
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", f"import cycle: {' -> '.join(path + [name])}"
        state[name] = "open"
        for dependency in sorted(graph[name]):
            visit(dependency, path + [name])
        state[name] = "done"

    for name in graph:
        visit(name, [])


@pytest.mark.parametrize("name", module_names())
def test_any_module_can_be_imported_first(name):
    code = (f"import importlib, sys; m = importlib.import_module({name!r}); "
            f"import scratchgrad as sg; "
            f"assert type(m).__name__ == 'module' and m.__name__ == {name!r}; "
            f"assert sg.tensor([1.0, 2.0]).exp().sum().item() > 0")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def test_public_names_come_from_the_op_tables():
    import scratchgrad as sg
    from scratchgrad import ops, primitives

    for op in primitives.float_functions:   # a row of the table is sg.<name>, a method, and _
        assert op.name in ops.__all__ and op.name in sg.__all__
        assert getattr(sg, op.name).__doc__ == op.doc
        assert getattr(sg.Tensor, op.name) is getattr(sg, op.name)
        assert op.name + "_" in dir(sg.Tensor)
    for name in ops.__all__:
        assert getattr(sg, name) is getattr(ops, name)
        if name not in ops.NOT_METHODS:
            assert getattr(sg.Tensor, name) is getattr(sg, name), name
