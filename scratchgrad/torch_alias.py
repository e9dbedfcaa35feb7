"""`import torch` meaning scratchgrad, for `scratchgrad run SCRIPT [ARGS...]`.

Inside `as_torch()`, a finder at the front of sys.meta_path answers every import of `torch`
or `torch.X.Y`: with scratchgrad.X.Y where scratchgrad has that module (torch.nn,
torch.nn.functional, torch.optim.lr_scheduler, torch.utils.data, ...), and with a small
stand-in where PyTorch has environment plumbing that means nothing on a CPU-only NumPy
library: CUDA and MPS report unavailable, the backend flags exist and do nothing,
`torch.compile` returns its argument, and mixed precision (autocast, a GradScaler) passes
straight through. Nothing else is faked: a name scratchgrad lacks raises AttributeError
naming `torch.<name>`, and a missing module raises ModuleNotFoundError naming it.
"""
import contextlib
import functools
import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

# ---------------------------------------------------------------- the plumbing


def compile(model=None, **options):
    """torch.compile: there is nothing to compile; returns the model (or, as a decorator, it)."""
    if model is None:
        return lambda model: model
    return model


class autocast:
    """torch.autocast / torch.amp.autocast: mixed precision doesn't apply; a no-op context."""

    def __init__(self, device_type="cuda", dtype=None, enabled=True, cache_enabled=None):
        self.device_type, self.fast_dtype, self.enabled = device_type, dtype, enabled

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def wrapped(*args, **kwargs):
            with self:
                return function(*args, **kwargs)
        return wrapped


class GradScaler:
    """torch.amp.GradScaler: without CUDA it is disabled, as in PyTorch, and passes through."""

    def __init__(self, device="cuda", init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        if enabled:
            warnings.warn("GradScaler is enabled, but CUDA is not available (scratchgrad runs "
                          "on the CPU). Disabling.", stacklevel=2)

    def scale(self, outputs):
        return outputs

    def unscale_(self, optimizer):
        pass

    def step(self, optimizer, *args, **kwargs):
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        pass

    def get_scale(self):
        return 1.0

    def is_enabled(self):
        return False

    def state_dict(self):
        return {}

    def load_state_dict(self, state_dict):
        pass


def _false(*args, **kwargs):
    return False


def _nothing(*args, **kwargs):
    return None


# What each plumbing module holds, by its name after "torch" ("" is torch itself).
PLUMBING = {
    "": {"compile": compile, "autocast": autocast,
         "set_float32_matmul_precision": _nothing,
         "get_float32_matmul_precision": lambda: "highest"},
    "cuda": {"is_available": _false, "is_bf16_supported": _false, "device_count": lambda: 0,
             "manual_seed": _nothing, "manual_seed_all": _nothing, "synchronize": _nothing,
             "empty_cache": _nothing},
    "cuda.amp": {"GradScaler": GradScaler, "autocast": autocast},
    "amp": {"GradScaler": GradScaler, "autocast": autocast},
    "mps": {"is_available": _false, "manual_seed": _nothing, "synchronize": _nothing},
    "backends": {},
    "backends.cudnn": {"enabled": True, "benchmark": False, "deterministic": False,
                       "allow_tf32": True, "is_available": _false},
    "backends.cuda": {"is_built": _false},
    "backends.cuda.matmul": {"allow_tf32": False, "allow_fp16_reduced_precision_reduction": True,
                             "allow_bf16_reduced_precision_reduction": True},
    "backends.mps": {"is_available": _false, "is_built": _false},
}


# ---------------------------------------------------------------- the alias modules


class TorchModule(types.ModuleType):
    """`torch.<name>`: scratchgrad's module of that name plus any plumbing, under torch's name."""

    def __init__(self, name, target, plumbing):
        super().__init__(name, getattr(target, "__doc__", None))
        self.__path__ = []  # a package, so that `import torch.X.Y` comes back to the finder
        self._scratchgrad = target
        self.__dict__.update(plumbing)

    def __getattr__(self, attr):
        target = self.__dict__.get("_scratchgrad")
        if attr.startswith("__") and attr not in ("__version__", "__all__"):
            raise AttributeError(attr)  # what the import system probes for: not scratchgrad's
        if target is not None and hasattr(target, attr):
            value = getattr(target, attr)
            if isinstance(value, types.ModuleType) and value.__name__.startswith("scratchgrad."):
                # a submodule: under its torch name too
                return importlib.import_module(f"{self.__name__}.{attr}")
            return value
        with contextlib.suppress(ModuleNotFoundError):  # a submodule not imported yet
            return importlib.import_module(f"{self.__name__}.{attr}")
        raise AttributeError(f"{self.__name__}.{attr}: scratchgrad has no such attribute (`scratchgrad "
                             f"run` runs this program with scratchgrad standing in for torch, and "
                             f"it doesn't implement {self.__name__}.{attr})")

    def __dir__(self):
        target = self.__dict__.get("_scratchgrad")
        return sorted(set(super().__dir__()) | set(dir(target) if target is not None else ()))


class TorchFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports of torch and torch.* made from scratchgrad's modules and the plumbing above."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        rest = fullname[len("torch."):] if fullname != "torch" else ""
        module = _scratchgrad_module("scratchgrad." + rest if rest else "scratchgrad")
        if module is None and rest not in PLUMBING:
            return None  # Python raises ModuleNotFoundError: No module named 'torch.<rest>'
        return importlib.util.spec_from_loader(fullname, self, is_package=True)

    def create_module(self, spec):
        rest = spec.name[len("torch."):] if spec.name != "torch" else ""
        module = _scratchgrad_module("scratchgrad." + rest if rest else "scratchgrad")
        return TorchModule(spec.name, module, PLUMBING.get(rest, {}))

    def exec_module(self, module):
        pass


def _scratchgrad_module(name):
    """The scratchgrad module of that name, or None if there is none."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and name.startswith(error.name):
            return None
        raise  # a module that exists but fails inside: that's a real error


@contextlib.contextmanager
def as_torch():
    """Within it, `import torch` (and torch.*) gives scratchgrad; outside, whatever it was."""
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if _is_torch(name)}
    finder = TorchFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in [name for name in sys.modules if _is_torch(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


def _is_torch(name):
    return name == "torch" or name.startswith("torch.")
