"""tapegrad.save / tapegrad.load and TensorModule.save / load: safetensors files
checked against an independent reader and writer (struct, json and NumPy, from
the format's description), resumed training, and every error."""

import json
import os
import struct
import sys

import numpy as np
import pytest

import tapegrad
from tapegrad import Tensor, errors, nn


def read_safetensors(path):
    """The format's own reading: header length, JSON header, little-endian data."""
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    data = raw[8 + length:]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = {"F32": "<f4", "F64": "<f8", "I64": "<i8"}[entry["dtype"]]
        out[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(entry["shape"])
    return out, length


def write_safetensors(path, arrays, order=None):
    """The format's own writing, with the entries in another order than the data
    and the header padded with spaces, as other writers do."""
    header, chunks, offset = {"__metadata__": {"format": "np"}}, [], 0
    for name, a in arrays.items():
        code = {"float32": "F32", "float64": "F64", "int64": "I64"}[a.dtype.name]
        raw = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": code, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if order:
        header = {k: header[k] for k in order}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


ARRAYS = {
    "layer.weight": np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32),
    "layer.bias": np.array([1.5, -2.25, np.inf], dtype=np.float64),
    "counts": np.array([[-7, 0], [1 << 40, 3]], dtype=np.int64),
    "scalar": np.array(0.1),
    "empty": np.zeros((0, 2), dtype=np.float32),
}


def test_round_trip_bit_for_bit_against_an_independent_reader(tmp_path):
    path = tmp_path / "a.safetensors"
    tapegrad.save({k: Tensor(v, dtype=v.dtype) for k, v in ARRAYS.items()}, path)
    theirs, length = read_safetensors(path)
    assert length % 8 == 0 and list(theirs) == sorted(ARRAYS)  # JSON keys, sorted
    loaded = tapegrad.load(path)
    assert list(loaded) == list(ARRAYS)  # file order: as saved
    for name, a in ARRAYS.items():
        assert theirs[name].dtype == a.dtype and theirs[name].tobytes() == a.tobytes()
        assert loaded[name].dtype == a.dtype and loaded[name].numpy().tobytes() == a.tobytes()
    # Saved again from what was loaded: the same bytes.
    tapegrad.save(loaded, tmp_path / "b.safetensors")
    assert (tmp_path / "b.safetensors").read_bytes() == path.read_bytes()


def test_files_of_another_writer_load(tmp_path):
    path = tmp_path / "theirs.safetensors"
    write_safetensors(path, ARRAYS, order=["scalar", "__metadata__", "counts",
                                           "layer.bias", "empty", "layer.weight"])
    loaded = tapegrad.load(path)
    assert list(loaded) == list(ARRAYS)  # by data offset
    for name, a in ARRAYS.items():
        np.testing.assert_array_equal(loaded[name].numpy(), a)


def train(model, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = Tensor(rng.standard_normal((8, 3)))
        y = Tensor(rng.standard_normal((8, 2)))
        loss = tapegrad.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


def weights(model):
    return [p.numpy() for p in model.parameters()]


def test_resumed_training_continues_exactly(tmp_path):
    straight = nn.TensorMLP(3, [5, 2], dtype="float64", seed=1)
    straight_opt = nn.Adam(straight.parameters(), lr=0.01)
    train(straight, straight_opt, 4, seed=10)
    train(straight, straight_opt, 4, seed=20)

    first = nn.TensorMLP(3, [5, 2], dtype="float64", seed=1)
    first_opt = nn.Adam(first.parameters(), lr=0.01)
    train(first, first_opt, 4, seed=10)
    first.save(tmp_path / "run.safetensors", optimizer=first_opt)
    resumed = nn.TensorMLP(3, [5, 2], dtype="float64", seed=2)
    resumed_opt = nn.Adam(resumed.parameters(), lr=0.01)
    resumed.load(tmp_path / "run.safetensors", optimizer=resumed_opt)
    train(resumed, resumed_opt, 4, seed=20)
    for a, b in zip(weights(resumed), weights(straight)):
        assert a.tobytes() == b.tobytes()


def test_errors_are_clear_and_load_nothing(tmp_path):
    path = tmp_path / "m.safetensors"
    model = nn.TensorMLP(3, [5, 2], seed=3)
    model.save(path)
    good = path.read_bytes()
    other = nn.TensorMLP(3, [6, 2], seed=4)
    before = weights(other)
    with pytest.raises(ValueError, match=r"'0.weight' is f32\[3, 5\]"):
        other.load(path)
    assert all((a == b).all() for a, b in zip(weights(other), before))
    for cut in (0, 7, 8, 20, len(good) - 1):
        path.write_bytes(good[:cut])
        with pytest.raises(errors.DataLossError):
            tapegrad.load(path)
    write_safetensors(path, {"x": np.zeros(2, np.float32)})
    path.write_bytes(path.read_bytes().replace(b'"F32"', b'"F16"'))
    with pytest.raises(NotImplementedError, match="'x' has dtype \"F16\""):
        tapegrad.load(path)
    with pytest.raises(FileNotFoundError):
        tapegrad.load(tmp_path / "missing.safetensors")
    with pytest.raises(OSError):
        tapegrad.save({"x": np.zeros(2)}, tmp_path / "no" / "such" / "dir.safetensors")
    with pytest.raises(TypeError, match="mapping"):
        tapegrad.save([np.zeros(2)], path)
    with pytest.raises(TypeError, match="path"):
        tapegrad.load(3)
    with pytest.raises(TypeError, match="optimizer"):
        model.save(path, optimizer="adam")
    assert not [p for p in os.listdir(tmp_path) if ".tmp." in p]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
