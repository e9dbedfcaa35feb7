"""Devices: scratchgrad computes on the CPU only, but speaks PyTorch's device vocabulary.

`sg.device("cuda")` can be built, as in PyTorch, so that `torch.device("cuda" if ... else "cpu")`
works; asking for a tensor there (`device="cuda"`, `.to("cuda")`) raises a clear error.
"""
from scratchgrad.core.errors import DeviceError

# PyTorch's device types; anything else is refused when the device is built, as PyTorch does.
_KNOWN_TYPES = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla", "ipu", "hpu", "mtia",
                "vulkan", "lazy", "privateuseone")


class device:
    """A device, as torch.device: device("cpu"), device("cuda:0"), device("cuda", 0)."""
    __slots__ = ("index", "type")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu', got {type!r}")
        name, _, number = type.partition(":")
        if name not in _KNOWN_TYPES:
            raise DeviceError(f"device: unknown device type {type!r}; expected one of "
                              f"{', '.join(_KNOWN_TYPES)} (scratchgrad itself runs on 'cpu')")
        if number:
            if index is not None or not number.isdigit():
                raise DeviceError(f"device: invalid device string {type!r}")
            index = int(number)
        object.__setattr__(self, "type", name)
        object.__setattr__(self, "index", None if index is None else int(index))

    def __setattr__(self, name, value):
        raise AttributeError("device objects are immutable")

    def __repr__(self):
        extra = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{extra})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        """Equal to a device of the same type and index, or to its string ("cpu")."""
        if isinstance(other, str):
            try:
                other = device(other)
            except (DeviceError, TypeError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return device, (self.type, self.index)

    def __enter__(self):
        """`with sg.device("cpu"):` is PyTorch's default-device context: a no-op on the CPU."""
        check_device("device", self)
        return self

    def __exit__(self, *exc):
        return False


cpu = device("cpu")


def check_device(op, where):
    """Accept None, "cpu", "cpu:0" or sg.device("cpu"); any other device raises DeviceError."""
    if where is None:
        return cpu
    try:
        chosen = where if isinstance(where, device) else device(where)
    except TypeError:
        raise TypeError(f"{op}: device must be a string or sg.device, got {where!r}") from None
    except DeviceError as exc:
        raise DeviceError(f"{op}: {exc.args[0].splitlines()[0]}") from None
    if chosen.type != "cpu" or chosen.index not in (None, 0):
        raise DeviceError(f"{op}: device {str(chosen)!r} is not available: scratchgrad runs on "
                          "the CPU only; use device='cpu' (or leave device out)")
    return cpu


def is_device(value):
    """True for a device object or a string that names a device ("cpu", "cuda:0")."""
    if isinstance(value, device):
        return True
    if isinstance(value, str):
        return value.partition(":")[0] in _KNOWN_TYPES
    return False
