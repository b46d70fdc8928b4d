#!/usr/bin/python3
"""Expected `--top 3` lines for the core_mlp golden case, from PyTorch.

The golden case's expected.npy holds PyTorch's LogSoftmax output; the top
classes and their probabilities come from torch.topk over its exp().
Run: /usr/bin/python3 tests/gen_top_fixture.py
"""
import numpy as np
import torch

case = "tests/golden/cases/core_mlp/expected.npy"
logp = torch.from_numpy(np.load(case))
p, idx = torch.topk(logp.exp(), 3, dim=1)
with open("tests/fixtures/top/core_mlp_top3.txt", "w") as f:
    f.write("# shape [8, 10]; top 3 classes per sample: class (probability)\n")
    for i in range(p.shape[0]):
        f.write("%d: %s\n" % (i, "  ".join("%d (%.4f)" % (c, q) for c, q in zip(idx[i].tolist(), p[i].tolist()))))
