#!/usr/bin/python3
"""export_fx.py WORKDIR SEQRUN FAKE_SEQRUN - the traced-model cases of
tests/suite_export.sh (issue 13 part 1).  Prints one line per check:
"ok NAME", "FAIL NAME: why" or "skip NAME: why".

- chains (tests/export_models.py and torchvision's VGG11-BN and AlexNet):
  exported through the exporter, the spec's key lines checked, every weight
  compared bit for bit with the model's own tensor under the key the spec
  gives it, `seqrun --check` run on the spec alone (input: written), and
  seqrun's output compared with PyTorch's (float64 reference rounded to
  float32; rtol 1e-4, atol 1e-5).  Chains that need layers this seqrun lacks
  are exported against FAKE_SEQRUN's list (tests/export_fake_seqrun.py) and
  checked against PyTorch only.
- refusals through the command line: exit 2, the expected message for every
  problem, nothing written.
- --state-dict: torch.save(model.state_dict()) + the exported spec gives the
  same safetensors bytes as exporting with the model; key errors listed.
"""

import contextlib
import importlib.util
import io
import json
import os
import re
import struct
import subprocess
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export_models as M  # noqa: E402

torch.set_num_threads(1)
OUT, SEQRUN, FAKE = sys.argv[1], sys.argv[2], sys.argv[3]
RESULTS = []


def load_exporter():
    spec = importlib.util.spec_from_file_location("seqrun_export", os.path.join(HERE, "..", "tools",
                                                                                "seqrun-export.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ex = load_exporter()
REAL = ex.layer_table(SEQRUN)


def report(kind, name, why=""):
    print("%s %s%s" % (kind, name, ": " + why if why else ""), flush=True)


class Fail(Exception):
    pass


def check(cond, why):
    if not cond:
        raise Fail(why)


def cli(argv, env=None):
    """Runs the exporter's main() in this process: (exit status, stderr)."""
    err = io.StringIO()
    old = dict(os.environ)
    if env:
        os.environ.update(env)
    try:
        with contextlib.redirect_stderr(err):
            try:
                rc = ex.main(argv)
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else 1
    finally:
        os.environ.clear()
        os.environ.update(old)
    return rc, err.getvalue()


def read_safetensors(path):
    """{key: (dtype, shape, raw bytes)}, the __metadata__ aliases resolved."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    head = json.loads(data[8:8 + n])
    meta = head.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {k: (v["dtype"], v["shape"], data[base + v["data_offsets"][0]:base + v["data_offsets"][1]])
           for k, v in head.items()}
    for alias, kept in meta.items():
        out[alias] = out[kept]
    return out


def randomise_norms(model, gen):
    """Non-trivial BatchNorm statistics and affine parameters (the rest keeps
    PyTorch's initialisation, so deep models stay finite)."""
    with torch.no_grad():
        for name, t in model.state_dict(keep_vars=True).items():
            if name.endswith("num_batches_tracked"):
                t.fill_(5)
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif name.endswith("running_mean"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)


def seqrun_out(yaml_path, x, d):
    np.save(os.path.join(d, "input.npy"), x.numpy())
    p = subprocess.run([SEQRUN, "-q", "-o", os.path.join(d, "out.npy"), yaml_path,
                        os.path.join(d, "input.npy")], stderr=subprocess.PIPE)
    if p.returncode:
        raise Fail("seqrun exit %d: %s" % (p.returncode, p.stderr.decode()[:400]))
    return np.load(os.path.join(d, "out.npy"))


def spec_layers(text):
    return set(re.findall(r"^\s*- (?:&\w+ )?\{?(\w+)", text, re.M)) - {"Sequential"}


def chain(name, make, shape, keymap, lines=(), input_arg=True, table=None, want_input=None):
    """Exports make() (a fresh model), then checks it; see the module doc."""
    d = os.path.join(OUT, name)
    os.makedirs(d)
    seed = zlib.crc32(name.encode())
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = make()
    randomise_norms(model, gen)
    model.eval()
    x = torch.randn(shape, generator=gen)
    ys, ws = os.path.join(d, "model.yaml"), os.path.join(d, "weights.safetensors")
    fake = table is not None
    tab = table or REAL
    try:
        ex.export(model, ys, ws, tab, ["N"] + list(shape[1:]) if input_arg else None,
                  source=name, warn=lambda s: None)
    except ex.Refused as e:
        report("FAIL", name, "refused: " + " | ".join(e.problems))
        return
    text = open(ys).read()
    # the spec
    try:
        for ln in lines:
            check(any(l.startswith(ln) for l in text.splitlines()),
                  "no line starting %r in the spec:\n%s" % (ln, text))
        if want_input:
            check(want_input in text.splitlines(), "no %r line in the spec" % want_input)
        report("ok", name + "_spec")
    except Fail as f:
        report("FAIL", name + "_spec", str(f))
    # the weights, bit for bit, under the spec's keys
    try:
        st = read_safetensors(ws)
        sd = model.state_dict()
        want = {}
        for k, t in sd.items():
            for sk in keymap(k):
                want[sk] = t
        check(set(st) == set(want), "keys differ: file only %s, expected only %s"
              % (sorted(set(st) - set(want))[:5], sorted(set(want) - set(st))[:5]))
        for sk, t in want.items():
            dt, shp, raw = st[sk]
            a = t.detach().numpy()
            check(shp == list(a.shape), "%s: shape %s, the model's %s" % (sk, shp, list(a.shape)))
            ref = a.astype("<f4" if dt == "F32" else "<i8").tobytes()
            check(raw == ref, "%s: the bytes differ from the model's tensor" % sk)
        report("ok", name + "_weights_bit_exact")
    except Fail as f:
        report("FAIL", name + "_weights_bit_exact", str(f))
    # seqrun on it
    missing = sorted(spec_layers(text) - set(REAL.names))
    if missing:
        report("skip", name + "_seqrun", "this seqrun has no %s (exported against %s, checked "
               "against PyTorch only)" % (", ".join(missing), "the full layer list" if fake else "its list"))
        return
    try:
        p = subprocess.run([SEQRUN, "--check", ys], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(p.returncode == 0, "seqrun --check on the spec alone: exit %d: %s"
              % (p.returncode, p.stderr.decode()[:300]))
        total = sum(t.numel() for t in model.parameters())
        check(("total params: %d" % total) in p.stdout.decode(),
              "seqrun --check does not count %d parameters:\n%s" % (total, p.stdout.decode()[-300:]))
        got = seqrun_out(ys, x, d)
        with torch.no_grad():
            ref = model.double()(x.double()).float().numpy()
        check(got.shape == ref.shape, "seqrun's output shape %s, PyTorch's %s" % (got.shape, ref.shape))
        bad = ~np.isclose(got, ref, rtol=1e-4, atol=1e-5)
        check(not bad.any(), "%d of %d values differ from PyTorch's (largest %g)"
              % (bad.sum(), bad.size, np.abs(got - ref).max()))
        report("ok", name + "_seqrun_matches_pytorch")
    except Fail as f:
        report("FAIL", name + "_seqrun_matches_pytorch", str(f))


def prefix_map(pairs):
    """keymap from [(model prefix, spec prefix)]."""
    def f(k):
        for a, b in pairs:
            if k.startswith(a + "."):
                return [b + k[len(a):]]
        raise Fail("no spec key for %s" % k)
    return f


def py_file(name, body):
    path = os.path.join(OUT, name + ".py")
    with open(path, "w") as f:
        f.write("import export_models as M\nimport torch\nfrom torch import nn\n" + body + "\n")
    return path


def refuse(name, src, patterns, env=None, count=None, args=()):
    """The command line refuses src: exit 2, stderr matches every pattern
    (each one a line), nothing written."""
    y, w = os.path.join(OUT, name + ".yaml"), os.path.join(OUT, name + ".safetensors")
    rc, err = cli(["--seqrun", env.pop("_seqrun") if env and "_seqrun" in env else SEQRUN,
                   src, "-o", y, "-w", w] + list(args), env)
    try:
        check(rc == 2, "exit %s, want 2: %s" % (rc, err[:400]))
        lines = err.splitlines()
        for pat in patterns:
            check(any(re.search(pat, l) for l in lines), "no stderr line matches /%s/:\n%s" % (pat, err[:1500]))
        if count:
            pat, n = count
            got = sum(1 for l in lines if re.search(pat, l))
            check(got == n, "%d lines match /%s/, want %d:\n%s" % (got, pat, n, err[:1500]))
        check(not os.path.exists(y) and not os.path.exists(w), "a refused export left files behind")
        report("ok", name)
    except Fail as f:
        report("FAIL", name, str(f))


def main():
    fake = ex.layer_table(FAKE)
    LOC = r"\S*export_models\.py:[0-9]+"

    # ---- chains -------------------------------------------------------------------
    chain("tutorial_net", M.Net, (3, 3, 32, 32),
          prefix_map([("conv1", "0"), ("conv2", "3"), ("fc1", "7"), ("fc2", "9"), ("fc3", "11")]),
          ["input: [N, 3, 32, 32]",
           "  - Conv2d: {in_channels: 3, out_channels: 6, kernel_size: 5}  # self.conv1",
           "  - ReLU  # F.relu at ", "  - MaxPool2d: {kernel_size: 2}  # self.pool",
           "  - Flatten  # torch.flatten at ", "  - Linear: {in_features: 84, out_features: 10}  # self.fc3"])
    chain("simple_classifier", M.SimpleClassifier, (5, 20), lambda k: [k[len("model."):]],
          ["  - Linear: {in_features: 20, out_features: 32}  # self.model.0",
           "  - BatchNorm1d: {num_features: 32}  # self.model.1", "  - Dropout: {p: 0.25}"],
          input_arg=False, want_input="input: [N, 20]  # fixed by the first layer (Linear); --input to change")
    chain("lenet_view", M.LeNet, (4, 1, 28, 28),
          prefix_map([("conv1", "0"), ("conv2", "3"), ("fc1", "7"), ("fc2", "10"), ("fc3", "12")]),
          ["  - MaxPool2d: {kernel_size: 2}  # F.max_pool2d at ", "  - Tanh  # torch.tanh at ",
           "  - Flatten  # x.view at ", "  - Dropout: {p: 0.3}  # F.dropout at ",
           "  - Sigmoid  # x.sigmoid at ", "  - LogSoftmax: {dim: 1}  # F.log_softmax at "])
    chain("old_lenet_view_minus1", M.OldLeNet, (3, 1, 28, 28),
          prefix_map([("conv1", "0"), ("conv2", "3"), ("fc1", "7")]),
          ["  - ReLU  # self.act", "  - Flatten  # x.view at "])
    chain("modulelist_loop_shared", M.Stack, (3, 8),
          lambda k: {"proj.weight": ["9.weight", "11.weight"], "proj.bias": ["9.bias", "11.bias"],
                     "head.weight": ["12.weight"], "head.bias": ["12.bias"]}.get(k) or
          [str(3 * int(k.split(".")[1]) + (0 if ".fc." in k else 1)) + "." + k.split(".")[-1]],
          ["  - &m9 {Linear: {in_features: 8, out_features: 8}}  # self.proj", "  - *m9  # self.proj",
           "  - ReLU  # x.relu_ at ", "  - GELU  # F.gelu at ", "  - Softmax: {dim: -1}  # x.softmax at "])
    chain("functional_calls", M.Functional1, (3, 3, 6, 10), prefix_map([("conv", "0"), ("conv1d", "8"),
                                                                       ("fc", "14")]),
          ["  - LeakyReLU: {negative_slope: 0.1}  # F.leaky_relu at ",
           "  - AvgPool2d: {kernel_size: 2, stride: 1, padding: 1, count_include_pad: false}  # F.avg_pool2d at ",
           "  - SiLU  # F.silu at ", "  - AdaptiveMaxPool2d: {output_size: [3, 5]}  # F.adaptive_max_pool2d at ",
           "  - GELU  # F.gelu at ", "  - AdaptiveAvgPool2d: {output_size: [1, 4]}  # F.adaptive_avg_pool2d at ",
           "  - Flatten: {end_dim: 2}  # x.squeeze at ",
           "  - MaxPool1d: {kernel_size: 2, ceil_mode: true}  # F.max_pool1d at ",
           "  - ELU: {alpha: 0.5}  # F.elu at ", "  - Softplus: {beta: 2.0}  # F.softplus at ",
           "  - Hardtanh: {min_val: -0.5, max_val: 0.5}  # F.hardtanh at ",
           "  - LayerNorm: {normalized_shape: [6], eps: 0.001, elementwise_affine: false}  # F.layer_norm at ",
           "  - ReLU6  # F.relu6 at ", "  - LogSoftmax: {dim: -1}  # torch.log_softmax at "])
    chain("reshape_unflatten", M.Reshapes, (3, 12), prefix_map([("fc", "0"), ("conv", "2")]),
          ["  - Unflatten: {dim: 1, unflattened_size: [3, 4, 4]}  # x.reshape at ", "  - ELU  # F.elu at ",
           "  - Flatten  # x.flatten at "])
    chain("mini_vgg", M.MiniVGG, (2, 3, 16, 16), prefix_map([("features", "0"), ("classifier", "3")]),
          ["  - Sequential:  # self.features", "  - AdaptiveAvgPool2d: {output_size: 2}  # self.avgpool",
           "  - Flatten  # torch.flatten at ", "  - Sequential:  # self.classifier"])
    chain("functional_new_layers", M.Functional, (2, 3, 8, 8), prefix_map([("stem", "1"), ("body", "5"),
                                                                           ("head", "15")]),
          ["  - ReflectionPad2d: {padding: [1, 1, 2, 0]}  # F.pad at ", "  - Hardswish  # F.hardswish at ",
           "  - GroupNorm: {num_groups: 2, num_channels: 8, affine: false}  # F.group_norm at ",
           "  - Upsample: {scale_factor: 2.0, mode: 'bilinear', align_corners: false}  # F.interpolate at ",
           "  - LeakyReLU: {negative_slope: 0.2}  # F.leaky_relu at ",
           "  - AvgPool2d: {kernel_size: 2, ceil_mode: true}  # F.avg_pool2d at ",
           "  - PixelShuffle: {upscale_factor: 2}", "  - PixelUnshuffle: {downscale_factor: 2}",
           "  - AdaptiveAvgPool2d: {output_size: 1}  # x.mean at ", "  - Flatten: {start_dim: -3}  # x.mean at ",
           "  - ReLU6  # x.clamp at ", "  - Unflatten: {dim: -1, unflattened_size: [-1, 1]}  # x.unsqueeze at ",
           "  - Softmin: {dim: 1}  # F.softmin at "], table=fake)
    try:
        import torchvision
        tv = torchvision.models
        chain("torchvision_vgg11_bn", lambda: tv.vgg11_bn(), (2, 3, 32, 32),
              prefix_map([("features", "0"), ("classifier", "3")]),
              ["  - Sequential:  # self.features", "  - AdaptiveAvgPool2d: {output_size: 7}  # self.avgpool",
               "  - Flatten  # torch.flatten at ", "  - Sequential:  # self.classifier",
               "      - BatchNorm2d: {num_features: 64}", "      - Linear: {in_features: 25088, out_features: 4096}"])
        chain("torchvision_alexnet", lambda: tv.alexnet(num_classes=10), (2, 3, 64, 64),
              prefix_map([("features", "0"), ("classifier", "3")]),
              ["      - Conv2d: {in_channels: 3, out_channels: 64, kernel_size: 11, stride: 4, padding: 2}",
               "  - AdaptiveAvgPool2d: {output_size: 6}  # self.avgpool",
               "      - Linear: {in_features: 4096, out_features: 10}"])
    except ImportError:
        for n in ("torchvision_vgg11_bn", "torchvision_alexnet", "refuse_torchvision_resnet18"):
            report("skip", n, "no torchvision in %s (Debian: python3-torchvision)" % sys.executable)
        tv = None

    # ---- refusals ---------------------------------------------------------------------
    refuse("refuse_residual", py_file("residual", "model = M.ResidualBlock()"),
           [r"^seqrun-export: node add at %s \(out \+= identity\): a value used twice \(residual "
            r"connection\); seqrun runs chains only$" % LOC])
    refuse("refuse_cat", py_file("cat", "model = M.Concat()"),
           [r"^seqrun-export: node cat at %s \(return torch\.cat\(\[self\.a\(x\), self\.b\(x\)\], dim=1\)\): "
            r"torch\.cat joins 2 tensors; seqrun runs chains only and has no concatenation$" % LOC],
           count=(r"^seqrun-export: ", 1))
    refuse("refuse_data_dependent_branch", py_file("branch", "model = M.DataBranch()"),
           [r"^seqrun-export: %s in forward \(if x\.sum\(\) > 0:\): forward\(\) branches on a tensor's value "
            r"\(data-dependent control flow; torch\.fx: symbolically traced variables cannot be used as "
            r"inputs to control flow\), and seqrun runs one fixed chain of layers" % LOC])
    refuse("refuse_every_problem_at_once", py_file("many", "model = M.Many()"),
           [r"^seqrun-export: node add at %s \(y = self\.conv\(x\) \+ x\): a value used twice \(residual" % LOC,
            r"^seqrun-export: node transpose at %s \(y = y\.transpose\(1, 2\)\): x\.transpose has no seqrun "
            r"layer$" % LOC,
            r"^seqrun-export: node lstm at %s \(y, _ = self\.lstm\(y\)\): module lstm \(LSTM\) is not "
            r"supported by seqrun$" % LOC,
            r"^seqrun-export: node gru at %s \(y, _ = self\.gru\(y\)\): module gru \(GRU\) is not supported "
            r"by seqrun$" % LOC,
            r"^seqrun-export: node mul at %s \(return y \* self\.scale\): operator\.mul uses self\.scale "
            r"directly; seqrun's layers keep their parameters inside modules" % LOC,
            r"^seqrun-export: 5 problems; nothing written$",
            r"^seqrun-export: seqrun supports: Linear, .*\bSequential\b"])
    refuse("refuse_sequential_every_module", "nn.Sequential(nn.LSTM(4, 4), nn.ReLU(), nn.GRU(4, 4))",
           [r"^seqrun-export: module 0 \(LSTM\) is not supported by seqrun$",
            r"^seqrun-export: module 2 \(GRU\) is not supported by seqrun$"])
    refuse("refuse_view_changing_batch", py_file("wrongview", "model = M.WrongView()\n"),
           [r"^seqrun-export: node view at %s \(x = x\.view\(-1, self\.flat\)\): makes samples of 200 values "
            r"from samples of 400 \(shape \[2, 16, 5, 5\]\): that changes the batch size" % LOC],
           args=["--input", "N,1,28,28"], count=(r"^seqrun-export: node ", 1))
    refuse("refuse_modulelist_advice", "nn.ModuleList([nn.Linear(2, 2), nn.ReLU()])",
           [r"^seqrun-export: the model is an nn\.ModuleList, which has no forward\(\); if its layers run one "
            r"after another, export nn\.Sequential\(\*layers\)$"])
    refuse("refuse_function_seqrun_lacks", py_file("lacks", "model = M.Functional()"),
           [r"^seqrun-export: node hardswish at %s \(x = F\.hardswish\(self\.stem\(x\)\)\): F\.hardswish would "
            r"be nn\.Hardswish, which seqrun does not support$" % LOC,
            r"^seqrun-export: seqrun supports: Linear, .*\bSequential\b"],
           env={"_seqrun": FAKE, "FAKE_SEQRUN_DROP": "Hardswish"}, args=["--input", "N,3,8,8"],
           count=(r"^seqrun-export: node ", 1))
    refuse("refuse_reshape_needs_input", py_file("needsinput", "model = M.Functional()"),
           [r"^seqrun-export: node group_norm at %s \(x = F\.group_norm\(x, 2\)\): nn\.GroupNorm needs "
            r"num_channels, the input's size in dimension 1: give --input$" % LOC,
            r"^seqrun-export: node squeeze at %s .*: x\.squeeze\(-1\) needs a known input shape: give --input$"
            % LOC], env={"_seqrun": FAKE}, count=(r"^seqrun-export: node ", 2))
    if tv is not None:
        refuse("refuse_torchvision_resnet18", "torchvision.models.resnet18()",
               [r"^seqrun-export: node add at .*torchvision/models/resnet\.py:[0-9]+ \(out \+= identity\): a "
                r"value used twice \(residual connection\)"],
               count=(r"a value used twice \(residual connection\)", 8))

    # ---- warnings, arguments ---------------------------------------------------------
    y = os.path.join(OUT, "drop.yaml")
    rc, err = cli(["--seqrun", SEQRUN, py_file("drop", "model = M.AlwaysDropout()"), "-o", y])
    try:
        check(rc == 0, "exit %s: %s" % (rc, err))
        check(re.search(r"^seqrun-export: warning: node dropout at %s .*: F\.dropout\(training=True\) is random "
                        r"in eval mode too; written as Dropout" % LOC, err, re.M), "no warning: %r" % err)
        report("ok", "warn_dropout_always_on")
    except Fail as f:
        report("FAIL", "warn_dropout_always_on", str(f))

    # ---- --state-dict -------------------------------------------------------------------
    for name, make, shape in (("net", M.Net, (2, 3, 32, 32)), ("simple", M.SimpleClassifier, (2, 20)),
                              ("minivgg", M.MiniVGG, (2, 3, 16, 16)), ("stack", M.Stack, (2, 8))):
        d = os.path.join(OUT, "sd_" + name)
        os.makedirs(d)
        torch.manual_seed(7)
        model = make()
        randomise_norms(model, torch.Generator().manual_seed(8))
        ys, ws = os.path.join(d, "m.yaml"), os.path.join(d, "m.safetensors")
        ex.export(model, ys, ws, REAL, ["N"] + list(shape[1:]), source=name, warn=lambda s: None)
        pt = os.path.join(d, "m.pt")
        torch.save(model.state_dict(), pt)
        os.rename(ws, ws + ".exported")
        rc, err = cli(["--state-dict", pt, ys])  # -w from the spec's weights:
        try:
            check(rc == 0, "exit %s: %s" % (rc, err))
            check(open(ws, "rb").read() == open(ws + ".exported", "rb").read(),
                  "the converted file differs from the one exported with the model")
            report("ok", "state_dict_" + name + "_same_bytes")
        except Fail as f:
            report("FAIL", "state_dict_" + name + "_same_bytes", str(f))
    # a checkpoint dict, a hand-written spec without comments
    d = os.path.join(OUT, "sd_hand")
    os.makedirs(d)
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 2), nn.BatchNorm1d(2)))
    torch.save({"epoch": 3, "model_state_dict": seq.state_dict()}, os.path.join(d, "ck.pt"))
    with open(os.path.join(d, "m.yaml"), "w") as f:
        f.write("layers:\n  - Linear: [3, 4]\n  - ReLU\n  - Sequential:\n    - Linear: {in_features: 4, "
                "out_features: 2}\n    - BatchNorm1d: 2\n")
    rc, err = cli(["--state-dict", os.path.join(d, "ck.pt"), os.path.join(d, "m.yaml"),
                   "-w", os.path.join(d, "w.safetensors")])
    try:
        check(rc == 0, "exit %s: %s" % (rc, err))
        check("took the state_dict under the checkpoint's key 'model_state_dict'" in err, "no note: %r" % err)
        st = read_safetensors(os.path.join(d, "w.safetensors"))
        sd = seq.state_dict()
        check(set(st) == set(sd), "keys %s" % sorted(st))
        check(all(st[k][2] == sd[k].numpy().tobytes() for k in sd), "bytes differ")
        check(st["2.1.num_batches_tracked"][0] == "I64", "num_batches_tracked is not I64")
        report("ok", "state_dict_checkpoint_hand_spec")
    except Fail as f:
        report("FAIL", "state_dict_checkpoint_hand_spec", str(f))
    # every key problem at once, nothing written
    bad = dict(seq.state_dict())
    del bad["0.bias"]
    bad["2.0.weight"] = torch.zeros(3, 4)
    bad["9.weight"] = torch.zeros(1)
    torch.save(bad, os.path.join(d, "bad.pt"))
    out = os.path.join(d, "bad.safetensors")
    rc, err = cli(["--state-dict", os.path.join(d, "bad.pt"), os.path.join(d, "m.yaml"), "-w", out])
    try:
        check(rc == 2, "exit %s: %s" % (rc, err))
        for pat in (r"m\.yaml:2:5: layer 0: missing key '0\.bias'$",
                    r"m\.yaml:5:7: layer 2\.0: '2\.0\.weight' has shape \[3, 4\], the spec's \[2, 4\]$",
                    r"bad\.pt: unexpected key '9\.weight' \(the spec has no layer for it\)$",
                    r"^seqrun-export: 3 problems; nothing written$"):
            check(re.search(pat, err, re.M), "no line matches /%s/:\n%s" % (pat, err))
        check(not os.path.exists(out), "a refused conversion wrote %s" % out)
        report("ok", "state_dict_key_errors_listed")
    except Fail as f:
        report("FAIL", "state_dict_key_errors_listed", str(f))
    return 0


if __name__ == "__main__":
    sys.exit(main())
