"""Checkpoints (API.md "The everyday PyTorch surface"): sg.save/sg.load of nested dicts of state
dicts, optimiser state, tensors and plain Python values, through safetensors + JSON metadata."""
import io
import json
import math
import struct

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file

import scratchgrad as sg


def same(a, b):
    """Equal structure, types, and tensor values and dtypes (nan equal to nan)."""
    if isinstance(a, sg.Tensor):
        return isinstance(b, sg.Tensor) and a.dtype == b.dtype and a.shape == b.shape and \
            np.array_equal(a.numpy(), b.numpy(), equal_nan=a.dtype.kind == "f")
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


def trained():
    """A model and an Adam optimiser after two steps (so the state is full)."""
    sg.manual_seed(0)
    model = sg.nn.Sequential(sg.nn.Linear(3, 4), sg.nn.ReLU(), sg.nn.Linear(4, 2))
    opt = sg.optim.AdamW([{"params": model[0].parameters()},
                          {"params": model[2].parameters(), "lr": 0.01}], lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        model(sg.randn(5, 3)).pow(2).mean().backward()
        opt.step()
    return model, opt


CONFIG = {"n_layer": 4, "lr": 3e-4, "name": "gpt-ish", "dropout": None, "bias": False,
          "betas": (0.9, 0.95), "sizes": [1, [2, 3], {"deep": "yes"}], "inf": math.inf,
          "nan": math.nan, "neg": -math.inf, "big": 2**80, "empty": {}, "none_list": []}


def test_a_full_checkpoint_round_trips(tmp_path):
    model, opt = trained()
    checkpoint = {"model": model.state_dict(), "optimizer": opt.state_dict(), "iter": 5,
                  "config": CONFIG, "best_val_loss": 1.25, "ints": {1: "a", 2.5: "b", None: 0,
                                                                    (1, "x"): True}}
    sg.save(checkpoint, tmp_path / "ckpt.safetensors")
    loaded = sg.load(tmp_path / "ckpt.safetensors")
    assert same(loaded, checkpoint)
    assert list(loaded["optimizer"]["state"]) == [0, 1, 2, 3]  # integer parameter indices
    assert loaded["optimizer"]["param_groups"][1]["params"] == [2, 3]


def test_resuming_from_a_checkpoint_continues_like_straight_training(tmp_path):
    def steps(model, opt, n, seed):
        sg.manual_seed(seed)
        for _ in range(n):
            opt.zero_grad()
            model(sg.randn(5, 3)).pow(2).mean().backward()
            opt.step()

    model, opt = trained()
    sg.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "c")
    steps(model, opt, 3, seed=1)
    expected = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}

    fresh, fresh_opt = trained()  # the same architecture and groups, to load into
    checkpoint = sg.load(tmp_path / "c", map_location="cpu", weights_only=True)
    fresh.load_state_dict(checkpoint["model"])
    fresh_opt.load_state_dict(checkpoint["optimizer"])
    steps(fresh, fresh_opt, 3, seed=1)
    for name, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value.detach().numpy(), expected[name])


def test_other_loaders_see_every_tensor_by_its_path(tmp_path):
    model, opt = trained()
    sg.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 7},
            tmp_path / "c.safetensors")
    arrays = load_file(tmp_path / "c.safetensors")
    assert "model.0.weight" in arrays and "optimizer.state.0.exp_avg" in arrays
    np.testing.assert_array_equal(arrays["model.2.bias"], model[2].bias.detach().numpy())
    with safe_open(tmp_path / "c.safetensors", "np") as f:
        structure = json.loads(f.metadata()["scratchgrad.structure"])
    assert structure["dict"][2] == ["step", 7]


def test_a_plain_state_dict_is_still_a_plain_safetensors_file(tmp_path):
    model, _ = trained()
    sg.save(model.state_dict(), tmp_path / "m.safetensors")
    with safe_open(tmp_path / "m.safetensors", "np") as f:
        assert f.metadata() == {"format": "pt"}
    loaded = sg.load(tmp_path / "m.safetensors")
    assert same(dict(loaded), dict(model.state_dict()))


def test_file_objects_and_lone_values(tmp_path):
    buffer = io.BytesIO()
    sg.save({"w": sg.tensor([1.0, 2.0]), "note": "hi", "t": (sg.tensor(3), 4)}, buffer)
    buffer.seek(0)
    loaded = sg.load(buffer)
    assert loaded["note"] == "hi" and loaded["t"][1] == 4 and loaded["t"][0].item() == 3
    buffer = io.BytesIO()
    sg.save(sg.tensor([5.0]), buffer)
    buffer.seek(0)
    assert sg.load(buffer).tolist() == [5.0]


def test_tensor_names_never_collide(tmp_path):
    a, b = sg.tensor([1.0]), sg.tensor([2.0])
    sg.save({"a.b": a, "a": {"b": b}, "__metadata__": {"x": a}}, tmp_path / "c")
    loaded = sg.load(tmp_path / "c")
    assert loaded["a.b"].tolist() == [1.0] and loaded["a"]["b"].tolist() == [2.0]
    assert loaded["__metadata__"]["x"].tolist() == [1.0]


def test_numpy_values(tmp_path):
    sg.save({"arr": np.arange(3), "scalar": np.float32(1.5), "n": np.int64(4)}, tmp_path / "c")
    loaded = sg.load(tmp_path / "c")  # a flat dict of arrays: all tensors, as before
    assert loaded["scalar"].dtype == np.float32 and loaded["n"].item() == 4
    sg.save({"arr": np.arange(3), "config": {"scalar": np.float32(1.5)}}, tmp_path / "d")
    loaded = sg.load(tmp_path / "d")
    assert loaded["arr"].tolist() == [0, 1, 2] and loaded["config"]["scalar"] == 1.5


def write_with_structure(path, structure, tensors=None):
    """A safetensors file with the given (possibly hostile) structure metadata."""
    tensors = tensors or {}
    header = {"__metadata__": {"scratchgrad.structure": structure}}
    data, offset = b"", 0
    for name, array in tensors.items():
        header[name] = {"dtype": "F32", "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        data += array.astype("<f4").tobytes()
        offset += array.nbytes
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


@pytest.mark.parametrize("structure, words", [
    ("{not json", "not valid JSON"),
    ('{"tensor": "missing"}', "refers to a tensor 'missing' it doesn't hold"),
    ('{"pickle": "cos\\nsystem"}', "which scratchgrad didn't write"),
    ('{"dict": [[[1], 2]]}', "isn't hashable"),
    ('{"float": "1e400"}', "which scratchgrad didn't write"),
    ('{"tuple": [1], "extra": 2}', "which scratchgrad didn't write"),
])
def test_a_hostile_structure_is_refused_and_nothing_runs(tmp_path, structure, words):
    write_with_structure(tmp_path / "bad", structure, {"w": np.zeros(2, np.float32)})
    with pytest.raises(sg.SerializationError, match=f"not a valid scratchgrad checkpoint: .*{words}"):
        sg.load(tmp_path / "bad")
