#!/usr/bin/python3
"""export_roundtrip.py OUTDIR SEQRUN - the cases of tests/suite_export.sh.

For every case below: builds the nn.Sequential with real torch.nn
constructors (non-default arguments throughout), randomises its parameters
and buffers, exports it with tools/seqrun-export.py's export() (the code path
of the command line, minus argument parsing) and writes, in OUTDIR/NAME/,

    model.yaml, weights.safetensors   what the exporter wrote
    input.npy                         the input
    expected.npy                      PyTorch's output, eval mode

and prints one line per case on stdout: "case NAME", "skip NAME: why" (a
layer this seqrun does not list in --help) or "error NAME: why" (the exporter
refused or failed).  Last, "covered L1 L2 ..." names every layer type the
cases exercised, so the suite can demand one for each layer seqrun has.

The expected output is computed in float64 from the float32 parameters and
input and then rounded to float32, as tests/golden/gen.py does: the
correctly rounded answer, favouring no float32 summation order.
"""

import importlib.util
import os
import re
import sys
import warnings
import zlib

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(1)
warnings.filterwarnings("ignore", message="Lazy modules are a new feature")


def load_exporter():
    path = os.path.join(HERE, "..", "tools", "seqrun-export.py")
    spec = importlib.util.spec_from_file_location("seqrun_export", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def materialised(m, *shape):
    """A lazy module after its first forward pass (LazyLinear becomes Linear)."""
    with torch.no_grad():
        m(torch.zeros(*shape))
    return m


def shared_linear():
    fc = nn.Linear(6, 6)
    return nn.Sequential(fc, nn.Tanh(), fc, nn.Linear(6, 3))


def shared_block():
    blk = nn.Sequential(nn.Linear(5, 5), nn.LayerNorm(5), nn.GELU())
    return nn.Sequential(blk, blk, nn.ReLU())


def tied_weights():
    a, b = nn.Linear(6, 6), nn.Linear(6, 6)
    b.weight = a.weight  # one tensor under two modules' keys
    return nn.Sequential(a, nn.SiLU(), b)


class PlainSubclass(nn.Linear):
    """A subclass that keeps Linear's forward: exported as Linear."""

    def __init__(self):
        super().__init__(4, 3)


# (name, builder source, input shape, integer input upper bound or None)
CASES = [
    ("linear_nobias", "nn.Linear(5, 3, bias=False)", (4, 5), None),
    ("linear_3d", "nn.Linear(5, 2)", (2, 3, 5), None),
    ("lazylinear_materialised", "materialised(nn.LazyLinear(3, bias=False), 1, 5)", (4, 5), None),
    ("linear_subclass", "PlainSubclass()", (2, 4), None),
    ("flatten_0_1", "nn.Flatten(0, 1)", (2, 3, 4), None),
    ("unflatten", "nn.Unflatten(1, (2, 3))", (4, 6), None),
    ("identity_args", "nn.Identity(54, unused='x')", (3, 4), None),
    ("dropout_eval", "nn.Dropout(p=0.3, inplace=True)", (3, 4), None),
    ("relu_inplace", "nn.ReLU(inplace=True)", (3, 4), None),
    ("relu6", "nn.ReLU6(inplace=True)", (3, 4), None),
    ("leakyrelu", "nn.LeakyReLU(0.2)", (3, 4), None),
    ("elu", "nn.ELU(alpha=0.5, inplace=True)", (3, 4), None),
    ("gelu_tanh", "nn.GELU(approximate='tanh')", (3, 4), None),
    ("silu", "nn.SiLU(inplace=True)", (3, 4), None),
    ("tanh", "nn.Tanh()", (3, 4), None),
    ("sigmoid", "nn.Sigmoid()", (3, 4), None),
    ("softplus", "nn.Softplus(beta=2, threshold=0.5)", (3, 4), None),
    ("hardtanh", "nn.Hardtanh(-0.5, 2.0)", (3, 4), None),
    ("softmax_dim0", "nn.Softmax(dim=0)", (3, 4), None),
    ("logsoftmax_neg", "nn.LogSoftmax(dim=-1)", (2, 3, 4), None),
    ("layernorm_noaffine", "nn.LayerNorm([3, 4], eps=1e-3, elementwise_affine=False)", (2, 5, 3, 4), None),
    ("layernorm_affine", "nn.LayerNorm(4)", (3, 4), None),
    ("embedding", "nn.Embedding(10, 3, padding_idx=-2, norm_type=1.0, scale_grad_by_freq=True, sparse=True)",
     (4, 5), 10),
    ("embedding_maxnorm", "nn.Embedding(8, 4, max_norm=1.5)", (3, 5), 8),
    ("conv1d", "nn.Conv1d(3, 4, 3, stride=2, padding=1, bias=False, padding_mode='reflect')", (2, 3, 11), None),
    ("conv1d_same", "nn.Conv1d(4, 6, 4, padding='same', dilation=2, groups=2, padding_mode='circular')",
     (2, 4, 9), None),
    ("conv2d", "nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2, "
     "padding_mode='replicate')", (2, 4, 9, 8), None),
    ("conv2d_same", "nn.Conv2d(3, 4, 3, padding='same', bias=False)", (1, 3, 6, 7), None),
    ("maxpool1d", "nn.MaxPool1d(3, stride=2, padding=1, dilation=2, ceil_mode=True)", (2, 3, 12), None),
    ("maxpool2d", "nn.MaxPool2d((2, 3), stride=1, padding=(1, 1), dilation=(2, 1))", (2, 3, 8, 9), None),
    ("avgpool1d", "nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False)", (2, 3, 10), None),
    ("avgpool2d", "nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, divisor_override=5)", (2, 3, 9, 8), None),
    ("adaptiveavgpool1d", "nn.AdaptiveAvgPool1d(3)", (2, 3, 10), None),
    ("adaptiveavgpool2d_none", "nn.AdaptiveAvgPool2d((None, 2))", (2, 3, 5, 7), None),
    ("adaptivemaxpool1d", "nn.AdaptiveMaxPool1d(4)", (2, 3, 9), None),
    ("adaptivemaxpool2d", "nn.AdaptiveMaxPool2d((3, None))", (2, 3, 7, 5), None),
    ("batchnorm1d", "nn.BatchNorm1d(4, eps=1e-3, momentum=0.2, affine=False)", (5, 4, 6), None),
    ("batchnorm2d_cma", "nn.BatchNorm2d(3, momentum=None)", (2, 3, 4, 5), None),
    ("batchnorm2d_notrack", "nn.BatchNorm2d(3, track_running_stats=False)", (4, 3, 4, 5), None),
    ("nested", "nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.ReLU(), nn.Linear(4, 2)))", (3, 4), None),
    ("empty_nested", "nn.Sequential(nn.Linear(3, 3), nn.Sequential())", (2, 3), None),
    ("shared_linear", "shared_linear()", (4, 6), None),
    ("shared_block", "shared_block()", (3, 5), None),
    ("tied_weights", "tied_weights()", (3, 6), None),
    ("classic_cnn", "nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), "
     "nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.1), nn.Linear(64, 10), nn.LogSoftmax(dim=1))",
     (3, 1, 8, 8), None),
]


def randomise(model, gen):
    with torch.no_grad():
        for name, t in model.state_dict(keep_vars=True).items():
            if name.endswith("num_batches_tracked"):
                t.fill_(7)
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=gen) * 0.5)


def layer_types(model, ex):
    out = set()
    for m in model.modules():
        cls = ex.base_type(m, nn)
        out.add(cls.__name__ if cls is not None else type(m).__name__)
    return out


def main():
    outdir, seqrun = sys.argv[1], sys.argv[2]
    ex = load_exporter()
    supported = ex.supported_set(seqrun)
    covered = set()
    ns = dict(globals())
    for name, src, shape, hi in CASES:
        seed = zlib.crc32(name.encode())
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = eval(src, ns)
        if not isinstance(model, nn.Sequential) or type(model) is not nn.Sequential:
            model = nn.Sequential(model)
        missing = sorted(t for t in layer_types(model, ex) if t not in supported)
        if missing:
            print("skip %s: this seqrun lists no %s" % (name, ", ".join(missing)))
            continue
        randomise(model, gen)
        model.eval()
        if hi is None:
            x = (torch.randn(shape, generator=gen) * 1.5).float()
        else:
            x = torch.randint(0, hi, shape, generator=gen)
        d = os.path.join(outdir, name)
        os.makedirs(d)
        try:
            ex.export(model, os.path.join(d, "model.yaml"), os.path.join(d, "weights.safetensors"),
                      supported, source=src)
        except Exception as e:  # a refusal here is a bug: every case is supported
            print("error %s: %s: %s" % (name, type(e).__name__, e))
            continue
        ref = model.double()
        with torch.no_grad():
            y = ref(x.double() if hi is None else x).float()
        np.save(os.path.join(d, "input.npy"), x.numpy().astype(np.float32 if hi is None else np.int64))
        np.save(os.path.join(d, "expected.npy"), y.numpy())
        # a materialised LazyLinear is a Linear by now: count the source's names too
        covered |= layer_types(model, ex) | set(re.findall(r"nn\.(\w+)\(", src))
        print("case %s" % name)
    print("covered " + " ".join(sorted(covered)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
