"""sg.save / sg.load (API.md "Neural networks"): safetensors files, read and written by others too."""
import io
import json
import os
import pickle
import struct
from collections import OrderedDict

import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad import serialization
from scratchgrad.core.errors import SerializationError

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def sample(dtype, shape=(2, 3)):
    """Distinct, dtype-appropriate values (negatives where the dtype has them)."""
    values = np.arange(int(np.prod(shape))).reshape(shape)
    if dtype == "bool":
        return values % 2 == 1
    if np.dtype(dtype).kind in "if":
        values = values - values.size // 2
    return (values * 1.5 if np.dtype(dtype).kind == "f" else values).astype(dtype)


def assert_same(loaded, expected):
    """Same dtype, shape and values (and a plain, grad-free Tensor)."""
    assert type(loaded) is sg.Tensor and not loaded.requires_grad
    expected = np.asarray(expected.data if isinstance(expected, sg.Tensor) else expected)
    assert loaded.dtype == expected.dtype.newbyteorder("=")
    np.testing.assert_array_equal(loaded.detach().numpy(), expected)


def raw_file(path, header, data=b"", length=None):
    """Write a hand-made file: header length, JSON header, data."""
    text = json.dumps(header).encode() if isinstance(header, (dict, list)) else header
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)
    return path


# ---------------------------------------------------------------- round trips

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3), (), (0,), (3, 0, 2)], ids=["2x3", "0d", "empty", "empty3d"])
def test_tensor_round_trip(tmp_path, dtype, shape):
    t = sg.tensor(sample(dtype, shape))
    sg.save(t, tmp_path / "t.safetensors")
    assert_same(sg.load(tmp_path / "t.safetensors"), t)


def test_dict_round_trip_keeps_order_and_dtypes(tmp_path):
    # Mixed widths in an order that isn't sorted, so the writer's alignment reordering shows.
    names = ["z.mask", "a.weight", "m.count", "b.half", "c.empty"]
    state = OrderedDict(zip(names, [sample("bool"), sample("float32"), sample("int64"),
                                    sample("float16"), sample("float64", (0, 4))]))
    state = OrderedDict((k, sg.tensor(v)) for k, v in state.items())
    sg.save(state, str(tmp_path / "s.safetensors"))
    loaded = sg.load(str(tmp_path / "s.safetensors"))
    assert isinstance(loaded, OrderedDict) and list(loaded) == names
    for name in names:
        assert_same(loaded[name], state[name])


def test_arrays_parameters_and_odd_layouts(tmp_path):
    """NumPy values, big-endian and non-contiguous arrays, and Parameters that require grad."""
    state = {"big_endian": np.arange(5, dtype=">i4"),
             "transposed": np.arange(6, dtype=np.float64).reshape(2, 3).T,
             "param": sg.nn.Parameter(sg.tensor([[1.0, 2.0]])),
             "scalar": np.float32(2.5)}
    sg.save(state, tmp_path / "s.safetensors")
    loaded = sg.load(tmp_path / "s.safetensors")
    for name, value in state.items():
        assert_same(loaded[name], value)


def test_single_array_loads_as_tensor_and_empty_dict_as_dict(tmp_path):
    sg.save(np.eye(2), tmp_path / "a.safetensors")
    assert_same(sg.load(tmp_path / "a.safetensors"), np.eye(2))
    sg.save({}, tmp_path / "e.safetensors")
    assert sg.load(tmp_path / "e.safetensors") == OrderedDict()


def test_file_objects(tmp_path):
    buffer = io.BytesIO()
    sg.save({"w": sg.tensor([1.0, 2.0])}, buffer)
    buffer.seek(0)
    assert_same(sg.load(buffer)["w"], np.array([1.0, 2.0], np.float32))


def test_loaded_tensors_are_independent_and_writable(tmp_path):
    sg.save({"w": sg.tensor([1, 2, 3])}, tmp_path / "s.safetensors")
    loaded = sg.load(tmp_path / "s.safetensors")["w"]
    loaded.data[0] = 7  # an owned copy, not a read-only view of the file's bytes
    assert loaded.tolist() == [7, 2, 3]


def test_header_layout(tmp_path):
    """The header is padded to 8 bytes and every tensor's data starts aligned to its item size."""
    sg.save({"a": sample("uint8", (3,)), "b": sample("float64"), "c": sample("int16", (5,))},
            tmp_path / "s.safetensors")
    raw = (tmp_path / "s.safetensors").read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    assert length % 8 == 0
    header = json.loads(raw[8:8 + length])
    assert list(header) == ["__metadata__", "a", "b", "c"]
    for name, size in [("a", 1), ("b", 8), ("c", 2)]:
        assert header[name]["data_offsets"][0] % size == 0


# ---------------------------------------------------------------- modules

class Affine(sg.nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = sg.nn.Parameter(sg.randn(n_out, n_in))
        self.bias = sg.nn.Parameter(sg.randn(n_out))


class Net(sg.nn.Module):
    """Parameter names "0.weight", "0.bias", as torch.nn.Sequential(torch.nn.Linear(3, 2))."""

    def __init__(self):
        super().__init__()
        self.add_module("0", Affine(3, 2))


def test_state_dict_loads_back_into_module(tmp_path):
    source, target = Net(), Net()
    sg.save(source.state_dict(), tmp_path / "net.safetensors")
    target.load_state_dict(sg.load(tmp_path / "net.safetensors"))
    for (name, p), (_, q) in zip(source.named_parameters(), target.named_parameters()):
        assert_same(q.detach(), p.detach())
        assert q.requires_grad, name


# ---------------------------------------------------------------- other libraries

@pytest.mark.parametrize("dtype", DTYPES)
def test_safetensors_numpy_reads_our_files(tmp_path, dtype):
    st_numpy = pytest.importorskip("safetensors.numpy")
    state = {"x": sg.tensor(sample(dtype)), "zero_d": sg.tensor(sample(dtype, ())),
             "flag": sg.tensor(sample("bool", (3,)))}
    sg.save(state, tmp_path / "s.safetensors")
    loaded = st_numpy.load_file(str(tmp_path / "s.safetensors"))
    assert set(loaded) == set(state)
    for name, value in state.items():
        assert loaded[name].dtype == value.dtype
        np.testing.assert_array_equal(loaded[name], value.detach().numpy())


def test_safetensors_torch_reads_our_files(tmp_path):
    st_torch = pytest.importorskip("safetensors.torch")
    state = {name: sg.tensor(sample(name)) for name in DTYPES}
    sg.save(state, tmp_path / "s.safetensors")
    loaded = st_torch.load_file(str(tmp_path / "s.safetensors"))
    for name, value in state.items():
        assert str(loaded[name].dtype) == f"torch.{name}"
        np.testing.assert_array_equal(loaded[name].detach().numpy(), value.detach().numpy())


def test_we_read_safetensors_files(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    st_numpy = pytest.importorskip("safetensors.numpy")
    arrays = {name: sample(name) for name in DTYPES}
    st_numpy.save_file(arrays, str(tmp_path / "np.safetensors"), metadata={"note": "hi"})
    st_torch.save_file({k: torch.from_numpy(v) for k, v in arrays.items()},
                       str(tmp_path / "pt.safetensors"))
    for file in ["np.safetensors", "pt.safetensors"]:
        loaded = sg.load(tmp_path / file)
        assert set(loaded) == set(arrays)
        for name, value in arrays.items():
            assert_same(loaded[name], value)


def test_state_dict_loads_into_torch_model(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    from safetensors.torch import load_file

    net = Net()
    sg.save(net.state_dict(), tmp_path / "net.safetensors")
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    model.load_state_dict(load_file(str(tmp_path / "net.safetensors")))
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    layer = net._modules["0"]
    expected = x @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
    np.testing.assert_allclose(model(torch.from_numpy(x)).detach().numpy(), expected, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- what save refuses

@pytest.mark.parametrize("obj, words", [
    ([sg.tensor(1.0)], "got list"),
    ({"c": np.array([1j])}, "'c' has dtype complex128"),
    ({"w": sg.tensor(1.0), "f": print}, "can't save the builtin_function_or_method at 'f'"),
    ({"a": {"b": [object()]}}, "can't save the object at 'a.b.0'"),
    ({"a": {frozenset(): 1}}, "a dict key at 'a' is a frozenset"),
])
def test_save_refuses_what_safetensors_cant_hold(tmp_path, obj, words):
    with pytest.raises(TypeError, match=f"^save: .*{words}"):
        sg.save(obj, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()  # checked before the file is opened


def test_save_refuses_reserved_key(tmp_path):
    with pytest.raises(ValueError, match="'__metadata__' is reserved"):
        sg.save({"__metadata__": sg.tensor(1.0)}, tmp_path / "x.safetensors")


# ---------------------------------------------------------------- what load refuses

def good_file(tmp_path):
    sg.save(OrderedDict(w=sg.tensor(sample("float32")), b=sg.tensor([1, 2])), tmp_path / "ok.safetensors")
    return (tmp_path / "ok.safetensors").read_bytes()


def test_truncated_files(tmp_path):
    raw = good_file(tmp_path)
    (length,) = struct.unpack("<Q", raw[:8])
    for cut in [0, 3, 8, 9, 8 + length // 2, 8 + length - 1, 8 + length, 8 + length + 5, len(raw) - 1]:
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(raw[:cut])
        with pytest.raises(SerializationError, match=f"^load: .*cut{cut}.safetensors"):
            sg.load(path)


def test_trailing_garbage(tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_bytes(good_file(tmp_path) + b"\0")
    with pytest.raises(SerializationError, match="1 bytes of trailing garbage"):
        sg.load(path)


W = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


@pytest.mark.parametrize("header, data, words", [
    (b"not json", b"", "not valid UTF-8 JSON"),
    (b"\xff\xfe{}", b"", "not valid UTF-8 JSON"),
    (b"[" * 100_000, b"", "not valid UTF-8 JSON"),
    ([1, 2], b"", "header is a JSON list"),
    (b'{"w": ' + json.dumps(W).encode() + b', "w": ' + json.dumps(W).encode() + b"}", bytes(8),
     "'w' appears twice"),
    ({"w": {**W, "dtype": "Q7"}}, bytes(8), "unknown dtype 'Q7'"),
    ({"w": {**W, "dtype": "BF16"}}, bytes(8), "unknown dtype 'BF16'"),
    ({"w": {**W, "shape": [-2]}}, bytes(8), "shape \\[-2\\], not a list"),
    ({"w": {**W, "shape": "2"}}, bytes(8), "shape '2', not a list"),
    ({"w": {**W, "shape": [True, 2]}}, bytes(8), "not a list of non-negative ints"),
    ({"w": {**W, "shape": [3]}}, bytes(8), "needs 12 bytes"),
    ({"w": {**W, "shape": [2**62, 2**62]}}, bytes(8), "'w' has shape .* multiply past"),
    ({"w": {**W, "shape": [2**62, 2**62, 0], "data_offsets": [0, 0]}}, b"",
     "'w' has shape .* multiply past"),
    ({"w": {**W, "shape": [1] * 65, "data_offsets": [0, 4]}}, bytes(4),
     "'w' has 65 dimensions; at most 64"),
    ({"w": {**W, "data_offsets": [8, 0]}}, bytes(8), "not \\[begin, end\\]"),
    ({"w": {**W, "data_offsets": [0]}}, bytes(8), "not \\[begin, end\\]"),
    ({"w": {**W, "extra": 1}}, bytes(8), "exactly dtype, shape and data_offsets"),
    ({"w": "F32"}, bytes(8), "exactly dtype, shape and data_offsets"),
    ({"w": W, "v": {**W, "data_offsets": [4, 12]}}, bytes(12), "overlaps"),
    ({"w": W, "v": W}, bytes(8), "overlaps"),
    ({"w": {**W, "data_offsets": [4, 12]}}, bytes(12), "bytes 0 to 4 of the data belong to no tensor"),
    ({"w": {**W, "data_offsets": [0, 8]}}, bytes(4), "truncated"),
    ({"w": {**W, "dtype": "BOOL", "shape": [8]}}, bytes(7) + b"\x02", "other than 0 and 1"),
    ({"__metadata__": {"format": 1}}, b"", "entry 'format' is 1, not a string"),
    ({"__metadata__": ["format"]}, b"", "__metadata__ is a list"),
    ({"w": W, "__metadata__": {"scratchgrad.kind": "tensor"}}, bytes(8), "marks a single tensor"),
])
def test_corrupt_headers(tmp_path, header, data, words):
    path = raw_file(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(SerializationError, match=f"^load: '.*bad.safetensors' is not a valid "
                                                  f"safetensors file: .*{words}"):
        sg.load(path)


def test_header_length_checks(tmp_path):
    with pytest.raises(SerializationError, match="header length 1000 runs past the end"):
        sg.load(raw_file(tmp_path / "a", b"{}", length=1000))
    with pytest.raises(SerializationError, match="absurdly large"):
        sg.load(raw_file(tmp_path / "b", b"{}", length=2**63))


def test_error_is_value_and_runtime_error(tmp_path):
    (tmp_path / "short").write_bytes(b"abc")
    with pytest.raises(ValueError, match="3 bytes long"):
        sg.load(tmp_path / "short")
    with pytest.raises(RuntimeError):
        sg.load(tmp_path / "short")


class Payload:
    """Unpickling this creates a marker file: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_pickle_payload_is_never_run(tmp_path):
    # The payload is live: unpickling it does create a file.
    pickle.loads(pickle.dumps(Payload(tmp_path / "proof")))
    assert (tmp_path / "proof").exists()
    marker = tmp_path / "pwned"
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"w": Payload(marker)}))
    with pytest.raises(SerializationError, match="^load: .*model.safetensors.*looks like a pickle"):
        sg.load(path)
    assert not marker.exists()


def test_torch_save_file_is_named(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2)}, tmp_path / "model.pt")
    with pytest.raises(SerializationError, match="looks like a torch.save zip archive"):
        sg.load(tmp_path / "model.pt")


# ---------------------------------------------------------------- robustness (issue 10, item 8)

def test_a_huge_dimension_next_to_a_zero_loads_as_numpy_allows(tmp_path):
    path = raw_file(tmp_path / "x", {"w": {"dtype": "F32", "shape": [2**40, 0],
                                           "data_offsets": [0, 0]}})
    assert sg.load(path)["w"].shape == (2**40, 0)


class CountingReader(io.RawIOBase):
    """A file whose header length is over the limit, followed by endless bytes; counts reads."""

    def __init__(self, length):
        self.start = struct.pack("<Q", length)
        self.given = 0
        self.name = "hostile.safetensors"

    def readable(self):
        return True

    def readinto(self, buffer):
        n = len(buffer)
        chunk = (self.start + b"{" + b" " * n)[self.given:self.given + n] if self.given < 8 else \
            b" " * n
        buffer[:len(chunk)] = chunk
        self.given += len(chunk)
        return len(chunk)


def test_a_header_over_100_mb_is_refused_before_it_is_read(tmp_path):
    reader = CountingReader(100_000_001)
    with pytest.raises(SerializationError,
                       match="'hostile.safetensors' .*header length 100000001 is absurdly large"):
        sg.load(io.BufferedReader(reader, buffer_size=16))
    assert reader.given <= 32  # the 8-byte length and a peek, not 100 MB


def test_pickle_hint_only_for_files_that_start_like_a_pickle(tmp_path):
    # A header length of 640, 896, 1152 or 1408 starts with the bytes 0x80 0x02..0x05: a corrupt
    # safetensors file with such a length must not be called a pickle.
    for length in (640, 896, 1152, 1408):
        path = raw_file(tmp_path / f"h{length}", b"{" + b"x" * (length - 1))
        with pytest.raises(SerializationError, match="not valid UTF-8 JSON") as info:
            sg.load(path)
        assert "looks like" not in str(info.value)
    for protocol in (2, 3, 4, 5):
        path = tmp_path / f"p{protocol}"
        path.write_bytes(pickle.dumps({"w": [1.0] * 300}, protocol=protocol))
        with pytest.raises(SerializationError, match="looks like a pickle"):
            sg.load(path)


def test_save_is_atomic_a_failure_midway_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    sg.save({"w": sg.ones(3)}, path)
    before = path.read_bytes()

    def write_half_then_fail(f, header, chunks):
        f.write(struct.pack("<Q", len(header)))
        f.write(header[:len(header) // 2])
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(serialization, "_write", write_half_then_fail)
    with pytest.raises(OSError, match="simulated"):
        sg.save({"w": sg.zeros(1000)}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]  # no temp file
    monkeypatch.undo()
    sg.save({"w": sg.zeros(2)}, path)
    np.testing.assert_array_equal(sg.load(path)["w"].numpy(), [0, 0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_save_replaces_through_fsync_and_rename(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: calls.append(("replace", os.path.dirname(a)))
                        or real_replace(a, b))
    sg.save(sg.ones(2), tmp_path / "x.safetensors")
    assert calls[0] == "fsync" and calls[1] == ("replace", str(tmp_path))  # beside the target


def test_saved_file_keeps_the_usual_permissions(tmp_path):
    sg.save(sg.ones(2), tmp_path / "a.safetensors")
    (tmp_path / "b").write_bytes(b"")
    assert (os.stat(tmp_path / "a.safetensors").st_mode & 0o777
            == os.stat(tmp_path / "b").st_mode & 0o777)


def test_save_into_a_missing_directory_names_the_target(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory") as info:
        sg.save(sg.ones(2), tmp_path / "missing" / "x.safetensors")
    assert info.value.filename == str(tmp_path / "missing" / "x.safetensors")
