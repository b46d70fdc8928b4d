#!/usr/bin/python3
"""seqrun-export - write a PyTorch model as a seqrun spec and weights.

usage:
  seqrun-export.py EXPR_OR_FILE -o MODEL.yaml [-w WEIGHTS.safetensors]
                   [--input D,D,...] [--seqrun PATH] [--no-verify]
  seqrun-export.py --state-dict M.pt MODEL.yaml [-w WEIGHTS.safetensors]
  seqrun-export.py --list [--seqrun PATH]

EXPR_OR_FILE is a Python expression that builds the model, evaluated with
`torch`, `nn`, `F` (torch.nn.functional) and, when installed, `torchvision`
in scope:

  seqrun-export.py "nn.Sequential(nn.Linear(4, 8), nn.ReLU())" -o m.yaml
  seqrun-export.py "torchvision.models.vgg11_bn()" -o vgg.yaml -w vgg.safetensors

or a .py file that leaves the model, trained weights loaded, in a variable
named `model` (it is run as a script, with its own directory on sys.path).

The model may be an nn.Sequential or any nn.Module whose forward() is a
single chain from its input to its output: it is traced with torch.fx, and
submodule calls, functional calls (F.relu, F.max_pool2d, F.interpolate,
F.pad, ...) and tensor methods (x.view(x.size(0), -1), x.flatten(1),
x.relu(), ...) become the equivalent seqrun layers.  Residual connections,
torch.cat, control flow on tensor values and modules seqrun lacks are
refused, every problem at once, each with its fx node and source line.

The spec lists each layer with keyword arguments, only those that differ
from PyTorch's defaults; nested Sequentials nest; a module with parameters
that appears more than once becomes a YAML anchor and aliases, as seqrun
shares it; each layer traced from a module carries a comment naming it
(`# self.conv1`), which --state-dict uses to map keys.  -w writes the
state_dict, keyed by the spec's indices, as safetensors (float tensors as F32,
integer buffers as I64, the values bit for bit) and names it in the spec's
`weights:`.  A tensor several keys share is stored once, the other keys
recorded in `__metadata__` as aliases the way safetensors' save_model writes
them.  `input:` is written from --input (e.g. --input N,3,32,32; N names the
batch dimension) or, failing that, when the first layer is a Linear.  A traced
model is checked before anything is written: the exported chain, run by
PyTorch, must give the model's own output on a random input of that shape
(--no-verify skips this).

--state-dict M.pt converts `torch.save(model.state_dict(), "M.pt")` into the
safetensors file a spec needs, without the model's code: every key of the
spec must be there with its shape (keys named as in the original model are
found through the spec's `# self.NAME` comments), and every key the spec does
not use is an error.  -w defaults to the spec's `weights:`.

The layers seqrun runs, their arguments and defaults are read from
`seqrun --list-layers --format json` (the binary from --seqrun PATH, else
$SEQRUN, else ./seqrun or the seqrun built next to this script, else seqrun
on PATH); a seqrun without --list-layers is asked for --help.  --list prints
the layer names.

Exit status: 0 written, 1 an I/O or evaluation error, 2 a usage error or a
model seqrun cannot run (nothing is written then).
"""

import argparse
import ast
import json
import math
import numbers
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

PROG = "seqrun-export"

# Constructor arguments that do not describe the module (factory arguments,
# private ones, deprecated aliases PyTorch keeps for old code).  Only the
# fallback layer list (a seqrun without --list-layers) needs this.
SKIP_ARGS = {"self", "device", "dtype", "_weight", "_freeze", "min_value", "max_value",
             "process_group"}

# Arguments where an int stands for the same int repeated, as PyTorch's
# _pair/_single do; written back as one int when all items agree.
REPEATING = {"kernel_size", "stride", "padding", "dilation", "output_size", "output_padding"}

# The layers of the seqrun that had no --list-layers (the fallback when the
# seqrun at hand predates it).  With --list-layers, seqrun's own list rules.
KNOWN = [
    "Linear", "LazyLinear", "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d",
    "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "BatchNorm1d", "BatchNorm2d",
    "LayerNorm", "Dropout", "Embedding", "Flatten", "Unflatten", "Identity",
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "SiLU", "Tanh", "Sigmoid",
    "Softplus", "Hardtanh", "Softmax", "LogSoftmax", "Sequential",
]

# How to read a constructor argument back from a module, where
# getattr(module, argument) does not give it.  Key: (layer, argument), with
# "*" for every layer.  Every other argument seqrun lists is read as
# getattr(module, name): PyTorch keeps nearly all of them under their own
# names.  A reader returns SKIP to leave the argument out (its default).
SKIP = object()


def _bias_flag(m):
    # Linear, Conv*, ConvTranspose* keep a Parameter or None; RNNCell and
    # GRUCell keep the flag itself
    b = m.bias
    return b if isinstance(b, bool) else b is not None


def _prelu_init(m):
    # PReLU's init survives only as the weight's fill value; the weights
    # themselves carry it when exported with -w
    w = m.weight.detach().flatten()
    return float(w[0]) if w.numel() and bool((w == w[0]).all()) else SKIP


ARG_READERS = {
    ("*", "bias"): _bias_flag,
    ("PReLU", "init"): _prelu_init,
    ("SyncBatchNorm", "process_group"): lambda m: SKIP,
}

# Function arguments that name a layer argument differently (function name,
# argument) -> layer argument.  (F.* and the layers mostly agree.)
FUNC_ARG_RENAMES = {}

# Functions whose name is not the layer's lowercased name.
FUNC_LAYER = {
    "interpolate": "Upsample", "upsample": "Upsample",
    "upsample_nearest": "UpsamplingNearest2d", "upsample_bilinear": "UpsamplingBilinear2d",
}

# Arguments a function-made layer gets beyond the function's own (a functional
# norm without weight tensors is the layer without affine parameters).
FUNC_FIXED_ARGS = {
    "layer_norm": {"elementwise_affine": False},
    "group_norm": {"affine": False},
}

# Layer arguments a function takes from its input's shape: (function,
# argument) -> the input's dimension that gives it.
FUNC_FROM_SHAPE = {
    ("group_norm", "num_channels"): 1,
}

# Function arguments no layer takes, ignored whatever their value.
FUNC_IGNORED = {"_stacklevel", "training"}

# Tensor methods that return their input's values unchanged (a float input stays float).
IDENTITY_METHODS = {"contiguous", "clone", "detach", "float", "requires_grad_"}


class Refused(Exception):
    """The model cannot be expressed for seqrun.  problems: every reason, one
    line each; footer: a last line (the supported layers)."""

    def __init__(self, problems, footer=None):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        self.footer = footer
        super().__init__("\n".join(self.problems))

    def lines(self):
        out = ["%s: %s" % (PROG, p) for p in self.problems]
        if len(self.problems) > 1:
            out.append("%s: %d problems; nothing written" % (PROG, len(self.problems)))
        if self.footer:
            out.append("%s: %s" % (PROG, self.footer))
        return out


# ---- which layers this seqrun runs -------------------------------------------

def find_seqrun(given):
    if given:
        return given
    if os.environ.get("SEQRUN"):
        return os.environ["SEQRUN"]
    for cand in (os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "seqrun"),
                 os.path.join(os.getcwd(), "seqrun")):
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return os.path.normpath(cand)
    return shutil.which("seqrun")


def parse_default(s):
    """A default as seqrun's list spells it (Python's spelling) -> a value."""
    if s is None:
        return None
    t = s.strip()
    special = {"inf": math.inf, "-inf": -math.inf, "math.inf": math.inf, "-math.inf": -math.inf,
               "float('inf')": math.inf, "float('-inf')": -math.inf, "nan": math.nan}
    if t in special:
        return special[t]
    try:
        return plain(ast.literal_eval(t))
    except (ValueError, SyntaxError):
        return t


REQUIRED = object()


class LayerTable:
    """The layers a seqrun runs: names in its order, and per layer its
    constructor arguments [(name, default or REQUIRED)], whether it takes
    any arguments at all (varargs) and its state_dict suffixes."""

    def __init__(self, names, layers=None, source=""):
        self.names = list(names)
        self._layers = layers  # name -> {"args": [...], "varargs": bool, "state": [...]} or None
        self.source = source

    def __contains__(self, name):
        return name in self.names

    def __iter__(self):
        return iter(self.names)

    def _entry(self, name):
        if self._layers is not None and name in self._layers:
            return self._layers[name]
        # fallback: torch's own constructor signature
        import inspect
        import torch
        cls = getattr(torch.nn, name)
        args, varargs = [], False
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                varargs = True
                continue
            if p.name in SKIP_ARGS:
                continue
            args.append((p.name, REQUIRED if p.default is p.empty else plain(p.default)))
        e = {"args": args, "varargs": varargs and name == "Identity", "state": None}
        if self._layers is None:
            self._layers = {}
        self._layers[name] = e
        return e

    def args(self, name):
        return self._entry(name)["args"]

    def varargs(self, name):
        return self._entry(name)["varargs"]

    def arg_names(self, name):
        return [a for a, _ in self.args(name)]


def seqrun_json(seqrun):
    """seqrun --list-layers --format json as a LayerTable, or None when this
    seqrun has no --list-layers."""
    try:
        p = subprocess.run([seqrun, "--list-layers", "--format", "json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, check=False)
    except OSError as e:
        raise SystemExit("%s: cannot run %s: %s" % (PROG, seqrun, e.strerror))
    if p.returncode != 0:
        return None
    try:
        doc = json.loads(p.stdout.decode())
        names, layers = [], {}
        for L in doc["layers"]:
            args = [(a["name"], REQUIRED if a.get("default") is None else parse_default(a["default"]))
                    for a in L.get("args", [])]
            names.append(L["name"])
            layers[L["name"]] = {"args": args, "varargs": bool(L.get("varargs")),
                                 "state": [s["name"] for s in L.get("state", [])]}
    except (ValueError, KeyError, TypeError) as e:
        raise SystemExit("%s: %s --list-layers --format json printed no layer list I can read (%s)"
                         % (PROG, seqrun, e))
    return LayerTable(names, layers, "%s --list-layers" % seqrun)


def seqrun_help_layers(seqrun):
    """The names after 'layers:' in `seqrun --help`."""
    try:
        out = subprocess.run([seqrun, "--help"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, check=False).stdout.decode()
    except OSError as e:
        raise SystemExit("%s: cannot run %s --help: %s" % (PROG, seqrun, e.strerror))
    names, inside = [], False
    for line in out.splitlines():
        if line.strip() == "layers:":
            inside = True
        elif inside and line.startswith(" ") and line.strip():
            names += line.split()
        elif inside:
            break
    if not names:
        raise SystemExit("%s: %s --help lists no layers; is it seqrun?" % (PROG, seqrun))
    return names


def layer_table(seqrun):
    """The LayerTable of this seqrun: its --list-layers JSON, else (an older
    seqrun) the names its --help lists that this script knew, with torch's
    constructor signatures; without any seqrun, every layer in KNOWN."""
    if not seqrun:
        return LayerTable(KNOWN, None, "built in")
    t = seqrun_json(seqrun)
    if t is not None:
        return t
    listed = seqrun_help_layers(seqrun)
    return LayerTable([n for n in KNOWN if n in listed], None, "%s --help" % seqrun)


def supported_set(seqrun):
    """The layer names this seqrun runs (tests use it)."""
    return layer_table(seqrun).names


def as_table(supported):
    if isinstance(supported, LayerTable):
        return supported
    if supported is None:
        return LayerTable(KNOWN, None, "built in")
    return LayerTable(list(supported), None, "given")


# ---- YAML writing ------------------------------------------------------------

def yscalar(v):
    """v as a YAML 1.2 core-schema scalar that seqrun reads back unchanged."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return ".nan"
        if v in (float("inf"), float("-inf")):
            return ".inf" if v > 0 else "-.inf"
        return repr(v)  # the shortest spelling that reads back exactly: 1e-05, 0.1
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(yscalar(x) for x in v) + "]"
    raise TypeError(type(v))


def plain(v):
    """A module attribute (a torch.Size, a tuple, a NumPy scalar someone
    passed to a constructor) as plain Python lists, ints and floats."""
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        return float(v)
    return v


def collapse(name, v):
    """(3, 3) as 3 for the arguments PyTorch expands from an int anyway."""
    if name in REPEATING and isinstance(v, list) and v and all(x == v[0] for x in v) \
            and not isinstance(v[0], list):
        return v[0]
    return v


# ---- module description ------------------------------------------------------

def base_type(m, nn):
    """The torch.nn class whose forward m runs, or None.  A subclass counts
    as its base class only if it keeps the base's forward; anything else
    computes something seqrun cannot know."""
    for cls in type(m).__mro__:
        if getattr(nn, cls.__name__, None) is cls and cls.__module__.startswith("torch.nn"):
            if cls is nn.Module:
                return None
            if type(m).forward is not cls.forward:
                return None
            return cls
    return None


def same(v, d):
    """Is the module's value v PyTorch's default d?  1 == 1.0 (Softplus's
    beta=1 default, given as 1.0), but True is not 1 and None is only None."""
    if v is None or d is None:
        return v is d
    if isinstance(v, bool) != isinstance(d, bool):
        return False
    if isinstance(v, float) and isinstance(d, float) and v != v and d != d:
        return True
    return v == d


def module_args(m, name, path, table):
    """[(name, value)] of m's constructor arguments that differ from the
    defaults, read generically from the attributes named as seqrun names the
    arguments (ARG_READERS for the exceptions).  Raises Refused."""
    if name in ("Identity", "Sequential") or table.varargs(name):
        return []
    out = []
    for arg, default in table.args(name):
        reader = ARG_READERS.get((name, arg)) or ARG_READERS.get(("*", arg))
        if reader is not None:
            v = reader(m)
            if v is SKIP:
                continue
        elif hasattr(m, arg):
            v = getattr(m, arg)
        else:
            raise Refused("module %s (%s): cannot read its argument '%s' (PyTorch keeps no attribute "
                          "of that name; add a reader to ARG_READERS in seqrun-export.py)"
                          % (path, name, arg))
        v = collapse(arg, plain(v))
        if arg == "stride" and "Pool" in name and v == collapse("kernel_size", plain(m.kernel_size)):
            v = default if default is not REQUIRED else v  # PyTorch stores stride=None as kernel_size
        if name in ("Softmax", "LogSoftmax", "Softmin") and arg == "dim" and v is None:
            raise Refused("module %s (%s) has dim=None, which PyTorch guesses from the input's rank; "
                          "seqrun needs it: construct it as nn.%s(dim=...)" % (path, name, name))
        if arg == "return_indices" and v:
            raise Refused("module %s (%s) has return_indices=True: it returns a tuple, which "
                          "seqrun cannot pass on" % (path, name))
        if name == "Unflatten" and arg == "unflattened_size" and any(isinstance(x, list) for x in v):
            raise Refused("module %s (Unflatten) names its dimensions; seqrun has no named tensors" % path)
        if default is not REQUIRED and same(v, collapse(arg, default)):
            continue
        out.append((arg, v))
    return out


def has_state(m):
    return any(True for _ in m.state_dict().keys())


class Exporter:
    """Writes the layer items of an nn.Sequential, collecting every problem."""

    def __init__(self, model, table, nn, comments=None):
        self.nn = nn
        self.table = table
        self.lines = []
        self.problems = []
        self.unsupported = False
        self.comments = comments or {}  # top-level index -> comment
        self.count = {}   # id(module) -> occurrences, as seqrun will see them
        self.anchor = {}  # id(module) -> anchor name, once its first item is written
        self._count(model)

    def _count(self, seq):
        for m in seq._modules.values():
            if m is None:
                continue
            seen = id(m) in self.count
            self.count[id(m)] = self.count.get(id(m), 0) + 1
            if not seen and isinstance(m, self.nn.Sequential):
                self._count(m)  # an alias of a block reuses the block: not walked again

    def check(self, m, path):
        """m's torch.nn class if seqrun runs it, else None (a problem noted)."""
        nn = self.nn
        if m is None:
            self.problems.append("module %s is None; seqrun needs a layer there" % path)
            return None
        cls = base_type(m, nn)
        tname = type(m).__name__
        if isinstance(m, (nn.ModuleList, nn.ModuleDict)):
            self.problems.append("module %s is an nn.%s, which has no forward(); if its layers run one "
                                 "after another, use nn.Sequential(*%s)"
                                 % (path, tname, "layers" if tname == "ModuleList" else "d.values()"))
            return None
        if cls is None:
            parent = next((c for c in type(m).__mro__[1:]
                           if getattr(nn, c.__name__, None) is c and c is not nn.Module), None)
            if parent is not None:
                self.problems.append("module %s (%s, a subclass of %s) overrides forward(), which seqrun "
                                     "cannot run" % (path, tname, parent.__name__))
            else:
                self.problems.append("module %s (%s) is not a torch.nn layer seqrun runs" % (path, tname))
                self.unsupported = True
            return None
        if cls.__name__ not in self.table:
            what = tname if cls.__name__ == tname else "%s, a %s" % (tname, cls.__name__)
            self.problems.append("module %s (%s) is not supported by seqrun" % (path, what))
            self.unsupported = True
            return None
        lazy = isinstance(m, nn.modules.lazy.LazyModuleMixin) and m.has_uninitialized_params()
        # a lazy module's own hooks materialise it; anyone else's change its output
        if (m._forward_hooks or m._forward_pre_hooks) and not lazy:
            self.problems.append("module %s (%s) has forward hooks, which seqrun cannot run" % (path, tname))
            return None
        return cls

    def item(self, m, path, indent, comment=None):
        """Appends the layer list item for m at path."""
        pad = " " * indent
        tail = "  # " + comment if comment else ""
        key = id(m)
        if key in self.anchor:
            self.lines.append("%s- *%s%s" % (pad, self.anchor[key], tail))
            return
        cls = self.check(m, path)
        if cls is None:
            return
        name = cls.__name__
        anchor = ""
        if self.count.get(key, 0) > 1 and has_state(m):
            self.anchor[key] = "m" + path.replace(".", "_")
            anchor = "&" + self.anchor[key]
        if name == "Sequential":
            kids = list(m._modules.values())
            if not kids:
                self.lines.append("%s- %s{Sequential: []}%s" % (pad, anchor + " " if anchor else "", tail))
                return
            if anchor:
                # the anchor on a line of its own belongs to the mapping below
                self.lines.append("%s- %s%s" % (pad, anchor, tail))
                self.lines.append("%s  Sequential:" % pad)
            else:
                self.lines.append("%s- Sequential:%s" % (pad, tail))
            for k, c in enumerate(kids):
                self.item(c, "%s.%d" % (path, k), indent + 4)
            return
        try:
            if name == "LazyLinear" and getattr(m, "in_features", 0):
                name = "Linear"  # materialised (PyTorch normally swaps the class itself)
                args = [("in_features", m.in_features), ("out_features", m.out_features)]
                if m.bias is None:
                    args.append(("bias", False))
            else:
                args = module_args(m, name, path, self.table)
        except Refused as e:
            self.problems += e.problems
            return
        body = "{%s}" % ", ".join("%s: %s" % (k, yscalar(v)) for k, v in args)
        if anchor:
            self.lines.append("%s- %s {%s: %s}%s" % (pad, anchor, name, body, tail))
        elif args:
            self.lines.append("%s- %s: %s%s" % (pad, name, body, tail))
        else:
            self.lines.append("%s- %s%s" % (pad, name, tail))


def sequential_problems(seq, table, nn):
    """Every problem the direct path finds in an nn.Sequential (empty: it exports)."""
    ex = Exporter(seq, table, nn)
    for k, m in enumerate(seq._modules.values()):
        ex.item(m, str(k), 2)
    return ex.problems


def first_leaf(seq, nn):
    for m in seq._modules.values():
        if isinstance(m, nn.Sequential):
            r = first_leaf(m, nn)
            if r is not None:
                return r
            continue
        return m
    return None


def implied_input(seq, nn):
    """The input shape the first layer fixes ([N, in_features] for a Linear), or None."""
    m = first_leaf(seq, nn)
    if m is None:
        return None
    cls = base_type(m, nn)
    if cls is not None and cls.__name__ in ("Linear", "LazyLinear") and getattr(m, "in_features", 0):
        return ["N", int(m.in_features)]
    return None


def spec_text(model, table, nn, weights=None, input_shape=None, source=None, comments=None,
              input_note=None):
    if base_type(model, nn) is not nn.Sequential:
        raise Refused("the model is a %s, not an nn.Sequential" % type(model).__name__)
    if model._forward_hooks or model._forward_pre_hooks:
        raise Refused("the model has forward hooks, which seqrun cannot run")
    ex = Exporter(model, table, nn, comments)
    for k, m in enumerate(model._modules.values()):
        ex.item(m, str(k), 2, (comments or {}).get(k))
    if ex.problems:
        raise Refused(ex.problems, "seqrun supports: " + ", ".join(table.names) if ex.unsupported else None)
    src = " ".join(source.split()) if source else ""
    head = ["# written by seqrun-export" + (" from: " + (src if len(src) <= 150 else src[:147] + "...")
                                            if src else "")]
    if input_shape:
        # a name (N) is the free batch dimension: a plain scalar, as people write it
        head.append("input: [" + ", ".join(str(d) for d in input_shape) + "]"
                    + ("  # " + input_note if input_note else ""))
    if weights:
        head.append("weights: " + yscalar(weights))
    if ex.lines:
        return "\n".join(head + ["layers:"] + ex.lines) + "\n"
    return "\n".join(head + ["layers: []"]) + "\n"


# ---- tracing a chain with torch.fx -------------------------------------------

class Where:
    """Where an fx node came from: file, line, the source text."""

    def __init__(self, node=None, frame=None):
        self.file = self.line = self.code = None
        if frame is not None:
            self.file, self.line, self.code = frame
        elif node is not None and node.stack_trace:
            self.file, self.line, self.code = user_frame_from_text(node.stack_trace)

    def text(self):
        if self.file is None:
            return ""
        return "%s:%d" % (show_path(self.file), self.line)


def show_path(p):
    try:
        r = os.path.relpath(p)
        return r if not r.startswith("..") else p
    except ValueError:
        return p


def _not_ours(filename):
    import torch
    tdir = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep
    f = os.path.abspath(filename)
    return not f.startswith(tdir) and f != os.path.abspath(__file__) and not filename.startswith("<frozen")


def user_frame_from_text(st):
    """The innermost frame outside torch and this script in fx's stack_trace
    text (torch 1.13 lists the innermost frame first)."""
    frames = re.findall(r'File "([^"]+)", line (\d+), in [^\n]*\n(?:    ([^\n]*)\n)?', st)
    for f, ln, code in frames:
        if _not_ours(f):
            return f, int(ln), (code or "").strip()
    return None, None, None


def node_label(node):
    w = Where(node)
    s = "node %s" % node.name
    if w.file:
        s += " at %s" % w.text()
    if w.code:
        s += " (%s)" % (w.code if len(w.code) <= 80 else w.code[:77] + "...")
    return s


class Unresolved(Exception):
    pass


def _unpacking_proxy():
    import dis
    import inspect
    import torch.fx as fx

    class UnpackingProxy(fx.Proxy):
        """`y, _ = self.lstm(x)` unpacks a proxy: fx 1.13 finds the unpack
        instruction by f_lasti // 2, which Python 3.11's hidden cache entries
        break; this finds it by its offset."""

        def __iter__(self):
            frame = inspect.currentframe().f_back
            for inst in dis.get_instructions(frame.f_code):
                if inst.offset == frame.f_lasti:
                    if inst.opname == "UNPACK_SEQUENCE":
                        return (self[i] for i in range(inst.argval))
                    break
            return self.tracer.iter(self)
    return UnpackingProxy


class _LazyProxy:
    cls = None

    def __call__(self, node, tracer):
        if _LazyProxy.cls is None:
            _LazyProxy.cls = _unpacking_proxy()
        return _LazyProxy.cls(node, tracer)


UnpackingProxy = _LazyProxy()


class Chain:
    """Traces model with torch.fx and turns the chain into an nn.Sequential
    of torch.nn modules (the model's own modules, and new ones for functional
    calls), with a comment for each top-level item."""

    def __init__(self, model, table, input_shape, warn):
        import torch
        import torch.fx as fx
        self.torch = torch
        self.fx = fx
        self.nn = torch.nn
        self.model = model
        self.table = table
        self.input_shape = input_shape
        self.warn = warn
        self.problems = []
        self.unsupported = False
        self.shapes = {}   # node -> tuple shape, from a concrete run
        self.values = {}   # node -> small non-tensor value (ints, sizes)
        self.random_in_eval = False

    # -- tracing
    def tracer(self):
        nn, fx = self.nn, self.fx
        table = self.table
        chain = self

        class ChainTracer(fx.Tracer):
            def __init__(self):
                super().__init__()
                self.record_stack_traces = True

            def proxy(self, node):
                return UnpackingProxy(node, self)

            def is_leaf_module(self, m, qualname):
                cls = base_type(m, nn)
                if cls is None:
                    # a torch.nn layer's subclass with its own forward(): refused
                    # as a whole (tracing into it would only show its innards)
                    return not isinstance(m, nn.Sequential) and any(
                        getattr(nn, c.__name__, None) is c for c in type(m).__mro__[1:]
                        if c is not nn.Module and c.__module__.startswith("torch.nn"))
                if cls is nn.Sequential:
                    # a Sequential seqrun runs as it is stays one nested item
                    return not m._forward_hooks and not m._forward_pre_hooks and \
                        not sequential_problems(m, table, nn)
                return True



        del chain
        return ChainTracer()

    def trace(self):
        import inspect
        import traceback
        nn = self.nn
        m = self.model
        if type(m).forward is nn.Module.forward:
            raise Refused(self.no_forward_advice(m))
        sig = inspect.signature(m.forward)
        params = [p for p in sig.parameters.values()]
        tensor_params = [p for p in params if p.default is p.empty
                         and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if len(tensor_params) != 1:
            raise Refused("%s.forward takes %d inputs without defaults (%s); seqrun's models take one tensor"
                          % (type(m).__name__, len(tensor_params), ", ".join(p.name for p in tensor_params)))
        concrete = {p.name: p.default for p in params
                    if p.default is not p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        tr = self.tracer()
        try:
            graph = tr.trace(m, concrete_args=concrete or None)
        except Exception as e:  # fx's own errors, explained
            frames = [f for f in traceback.extract_tb(e.__traceback__) if _not_ours(f.filename)]
            fr = frames[-1] if frames else None
            where = ("%s:%d in %s (%s): " % (show_path(fr.filename), fr.lineno, fr.name, (fr.line or "").strip())
                     if fr else "")
            msg = str(e).split("\n")[0]
            if "cannot be used as inputs to control flow" in msg:
                raise Refused("%sforward() branches on a tensor's value (data-dependent control flow; "
                              "torch.fx: %s), and seqrun runs one fixed chain of layers; a branch on "
                              "x.shape or x.dim() is the same to torch.fx: take the branch out of "
                              "forward() or export the branch you want as its own module" % (where, msg))
            raise Refused("%storch.fx cannot trace forward() (%s: %s); seqrun runs one fixed chain of "
                          "layers, so forward() must be one" % (where, type(e).__name__, msg))
        self.graph = graph
        self.gm = self.fx.GraphModule(tr.root, graph)
        return graph

    def no_forward_advice(self, m, nn=None):
        nn = nn or self.nn
        if isinstance(m, nn.ModuleList):
            return ("the model is an nn.ModuleList, which has no forward(); if its layers run one after "
                    "another, export nn.Sequential(*layers)")
        if isinstance(m, nn.ModuleDict):
            return ("the model is an nn.ModuleDict, which has no forward(); if its layers run one after "
                    "another, export nn.Sequential(*d.values())")
        return "the model (%s) has no forward()" % type(m).__name__

    # -- a concrete run: shapes for reshapes, checks
    def example_input(self, shape, first):
        torch = self.torch
        gen = torch.Generator().manual_seed(0)
        dims = [2 if isinstance(d, str) or d == -1 else int(d) for d in shape]
        cls = base_type(first, self.nn) if first is not None else None
        if cls is not None and cls.__name__ in ("Embedding", "EmbeddingBag"):
            return torch.randint(0, first.num_embeddings, dims, generator=gen)
        return torch.randn(dims, generator=gen)

    def record(self, x):
        torch, fx = self.torch, self.fx
        shapes, values = self.shapes, self.values

        class Rec(fx.Interpreter):
            def run_node(self, n):
                r = super().run_node(n)
                if isinstance(r, torch.Tensor):
                    shapes[n] = tuple(r.shape)
                elif isinstance(r, (int, float, bool, torch.Size, tuple, list)):
                    values[n] = r
                return r

        with torch.no_grad():
            Rec(self.gm).run(x)

    # -- the graph
    def is_shape_node(self, n):
        """Does n compute a shape (an int, a size) rather than a tensor?"""
        import operator
        if n.op == "call_method" and n.target in ("size", "dim"):
            return True
        if n.op == "call_function" and n.target is getattr and len(n.args) > 1 and \
                n.args[1] in ("shape", "ndim", "dtype", "device", "is_cuda"):
            return True
        if n.op == "call_function" and n.target in (operator.getitem, operator.mul, operator.add,
                                                     operator.sub, operator.floordiv, len):
            ins = [a for a in n.all_input_nodes]
            return bool(ins) and all(self.is_shape_node(a) for a in ins)
        return False

    def rewrite_inplace(self, graph):
        """x.relu_() / F.relu(x, inplace=True) / self.act(x) with inplace=True
        whose result is dropped: later uses of x mean the mutated value."""
        order = {n: i for i, n in enumerate(graph.nodes)}
        for n in list(graph.nodes):
            inplace = (n.op == "call_method" and isinstance(n.target, str) and n.target.endswith("_")
                       and not n.target.startswith("_")) or n.kwargs.get("inplace") is True
            if n.op == "call_module":
                sub = self.gm.get_submodule(n.target)
                inplace = getattr(sub, "inplace", False) is True
            if not inplace or not n.args or not isinstance(n.args[0], self.fx.Node):
                continue
            x = n.args[0]
            for u in list(x.users):
                if u is not n and order[u] > order[n] and not self.is_shape_node(u):
                    u.replace_input_with(x, n)

    def prune(self, graph):
        """Drops what fx adds for concrete arguments and what nothing uses."""
        import torch.fx._symbolic_trace as st
        for n in reversed(list(graph.nodes)):
            if n.op == "call_function" and n.target in (getattr(st, "_assert_is_none", None),):
                graph.erase_node(n)
        changed = True
        while changed:
            changed = False
            for n in reversed(list(graph.nodes)):
                if n.op in ("output", "placeholder") or n.users:
                    continue
                graph.erase_node(n)
                changed = True

    def build(self):
        """-> (nn.Sequential, {index: comment}).  Raises Refused."""
        nn, fx = self.nn, self.fx
        graph = self.trace()
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        x0 = placeholders[0]
        # a concrete run first (before rewriting): shapes for reshapes
        shape = self.input_shape or self.guess_input(graph, x0)
        self.run_shape = shape
        if shape:
            first = self.first_module(graph, x0)
            try:
                self.record(self.example_input(shape, first))
            except Exception as e:
                raise Refused("the model fails on a random input of shape [%s]: %s: %s"
                              % (", ".join(str(d) for d in shape), type(e).__name__,
                                 str(e).split("\n")[0]))
        self.rewrite_inplace(graph)
        self.prune(graph)
        # walk the chain
        items = []        # (module, comment, origin path or None)
        cur = x0
        order = list(graph.nodes)
        tensor_nodes = [n for n in order if n.op not in ("placeholder", "output", "get_attr")
                        and not self.is_shape_node(n)]
        out = next(n for n in order if n.op == "output")
        bad = set()
        for n in tensor_nodes:
            ins = self.tensor_inputs(n)
            params = [a for a in n.all_input_nodes if a.op == "get_attr"]
            if len(ins) > 1:
                self.problems.append(self.join_message(n, ins))
                bad.add(n)
                continue
            if not ins:
                if any(a in bad for a in n.all_input_nodes):
                    continue
                self.problems.append("%s: computes a tensor that does not come from the input (%s); "
                                     "seqrun's layers take only the previous layer's output"
                                     % (node_label(n), self.what(n)))
                bad.add(n)
                continue
            if ins[0] in bad:
                bad.add(n)
                if n.op == "call_function" and n.target.__name__ == "getitem":
                    continue  # the tuple of a refused module, say
            if params:
                what = self.what(n)
                short = what.split(".")[-1].rstrip("()")
                cls = [c for c in dir(self.nn) if c.lower() == short.replace("_", "").lower()]
                advice = ("use nn.%s, which keeps them" % cls[0]) if cls else "no seqrun layer does this"
                self.problems.append("%s: %s uses %s directly; seqrun's layers keep their parameters "
                                     "inside modules: %s"
                                     % (node_label(n), what, ", ".join("self." + p.target for p in params),
                                        advice))
                bad.add(n)
                continue
            try:
                made = self.map_node(n, ins[0])
            except Refused as e:
                lab = node_label(n)
                if n.op == "call_module" and " at " not in lab:
                    lab = None  # inside Sequential.forward: the module's name says it
                self.problems += ["%s: %s" % (lab, p) if lab else p for p in e.problems]
                bad.add(n)
                continue
            items += made
        # the output: one tensor, the end of the chain
        res = out.args[0]
        if not isinstance(res, fx.Node):
            n_out = len(res) if isinstance(res, (tuple, list, dict)) else 0
            self.problems.append("forward() returns %s; seqrun's models return one tensor"
                                 % ("%d values" % n_out if n_out else "no tensor"))
        elif res.op == "placeholder" and res is not x0:
            self.problems.append("forward() returns an argument other than its input")
        elif not self.problems:
            # every branch ends in a join (reported above) or in the output;
            # this is a safety net for anything else that branches
            for n in [x0] + tensor_nodes:
                users = [u for u in n.users if not self.is_shape_node(u) and u.op != "output"]
                uses = len(users) + (1 if n is res else 0)
                if uses > 1 and not any(u in bad for u in users):
                    self.problems.append("%s: its value is used %d times; seqrun runs chains only"
                                         % (node_label(n) if n is not x0 else "the input", uses))
        if self.problems:
            raise Refused(self.problems,
                          "seqrun supports: " + ", ".join(self.table.names) if self.unsupported else None)
        # a single Sequential call is that Sequential
        if len(items) == 1 and isinstance(items[0][0], nn.Sequential) and items[0][2]:
            seq, _, origin = items[0]
            kids = list(seq._modules.items())
            mods = [m for _, m in kids]
            comments = {i: "self.%s.%s" % (origin, k) for i, (k, m) in enumerate(kids) if has_state(m)}
            return nn.Sequential(*mods), comments
        seq = nn.Sequential(*[m for m, _, _ in items])
        comments = {i: c for i, (_, c, _) in enumerate(items) if c}
        return seq, comments

    def guess_input(self, graph, x0):
        first = self.first_module(graph, x0)
        if first is None:
            return None
        if isinstance(first, self.nn.Sequential):
            first = first_leaf(first, self.nn)
        cls = base_type(first, self.nn) if first is not None else None
        if cls is not None and cls.__name__ in ("Linear",) and getattr(first, "in_features", 0):
            return ["N", int(first.in_features)]
        return None

    def first_module(self, graph, x0):
        users = [u for u in x0.users if not self.is_shape_node(u)]
        if len(users) == 1 and users[0].op == "call_module":
            m = self.gm.get_submodule(users[0].target)
            return first_leaf(m, self.nn) if isinstance(m, self.nn.Sequential) else m
        return None

    def tensor_inputs(self, n):
        return [a for a in n.all_input_nodes if a.op not in ("get_attr",) and not self.is_shape_node(a)]

    def what(self, n):
        if n.op == "call_module":
            return "self." + n.target
        if n.op == "call_method":
            return "x.%s()" % n.target
        if n.op == "get_attr":
            return "self." + n.target
        return func_name(n.target)

    def join_message(self, n, ins):
        fname = func_name(n.target) if n.op == "call_function" else (n.target if n.op == "call_method" else "")
        short = fname.split(".")[-1]
        if short in ("add", "iadd", "sub", "isub", "mul", "imul", "truediv", "div") or \
                (n.op == "call_method" and n.target in ("add", "add_", "sub", "mul", "div")):
            return ("%s: a value used twice (residual connection); seqrun runs chains only"
                    % node_label(n))
        if short in ("cat", "concat", "stack", "hstack", "vstack", "dstack"):
            return ("%s: %s joins %d tensors; seqrun runs chains only and has no concatenation"
                    % (node_label(n), fname, len(ins)))
        return ("%s: %s takes %d tensors computed from the input; seqrun runs chains only"
                % (node_label(n), self.what(n), len(ins)))

    # -- one node
    def map_node(self, n, x):
        """[(module, comment, origin)] for node n whose tensor input is x."""
        nn = self.nn
        if n.op == "call_module":
            m = self.gm.get_submodule(n.target)
            ex = Exporter(nn.Sequential(m), self.table, nn)
            cls = ex.check(m, n.target)
            if cls is None:
                self.unsupported |= ex.unsupported
                raise Refused(ex.problems)
            if cls is not nn.Sequential:
                module_args(m, cls.__name__, n.target, self.table)  # its refusals
            return [(m, "self." + n.target, n.target)]
        if n.op == "call_method":
            return self.map_call(n, x, n.target, "x." + n.target, method=True)
        if n.op == "call_function":
            fname = func_name(n.target)
            return self.map_call(n, x, fname.split(".")[-1], fname)
        raise Refused("fx node kind %s is not a layer" % n.op)

    def map_call(self, n, x, name, shown, method=False):
        import operator
        nn = self.nn
        where = Where(n)
        note = shown + (" at %s" % where.text() if where.file else "")
        short = name[:-1] if name.endswith("_") and not name.startswith("_") else name
        if n.op == "call_function" and n.target in (operator.getitem,):
            raise Refused("indexes a tensor (x[...]); seqrun has no slicing layer")
        if n.op == "call_function" and getattr(n.target, "__module__", "") == "_operator":
            raise Refused("%s, which no seqrun layer does (seqrun's layers are torch.nn modules)"
                          % {"add": "adds a constant (x + c)", "iadd": "adds a constant (x += c)",
                             "mul": "multiplies by a constant (x * c)",
                             "imul": "multiplies by a constant (x *= c)",
                             "sub": "subtracts a constant (x - c)", "truediv": "divides by a constant (x / c)",
                             "neg": "negates (-x)", "pow": "raises to a power (x ** c)"}.get(
                                 short, "computes operator." + short))
        if method and short in IDENTITY_METHODS:
            return []
        if method and short == "to":
            rest = list(n.args[1:]) + list(n.kwargs.values())
            if all(r is self.torch.float32 or isinstance(r, (str, self.torch.device)) or r is False
                   for r in rest):
                return []
            raise Refused("x.to(...) changes the dtype; seqrun computes in float32")
        if short in ("view", "reshape"):
            return self.map_reshape(n, x, note)
        if short in ("cat", "concat", "stack"):
            raise Refused("%s of a single tensor %s; seqrun has no concatenation: remove the call"
                          % (shown, "copies it" if short != "stack" else "adds a dimension"))
        if short == "unflatten":
            a = self.call_args(n, ["input", "dim", "sizes"])
            return [(nn.Unflatten(a["dim"], tuple(a["sizes"])), note, None)]
        if short in ("squeeze", "unsqueeze"):
            return self.map_squeeze(n, x, short, note)
        if short in ("mean", "amax"):
            return self.map_reduce(n, x, short, note)
        if short in ("clamp", "clip", "clamp_min"):
            return self.map_clamp(n, short, note)
        if short == "pad":
            return self.map_pad(n, note)
        layer = self.layer_for(short)
        if layer is None:
            torch_has = [c for c in dir(nn) if c.lower() == short.replace("_", "").lower()]
            if torch_has and torch_has[0] not in self.table:
                self.unsupported = True
                raise Refused("%s would be nn.%s, which seqrun does not support" % (shown, torch_has[0]))
            raise Refused("%s has no seqrun layer" % shown)
        if layer not in self.table:
            self.unsupported = True
            raise Refused("%s would be nn.%s, which seqrun does not support" % (shown, layer))
        kw = self.normalized(n, method)
        kw.pop(next(iter(kw)), None)  # the input tensor
        lay_args = set(self.table.arg_names(layer)) | set(self.torch_arg_names(layer))
        args = dict(FUNC_FIXED_ARGS.get(short, {}))
        for k, v in kw.items():
            if k == "inplace":
                continue  # in-place or not, the value that flows on is the same
            k2 = FUNC_ARG_RENAMES.get((short, k), k)
            v = self.resolve(v, n)
            if k == "training" and short.startswith(("dropout", "alpha_dropout", "feature_alpha_dropout",
                                                     "rrelu")) and v is True:
                self.warn("%s: %s(training=True) is random in eval mode too; written as %s, which "
                          "seqrun applies only under --train (use training=self.training)"
                          % (node_label(n), shown, layer))
                self.random_in_eval = True  # nothing to compare the chain with
            if k2 in lay_args:
                if k2 == "stride" and v == []:
                    v = None  # the schema's "same as kernel_size"
                args[k2] = tuplify(v)
            elif k in FUNC_IGNORED or v is None or v is False:
                continue
            else:
                raise Refused("%s(%s=%r) has no seqrun equivalent (nn.%s takes no %s)"
                              % (shown, k, v, layer, k))
        for arg, default in self.table.args(layer):
            if arg not in args and default is REQUIRED and (short, arg) in FUNC_FROM_SHAPE:
                shp = self.shape(x)
                if shp is None:
                    raise Refused("nn.%s needs %s, the input's size in dimension %d: give --input"
                                  % (layer, arg, FUNC_FROM_SHAPE[(short, arg)]))
                args[arg] = shp[FUNC_FROM_SHAPE[(short, arg)]]
        if layer in ("Softmax", "LogSoftmax", "Softmin") and args.get("dim") is None:
            raise Refused("%s without dim: PyTorch guesses the dimension from the input's rank; "
                          "give dim=..." % shown)
        try:
            m = getattr(nn, layer)(**args)
        except Exception as e:
            raise Refused("%s: nn.%s(%s) fails: %s" % (shown, layer, ", ".join(
                "%s=%r" % kv for kv in args.items()), str(e).split("\n")[0]))
        return [(m, note, None)]

    def torch_arg_names(self, layer):
        import inspect
        cls = getattr(self.nn, layer, None)
        if cls is None:
            return []
        return [p for p in inspect.signature(cls.__init__).parameters if p not in SKIP_ARGS]

    def layer_for(self, short):
        if short in FUNC_LAYER:
            return FUNC_LAYER[short]
        key = short.replace("_", "").lower()
        for name in self.table.names:
            if name.lower() == key:
                return name
        return None

    def normalized(self, n, method):
        """n's arguments as {parameter: value}, defaults filled in."""
        import inspect
        torch = self.torch
        from torch.fx.operator_schemas import normalize_function
        if method:
            target = getattr(torch, n.target.rstrip("_"), None) if n.target != "unfold" else None
            if target is None:
                raise Refused("x.%s() has no seqrun layer" % n.target)
        else:
            target = n.target

        def typ(a):
            if isinstance(a, self.fx.Node):
                return torch.Tensor if not self.is_shape_node(a) else int
            return type(a)
        try:
            sig = inspect.signature(target)
            if not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in sig.parameters.values()):
                b = sig.bind(*n.args, **n.kwargs)
                b.apply_defaults()
                return dict(b.arguments)
        except (ValueError, TypeError):
            pass
        try:
            r = normalize_function(target, tuple(n.args), dict(n.kwargs),
                                   arg_types=tuple(typ(a) for a in n.args),
                                   kwarg_types={k: typ(v) for k, v in n.kwargs.items()},
                                   normalize_to_only_use_kwargs=True)
        except Exception:
            r = None
        if r is None:
            raise Refused("cannot read the arguments of %s" % func_name(target))
        return dict(r.kwargs)

    def call_args(self, n, names):
        """n's arguments by the names given (the first, the input, left out)."""
        a = dict(zip(names, n.args))
        a.update(n.kwargs)
        a.pop(names[0], None)
        try:
            return {k: self.resolve(v, n) for k, v in a.items()}
        except Unresolved as u:
            raise Refused("its arguments use %s, which needs a known input shape: give --input"
                          % u.args[0].name)

    # -- shapes
    def shape(self, node):
        return self.shapes.get(node)

    def resolve(self, v, user):
        """A node argument as a plain value; sizes of the batch dimension become 'N'."""
        import operator
        fx = self.fx
        if isinstance(v, (list, tuple)):
            return [self.resolve(a, user) for a in v]
        if not isinstance(v, fx.Node):
            return v
        n = v
        if n.op == "call_method" and n.target == "size":
            t = n.args[0]
            dim = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim")
            shp = self.shape(t)
            if dim is None:
                if shp is None:
                    raise Unresolved(n)
                return ["N"] + list(shp[1:])
            if dim == 0 or (shp is not None and dim == -len(shp)):
                return "N"
            if shp is None:
                raise Unresolved(n)
            return shp[dim]
        if n.op == "call_function" and n.target is getattr and n.args[1] == "shape":
            shp = self.shape(n.args[0])
            if shp is None:
                raise Unresolved(n)
            return ["N"] + list(shp[1:])
        if n.op == "call_method" and n.target == "dim" or \
                n.op == "call_function" and n.target is getattr and n.args[1] == "ndim":
            shp = self.shape(n.args[0])
            if shp is None:
                raise Unresolved(n)
            return len(shp)
        if n.op == "call_function" and n.target is operator.getitem:
            seq = self.resolve(n.args[0], user)
            return seq[n.args[1]] if isinstance(seq, list) else self._val(n)
        if n.op == "call_function" and n.target in (operator.mul, operator.add, operator.sub,
                                                     operator.floordiv):
            a, b = (self.resolve(x, user) for x in n.args)
            if isinstance(a, int) and isinstance(b, int):
                return n.target(a, b)
            raise Unresolved(n)
        return self._val(n)

    def _val(self, n):
        if n in self.values:
            return plain(self.values[n])
        raise Unresolved(n)

    def map_reshape(self, n, x, note):
        nn = self.nn
        try:
            args = [self.resolve(a, n) for a in n.args[1:]] if n.op == "call_method" else \
                [self.resolve(a, n) for a in n.args[1:]]
            if "shape" in n.kwargs:
                args = [self.resolve(n.kwargs["shape"], n)]
        except Unresolved as u:
            raise Refused("its shape uses %s, which needs a known input shape: give --input"
                          % u.args[0].name)
        if len(args) == 1 and isinstance(args[0], list):
            args = args[0]
        if any(isinstance(a, list) for a in args):
            raise Refused("a reshape to a shape seqrun cannot follow")
        shp = self.shape(x)
        if args == [-1]:
            return [(nn.Flatten(0), note, None)]
        if not args or args[0] not in ("N", -1):
            raise Refused("reshapes the batch dimension to %r; seqrun's layers keep the batch: "
                          "write x.view(x.size(0), ...)" % (args[0] if args else None))
        rest = args[1:]
        per_sample = None if shp is None else math.prod(shp[1:])
        if "N" in rest:
            raise Refused("moves the batch dimension; seqrun's layers keep it first")
        if args[0] == -1 and -1 in rest:
            raise Refused("has two -1 dimensions")
        if shp is not None and -1 not in rest and math.prod(rest) != per_sample:
            raise Refused("makes samples of %d values from samples of %d (shape %s): that changes the "
                          "batch size, and seqrun's layers keep it"
                          % (math.prod(rest), per_sample, list(shp)))
        if len(rest) == 1:
            return [(nn.Flatten(), note, None)]
        if shp is not None:
            if -1 in rest:
                k = rest.index(-1)
                rest[k] = per_sample // math.prod(r for r in rest if r != -1)
            if list(shp[1:]) == rest:
                return []
            if len(shp) == 2:
                return [(nn.Unflatten(1, tuple(rest)), note, None)]
        return [(nn.Flatten(), note, None), (nn.Unflatten(1, tuple(rest)), note, None)]

    def map_squeeze(self, n, x, op, note):
        nn = self.nn
        a = self.call_args(n, ["input", "dim"])
        d = a.get("dim")
        shp = self.shape(x)
        if op == "unsqueeze":
            if d == 0 or (shp is not None and d == -len(shp) - 1):
                raise Refused("adds a dimension before the batch; seqrun's layers keep the batch first")
            return [(nn.Unflatten(d if d < 0 else d - 1, (-1, 1)), note, None)]
        if d is None:
            if shp is None:
                raise Refused("x.squeeze() without dim needs a known input shape: give --input, or squeeze a dim")
            keep = [s for s in shp[1:] if s != 1]
            if len(keep) == len(shp) - 1:
                return []
            if len(keep) <= 1:
                return [(nn.Flatten(), note, None)]
            return [(nn.Flatten(), note, None), (nn.Unflatten(1, tuple(keep)), note, None)]
        if shp is not None:
            d = d % len(shp)
            if shp[d] != 1:
                return []
        if d == 0 or (shp is None and d < 0):
            raise Refused("x.squeeze(%d) %s" % (d, "squeezes the batch dimension; seqrun's layers keep it"
                                               if d == 0 else "needs a known input shape: give --input"))
        return [(nn.Flatten(d - 1, d), note, None)]

    def map_reduce(self, n, x, op, note):
        """x.mean((2, 3)) over trailing dims: adaptive pooling to 1, then Flatten."""
        nn = self.nn
        a = self.call_args(n, ["input", "dim", "keepdim"])
        dims = a.get("dim")
        if dims is None:
            raise Refused("reduces every dimension, the batch too")
        dims = [dims] if isinstance(dims, int) else list(dims)
        shp = self.shape(x)
        rank = len(shp) if shp is not None else (max(dims) + 1 if all(d >= 0 for d in dims) else None)
        if rank is None:
            neg = sorted(dims)
        else:
            neg = sorted(d - rank if d >= 0 else d for d in dims)
        k = len(neg)
        if neg != list(range(-k, 0)) or k > 3 or (rank is not None and rank - k < 2):
            raise Refused("%s over dims %s: seqrun pools only trailing spatial dimensions" % (op, dims))
        pool = {"mean": "AdaptiveAvgPool%dd", "amax": "AdaptiveMaxPool%dd"}[op] % k
        if pool not in self.table:
            self.unsupported = True
            raise Refused("x.%s over %d dims would be nn.%s, which seqrun does not support" % (op, k, pool))
        out = [(getattr(nn, pool)(1), note, None)]
        if not a.get("keepdim"):
            out.append((nn.Flatten(-(k + 1)), note, None))
        return out

    def map_clamp(self, n, op, note):
        nn = self.nn
        a = self.call_args(n, ["input", "min", "max"])
        lo, hi = a.get("min"), a.get("max")
        if lo == 0 and hi is None:
            return [(nn.ReLU(), note, None)]
        if lo is not None and hi is not None:
            if lo == 0 and hi == 6 and "ReLU6" in self.table:
                return [(nn.ReLU6(), note, None)]
            if "Hardtanh" in self.table:
                return [(nn.Hardtanh(float(lo), float(hi)), note, None)]
        raise Refused("clamp(min=%r, max=%r) has no seqrun layer (clamp(min=0) is ReLU, both bounds Hardtanh)"
                      % (lo, hi))

    def map_pad(self, n, note):
        nn = self.nn
        kw = self.normalized(n, False)
        names = list(kw)
        pad = tuplify(self.resolve(kw[names[1]], n))
        mode = kw.get("mode", "constant")
        value = kw.get("value")
        if len(pad) % 2 or not 2 <= len(pad) <= 6:
            raise Refused("F.pad with %d padding values; the padding layers take 2, 4 or 6" % len(pad))
        d = len(pad) // 2
        if mode == "constant":
            layer = "ConstantPad%dd" % d
            if (value is None or value == 0) and d == 2 and layer not in self.table and "ZeroPad2d" in self.table:
                layer, args = "ZeroPad2d", {"padding": pad}
            else:
                args = {"padding": pad, "value": float(value or 0)}
        elif mode in ("reflect", "replicate"):
            layer = {"reflect": "ReflectionPad%dd", "replicate": "ReplicationPad%dd"}[mode] % d
            args = {"padding": pad}
        else:
            raise Refused("F.pad(mode=%r) has no torch.nn padding layer" % mode)
        if layer not in self.table:
            self.unsupported = True
            raise Refused("F.pad(mode=%r) with %d values would be nn.%s, which seqrun does not support"
                          % (mode, len(pad), layer))
        return [(getattr(nn, layer)(**args), note, None)]

    # -- the check
    def verify(self, model, seq, shape):
        """The chain, run by PyTorch, gives the model's output."""
        torch = self.torch
        x = self.example_input(shape, first_leaf(seq, self.nn))
        seq.eval()
        with torch.no_grad():
            want = model(x)
            got = seq(x)
        if not isinstance(want, torch.Tensor) or want.shape != got.shape or \
                not torch.allclose(want, got, rtol=1e-5, atol=1e-6, equal_nan=True):
            detail = ("shape %s, the model's %s" % (list(got.shape), list(want.shape))
                      if isinstance(want, torch.Tensor) and want.shape != got.shape else
                      "largest difference %g" % float((want - got).abs().max()))
            raise Refused("the exported chain does not reproduce the model on a random input of shape "
                          "[%s] (%s); a reshape that changes the batch size, or a bug in seqrun-export"
                          % (", ".join(str(d) for d in shape), detail))


def tuplify(v):
    if isinstance(v, list):
        return tuple(tuplify(x) for x in v)
    return v


_FUNC_NAMES = None


def func_name(f):
    """torch.flatten, F.relu, operator.add: how the user wrote it."""
    global _FUNC_NAMES
    if _FUNC_NAMES is None:
        import torch
        _FUNC_NAMES = {}
        for prefix, mod in (("torch", torch), ("F", torch.nn.functional)):
            for k in dir(mod):
                try:
                    obj = getattr(mod, k)
                except Exception:
                    continue
                if callable(obj):
                    _FUNC_NAMES.setdefault(id(obj), "%s.%s" % (prefix, k))
    if id(f) in _FUNC_NAMES:
        return _FUNC_NAMES[id(f)]
    mod = getattr(f, "__module__", None) or ""
    name = getattr(f, "__name__", str(f))
    if mod == "_operator":
        return "operator." + name
    return (mod + "." if mod else "") + name


class ModelState:
    """Saves every module's train/eval mode and puts them back."""

    def __init__(self, model):
        self.modes = [(m, m.training) for m in model.modules()]

    def restore(self):
        for m, t in self.modes:
            m.training = t


def to_sequential(model, table, input_shape=None, verify=True, warn=None):
    """-> (nn.Sequential, {index: comment}, input shape to write or None,
    note for it).  The direct path for an nn.Sequential; torch.fx for
    everything else.  Raises Refused."""
    import torch
    nn = torch.nn
    warn = warn or (lambda s: print("%s: warning: %s" % (PROG, s), file=sys.stderr))
    if isinstance(model, (nn.ModuleList, nn.ModuleDict)):
        raise Refused(Chain.no_forward_advice(None, model, nn))
    if not isinstance(model, nn.Module):
        raise Refused("the expression gives a %s, not an nn.Module%s"
                      % (type(model).__name__,
                         "; a saved state_dict converts with --state-dict M.pt MODEL.yaml"
                         if isinstance(model, dict) else ""))
    if base_type(model, nn) is nn.Sequential and not model._forward_hooks and \
            not model._forward_pre_hooks and \
            all(base_type(m, nn) is not None for m in model.modules()):
        # a Sequential of torch.nn layers: exported as it is, keys unchanged
        shape = input_shape or implied_input(model, nn)
        note = None if input_shape or not shape else "fixed by layer 0 (Linear); --input to change"
        return model, {}, shape, note
    if base_type(model, nn) is not None and not isinstance(model, nn.Sequential):
        # one torch.nn layer: a spec of one layer, keyed 0.weight; `# self` maps it back
        seq = nn.Sequential(model)
        shape = input_shape or implied_input(seq, nn)
        note = None if input_shape or not shape else "fixed by layer 0 (Linear); --input to change"
        return seq, {0: "self"}, shape, note
    hooked = [n or "the model" for n, m in model.named_modules()
              if (m._forward_hooks or m._forward_pre_hooks) and not (
                  isinstance(m, nn.modules.lazy.LazyModuleMixin) and m.has_uninitialized_params())]
    if hooked:
        raise Refused(["module %s (%s) has forward hooks, which seqrun cannot run"
                       % (n, type(model.get_submodule(n) if n != "the model" else model).__name__)
                       for n in hooked])
    state = ModelState(model)
    model.eval()  # self.training branches take the path seqrun runs by default
    try:
        ch = Chain(model, table, input_shape, warn)
        seq, comments = ch.build()
        shape = input_shape or ch.run_shape
        note = None
        if not input_shape and shape:
            note = "fixed by the first layer (Linear); --input to change"
        if verify and ch.run_shape and not ch.random_in_eval:
            ch.verify(model, seq, ch.run_shape)
    finally:
        state.restore()
    return seq, comments, shape, note


# ---- safetensors ---------------------------------------------------------------

def tensor_entries(state, torch):
    """[(key, dtype, array, shape)] of a state_dict (or a module's), each
    shared tensor once, and {alias key: kept key} for the others."""
    if isinstance(state, torch.nn.Module):
        state = state.state_dict()
    entries, aliases, seen = [], {}, {}
    for key, t in state.items():
        if isinstance(t, torch.nn.parameter.UninitializedTensorMixin):
            raise Refused("'%s' is not initialised yet (a lazy module): run one forward pass "
                          "to materialise it, or export without -w" % key)
        ident = (t.storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)
        if t.numel() and ident in seen:
            aliases[key] = seen[ident]
            continue
        seen[ident] = key
        t = t.detach().cpu().contiguous()
        if t.is_floating_point():
            a = t.to(torch.float32).numpy().astype("<f4", copy=False)
            dt = "F32"
        elif t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
            a = t.to(torch.int64).numpy().astype("<i8", copy=False)
            dt = "I64"
        else:
            raise Refused("'%s' has dtype %s, which seqrun does not load" % (key, t.dtype))
        entries.append((key, dt, a, [int(d) for d in t.shape]))
    return entries, aliases


def _nbytes(data):
    return data.nbytes if hasattr(data, "nbytes") else len(data)


def _header(entries, metadata):
    """The safetensors header for entries; I64 tensors go first so that every
    tensor starts aligned to its element size.  -> (header bytes, order)"""
    order = sorted(entries, key=lambda e: e[1] != "I64")
    header, off = {}, 0
    if metadata:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    for key, dt, data, shape in order:
        n = _nbytes(data)
        header[key] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h, order


def _data_bytes(data):
    return data if isinstance(data, (bytes, bytearray)) else data.tobytes()


def safetensors_bytes(entries, metadata=None):
    """A safetensors file: 8-byte little-endian header length, JSON header
    padded with spaces to a multiple of 8, then the data."""
    h, order = _header(entries, metadata)
    return h + b"".join(_data_bytes(e[2]) for e in order)


def write_safetensors_entries(path, entries, metadata=None):
    """Streams the file tensor by tensor (a 500 MB model needs no second copy)."""
    h, order = _header(entries, metadata)

    def writer(f):
        f.write(h)
        for e in order:
            d = e[2]
            if isinstance(d, (bytes, bytearray)):
                f.write(d)
            elif d.size:
                f.write(memoryview(d.reshape(-1)).cast("B"))
    atomic_write(path, writer)


def write_safetensors(path, state, metadata=None):
    """state: {key: numpy array} (float -> F32, integer -> I64), for scripts
    that have no torch module at hand (models/train_digits.py uses it)."""
    import numpy as np
    entries = []
    for key, a in state.items():
        a = np.asarray(a)  # not ascontiguousarray: it makes a 0-d array 1-d
        if a.dtype.kind == "f":
            entries.append((key, "F32", a.astype("<f4").tobytes(), list(a.shape)))
        else:
            entries.append((key, "I64", a.astype("<i8").tobytes(), list(a.shape)))
    atomic_write(path, safetensors_bytes(entries, metadata))


def atomic_write(path, data):
    """data: bytes, str, or a function writing to a binary file object."""
    if path == "-":
        if callable(data):
            data(sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        out = sys.stdout.buffer if isinstance(data, bytes) else sys.stdout
        out.write(data)
        out.flush()
        return
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".seqrun-export.", dir=d)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 is for secrets, not models
        with os.fdopen(fd, "w" if isinstance(data, str) else "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# ---- reading a spec back (for --state-dict) ------------------------------------

_INT = re.compile(r"[-+]?[0-9]+$")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


def yaml_value(node):
    """A composed YAML node as Python, with the YAML 1.2 core schema seqrun uses."""
    import yaml
    if isinstance(node, yaml.ScalarNode):
        v = node.value
        if node.style in ("'", '"'):
            return v
        if v in ("", "~", "null", "Null", "NULL"):
            return None
        if v in ("true", "True", "TRUE"):
            return True
        if v in ("false", "False", "FALSE"):
            return False
        if _INT.match(v):
            return int(v)
        if re.match(r"0o[0-7]+$", v):
            return int(v[2:], 8)
        if re.match(r"0x[0-9a-fA-F]+$", v):
            return int(v[2:], 16)
        if _FLOAT.match(v):
            return float(v)
        if re.match(r"[-+]?\.(inf|Inf|INF)$", v):
            return -math.inf if v.startswith("-") else math.inf
        if v in (".nan", ".NaN", ".NAN"):
            return math.nan
        return v
    if isinstance(node, yaml.SequenceNode):
        return [yaml_value(c) for c in node.value]
    return {yaml_value(k): yaml_value(v) for k, v in node.value}


class SpecModel:
    """A seqrun spec built as torch.nn modules: its state_dict keys and
    shapes are the ones seqrun expects.  origins: item path -> module path
    from a `# self.NAME` comment; line: item path -> (line, col); first: the
    item paths of first occurrences (later alias uses are optional)."""

    def __init__(self, path):
        import yaml
        import torch
        self.nn = torch.nn
        self.path = path
        with open(path) as f:
            self.text = f.read()
        self.src_lines = self.text.splitlines()
        try:
            root = yaml.compose(self.text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as e:
            raise Refused("%s: not YAML: %s" % (path, str(e).replace("\n", " ")))
        if not isinstance(root, yaml.MappingNode):
            raise Refused("%s: a spec is a mapping with 'layers:'" % path)
        top = {yaml_value(k): v for k, v in root.value}
        if "layers" not in top or not isinstance(top["layers"], yaml.SequenceNode):
            raise Refused("%s: no 'layers:' list" % path)
        w = top.get("weights")
        self.weights = yaml_value(w) if w is not None else None
        self.origins, self.where, self.later = {}, {}, set()
        self.memo = {}
        self.problems = []
        mods = self._items(top["layers"], "")
        if self.problems:
            raise Refused(self.problems)
        self.model = torch.nn.Sequential(*mods)

    def _items(self, seqnode, prefix):
        mods = []
        for k, node in enumerate(seqnode.value):
            p = "%s%d" % (prefix, k)
            self.where[p] = (node.start_mark.line + 1, node.start_mark.column + 1)
            line = self.src_lines[node.start_mark.line] if node.start_mark.line < len(self.src_lines) else ""
            m = re.search(r"#\s*self(\.[\w.]+)?\s*$", line)
            if m:
                self.origins[p] = (m.group(1) or ".")[1:]
            if id(node) in self.memo:
                self.later.add(p)
                mods.append(self.memo[id(node)])
                continue
            mod = self._layer(node, p)
            self.memo[id(node)] = mod
            mods.append(mod)
        return mods

    def _layer(self, node, p):
        import yaml
        nn = self.nn
        if isinstance(node, yaml.ScalarNode):
            name, args = node.value, None
        elif isinstance(node, yaml.MappingNode) and len(node.value) == 1:
            kn, args = node.value[0]
            name = kn.value
        else:
            self.problems.append("%s:%d:%d: layer %s: not a layer item" % ((self.path,) + self.where[p] + (p,)))
            return nn.Identity()
        cls = getattr(nn, name, None)
        if name == "Sequential":
            if args is None or isinstance(args, yaml.ScalarNode):
                return nn.Sequential()
            return nn.Sequential(*self._items(args, p + "."))
        if not isinstance(cls, type) or not issubclass(cls, nn.Module):
            self.problems.append("%s:%d:%d: layer %s: %s is not a torch.nn layer"
                                 % ((self.path,) + self.where[p] + (p, name)))
            return nn.Identity()
        v = None if args is None else yaml_value(args)
        try:
            if v is None or v == "":
                return cls()
            if isinstance(v, dict):
                return cls(**{k: tuplify(x) for k, x in v.items()})
            if isinstance(v, list):
                return cls(*[tuplify(x) for x in v])
            return cls(v)
        except Exception as e:
            self.problems.append("%s:%d:%d: layer %s (%s): %s" % ((self.path,) + self.where[p] + (
                p, name, str(e).split("\n")[0])))
            return nn.Identity()

    def source_key(self, key, sd):
        """The key of sd that holds the spec's key: itself, or through the
        nearest `# self.NAME` comment above it."""
        if key in sd:
            return key
        parts = key.split(".")
        for i in range(len(parts) - 1, 0, -1):
            p = ".".join(parts[:i])
            if p in self.origins:
                cand = ".".join(x for x in (self.origins[p], ".".join(parts[i:])) if x)
                if cand in sd:
                    return cand
        return None

    def origin_key(self, key):
        """The model's name for the spec's key, from the nearest comment, or None."""
        parts = key.split(".")
        for i in range(len(parts) - 1, 0, -1):
            p = ".".join(parts[:i])
            if p in self.origins:
                return ".".join(x for x in (self.origins[p], ".".join(parts[i:])) if x)
        return None

    def item_of(self, key):
        parts = key.split(".")
        for i in range(len(parts) - 1, 0, -1):
            p = ".".join(parts[:i])
            if p in self.where:
                return p
        return None


def load_state_dict_file(path):
    import torch
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:
        raise Refused("%s: torch.load(weights_only=True) cannot read it (%s); save the weights with "
                      "torch.save(model.state_dict(), '%s')" % (path, str(e).split("\n")[0],
                                                                  os.path.basename(path)))
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj, None
    if isinstance(obj, dict):
        inner = [k for k, v in obj.items() if isinstance(v, dict) and v
                 and all(isinstance(t, torch.Tensor) for t in v.values())]
        if len(inner) == 1:
            return obj[inner[0]], "took the state_dict under the checkpoint's key '%s'" % inner[0]
    raise Refused("%s holds a %s, not a state_dict (a dict of tensors)" % (path, type(obj).__name__))


def convert_state_dict(pt_path, spec_path, out_path, warn):
    """--state-dict: M.pt + spec -> safetensors keyed as the spec's state_dict."""
    import torch
    spec = SpecModel(spec_path)
    if out_path is None:
        if not spec.weights:
            raise Refused("%s names no weights: file; give -w WEIGHTS.safetensors" % spec_path)
        out_path = os.path.join(os.path.dirname(os.path.abspath(spec_path)), spec.weights)
    sd, note = load_state_dict_file(pt_path)
    if note:
        warn("%s: %s" % (pt_path, note))
    want = spec.model.state_dict()
    # DataParallel's "module." prefix
    if not any(spec.source_key(k, sd) for k in want) and sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
        warn("%s: keys start with 'module.' (DataParallel); read without it" % pt_path)
    out, used, problems = {}, set(), []
    for key, t in want.items():
        src = spec.source_key(key, sd)
        item = spec.item_of(key)
        loc = "%s:%d:%d: layer %s: " % ((spec_path,) + spec.where[item] + (item,)) if item else ""
        if src is None:
            if item in spec.later:
                continue  # a later use of a shared module: its first use has the tensor
            orig = spec.origin_key(key)
            problems.append("%smissing key '%s'%s" % (loc, key, " (or '%s', the name its comment gives)" % orig
                                                      if orig and orig != key else ""))
            continue
        v = sd[src]
        used.add(src)
        lazy = isinstance(t, torch.nn.parameter.UninitializedTensorMixin)
        if not lazy and tuple(v.shape) != tuple(t.shape):
            problems.append("%s'%s'%s has shape %s, the spec's %s" % (
                loc, key, "" if src == key else " (from '%s')" % src, list(v.shape), list(t.shape)))
            continue
        if not (v.is_floating_point() or v.dtype in (torch.int8, torch.int16, torch.int32, torch.int64,
                                                     torch.uint8)):
            problems.append("%s'%s' has dtype %s, which seqrun does not load" % (loc, src, v.dtype))
            continue
        out[key] = v
    for k in sd:
        if k not in used:
            problems.append("%s: unexpected key '%s' (the spec has no layer for it)" % (pt_path, k))
    if problems:
        raise Refused(problems)
    entries, aliases = tensor_entries(out, torch)
    write_safetensors_entries(out_path, entries, aliases)
    return out_path, len(out)


# ---- the program ------------------------------------------------------------------

def export(model, yaml_path, weights_path=None, supported=None, input_shape=None, source=None,
           verify=True, warn=None):
    """Writes yaml_path (and weights_path).  Raises Refused for a model seqrun
    cannot run; writes nothing then.  Returns the spec's text."""
    import torch
    nn = torch.nn
    table = as_table(supported)
    seq, comments, shape, note = to_sequential(model, table, input_shape, verify, warn)
    wref = None
    if weights_path:
        wref = weights_path
        if yaml_path != "-":
            wref = os.path.relpath(os.path.abspath(weights_path),
                                   os.path.dirname(os.path.abspath(yaml_path)))
    text = spec_text(seq, table, nn, wref, shape, source, comments, note)
    if weights_path:
        entries, aliases = tensor_entries(seq, torch)
        write_safetensors_entries(weights_path, entries, aliases)
    atomic_write(yaml_path, text)
    return text


def namespace():
    import torch
    ns = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional}
    try:
        import torchvision
        ns["torchvision"] = torchvision
    except Exception:
        pass
    return ns


def load_model(src):
    ns = namespace()
    if os.path.isfile(src) or src.endswith(".py"):
        import runpy
        sys.path.insert(0, os.path.dirname(os.path.abspath(src)))
        ns = runpy.run_path(src, init_globals=ns, run_name="__seqrun_export__")
        if "model" not in ns:
            raise SystemExit("%s: %s defines no variable 'model'" % (PROG, src))
        return ns["model"]
    sys.path.insert(0, os.getcwd())  # as python3 -c does: the user's own modules import
    return eval(src, ns)


def parse_shape(s):
    out = []
    for d in s.split(","):
        d = d.strip()
        if re.fullmatch(r"-?[0-9]+", d):
            out.append(int(d))
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", d):
            out.append(d)
        else:
            raise argparse.ArgumentTypeError("bad dimension '%s' (an integer or a name like N)" % d)
    return out


def main(argv):
    ap = argparse.ArgumentParser(
        prog="seqrun-export.py",
        description="Write a PyTorch model (an nn.Sequential, or a module whose forward() is one chain) "
                    "as a seqrun spec and safetensors weights; or convert a saved state_dict for a spec.",
        epilog="torchvision: seqrun-export.py 'torchvision.models.vgg11_bn()' -o vgg.yaml -w vgg.safetensors "
               "--input N,3,224,224 (load trained weights in a .py file that sets `model`).  "
               "An nn.ModuleList run in order is nn.Sequential(*layers).")
    ap.add_argument("model", nargs="?", metavar="EXPR_OR_FILE",
                    help="a Python expression building the model, or a .py file defining `model`; "
                         "with --state-dict: the spec")
    ap.add_argument("-o", "--output", metavar="MODEL.yaml", help="the spec to write ('-': stdout)")
    ap.add_argument("-w", "--weights", metavar="WEIGHTS.safetensors", help="also write the state_dict there")
    ap.add_argument("--input", type=parse_shape, metavar="D,D,...", help="write `input:` (e.g. N,1,8,8)")
    ap.add_argument("--state-dict", metavar="M.pt",
                    help="convert torch.save(model.state_dict()) for the spec given as MODEL.yaml")
    ap.add_argument("--seqrun", metavar="PATH", help="the seqrun whose layer list rules")
    ap.add_argument("--no-verify", action="store_true",
                    help="skip running the traced chain against the model")
    ap.add_argument("--list", action="store_true", help="print the supported layers and exit")
    a = ap.parse_args(argv)
    table = layer_table(find_seqrun(a.seqrun))
    if a.list:
        print("\n".join(table.names))
        return 0
    if a.weights == "-":
        ap.error("-w needs a file name (safetensors is binary)")
    if a.state_dict:
        if not a.model:
            ap.error("--state-dict M.pt needs the spec: seqrun-export.py --state-dict M.pt MODEL.yaml [-w W]")
        if a.output or a.input:
            ap.error("--state-dict writes weights only: -o and --input do not apply")
    elif not a.model or not a.output:
        ap.error("EXPR_OR_FILE and -o MODEL.yaml are required")
    try:
        import torch  # noqa: F401  (only now: --list works without torch)
        import warnings
        # LazyLinear's construction warns that the API may change; that is
        # torch's business, not the user's, when all we do is export
        warnings.filterwarnings("ignore", message="Lazy modules are a new feature")
    except ImportError:
        raise SystemExit("%s: this needs PyTorch; run it with a python3 that has torch "
                         "(Debian: /usr/bin/python3 with python3-torch)" % PROG)

    def warn(s):
        print("%s: warning: %s" % (PROG, s), file=sys.stderr)
    if a.state_dict:
        try:
            out, n = convert_state_dict(a.state_dict, a.model, a.weights, warn)
        except Refused as e:
            print("\n".join(e.lines()), file=sys.stderr)
            return 2
        except OSError as e:
            print("%s: %s: %s" % (PROG, e.filename, e.strerror), file=sys.stderr)
            return 1
        return 0
    try:
        model = load_model(a.model)
    except SystemExit:
        raise
    except Exception as e:  # the user's code: report, do not dump our own stack
        print("%s: building the model failed: %s: %s" % (PROG, type(e).__name__, e), file=sys.stderr)
        return 1
    try:
        export(model, a.output, a.weights, table, a.input,
               source=a.model if not os.path.isfile(a.model) else os.path.basename(a.model),
               verify=not a.no_verify, warn=warn)
    except Refused as e:
        print("\n".join(e.lines()), file=sys.stderr)
        return 2
    except OSError as e:
        print("%s: %s: %s" % (PROG, e.filename or a.output, e.strerror), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
