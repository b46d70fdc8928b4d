#!/usr/bin/python3
"""gen_run_seeds.py - seeds for fuzz_run from the golden cases.

Each golden case (model.yaml, weights.safetensors, input.npy or input.bin,
args) becomes one fuzz_run input: FLAGS SPEC SEP WEIGHTS SEP INPUT, with
FLAGS taken from the case's args (--train, --batch-size) and varied over
the output formats, --save-state and the thread count so that every writer
is reached from the start.  Cases larger than MAX bytes are skipped (the
fuzzer's -max_len).  Writes into tests/fuzz/corpus/fuzz_run/ (run from the
repository root): `/usr/bin/python3 tests/fuzz/gen_run_seeds.py`.
"""
import hashlib
import os
import sys

MAX = 8192
SEP = b"\0\xffSEP\xff\0"
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
cases = os.path.join(root, "tests", "golden", "cases")
out = os.path.join(root, "tests", "fuzz", "corpus", "fuzz_run")
os.makedirs(out, exist_ok=True)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


n = 0
for k, name in enumerate(sorted(os.listdir(cases))):
    d = os.path.join(cases, name)
    spec = read(os.path.join(d, "model.yaml"))
    if spec is None:
        continue
    args = (read(os.path.join(d, "args")) or b"").split(b"\n")[0].split()
    weights = read(os.path.join(d, "weights.safetensors")) if b"-w" in args else b""
    inp = read(os.path.join(d, "input.npy"))
    if inp is None:
        inp = read(os.path.join(d, "input.bin")) or b""
    flags = 0
    if b"--train" in args:
        flags |= 1
    if b"--batch-size" in args:
        b = int(args[args.index(b"--batch-size") + 1])
        flags |= (min(b, 3)) << 4
    # vary what the args do not fix: format, --save-state, threads, json
    flags |= (k % 4) << 2
    if k % 3 == 0:
        flags |= 2
    if k % 5 == 0:
        flags |= 64
    if k % 2:
        flags |= 128
    blob = bytes([flags]) + spec + SEP + (weights or b"") + SEP + inp
    if len(blob) > MAX:
        continue
    with open(os.path.join(out, "golden_" + name), "wb") as f:
        f.write(blob)
    n += 1
# a spec alone: default initialisation, no input (an error path)
for i, spec in enumerate([b"input: [N, 4]\nlayers: [Linear: [4, 3], ReLU]\n",
                          b"layers:\n  - Embedding: [10, 3]\n"]):
    with open(os.path.join(out, "spec_only_%d" % i), "wb") as f:
        f.write(bytes([2]) + spec)
    n += 1
print("%d seeds in %s" % (n, out), file=sys.stderr)
