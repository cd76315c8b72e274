#!/usr/bin/python3
"""The safetensors interop fixture, written and read in Python independently of trident.

Hugging Face's `safetensors` package is not in Debian, so this script implements the format from its specification
(8-byte little-endian header length, a JSON header padded with spaces to a multiple of 8, then the raw little-endian
data; data_offsets relative to the start of the data) with struct/json, and uses torch for the tensors' bytes.

  /usr/bin/python3 tests/data/safetensors_fixture.py write tests/data/fixture.safetensors
      writes the fixture byte by byte (tests/test_checkpoint.cpp loads it with trident);
  /usr/bin/python3 tests/data/safetensors_fixture.py check FILE
      parses FILE with the hand-written reader below and checks that it holds exactly the expected tensors and
      metadata (tests/test_checkpoint.cpp runs it on a file that trident wrote). Exit status 0 when it does.

The expected content is the same on both sides: tests/test_checkpoint.cpp (expected_fixture) mirrors EXPECTED.
"""
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "BOOL": torch.bool}
ITEMSIZE = {"F32": 4, "F64": 8, "I64": 8, "BOOL": 1}

EXPECTED = {
    "weight": torch.tensor([[0.5, -1.25, 3.0], [1e-8, -0.0, 65504.0]], dtype=torch.float32),
    "scalar": torch.tensor(1.0 / 3.0, dtype=torch.float64),
    "ids": torch.tensor([-1, 0, 2**40, -(2**62)], dtype=torch.int64),
    "mask": torch.tensor([[True, False], [False, True]]),
    "empty": torch.zeros((0, 3), dtype=torch.float32),
}
METADATA = {"format": "pt", "producer": "trident interop test"}
# The data order of the fixture differs from EXPECTED's (and from the header's alphabetical key order), and the
# empty tensor sits between two others: the reader must go by data_offsets alone.
FILE_ORDER = ["mask", "ids", "empty", "weight", "scalar"]


def dtype_code(t):
    return next(code for code, dt in DTYPES.items() if dt == t.dtype)


def write(path):
    header, chunks, offset = {"__metadata__": METADATA}, [], 0
    for name in FILE_ORDER:
        t = EXPECTED[name].contiguous()
        data = t.numpy().tobytes() if t.dtype != torch.bool else bytes(int(v) for v in t.flatten().tolist())
        header[name] = {"dtype": dtype_code(t), "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in chunks:
            f.write(data)


def read(path):
    """A safetensors reader from the specification: returns ({name: tensor}, metadata), checking the layout."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert 8 + n <= len(blob), "header length beyond the end of the file"
    assert n % 8 == 0, f"header length {n} is not a multiple of 8"
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    data = blob[8 + n :]
    metadata = header.pop("__metadata__", {})
    tensors, end = {}, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        begin, stop = info["data_offsets"]
        assert begin == end, f"{name}: data does not follow the previous tensor ({begin} != {end})"
        numel = 1
        for d in info["shape"]:
            numel *= d
        assert stop - begin == numel * ITEMSIZE[info["dtype"]], f"{name}: byte count"
        raw = bytearray(data[begin:stop])
        if info["dtype"] == "BOOL":
            t = torch.tensor(list(raw), dtype=torch.uint8).to(torch.bool)
        elif numel == 0:
            t = torch.zeros(0, dtype=DTYPES[info["dtype"]])
        else:
            t = torch.frombuffer(raw, dtype=DTYPES[info["dtype"]]).clone()
        tensors[name] = t.reshape(info["shape"])
        end = stop
    assert end == len(data), "bytes after the last tensor"
    return tensors, metadata


def check(path):
    tensors, metadata = read(path)
    ok = True
    if metadata != METADATA:
        print(f"metadata {metadata} != {METADATA}")
        ok = False
    if set(tensors) != set(EXPECTED):
        print(f"names {sorted(tensors)} != {sorted(EXPECTED)}")
        return False
    for name, want in EXPECTED.items():
        got = tensors[name]
        if got.dtype != want.dtype or got.shape != want.shape or not torch.equal(got, want):
            print(f"{name}: got {got!r}, want {want!r}")
            ok = False
        elif want.dtype.is_floating_point and not torch.equal(torch.signbit(got), torch.signbit(want)):
            print(f"{name}: signs of zeros differ")
            ok = False
    return ok


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    if sys.argv[1] == "write":
        write(sys.argv[2])
    else:
        sys.exit(0 if check(sys.argv[2]) else 1)
