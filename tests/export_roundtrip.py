#!/usr/bin/python3
"""export_roundtrip.py OUTDIR SEQRUN FAKE_SEQRUN - the cases of tests/suite_export.sh.

For every case below: builds the nn.Sequential with real torch.nn
constructors (non-default arguments throughout), randomises its parameters
and buffers, exports it with tools/seqrun-export.py's export() (the code path
of the command line, minus argument parsing; `input:` from the case's shape)
and writes, in OUTDIR/NAME/,

    model.yaml, weights.safetensors   what the exporter wrote
    input.npy                         the input
    expected.npy                      PyTorch's output, eval mode

Then the spec is read back into torch.nn modules (the exporter's SpecModel,
as --state-dict does) with the written weights, and must give the model's
own output: the arguments read from each module are the ones it was built
with.  One line per case on stdout: "case NAME" (for seqrun to run), "torch
NAME: LAYERS" (this seqrun has not got LAYERS yet: exported against
FAKE_SEQRUN's list, tests/export_fake_seqrun.py, and checked against PyTorch
only), "skip NAME: why" or "error NAME: why" (the exporter refused or got
it wrong).  Last, "covered L1 L2 ..." names every layer type the cases
exercised, so the suite can demand one for each layer seqrun has.

The expected output is computed in float64 from the float32 parameters and
input and then rounded to float32, as tests/golden/gen.py does: the
correctly rounded answer, favouring no float32 summation order.
"""

import importlib.util
import json
import os
import struct
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
    # the layers INTERFACE.md aims at beyond session 2's (checked against
    # PyTorch alone until this seqrun lists them, then run by seqrun too)
    ("conv3d", "nn.Conv3d(2, 4, (3, 2, 2), stride=(2, 1, 1), padding=1, dilation=(1, 2, 1), groups=2, "
     "bias=False)", (2, 2, 6, 7, 5), None),
    ("lazyconv1d_materialised", "materialised(nn.LazyConv1d(4, 3, padding=1), 1, 3, 8)", (2, 3, 8), None),
    ("lazyconv2d_materialised", "materialised(nn.LazyConv2d(3, 2, stride=2), 1, 2, 6, 6)", (2, 2, 6, 5), None),
    ("lazyconv3d_materialised", "materialised(nn.LazyConv3d(2, 2, bias=False), 1, 2, 3, 3, 3)",
     (2, 2, 3, 4, 3), None),
    ("lazyconvtranspose1d_materialised", "materialised(nn.LazyConvTranspose1d(3, 2, stride=2), 1, 2, 5)",
     (2, 2, 5), None),
    ("lazyconvtranspose2d_materialised", "materialised(nn.LazyConvTranspose2d(2, 3, padding=1, bias=False), "
     "1, 3, 4, 4)", (2, 3, 4, 5), None),
    ("lazyconvtranspose3d_materialised", "materialised(nn.LazyConvTranspose3d(2, 2, output_padding=1, stride=2), "
     "1, 2, 2, 2, 2)", (1, 2, 2, 3, 2), None),
    ("crossmaplrn2d", "nn.CrossMapLRN2d(3, alpha=1e-3, beta=0.6, k=1.5)", (2, 5, 3, 4), None),
    # the lazy norms become their full type after the first forward pass
    ("lazybatchnorm1d_materialised", "materialised(nn.LazyBatchNorm1d(eps=1e-3), 2, 4)", (3, 4), None),
    ("lazybatchnorm2d_materialised", "materialised(nn.LazyBatchNorm2d(momentum=0.2), 2, 3, 2, 2)", (2, 3, 4, 4), None),
    ("lazybatchnorm3d_materialised", "materialised(nn.LazyBatchNorm3d(affine=False), 2, 2, 2, 2, 2)",
     (2, 2, 3, 2, 2), None),
    ("lazyinstancenorm1d_materialised", "materialised(nn.LazyInstanceNorm1d(), 2, 3, 5)", (2, 3, 6), None),
    ("lazyinstancenorm2d_materialised", "materialised(nn.LazyInstanceNorm2d(eps=1e-4), 2, 2, 3, 3)",
     (2, 2, 4, 3), None),
    ("lazyinstancenorm3d_materialised", "materialised(nn.LazyInstanceNorm3d(track_running_stats=False), "
     "2, 2, 2, 3, 3)", (1, 2, 2, 3, 3), None),
    ("convtranspose1d", "nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, "
     "dilation=2)", (2, 4, 7), None),
    ("convtranspose2d", "nn.ConvTranspose2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 0), bias=False)",
     (2, 3, 5, 6), None),
    ("convtranspose3d", "nn.ConvTranspose3d(2, 3, 2, stride=2)", (1, 2, 3, 4, 3), None),
    ("maxpool3d", "nn.MaxPool3d(2, stride=1, padding=1, ceil_mode=True)", (2, 3, 4, 5, 4), None),
    ("avgpool3d", "nn.AvgPool3d((2, 2, 3), stride=2, padding=1, count_include_pad=False)", (2, 3, 5, 6, 7), None),
    ("adaptiveavgpool3d", "nn.AdaptiveAvgPool3d((2, None, 3))", (2, 3, 5, 4, 7), None),
    ("adaptivemaxpool3d", "nn.AdaptiveMaxPool3d(2)", (2, 3, 5, 4, 7), None),
    ("lppool1d", "nn.LPPool1d(2, 3, stride=2)", (2, 3, 9), None),
    ("lppool2d", "nn.LPPool2d(2.0, (2, 3), stride=(1, 2), ceil_mode=True)", (2, 3, 5, 7), None),
    ("fold", "nn.Fold(output_size=(4, 5), kernel_size=2, padding=1, stride=2)", (2, 8, 9), None),
    ("unfold", "nn.Unfold(kernel_size=(2, 3), padding=1, stride=2)", (2, 3, 5, 6), None),
    ("batchnorm3d", "nn.BatchNorm3d(3, eps=1e-3)", (2, 3, 2, 3, 4), None),
    ("syncbatchnorm", "nn.SyncBatchNorm(3, momentum=0.3)", (2, 3, 4, 5), None),
    ("groupnorm", "nn.GroupNorm(2, 4, eps=1e-3)", (2, 4, 5, 3), None),
    ("groupnorm_noaffine", "nn.GroupNorm(3, 6, affine=False)", (2, 6, 7), None),
    ("instancenorm1d", "nn.InstanceNorm1d(3, affine=True)", (2, 3, 8), None),
    ("instancenorm2d_running", "nn.InstanceNorm2d(3, momentum=0.2, track_running_stats=True)", (2, 3, 4, 5),
     None),
    ("instancenorm3d", "nn.InstanceNorm3d(2, eps=1e-4)", (2, 2, 3, 4, 3), None),
    ("localresponsenorm", "nn.LocalResponseNorm(3, alpha=1e-3, beta=0.7, k=2.0)", (2, 5, 4, 4), None),
    ("constantpad1d", "nn.ConstantPad1d((1, 2), 0.5)", (2, 3, 4), None),
    ("constantpad2d", "nn.ConstantPad2d((1, 0, 2, 1), -1.0)", (2, 3, 4, 5), None),
    ("constantpad3d", "nn.ConstantPad3d(1, 2.0)", (1, 2, 3, 3, 2), None),
    ("zeropad2d", "nn.ZeroPad2d((2, 1, 0, 1))", (2, 3, 4, 4), None),
    ("reflectionpad1d", "nn.ReflectionPad1d((2, 1))", (2, 3, 5), None),
    ("reflectionpad2d", "nn.ReflectionPad2d(1)", (2, 3, 4, 5), None),
    ("reflectionpad3d", "nn.ReflectionPad3d((1, 0, 1, 1, 0, 1))", (1, 2, 3, 4, 3), None),
    ("replicationpad1d", "nn.ReplicationPad1d(2)", (2, 3, 4), None),
    ("replicationpad2d", "nn.ReplicationPad2d((0, 1, 2, 0))", (2, 3, 4, 5), None),
    ("replicationpad3d", "nn.ReplicationPad3d(1)", (1, 2, 3, 3, 2), None),
    ("upsample_nearest", "nn.Upsample(scale_factor=2)", (2, 3, 4), None),
    ("upsample_bilinear", "nn.Upsample(size=(5, 7), mode='bilinear', align_corners=True)", (2, 3, 3, 4), None),
    ("upsample_trilinear", "nn.Upsample(scale_factor=(2, 1.5, 1), mode='trilinear')", (1, 2, 2, 4, 3), None),
    ("upsample_bicubic", "nn.Upsample(scale_factor=1.5, mode='bicubic', recompute_scale_factor=True)",
     (1, 2, 4, 4), None),
    ("upsample_linear", "nn.Upsample(scale_factor=3, mode='linear')", (2, 3, 4), None),
    ("upsamplingnearest2d", "nn.UpsamplingNearest2d(scale_factor=3)", (2, 3, 2, 3), None),
    ("upsamplingbilinear2d", "nn.UpsamplingBilinear2d(size=(4, 6))", (2, 2, 3, 3), None),
    ("pixelshuffle", "nn.PixelShuffle(2)", (2, 8, 3, 4), None),
    ("pixelunshuffle", "nn.PixelUnshuffle(2)", (2, 2, 4, 6), None),
    ("channelshuffle", "nn.ChannelShuffle(3)", (2, 6, 2, 2), None),
    ("dropout1d", "nn.Dropout1d(0.3)", (2, 3, 4), None),
    ("dropout2d", "nn.Dropout2d(0.4, inplace=True)", (2, 3, 4, 4), None),
    ("dropout3d", "nn.Dropout3d()", (1, 2, 3, 3, 3), None),
    ("alphadropout", "nn.AlphaDropout(0.2)", (3, 4), None),
    ("featurealphadropout", "nn.FeatureAlphaDropout(0.1)", (2, 3, 4, 4), None),
    ("embeddingbag_max", "nn.EmbeddingBag(10, 3, mode='max')", (4, 5), 10),
    ("embeddingbag_sum", "nn.EmbeddingBag(8, 4, mode='sum', padding_idx=2, max_norm=2.0)", (3, 6), 8),
    ("rnncell", "nn.RNNCell(4, 5, nonlinearity='relu')", (3, 4), None),
    ("grucell", "nn.GRUCell(4, 3, bias=False)", (3, 4), None),
    ("prelu", "nn.PReLU(3, init=0.1)", (2, 3, 4), None),
    ("prelu_single", "nn.PReLU()", (2, 3), None),
    ("rrelu", "nn.RReLU(0.1, 0.3)", (3, 4), None),
    ("celu", "nn.CELU(0.7)", (3, 4), None),
    ("selu", "nn.SELU(inplace=True)", (3, 4), None),
    ("mish", "nn.Mish()", (3, 4), None),
    ("hardswish", "nn.Hardswish()", (3, 4), None),
    ("hardsigmoid", "nn.Hardsigmoid()", (3, 4), None),
    ("hardshrink", "nn.Hardshrink(0.3)", (3, 4), None),
    ("softshrink", "nn.Softshrink(0.4)", (3, 4), None),
    ("tanhshrink", "nn.Tanhshrink()", (3, 4), None),
    ("threshold", "nn.Threshold(0.1, -2.0)", (3, 4), None),
    ("logsigmoid", "nn.LogSigmoid()", (3, 4), None),
    ("softsign", "nn.Softsign()", (3, 4), None),
    ("glu", "nn.GLU(dim=1)", (3, 4), None),
    ("softmin", "nn.Softmin(dim=1)", (3, 4), None),
    ("softmax2d", "nn.Softmax2d()", (2, 3, 4, 5), None),
    # session 2's layers
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


def read_safetensors(path):
    """{key: tensor} of a safetensors file, __metadata__ aliases resolved."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    head = json.loads(data[8:8 + n])
    meta = head.pop("__metadata__", {}) or {}
    out = {}
    for k, v in head.items():
        a, b = v["data_offsets"]
        dt = {"F32": np.float32, "I64": np.int64}[v["dtype"]]
        out[k] = torch.from_numpy(np.frombuffer(data[8 + n + a:8 + n + b], dtype=dt).reshape(v["shape"]).copy())
    for alias, kept in meta.items():
        out[alias] = out[kept]
    return out


def cpu_reference(model):
    """SyncBatchNorm runs only on a GPU in torch 1.13; on one process it is
    the BatchNorm it equals, which is what seqrun runs (INTERFACE.md)."""
    for name, m in list(model.named_children()):
        if isinstance(m, nn.SyncBatchNorm):
            bn = nn.BatchNorm2d(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats)
            bn.load_state_dict(m.state_dict())
            bn.train(m.training)
            setattr(model, name, bn)
        else:
            cpu_reference(m)
    return model


def rebuilt_matches(ex, d, model, x):
    """The spec read back as torch.nn modules, with the written weights,
    gives the model's output.  '' or what differs."""
    spec = ex.SpecModel(os.path.join(d, "model.yaml"))
    m = spec.model
    try:
        m.load_state_dict(read_safetensors(os.path.join(d, "weights.safetensors")))
    except RuntimeError as e:
        return "the weights do not load into the spec: %s" % str(e).replace("\n", " ")[:300]
    m.eval()
    cpu_reference(m)
    with torch.no_grad():
        try:
            a, b = model(x), m(x)
        except Exception as e:
            return "running the spec read back: %s: %s" % (type(e).__name__, str(e).split("\n")[0])
    if a.shape != b.shape or not torch.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True):
        return "the spec read back computes something else (shape %s, want %s)" % (list(b.shape), list(a.shape))
    return ""


def main():
    outdir, seqrun, fake_seqrun = sys.argv[1], sys.argv[2], sys.argv[3]
    ex = load_exporter()
    supported = ex.layer_table(seqrun)
    fake = ex.layer_table(fake_seqrun)
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
        table = supported
        if missing:
            if any(t not in fake for t in missing):
                print("skip %s: neither seqrun nor the full list has %s" % (name, ", ".join(missing)))
                continue
            table = fake
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
                      table, input_shape=["N"] + list(shape[1:]), source=src)
        except Exception as e:  # a refusal here is a bug: every case is supported
            print("error %s: %s: %s" % (name, type(e).__name__, e))
            continue
        cpu_reference(model)
        why = rebuilt_matches(ex, d, model, x)
        if why:
            print("error %s: %s" % (name, why))
            continue
        if missing:
            print("torch %s: %s" % (name, ", ".join(missing)))
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
