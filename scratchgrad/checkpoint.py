"""sg.save / sg.load of checkpoints: nested dicts of tensors and plain Python values.

A lone Tensor, or a flat dict of name -> Tensor (a state dict), is written as before: a plain
safetensors file that any safetensors loader reads. Anything else, such as
{"model": model.state_dict(), "optimizer": opt.state_dict(), "iter": 5, "config": {...}},
is split in two. Each tensor becomes a safetensors entry named by its path
("model.fc.weight", "optimizer.state.0.exp_avg"), so other loaders still see every tensor.
The rest of the structure goes into the header's __metadata__ as JSON, each tensor
replaced by {"tensor": entry name}. Loading parses that JSON and copies bytes: nothing in
the file is ever executed.

Values the JSON holds: None, bools, ints, strs, floats (inf and nan too), lists, tuples
and dicts with keys of those types. NumPy scalars are stored as the Python number they
hold.
"""
import json
import math
from collections.abc import Mapping

import numpy as np

from scratchgrad import serialization
from scratchgrad.core.errors import SerializationError
from scratchgrad.core.tensor import Tensor

STRUCTURE = "scratchgrad.structure"  # the __metadata__ entry holding the JSON


def save(obj, path):
    """Write obj to path as safetensors: a Tensor, a state dict, or a nested checkpoint dict."""
    if _is_plain(obj):
        serialization.save(obj, path)
        return
    if not isinstance(obj, Mapping):
        raise TypeError(f"save: can only save a Tensor, a NumPy array or a dict (of tensors, "
                        f"or a nested checkpoint), got {type(obj).__name__}")
    tensors = {}
    structure = _encode(obj, "", tensors)
    metadata = {STRUCTURE: json.dumps(structure, separators=(",", ":"), ensure_ascii=False)}
    serialization.save(tensors, path, metadata=metadata)


def load(path, map_location=None, weights_only=None, **kwargs):
    """Read what save wrote (or any safetensors file); the object comes back as it was saved.

    map_location and weights_only are accepted for PyTorch's signature: everything loads onto
    the CPU, and a file can only ever hold data.
    """
    tensors, metadata = serialization.load_with_metadata(path)
    text = metadata.get(STRUCTURE)
    if text is None:  # a plain safetensors file
        return _plain_result(tensors, metadata, path)
    try:
        structure = json.loads(text)
    except ValueError as exc:
        raise _error(path, f"its {STRUCTURE} metadata is not valid JSON ({exc})") from None
    return _decode(structure, tensors, path)


def _plain_result(tensors, metadata, path):
    """What serialization.load returns, from what was already read."""
    if metadata.get(serialization._KIND) == "tensor":
        if list(tensors) != [serialization.TENSOR_KEY]:
            raise serialization._error(serialization._describe(path), f"its metadata marks a "
                                       f"single tensor, but it holds {list(tensors)}")
        return tensors[serialization.TENSOR_KEY]
    return tensors


def _is_plain(obj):
    """A Tensor, an array, or a dict of str -> Tensor: what a plain safetensors file holds."""
    if isinstance(obj, (Tensor, np.ndarray, np.generic)):
        return True
    return isinstance(obj, Mapping) and all(
        isinstance(key, str) and isinstance(value, (Tensor, np.ndarray, np.generic))
        for key, value in obj.items())


# ---------------------------------------------------------------- to JSON and back

def _encode(value, path, tensors):
    """value as JSON, its tensors moved into `tensors` under names made from their path."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (Tensor, np.ndarray)):
        name = _free_name(path or "tensor", tensors)
        tensors[name] = value
        return {"tensor": name}
    if isinstance(value, np.generic):
        return _encode(value.item(), path, tensors)
    if isinstance(value, (list, tuple)):
        items = [_encode(v, _join(path, i), tensors) for i, v in enumerate(value)]
        return items if isinstance(value, list) else {"tuple": items}
    if isinstance(value, Mapping):
        return {"dict": [[_encode_key(k, path), _encode(v, _join(path, k), tensors)]
                         for k, v in value.items()]}
    raise TypeError(f"save: can't save the {type(value).__name__} at {path or 'the top'!r}: a "
                    f"checkpoint holds tensors, dicts, lists, tuples, strings, numbers, bools "
                    f"and None")


def _encode_key(key, path):
    if key is None or isinstance(key, (bool, int, float, str)):
        return _encode(key, path, {})
    if isinstance(key, tuple):
        return {"tuple": [_encode_key(k, path) for k in key]}
    raise TypeError(f"save: a dict key at {path or 'the top'!r} is a {type(key).__name__} "
                    f"({key!r}); keys must be strings, numbers, bools, None or tuples of them")


def _join(path, key):
    return f"{path}.{key}" if path else str(key)


def _free_name(name, taken):
    """name, or name#2, name#3... if another tensor's path already gave it."""
    candidate, n = name, 1
    while candidate in taken or candidate == "__metadata__":
        n += 1
        candidate = f"{name}#{n}"
    return candidate


def _decode(value, tensors, path):
    """The Python object the JSON stands for, its tensor references resolved."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v, tensors, path) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        (tag, content), = value.items()
        if tag == "tensor" and isinstance(content, str):
            if content not in tensors:
                raise _error(path, f"its structure refers to a tensor {content!r} it doesn't hold")
            return tensors[content]
        if tag == "tuple" and isinstance(content, list):
            return tuple(_decode(v, tensors, path) for v in content)
        if tag == "float" and content in ("inf", "-inf", "nan"):
            return float(content)
        if tag == "dict" and isinstance(content, list) and all(
                isinstance(item, list) and len(item) == 2 for item in content):
            try:
                return {_decode(k, tensors, path): _decode(v, tensors, path) for k, v in content}
            except TypeError:  # a key that can't be one (a list)
                raise _error(path, "its structure has a dict key that isn't hashable") from None
    raise _error(path, f"its structure holds {json.dumps(value)[:80]}, which scratchgrad didn't "
                 f"write")


def _error(path, problem):
    return SerializationError(f"load: {serialization._describe(path)} is not a valid "
                              f"scratchgrad checkpoint: {problem}")
