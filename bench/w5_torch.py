#!/usr/bin/python3
"""W5's PyTorch side: what a Python user runs to do what
`seqrun -q -w W.safetensors -o OUT.npy bench/w1_mlp.yaml IN.npy` does,
as one process: import torch, build the model, load the weights, read the
input, run it, write the output.

    /usr/bin/python3 bench/w5_torch.py THREADS W.safetensors IN.npy OUT.npy

Debian has no python3-safetensors, so the weights are read with the few
lines a safetensors file needs (an 8-byte header length, a JSON header,
raw little-endian data) instead of safetensors.torch.load_file; that costs
less than the package would.  THREADS goes to torch.set_num_threads and to
OpenBLAS's own pool (this Debian torch does not govern OpenBLAS's threads).
"""
import ctypes
import json
import sys

import numpy as np
import torch
import torch.nn as nn

DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8"}


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        arr = np.frombuffer(data, DTYPES[v["dtype"]], offset=8 + n + a,
                            count=(b - a) // np.dtype(DTYPES[v["dtype"]]).itemsize)
        out[k] = torch.from_numpy(arr.reshape(v["shape"]).copy())
    return out


def set_openblas_threads(t):
    for line in open("/proc/self/maps"):
        if "libopenblas" in line:
            lib = ctypes.CDLL(line.split()[-1])
            lib.openblas_set_num_threads(ctypes.c_int(t))
            return


def main():
    threads, weights, inp, outp = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    torch.set_num_threads(threads)
    set_openblas_threads(threads)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    model.load_state_dict(load_safetensors(weights))
    model.eval()
    x = torch.from_numpy(np.load(inp).astype(np.float32, copy=False))
    with torch.inference_mode():
        y = model(x)
    np.save(outp, y.numpy())


if __name__ == "__main__":
    main()
