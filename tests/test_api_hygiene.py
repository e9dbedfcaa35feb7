"""The public API documents itself and shows only itself: every public callable and every
Tensor attribute has a docstring, and dir(sg) / dir(F) list public names only.

The lists are read from the package as it is, so a function added without a docstring, or to
F without an entry in F.__all__, fails here.
"""
import inspect
import types

import pytest

import scratchgrad as sg
import scratchgrad.nn.functional as F


def public_names(module):
    """A module's public names: its __all__, or else what it defines itself."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name, value in vars(module).items()
            if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__]


MODULES = [sg, sg.nn, F, sg.nn.init, sg.optim, sg.data, sg.viz]
CALLABLES = sorted({
    (module.__name__, name)
    for module in MODULES for name in public_names(module)
    if callable(getattr(module, name)) and not isinstance(getattr(module, name), type(sg.float32))
})
TENSOR_ATTRIBUTES = sorted(name for name in dir(sg.Tensor) if not name.startswith("_"))


def own_doc(obj):
    """The object's own docstring (a class doesn't borrow its base's; a slot reads __slots__)."""
    if isinstance(obj, types.MemberDescriptorType):
        return inspect.getdoc(obj)
    return obj.__doc__


def test_there_is_a_public_api_to_check():
    assert len(CALLABLES) > 150
    assert len(TENSOR_ATTRIBUTES) > 80
    assert ("scratchgrad", "from_dlpack") in CALLABLES
    assert ("scratchgrad.nn.functional", "one_hot") in CALLABLES


@pytest.mark.parametrize("module, name", CALLABLES, ids=[f"{m}.{n}" for m, n in CALLABLES])
def test_every_public_callable_has_a_docstring(module, name):
    obj = getattr(__import__(module, fromlist=["_"]), name)
    assert (own_doc(obj) or "").strip(), f"{module}.{name} has no docstring"


def test_every_tensor_attribute_has_a_docstring():
    undocumented = [name for name in TENSOR_ATTRIBUTES
                    if not (own_doc(getattr(sg.Tensor, name)) or "").strip()]
    assert undocumented == []


def test_dir_of_sg_lists_public_names_only():
    assert dir(sg) == sorted([*sg.__all__, "__version__"])
    modules = {name for name in dir(sg) if isinstance(getattr(sg, name), types.ModuleType)}
    assert modules == {"autograd", "data", "nn", "optim", "utils", "viz"}
    assert not {"ops", "primitives", "factories", "errors", "growth", "sites"} & set(dir(sg))
    assert [name for name in sg.__all__ if not hasattr(sg, name)] == []


def test_dir_of_functional_lists_its_functions_only():
    assert dir(F) == sorted(F.__all__)
    assert not {"P", "C", "np", "apply", "math", "warnings", "Tensor"} & set(dir(F))
    defined_here = {name for name, value in vars(F).items()
                    if inspect.isfunction(value) and value.__module__ == F.__name__
                    and not name.startswith("_")}
    assert defined_here - set(F.__all__) == set(), "public functions missing from F.__all__"
    assert [name for name in F.__all__ if not callable(getattr(F, name, None))] == []
