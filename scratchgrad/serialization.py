"""sg.save / sg.load in the safetensors format, which PyTorch's and NumPy's safetensors loaders read.

A file is: 8 bytes (little-endian unsigned) giving the header's length N, N bytes of
UTF-8 JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
then the tensors' raw little-endian C-order bytes, offsets counted from the end of the header.
Loading only ever parses JSON and copies bytes, so a file can't run code (unlike pickle).
"""
import contextlib
import errno
import json
import os
import struct
import uuid
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from scratchgrad.core.errors import SerializationError
from scratchgrad.core.tensor import Tensor

# safetensors dtype names, and the little-endian NumPy dtype each stores.
DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAME_OF = {(d.kind, d.itemsize): name for name, d in DTYPES.items()}

TENSOR_KEY = "tensor"  # the one key a lone saved Tensor is stored under
_KIND = "scratchgrad.kind"  # __metadata__ entry telling load to return a Tensor, not a dict
# The limit the reference (Rust) implementation sets; a bigger "length" means a corrupt file.
MAX_HEADER_BYTES = 100_000_000
_HEADER_FIELDS = {"dtype", "shape", "data_offsets"}
MAX_DIMS = 64  # NumPy's (and PyTorch's) limit on an array's dimensions
MAX_ARRAY_BYTES = np.iinfo(np.intp).max


# ---------------------------------------------------------------- save

def save(obj, path, *, metadata=None):
    """Write a Tensor (or NumPy array), or a flat dict of name -> Tensor, to path as safetensors.

    metadata: more __metadata__ entries (str -> str), such as checkpoint.py's structure.
    A path is written atomically: into a temporary file beside it, flushed to disk, then renamed
    over the target, so a crash or an error mid-write leaves the previous file whole.
    """
    arrays, own_metadata = _arrays_to_save(obj)
    header, chunks = _layout(arrays, {**own_metadata, **(metadata or {})})
    if hasattr(path, "write"):  # the caller's open file: written in place
        _write(path, header, chunks)
        return
    _write_atomically(os.fspath(path), header, chunks)


def _write(f, header, chunks):
    f.write(struct.pack("<Q", len(header)))
    f.write(header)
    for chunk in chunks:
        f.write(chunk)


def _write_atomically(path, header, chunks):
    """Write to a new file in the target's directory (so the rename can't cross file systems),
    fsync it, and os.replace it over the target; on any failure remove it and re-raise."""
    folder, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(folder):  # say so about the target, not about the temporary file
        raise FileNotFoundError(errno.ENOENT, f"save: no such directory {folder!r}", path)
    temporary = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(temporary, "xb") as f:  # "x": never an existing file; the umask applies
            _write(f, header, chunks)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    _sync_directory(folder)


def _sync_directory(folder):
    """Make the rename itself durable (POSIX); where directories can't be opened, skip it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _arrays_to_save(obj):
    """The arrays to write by name, and the __metadata__ that says how to load them back."""
    # "format": "pt" because the bytes are laid out as PyTorch's save_file lays them out, and
    # loaders such as transformers refuse files without it.
    if isinstance(obj, (Tensor, np.ndarray, np.generic)):
        return {TENSOR_KEY: _array_to_save(TENSOR_KEY, obj)}, {"format": "pt", _KIND: "tensor"}
    if not isinstance(obj, Mapping):
        raise TypeError(f"save: can only save a Tensor, a NumPy array or a dict of name -> Tensor, "
                        f"got {type(obj).__name__}")
    arrays = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise TypeError(f"save: keys must be strings, got {key!r} ({type(key).__name__})")
        if key == "__metadata__":
            raise ValueError("save: the key '__metadata__' is reserved by the safetensors format")
        arrays[key] = _array_to_save(key, value)
    return arrays, {"format": "pt"}


def _array_to_save(key, value):
    """value as a little-endian C-order array, or a TypeError naming the key."""
    if not isinstance(value, (Tensor, np.ndarray, np.generic)):
        hint = " (nested dicts can't be saved: flatten the names, e.g. 'layer.weight')" \
            if isinstance(value, Mapping) else ""
        raise TypeError(f"save: the value for key {key!r} is a {type(value).__name__}; only Tensors "
                        f"and NumPy arrays can be saved{hint}")
    array = np.asarray(value._data if isinstance(value, Tensor) else value)
    if (array.dtype.kind, array.dtype.itemsize) not in _NAME_OF:
        raise TypeError(f"save: the value for key {key!r} has dtype {array.dtype}, which the "
                        f"safetensors format can't hold")
    # astype, not ascontiguousarray, which would turn a 0-d array into a 1-d one.
    return array.astype(array.dtype.newbyteorder("<"), order="C", copy=False)


def _layout(arrays, metadata):
    """The padded JSON header and the data chunks in file order."""
    # Widest elements first (stable within a width), as safetensors does: the data starts on an
    # 8-byte boundary, so every tensor starts aligned and loaders may view the bytes in place.
    order = sorted(arrays, key=lambda name: -arrays[name].itemsize)
    offsets, position = {}, 0
    for name in order:
        offsets[name] = [position, position + arrays[name].nbytes]
        position += arrays[name].nbytes
    # The header lists names in the caller's order, which load gives back.
    header = {"__metadata__": metadata}
    for name, array in arrays.items():
        header[name] = {"dtype": _NAME_OF[array.dtype.kind, array.dtype.itemsize],
                        "shape": list(array.shape), "data_offsets": offsets[name]}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return text, [arrays[name].tobytes() for name in order]


# ---------------------------------------------------------------- load

def load(path):
    """Read a file written by sg.save or any safetensors writer: a Tensor, or an OrderedDict of them."""
    tensors, metadata = load_with_metadata(path)
    if metadata.get(_KIND) == "tensor":
        if list(tensors) != [TENSOR_KEY]:
            raise _error(_describe(path), f"its metadata marks a single tensor, but it holds "
                         f"{list(tensors)}")
        return tensors[TENSOR_KEY]
    return tensors


def load_with_metadata(path):
    """(an OrderedDict of the file's tensors by name, its __metadata__ dict of str -> str)."""
    where = _describe(path)
    with _open(path, "rb") as f:
        raw = _read_file(f, where)
    header, data = _split(raw, where)
    metadata = _metadata(header.pop("__metadata__", {}), where)
    entries = [(name, _check_entry(name, entry, where)) for name, entry in header.items()]
    _check_coverage(entries, len(data), where)
    tensors = OrderedDict((name, _read(name, data, *entry, where)) for name, entry in entries)
    return tensors, metadata


def _read_file(f, where):
    """The file's bytes, refusing an absurd header length before reading (let alone parsing) it."""
    start = f.read(8)
    if len(start) == 8:
        (length,) = struct.unpack("<Q", start)
        if length > MAX_HEADER_BYTES:
            raise _error(where, f"its header length {length} is absurdly large (the limit is "
                         f"{MAX_HEADER_BYTES} bytes)" + _format_hint(start + f.read(1)))
    return start + f.read()


def _split(raw, where):
    """The parsed JSON header (a dict, names in file order) and the data bytes after it."""
    if len(raw) < 8:
        raise _error(where, f"it is {len(raw)} bytes long, too short for the 8-byte header length"
                     + _format_hint(raw))
    (length,) = struct.unpack("<Q", raw[:8])
    if length > MAX_HEADER_BYTES:
        raise _error(where, f"its header length {length} is absurdly large (the limit is "
                     f"{MAX_HEADER_BYTES} bytes)" + _format_hint(raw))
    if 8 + length > len(raw):
        raise _error(where, f"its header length {length} runs past the end of the file "
                     f"({len(raw)} bytes): the file is truncated or not safetensors" + _format_hint(raw))
    try:
        header = json.loads(raw[8:8 + length].decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _error(where, f"its header is not valid UTF-8 JSON ({exc})" + _format_hint(raw)) from None
    if not isinstance(header, dict):
        raise _error(where, f"its header is a JSON {type(header).__name__}, not an object")
    return header, memoryview(raw)[8 + length:]


def _no_duplicates(pairs):
    """Build JSON objects in file order, refusing a name given twice (which one would win?)."""
    result = OrderedDict()
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the name {key!r} appears twice")
        result[key] = value
    return result


def _metadata(metadata, where):
    """__metadata__ must map strings to strings, as the format says."""
    if not isinstance(metadata, dict):
        raise _error(where, f"its __metadata__ is a {type(metadata).__name__}, not an object")
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise _error(where, f"its __metadata__ entry {key!r} is {value!r}, not a string")
    return metadata


def _check_entry(name, entry, where):
    """One header entry as (dtype, shape, begin, end), every field checked."""
    if not isinstance(entry, dict) or set(entry) != _HEADER_FIELDS:
        raise _error(where, f"tensor {name!r} must be described by exactly dtype, shape and "
                     f"data_offsets, got {entry!r}")
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(code, str) or code not in DTYPES:
        raise _error(where, f"tensor {name!r} has unknown dtype {code!r} "
                     f"(scratchgrad reads {', '.join(DTYPES)})")
    if not isinstance(shape, list) or not all(_is_count(n) for n in shape):
        raise _error(where, f"tensor {name!r} has shape {shape!r}, not a list of non-negative ints")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(n) for n in offsets)
            and offsets[0] <= offsets[1]):
        raise _error(where, f"tensor {name!r} has data_offsets {offsets!r}, not [begin, end] "
                     f"with 0 <= begin <= end")
    if len(shape) > MAX_DIMS:
        raise _error(where, f"tensor {name!r} has {len(shape)} dimensions; at most {MAX_DIMS} "
                     "are supported")
    # A 0 makes the byte count 0 whatever the other sizes, but NumPy still refuses a shape
    # whose nonzero sizes multiply past what an array can index.
    if DTYPES[code].itemsize * _product(n for n in shape if n) > MAX_ARRAY_BYTES:
        raise _error(where, f"tensor {name!r} has shape {tuple(shape)}, whose sizes multiply "
                     f"past the largest possible array ({MAX_ARRAY_BYTES} bytes)")
    dtype, (begin, end) = DTYPES[code], offsets
    # Python ints: a hostile shape can't overflow this product.
    needed = dtype.itemsize * _product(shape)
    if end - begin != needed:
        raise _error(where, f"tensor {name!r} has data_offsets {offsets} ({end - begin} bytes), but "
                     f"shape {tuple(shape)} of {code} needs {needed} bytes")
    return dtype, tuple(shape), begin, end


def _check_coverage(entries, size, where):
    """The tensors must tile the data exactly: no overlaps, no gaps, nothing past the end or after it."""
    position = 0
    for name, (_, _, begin, end) in sorted(entries, key=lambda item: item[1][2:]):
        if begin < position:
            raise _error(where, f"tensor {name!r} (bytes {begin} to {end}) overlaps the tensor before it")
        if begin > position:
            raise _error(where, f"bytes {position} to {begin} of the data belong to no tensor")
        if end > size:
            raise _error(where, f"tensor {name!r} needs bytes {begin} to {end}, but the data is only "
                         f"{size} bytes long: the file is truncated")
        position = end
    if position != size:
        raise _error(where, f"{size - position} bytes of trailing garbage after the last tensor")


def _read(name, data, dtype, shape, begin, end, where):
    """Copy one tensor's bytes into a native-endian array (aligned and writable)."""
    array = np.frombuffer(data[begin:end], dtype=dtype).astype(dtype.newbyteorder("="))
    if dtype.kind == "b" and array.view(np.uint8).max(initial=0) > 1:
        raise _error(where, f"bool tensor {name!r} holds bytes other than 0 and 1")
    return Tensor._wrap(array.reshape(shape))


# ---------------------------------------------------------------- helpers

def _is_count(n):
    return isinstance(n, int) and not isinstance(n, bool) and n >= 0


def _product(shape):
    result = 1
    for n in shape:
        result *= n
    return result


def _open(path, mode):
    """Open a path, or use an already-open binary file object as is (as torch.save allows)."""
    if hasattr(path, "write" if "w" in mode else "read"):
        return contextlib.nullcontext(path)  # the caller's file: leave it open
    return open(os.fspath(path), mode)


def _describe(path):
    name = getattr(path, "name", None) if hasattr(path, "read") else os.fspath(path)
    return repr(os.fspath(name)) if isinstance(name, (str, bytes, os.PathLike)) else "the file object"


def _error(where, problem):
    return SerializationError(f"load: {where} is not a valid safetensors file: {problem}")


def _format_hint(raw):
    """Name the likely culprit when a file is in a format people confuse with safetensors.

    Only for a file that doesn't start like safetensors: its header (a JSON object) opens with
    "{" at byte 8. A header length of 640 is the bytes 80 02 00 ..., which would otherwise read
    as pickle protocol 2."""
    if raw[8:9] == b"{":
        return ""
    if raw[:4] == b"PK\x03\x04":
        return " (it looks like a torch.save zip archive; save it with safetensors instead)"
    if raw[:1] == b"\x80" and raw[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return " (it looks like a pickle, which scratchgrad never loads: pickles can run code)"
    if raw[:6] == b"\x93NUMPY":
        return " (it looks like a NumPy .npy file; use numpy.load)"
    return ""
