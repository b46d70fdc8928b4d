#!/usr/bin/python3
"""Writes the golden .npy fixtures for tests/test_npy.c with real NumPy.

Run from the repository root: /usr/bin/python3 tests/gen_npy_fixtures.py
The outputs are committed; the C test never needs Python.  For every
NAME.npy there is NAME.f32, every record's values as raw little-endian
float32 in order, which is what the reader must produce.
"""
import io
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "npy")


def save(name, *arrays, version=None):
    buf = io.BytesIO()
    for a in arrays:
        if version is None:
            np.save(buf, a)
        else:
            np.lib.format.write_array(buf, a, version=version)
    with open(os.path.join(OUT, name + ".npy"), "wb") as f:
        f.write(buf.getvalue())
    with open(os.path.join(OUT, name + ".f32"), "wb") as f:
        for a in arrays:
            f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())


def main():
    os.makedirs(OUT, exist_ok=True)
    save("f64_2x3", np.array([[1.5, -2.25, 3.0], [1 / 3, -0.0, 4e10]]))
    save("f16_6", np.array([1.0, -2.5, 65504, 2.0 ** -24, np.inf, np.nan],
                           dtype=np.float16))
    save("i32_3x2", np.array([[0, -1], [2147483647, -2147483648], [7, 16777217]],
                             dtype=np.int32))
    save("u8_4", np.array([0, 1, 128, 255], dtype=np.uint8))
    save("bool_3", np.array([True, False, True]))
    save("i64_2x2", np.array([[5, -3], [0, 9]], dtype=np.int64))
    save("f32_v2_2x2", np.array([[1, 2], [3, 4]], dtype=np.float32), version=(2, 0))
    save("f32_v3_3", np.array([0.5, -1, 2], dtype=np.float32), version=(3, 0))
    save("f32_0d", np.array(2.75, dtype=np.float32))
    save("f32_empty_0x4", np.zeros((0, 4), dtype=np.float32))
    save("stream3",
         np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
         np.array([-1, 2, 3, 100], dtype=np.int64),
         np.array([2.5]))
    # Byte-exact targets for the writer: float32, C order, numpy.save's layout.
    save("w_f32_5", np.array([1, 2, 3, 4, 5], dtype=np.float32))
    save("w_f32_2x3x4", np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 7.5)
    save("w_f32_0d", np.array(-1.25, dtype=np.float32))
    save("w_f32_big0", np.zeros((123456789012, 0), dtype=np.float32))
    save("w_f32_8d", np.zeros((1, 2, 1, 2, 1, 2, 1, 0), dtype=np.float32))
    # A dict whose length makes NumPy pad a full 64 bytes.  No such array can
    # be allocated, so write numpy.save's header routine output directly.
    buf = io.BytesIO()
    np.lib.format._write_array_header(
        buf, {"descr": "<f4", "fortran_order": False,
              "shape": (0, 10 ** 18, 10 ** 17)}, None)
    data = buf.getvalue()
    assert len(data) % 64 == 0 and len(data) - 64 - 1 == data.index(b"}") + 1 + 20
    with open(os.path.join(OUT, "w_f32_pad64.npy"), "wb") as f:
        f.write(buf.getvalue())


if __name__ == "__main__":
    main()
