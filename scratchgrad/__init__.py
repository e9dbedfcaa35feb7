"""scratchgrad: a tensor library with reverse-mode automatic differentiation, built on NumPy.

import scratchgrad as sg
x = sg.tensor(2.0, requires_grad=True)
y = sg.tensor(3.0, requires_grad=True)
z = (x**2 + y)**2
z.backward()      # x.grad = 56, y.grad = 14
"""

from scratchgrad import autograd, data, nn, ops, optim, utils, viz
from scratchgrad.checkpoint import load, save
from scratchgrad.core.devices import device
from scratchgrad.core.dtypes import (
    bfloat16,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
)
from scratchgrad.core.dtypes import bool_ as bool
from scratchgrad.core.engine import grad
from scratchgrad.core.errors import (
    AnomalyError,
    AxisError,
    DeviceError,
    DTypeError,
    DTypeNotImplementedError,
    GradcheckError,
    GraphError,
    IndexRangeError,
    InPlaceError,
    SerializationError,
    ShapeError,
    ValueRangeError,
)
from scratchgrad.core.gradmode import (
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from scratchgrad.core.printing import set_printoptions
from scratchgrad.core.tensor import Size, Tensor, from_numpy
from scratchgrad.debug.anomaly import detect_anomaly
from scratchgrad.debug.broadcasting import (
    BroadcastWarning,
    get_broadcast_mode,
    set_broadcast_mode,
)
from scratchgrad.debug.graphcheck import gradcheck_graph
from scratchgrad.debug.growth import GraphGrowthWarning
from scratchgrad.dlpack import from_dlpack
from scratchgrad.factories import (
    arange,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)
from scratchgrad.function import Function, FunctionCtx
from scratchgrad.gradcheck import gradcheck
from scratchgrad.inference import inference_mode, is_inference_mode_enabled
from scratchgrad.random import (
    Generator,
    bernoulli,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    multinomial,
    normal,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    seed,
    set_rng_state,
)

__version__ = "0.1.0"  # the one place the version is written: pyproject.toml reads it

float = float32  # sg.float and sg.double, as torch.float and torch.double
double = float64
long = int64
int = int32  # as torch.int, torch.half, torch.short
half = float16
short = int16

# The ops: sg.exp, sg.cat, ... (ops/__init__.py is the one list of them).
globals().update({name: getattr(ops, name) for name in ops.__all__})

def __dir__():
    """dir(sg): the public names only, not the modules scratchgrad is built from."""
    return sorted([*__all__, "__version__"])


__all__ = [
    "AnomalyError",
    "AxisError",
    "BroadcastWarning",
    "DTypeError",
    "DTypeNotImplementedError",
    "DeviceError",
    "Function",
    "FunctionCtx",
    "Generator",
    "GradcheckError",
    "GraphError",
    "GraphGrowthWarning",
    "InPlaceError",
    "IndexRangeError",
    "SerializationError",
    "ShapeError",
    "Size",
    "Tensor",
    "ValueRangeError",
    "arange",
    "autograd",
    "bernoulli",
    "bfloat16",
    "bool",
    "data",
    "default_generator",
    "detect_anomaly",
    "device",
    "double",
    "empty",
    "empty_like",
    "enable_grad",
    "eye",
    "float",
    "float16",
    "float32",
    "float64",
    "from_dlpack",
    "from_numpy",
    "full",
    "full_like",
    "get_broadcast_mode",
    "get_rng_state",
    "grad",
    "gradcheck",
    "gradcheck_graph",
    "half",
    "inference_mode",
    "initial_seed",
    "int",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "linspace",
    "load",
    "long",
    "manual_seed",
    "multinomial",
    "nn",
    "no_grad",
    "normal",
    "ones",
    "ones_like",
    "optim",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "randperm",
    "save",
    "seed",
    "set_broadcast_mode",
    "set_grad_enabled",
    "set_printoptions",
    "set_rng_state",
    "short",
    "tensor",
    "uint8",
    "utils",
    "viz",
    "zeros",
    "zeros_like",
]
__all__ += ops.__all__
