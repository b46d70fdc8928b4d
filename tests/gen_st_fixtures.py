#!/usr/bin/python3
"""Writes the golden safetensors files under tests/fixtures/st/.

There is no safetensors package here, so the format is written by hand the
way the reference serializer lays it out: tensors sorted by dtype (widest
first in its enum order) then name, "__metadata__" first, compact JSON,
spaces padding the header to a multiple of 8.  Values are chosen to be exact
in their dtype so the C test can compare with ==.

Run from the repository root:  /usr/bin/python3 tests/gen_st_fixtures.py
"""
import json
import os
import struct

import numpy as np
import torch

# The reference Dtype enum order, which its writer sorts by (descending).
ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
         "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]


def raw(t):
    """(dtype name, shape, little-endian bytes) of a torch tensor."""
    if t.dtype == torch.bfloat16:
        # numpy has no bfloat16: reinterpret the bits
        return "BF16", list(t.shape), t.view(torch.int16).numpy().astype("<i2").tobytes()
    name = {torch.float16: ("F16", "<f2"), torch.float32: ("F32", "<f4"),
            torch.float64: ("F64", "<f8"), torch.int64: ("I64", "<i8"),
            torch.int32: ("I32", "<i4"), torch.uint8: ("U8", "u1"),
            torch.bool: ("BOOL", "u1")}[t.dtype]
    return name[0], list(t.shape), t.numpy().astype(name[1]).tobytes()


def write(path, tensors, metadata=None):
    items = sorted(((k,) + raw(v) for k, v in tensors.items()),
                   key=lambda x: (-ORDER.index(x[1]), x[0]))
    header, off = {}, 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, data in items:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [off, off + len(data)]}
        off += len(data)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for item in items:
            f.write(item[3])


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "st")
    os.makedirs(out, exist_ok=True)
    write(os.path.join(out, "mixed.safetensors"), {
        # 65504 = max half, 2^-14 min normal, 2^-24 min subnormal
        "h": torch.tensor([[1.0, -2.5, 65504.0, 2.0 ** -14],
                           [2.0 ** -24, float("inf"), -0.0, 0.333251953125]],
                          dtype=torch.float16),
        "b": torch.tensor([1.0, -3.140625, 2.0 ** 100, 2.0 ** -133],
                          dtype=torch.bfloat16),
        "d": torch.tensor([0.1, -1e300, 1.5], dtype=torch.float64),
        "l": torch.tensor([[0, -1], [2 ** 62, -2 ** 63]], dtype=torch.int64),
        "i": torch.tensor([-7, 2 ** 31 - 1], dtype=torch.int32),
        "u": torch.tensor([0, 255], dtype=torch.uint8),
        "z": torch.tensor([True, False, True]),
        "s": torch.tensor(3.5, dtype=torch.float32),
        "e": torch.zeros((0, 3), dtype=torch.float32),
        "1.running_mean": torch.tensor([0.25, -8.0], dtype=torch.float32),
    }, {"format": "pt", "note": "\u00e9t\u00e9 \"q\""})

    # An FP8 tensor: valid to parse, unsupported to load.  torch 1.13 has no
    # float8, so write the bytes directly.
    h = json.dumps({"q": {"dtype": "F8_E4M3", "shape": [2],
                          "data_offsets": [0, 2]}}, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(out, "f8.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"\x38\xb8")


if __name__ == "__main__":
    main()
