#!/usr/bin/python3
"""export_fake_seqrun.py --list-layers --format json - a stand-in seqrun for
tests/suite_export.sh that lists every layer INTERFACE.md aims at, in the
shape `seqrun --list-layers --format json` prints, built from torch 1.13's
own constructor signatures ($FAKE_SEQRUN_DROP=A,B leaves layers out).  It lets the exporter's mapping of layers the
real seqrun does not have yet (ConvTranspose2d, GroupNorm, Upsample, the
padding layers, PReLU, Hardswish, ...) be tested against PyTorch now; the
exporter must read everything it needs from this list (no hand table)."""

import inspect
import json
import os
import sys

import warnings
warnings.filterwarnings("ignore")
import torch
import torch.nn as nn

LAYERS = """Linear LazyLinear Conv1d Conv2d Conv3d LazyConv1d LazyConv2d LazyConv3d
ConvTranspose1d ConvTranspose2d ConvTranspose3d LazyConvTranspose1d LazyConvTranspose2d
LazyConvTranspose3d MaxPool1d MaxPool2d MaxPool3d AvgPool1d
AvgPool2d AvgPool3d AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d
AdaptiveMaxPool2d AdaptiveMaxPool3d LPPool1d LPPool2d Fold Unfold BatchNorm1d BatchNorm2d
BatchNorm3d SyncBatchNorm GroupNorm InstanceNorm1d InstanceNorm2d InstanceNorm3d LayerNorm
LocalResponseNorm CrossMapLRN2d ConstantPad1d ConstantPad2d ConstantPad3d ZeroPad2d ReflectionPad1d
ReflectionPad2d ReflectionPad3d ReplicationPad1d ReplicationPad2d ReplicationPad3d Upsample
UpsamplingNearest2d UpsamplingBilinear2d PixelShuffle PixelUnshuffle ChannelShuffle Dropout
Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout Embedding EmbeddingBag RNNCell
GRUCell Flatten Unflatten Identity ReLU ReLU6 LeakyReLU PReLU RReLU ELU CELU SELU GELU SiLU
Mish Hardswish Hardsigmoid Hardtanh Hardshrink Softshrink Tanhshrink Threshold Tanh Sigmoid
LogSigmoid Softplus Softsign GLU Softmax LogSoftmax Softmin Softmax2d Sequential""".split()

SKIP = {"self", "device", "dtype", "_weight", "_freeze", "min_value", "max_value", "process_group"}
DEFAULT_ARGS = {  # enough to build each layer once and list its state_dict keys
    "Linear": (3, 3), "LazyLinear": (3,), "Conv1d": (2, 2, 1), "Conv2d": (2, 2, 1), "Conv3d": (2, 2, 1),
    "LazyConv1d": (2, 1), "LazyConv2d": (2, 1), "LazyConv3d": (2, 1),
    "LazyConvTranspose1d": (2, 1), "LazyConvTranspose2d": (2, 1), "LazyConvTranspose3d": (2, 1),
    "ConvTranspose1d": (2, 2, 1), "ConvTranspose2d": (2, 2, 1), "ConvTranspose3d": (2, 2, 1),
    "BatchNorm1d": (2,), "BatchNorm2d": (2,), "BatchNorm3d": (2,), "SyncBatchNorm": (2,),
    "GroupNorm": (1, 2), "InstanceNorm1d": (2,), "InstanceNorm2d": (2,), "InstanceNorm3d": (2,),
    "LayerNorm": (2,), "Embedding": (3, 2), "EmbeddingBag": (3, 2), "RNNCell": (2, 2), "GRUCell": (2, 2),
}


def types(v):
    if isinstance(v, bool):
        return ["bool"]
    if isinstance(v, int):
        return ["int", "tuple"]
    if isinstance(v, float):
        return ["float"]
    if isinstance(v, str):
        return ["str"]
    if v is None:
        return ["none", "int", "float", "tuple"]
    return ["tuple"]


def entry(name):
    cls = getattr(nn, name)
    args, varargs = [], False
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            varargs = True
            continue
        if p.name in SKIP:
            continue
        d = None if p.default is p.empty else repr(p.default)
        args.append({"name": p.name, "types": types(p.default if d else 0), "default": d})
    state = []
    if name != "Sequential":
        try:
            m = cls(*DEFAULT_ARGS.get(name, (2,) if args and args[0]["default"] is None else ()))
            state = [{"name": k, "buffer": k not in dict(m.named_parameters())} for k in m.state_dict()]
        except Exception:
            pass
    return {"name": name, "summary": "", "args": args, "varargs": varargs and name == "Identity",
            "state": state}


if sys.argv[1:] == ["--list-layers", "--format", "json"]:
    drop = os.environ.get("FAKE_SEQRUN_DROP", "").split(",")  # layers to leave out
    json.dump({"layers": [entry(n) for n in LAYERS if n not in drop]}, sys.stdout, indent=1)
    print()
    sys.exit(0)
sys.stderr.write("export_fake_seqrun.py: only --list-layers --format json\n")
sys.exit(2)
