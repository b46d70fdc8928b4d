#!/usr/bin/python3
"""make_examples.py - regenerate the tutorial example models with PyTorch.

    /usr/bin/python3 models/make_examples.py

Needs Debian's python3-torch, python3-numpy and python3-yaml.  For each of
models/mlp.yaml, cnn.yaml, mlp_bn.yaml and shared.yaml it builds the torch
module from the YAML spec itself (getattr(nn, Type)(*args, **kwargs), a YAML
alias of a layer item reusing the same module object), so the spec seqrun
reads is exactly the network PyTorch ran.  Writes:

    models/<name>.safetensors    the state_dict (PyTorch's default init, seed 0;
                                 a module reused through an alias is stored once,
                                 under its first occurrence)
    data/<name>_input.npy        a float32 sample batch
    data/<name>_expected.npy     PyTorch's eval-mode output for it, float32

The expected output is computed in float64 on the float32 weights and input
(every float32 is exact in float64) and rounded once, so it is the correctly
rounded answer and favours no float32 summation order; the plain float32
torch result must use under half of the tolerance tests/suite_models.sh
uses, so a correct float32 implementation passes with room to spare.  Deterministic: fixed seeds, one torch thread.
"""

import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import yaml

torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(HERE), "data")

# name -> (weights dtype, input maker).  tests/suite_models.sh compares
# with rtol 1e-4, atol 1e-5 (the golden cases' default): with PyTorch's
# default initialisation the outputs are O(0.1) and even the CNN's float32
# rounding stays far inside that (checked below against torch's own float32
# result).  cnn: F16 weights keep its 268k parameters at half the size.
TOL = (1e-4, 1e-5)
EXAMPLES = {
    "mlp": ("F32", lambda r: r.uniform(0.0, 1.0, (8, 784))),
    "cnn": ("F16", lambda r: r.standard_normal((4, 3, 32, 32))),
    "mlp_bn": ("F32", lambda r: r.uniform(0.0, 1.0, (8, 784))),
    "shared": ("F32", lambda r: r.standard_normal((6, 16))),
}


# ---------------------------------------------------------------------------
# the spec -> torch module
# ---------------------------------------------------------------------------

def build(spec):
    memo = {}

    def one(item):
        if isinstance(item, str):
            return getattr(nn, item)()
        key = id(item)  # an alias loads as the very same dict: the same module
        if key in memo:
            return memo[key]
        (name, args), = item.items()
        if name == "Sequential":
            mod = nn.Sequential(*[one(i) for i in args])
        elif isinstance(args, dict):
            mod = getattr(nn, name)(**args)
        elif isinstance(args, list):
            mod = getattr(nn, name)(*args)
        elif args is None:
            mod = getattr(nn, name)()
        else:
            mod = getattr(nn, name)(args)
        memo[key] = mod
        return mod

    return nn.Sequential(*[one(i) for i in spec["layers"]])


# ---------------------------------------------------------------------------
# safetensors, written by hand (no safetensors package on Debian)
# ---------------------------------------------------------------------------

def st_write(path, entries):
    """entries: list of (name, dtype, numpy array); dtype F32, F16 or I64."""
    np_dtype = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}
    header, blobs, off = {}, [], 0
    for name, dtype, arr in sorted(entries, key=lambda e: e[0]):
        b = np.ascontiguousarray(arr, np_dtype[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": [int(d) for d in arr.shape],
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # the format asks for 8-byte aligned data
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def state_entries(model, wdtype):
    """The state_dict, a shared tensor under its first key only, with float
    tensors rounded in place to what the file stores (so the reference
    output uses exactly the values seqrun loads)."""
    seen, entries = set(), []
    with torch.no_grad():
        for key, t in model.state_dict(keep_vars=True).items():
            if t.data_ptr() in seen:
                continue
            seen.add(t.data_ptr())
            if t.dtype == torch.int64:
                entries.append((key, "I64", t.detach().numpy().copy()))
                continue
            if wdtype == "F16":
                arr = t.detach().numpy().astype(np.float16)
                t.copy_(torch.from_numpy(arr.astype(np.float32)))
            else:
                arr = t.detach().numpy().astype(np.float32)
            entries.append((key, wdtype, arr))
    return entries


def headroom(actual, expected, rtol, atol):
    """max |a - e| / (atol + rtol |e|): below 1 is within tolerance."""
    a = np.asarray(actual, np.float64)
    e = np.asarray(expected, np.float64)
    return float(np.max(np.abs(a - e) / (atol + rtol * np.abs(e))))


def make(name):
    wdtype, make_input = EXAMPLES[name]
    rtol, atol = TOL
    with open(os.path.join(HERE, name + ".yaml")) as f:
        spec = yaml.safe_load(f)
    torch.manual_seed(0)
    model = build(spec)
    rng = np.random.RandomState(sum(map(ord, name)))
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        # a few training steps' worth of forward passes give the running
        # statistics values worth testing (0 and 1 would hide mistakes)
        model.train()
        with torch.no_grad():
            for _ in range(5):
                x = make_input(rng).astype(np.float32) * 1.5 + 0.2
                model(torch.from_numpy(x))
    model.eval()
    entries = state_entries(model, wdtype)
    st_write(os.path.join(HERE, name + ".safetensors"), entries)

    x = make_input(rng).astype(np.float32)
    with torch.no_grad():
        ref = model.double()(torch.from_numpy(x).double()).float().numpy()
        f32 = model.float()(torch.from_numpy(x)).numpy()
    h = headroom(f32, ref, rtol, atol)
    if h >= 0.5:
        sys.exit("%s: torch's own float32 output uses %.0f%% of the tolerance" % (name, 100 * h))
    os.makedirs(DATA, exist_ok=True)
    np.save(os.path.join(DATA, name + "_input.npy"), x)
    np.save(os.path.join(DATA, name + "_expected.npy"), ref.astype(np.float32))
    nparam = sum(p.numel() for p in model.parameters())
    print("%-7s %7d parameters, input %-16s -> %-8s  torch float32 headroom %.3f" %
          (name, nparam, list(x.shape), list(ref.shape), h))


def main(argv):
    names = argv[1:] or list(EXAMPLES)
    for n in names:
        if n not in EXAMPLES:
            sys.exit("unknown example %r (have: %s)" % (n, ", ".join(EXAMPLES)))
        make(n)


if __name__ == "__main__":
    main(sys.argv)
