#!/usr/bin/python3
"""
gen_check.py - PyTorch's numbers for the --check report.

Run from anywhere (needs Debian's python3-torch and PyYAML):

    /usr/bin/python3 tests/gen_check.py

For every spec tests/check/NAME.yaml (valid models) it builds the
nn.Sequential with the real torch.nn constructors (tests/golden/gen.py's
builder), runs it layer by layer in eval mode, and writes
tests/check/NAME.torch with one line per module occurrence in state_dict
order (tab-separated):

    INDEX  TYPE  OUTPUT_SHAPE  PARAMS  REPR

then `total_params N`.  PARAMS is sum(p.numel() for p in mod.parameters())
for that module (a container: its subtree, each module once), REPR is
repr(mod) (a container: "Sequential"), and the total is the same sum over
the whole model, so a module used twice counts once.  OUTPUT_SHAPE is the
torch output's shape with the spec's named batch dimension followed
symbolically: the model runs at batch sizes 2 and 5, and a dimension d
that moves with the batch B is written k*B + c as seqrun prints it ("N",
"N*8", "N*2+1"), the others as numbers.  With NAME.args giving
--input-shape the shape is concrete and used as is.

For models/broken/NAME.yaml (models that do not fit their input, so no
full forward pass) it writes models/broken/NAME.torch the same way with "?"
for every shape: parameter counts and reprs need only the modules.  Then it
runs the model layer by layer on the spec's input (batch 2; NAME.args'
--input-shape if given) until PyTorch raises, and records where:

    torch_fails_at  INDEX  TYPE  INPUT_SHAPE      (or torch_runs  OUT_SHAPE)
    # torch: PyTorch's own message

tests/suite_check.sh compares these files with `seqrun --check --format
json`; it runs without Python.

Known, deliberate difference: a lazy module materialises into its full
class (LazyLinear into Linear, LazyConv2d into Conv2d, ...), so PyTorch's
repr after the forward pass starts "Linear("; seqrun prints the type the
spec names, so the recorded type and repr are renamed "LazyLinear(...)".
"""

import glob
import os
import sys
import warnings

import torch
import torch.nn as nn

warnings.filterwarnings("ignore")
torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "golden"))
from gen import build_model  # noqa: E402  (the YAML -> torch builder)


def params_of(mod):
    return sum(p.numel() for p in mod.parameters())


def type_of(mod):
    return getattr(mod, "_seqrun_lazy", None) or type(mod).__name__


def repr_of(mod):
    if isinstance(mod, nn.Sequential):
        return "Sequential"
    r = repr(mod)
    lazy = getattr(mod, "_seqrun_lazy", None)
    if lazy:
        assert r.startswith(lazy[len("Lazy"):] + "("), r
        r = lazy + r[len(lazy) - len("Lazy"):]
    return r


def occurrences(seq, prefix="", out=None):
    """(path, module) for every occurrence, containers included, in
    state_dict order (repeats kept, as seqrun's table lists them)."""
    out = [] if out is None else out
    for name, mod in seq._modules.items():
        out.append((prefix + name, mod))
        if isinstance(mod, nn.Sequential):
            occurrences(mod, prefix + name + ".", out)
    return out


def run_layers(seq, x, prefix, shapes):
    """Runs seq child by child, recording each occurrence's output shape."""
    for name, mod in seq._modules.items():
        path = prefix + name
        if isinstance(mod, nn.Sequential):
            x = run_layers(mod, x, path + ".", shapes)
        else:
            x = mod(x)
        shapes[path] = tuple(x.shape)
    return x


def first_leaf(seq):
    for _, mod in occurrences(seq):
        if not isinstance(mod, nn.Sequential):
            return mod
    return None


def make_input(model, shape):
    leaf = first_leaf(model)
    if isinstance(leaf, nn.Embedding):
        g = torch.Generator().manual_seed(0)
        return torch.randint(0, leaf.num_embeddings, shape, generator=g)
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def sym_dim(d2, d5, b2, b5, name):
    k = (d5 - d2) // (b5 - b2)
    c = d2 - k * b2
    assert k * b5 + c == d5, "dimension not affine in the batch size"
    if k == 0 or not name:
        return str(d2)
    t = name if k == 1 else "%s*%d" % (name, k)
    if c > 0:
        t += "+%d" % c
    elif c < 0:
        t += "-%d" % -c
    return t


def input_spec(top, args):
    """(shape with the free dim as None, free name or "")."""
    words = args.split()
    if "--input-shape" in words:
        dims = [int(v) for v in words[words.index("--input-shape") + 1].split(",")]
        assert -1 not in dims
        return dims, ""
    inp = list(top["input"])
    free = ""
    for i, v in enumerate(inp):
        if isinstance(v, str):
            free, inp[i] = v, None
    return inp, free


def gen_valid(path):
    name = os.path.splitext(path)[0]
    text = open(path).read()
    args = open(name + ".args").read() if os.path.exists(name + ".args") else ""
    model, top, _root = build_model(text)
    for mod in model.modules():
        if isinstance(mod, nn.modules.lazy.LazyModuleMixin):
            mod._seqrun_lazy = type(mod).__name__  # the class it is before it materialises
    model.eval()
    dims, free = input_spec(top, args)
    sizes = (2, 5) if None in dims else (None,)
    runs = []
    with torch.no_grad():
        for b in sizes:
            shape = [b if d is None else d for d in dims]
            shapes = {}
            run_layers(model, make_input(model, shape), "", shapes)
            runs.append(shapes)
    lines = []
    for p, mod in occurrences(model):
        if len(runs) == 1:
            out = "[%s]" % ",".join(str(d) for d in runs[0][p])
        else:
            s2, s5 = runs[0][p], runs[1][p]
            assert len(s2) == len(s5)
            out = "[%s]" % ",".join(sym_dim(a, c, 2, 5, free) for a, c in zip(s2, s5))
        lines.append("%s\t%s\t%s\t%d\t%s" % (p, type_of(mod), out, params_of(mod), repr_of(mod)))
    return lines, params_of(model)


def first_failure(seq, x, prefix=""):
    """Runs seq child by child until a layer raises: (path, type, input
    shape, message), or (None, x) when every layer ran."""
    for name, mod in seq._modules.items():
        path = prefix + name
        if isinstance(mod, nn.Sequential):
            r = first_failure(mod, x, path + ".")
            if r[0] is not None:
                return r
            x = r[1]
            continue
        try:
            y = mod(x)
        except Exception as e:  # what PyTorch says, for the record
            return path, type(mod).__name__, tuple(x.shape), str(e).splitlines()[0]
        x = y
    return None, x


def gen_broken(path):
    name = os.path.splitext(path)[0]
    args = open(name + ".args").read() if os.path.exists(name + ".args") else ""
    model, top, _root = build_model(open(path).read())
    model.eval()
    lines = ["%s\t%s\t?\t%d\t%s" % (p, type_of(mod), params_of(mod), repr_of(mod))
             for p, mod in occurrences(model)]
    # Where PyTorch itself stops, at batch size 2: seqrun's first layer
    # diagnostic must name the same layer and incoming shape.
    dims, _free = input_spec(top, args)
    shape = [2 if d is None else d for d in dims]
    with torch.no_grad():
        r = first_failure(model, make_input(model, shape))
    if r[0] is None:
        lines.append("torch_runs\t%s" % ",".join(str(d) for d in r[1].shape))
    else:
        lines.append("torch_fails_at\t%s\t%s\t%s" % (r[0], r[1], ",".join(str(d) for d in r[2])))
        lines.append("# torch: %s" % r[3])
    return lines, params_of(model)


def write(path, lines, total, what):
    out = os.path.splitext(path)[0] + ".torch"
    with open(out, "w") as f:
        f.write("# %s by tests/gen_check.py with torch %s; do not edit\n" % (what, torch.__version__))
        for ln in lines:
            f.write(ln + "\n")
        f.write("total_params %d\n" % total)
    return out


def main():
    n = 0
    for path in sorted(glob.glob(os.path.join(HERE, "check", "*.yaml"))):
        lines, total = gen_valid(path)
        write(path, lines, total, "shapes and parameter counts")
        n += 1
    for path in sorted(glob.glob(os.path.join(ROOT, "models", "broken", "*.yaml"))):
        lines, total = gen_broken(path)
        write(path, lines, total, "parameter counts")
        n += 1
    print("wrote %d .torch files" % n)


if __name__ == "__main__":
    main()
