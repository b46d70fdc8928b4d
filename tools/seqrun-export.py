#!/usr/bin/python3
"""seqrun-export - write a PyTorch nn.Sequential as a seqrun spec and weights.

usage:
  seqrun-export.py EXPR_OR_FILE -o MODEL.yaml [-w WEIGHTS.safetensors]
                   [--input D,D,...] [--seqrun PATH]
  seqrun-export.py --list [--seqrun PATH]

EXPR_OR_FILE is a Python expression that builds the model, evaluated with
`torch`, `nn` and `F` in scope:

  seqrun-export.py "nn.Sequential(nn.Linear(4, 8), nn.ReLU())" -o m.yaml

or a .py file that leaves the model, trained weights loaded, in a variable
named `model` (it is run as a script, with its own directory on sys.path).

The spec lists each layer with keyword arguments, only those that differ
from PyTorch's defaults; nested Sequentials nest; a module that appears more
than once becomes a YAML anchor and aliases, as seqrun shares it; a LazyLinear
that has seen an input is written as the Linear it became.  -w writes the
state_dict as safetensors (float tensors as F32, integer buffers as I64) and
names it in the spec's `weights:`, relative to the spec.  A tensor that
several keys share (a reused module, tied weights) is stored once and the
other keys are recorded in `__metadata__` as aliases, the way safetensors'
save_model writes them; seqrun accepts both.  --input writes the spec's
`input:` line (e.g. --input N,1,8,8) so that `seqrun --check` needs no data.

A module seqrun cannot run is refused (exit 2) with its index as it appears
in state_dict keys.  The layers seqrun supports are read from `seqrun --help`
(--seqrun PATH, else $SEQRUN, else the seqrun built next to this script, else
seqrun on PATH); without a seqrun binary, every layer this script knows is
accepted.  --list prints that set.

Exit status: 0 written, 1 an I/O or evaluation error, 2 a usage error or an
unsupported model.
"""

import argparse
import json
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
# private ones, deprecated aliases PyTorch keeps for old code).
SKIP_ARGS = {"self", "device", "dtype", "_weight", "_freeze", "min_value", "max_value"}

# Arguments where an int stands for the same int repeated, as PyTorch's
# _pair/_single do; written back as one int when all items agree.
REPEATING = {"kernel_size", "stride", "padding", "dilation", "output_size"}

# Every layer type this exporter can describe.  Kept equal to seqrun's layer
# table by tests/suite_export.sh (it fails when seqrun --help lists a layer
# missing here).
KNOWN = [
    "Linear", "LazyLinear", "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d",
    "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "BatchNorm1d", "BatchNorm2d",
    "LayerNorm", "Dropout", "Embedding", "Flatten", "Unflatten", "Identity",
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "SiLU", "Tanh", "Sigmoid",
    "Softplus", "Hardtanh", "Softmax", "LogSoftmax", "Sequential",
]


class Refused(Exception):
    """The model cannot be expressed for seqrun; the message says why."""


# ---- which layers this seqrun runs -------------------------------------------

def find_seqrun(given):
    if given:
        return given
    if os.environ.get("SEQRUN"):
        return os.environ["SEQRUN"]
    beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "seqrun")
    if os.access(beside, os.X_OK):
        return os.path.normpath(beside)
    return shutil.which("seqrun")


def seqrun_layers(seqrun):
    """The names after 'layers:' in `seqrun --help`, or None without seqrun."""
    if not seqrun:
        return None
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


def supported_set(seqrun):
    listed = seqrun_layers(seqrun)
    if listed is None:
        return list(KNOWN)
    return [n for n in KNOWN if n in listed]


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
    if name in REPEATING and isinstance(v, list) and v and all(x == v[0] for x in v):
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
    return v == d


def module_args(m, cls, path):
    """[(name, value)] of m's constructor arguments that differ from the defaults."""
    import inspect
    name = cls.__name__
    if name in ("Identity", "Sequential"):
        return []
    out = []
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name in SKIP_ARGS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name == "bias":
            v = m.bias is not None  # the constructor's flag survives only as a Parameter or None
        elif hasattr(m, p.name):
            v = collapse(p.name, plain(getattr(m, p.name)))
        else:
            raise Refused("module %s (%s): cannot read its argument '%s'" % (path, name, p.name))
        if p.name == "stride" and "Pool" in name and v == collapse("kernel_size", plain(m.kernel_size)):
            v = None  # PyTorch stores stride=None as kernel_size; write neither
        if name in ("Softmax", "LogSoftmax") and p.name == "dim" and v is None:
            raise Refused("module %s (%s) has dim=None, which PyTorch guesses from the input's rank; "
                          "seqrun needs it: construct it as nn.%s(dim=...)" % (path, name, name))
        if p.name == "return_indices" and v:
            raise Refused("module %s (%s) has return_indices=True: it returns a tuple, which "
                          "seqrun cannot pass on" % (path, name))
        if name == "Unflatten" and p.name == "unflattened_size" and any(isinstance(x, list) for x in v):
            raise Refused("module %s (Unflatten) names its dimensions; seqrun has no named tensors" % path)
        if p.default is not p.empty and same(v, p.default):
            continue
        out.append((p.name, v))
    return out


class Exporter:
    def __init__(self, model, supported, nn):
        self.nn = nn
        self.supported = supported
        self.lines = []
        self.count = {}   # id(module) -> occurrences, as seqrun will see them
        self.anchor = {}  # id(module) -> anchor name, once its first item is written
        self._count(model)

    def _count(self, seq):
        for m in seq._modules.values():
            seen = id(m) in self.count
            self.count[id(m)] = self.count.get(id(m), 0) + 1
            if not seen and isinstance(m, self.nn.Sequential):
                self._count(m)  # an alias of a block reuses the block: not walked again

    def check(self, m, path):
        nn = self.nn
        if m is None:
            raise Refused("module %s is None; seqrun needs a layer there" % path)
        cls = base_type(m, nn)
        tname = type(m).__name__
        if cls is None:
            parent = next((c for c in type(m).__mro__[1:]
                           if getattr(nn, c.__name__, None) is c and c is not nn.Module), None)
            if parent is not None:
                raise Refused("module %s (%s, a subclass of %s) overrides forward(), which seqrun "
                              "cannot run" % (path, tname, parent.__name__))
            raise Refused("module %s (%s) is not supported by seqrun; supported: %s"
                          % (path, tname, ", ".join(self.supported)))
        if cls.__name__ not in self.supported:
            what = tname if cls.__name__ == tname else "%s, a %s" % (tname, cls.__name__)
            raise Refused("module %s (%s) is not supported by seqrun; supported: %s"
                          % (path, what, ", ".join(self.supported)))
        lazy = isinstance(m, nn.modules.lazy.LazyModuleMixin) and m.has_uninitialized_params()
        # a lazy module's own hooks materialise it; anyone else's change its output
        if (m._forward_hooks or m._forward_pre_hooks) and not lazy:
            raise Refused("module %s (%s) has forward hooks, which seqrun cannot run" % (path, tname))
        return cls

    def item(self, m, path, indent):
        """Appends the layer list item for m at path."""
        pad = " " * indent
        key = id(m)
        if key in self.anchor:
            self.lines.append("%s- *%s" % (pad, self.anchor[key]))
            return
        cls = self.check(m, path)
        name = cls.__name__
        anchor = ""
        if self.count[key] > 1:
            self.anchor[key] = "m" + path.replace(".", "_")
            anchor = "&" + self.anchor[key]
        if name == "Sequential":
            kids = list(m._modules.values())
            if not kids:
                self.lines.append("%s- %s{Sequential: []}" % (pad, anchor + " " if anchor else ""))
                return
            if anchor:
                # the anchor on a line of its own belongs to the mapping below
                self.lines.append("%s- %s" % (pad, anchor))
                self.lines.append("%s  Sequential:" % pad)
            else:
                self.lines.append("%s- Sequential:" % pad)
            for k, c in enumerate(kids):
                self.item(c, "%s.%d" % (path, k), indent + 4)
            return
        if name == "LazyLinear" and getattr(m, "in_features", 0):
            name = "Linear"  # materialised (PyTorch normally swaps the class itself)
            args = [("in_features", m.in_features), ("out_features", m.out_features)]
            if m.bias is None:
                args.append(("bias", False))
        else:
            args = module_args(m, cls, path)
        body = "{%s}" % ", ".join("%s: %s" % (k, yscalar(v)) for k, v in args)
        if anchor:
            self.lines.append("%s- %s {%s: %s}" % (pad, anchor, name, body))
        elif args:
            self.lines.append("%s- %s: %s" % (pad, name, body))
        else:
            self.lines.append("%s- %s" % (pad, name))


def spec_text(model, supported, nn, weights=None, input_shape=None, source=None):
    if base_type(model, nn) is not nn.Sequential:
        raise Refused("the model is a %s, not an nn.Sequential; seqrun runs Sequentials: "
                      "wrap it as nn.Sequential(model) (its keys then start with '0.')"
                      % type(model).__name__)
    if model._forward_hooks or model._forward_pre_hooks:
        raise Refused("the model has forward hooks, which seqrun cannot run")
    ex = Exporter(model, supported, nn)
    for k, (_, m) in enumerate(model._modules.items()):
        ex.item(m, str(k), 2)
    src = " ".join(source.split()) if source else ""
    head = ["# written by seqrun-export" + (" from: " + (src if len(src) <= 150 else src[:147] + "...")
                                            if src else "")]
    if input_shape:
        # a name (N) is the free batch dimension: a plain scalar, as people write it
        head.append("input: [" + ", ".join(str(d) for d in input_shape) + "]")
    if weights:
        head.append("weights: " + yscalar(weights))
    if ex.lines:
        return "\n".join(head + ["layers:"] + ex.lines) + "\n"
    return "\n".join(head + ["layers: []"]) + "\n"


# ---- safetensors ---------------------------------------------------------------

def tensor_entries(model, torch):
    """[(key, dtype, bytes, shape)] of the state_dict, each shared tensor once,
    and {alias key: kept key} for the others."""
    entries, aliases, seen = [], {}, {}
    for key, t in model.state_dict().items():
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
            data = t.to(torch.float32).numpy().astype("<f4").tobytes()
            dt = "F32"
        elif t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
            data = t.to(torch.int64).numpy().astype("<i8").tobytes()
            dt = "I64"
        else:
            raise Refused("'%s' has dtype %s, which seqrun does not load" % (key, t.dtype))
        entries.append((key, dt, data, [int(d) for d in t.shape]))
    return entries, aliases


def safetensors_bytes(entries, metadata=None):
    """A safetensors file: 8-byte little-endian header length, JSON header
    padded with spaces to a multiple of 8, then the data.  I64 tensors go
    first so that every tensor starts aligned to its element size."""
    order = sorted(entries, key=lambda e: e[1] != "I64")
    header, off, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    for key, dt, data, shape in order:
        header[key] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
        blobs.append(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


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
    if path == "-":
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
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# ---- the program ------------------------------------------------------------------

def export(model, yaml_path, weights_path=None, supported=None, input_shape=None, source=None):
    """Writes yaml_path (and weights_path).  Raises Refused for a model seqrun
    cannot run; writes nothing then."""
    import torch
    nn = torch.nn
    if supported is None:
        supported = list(KNOWN)
    wref = None
    if weights_path:
        wref = weights_path
        if yaml_path != "-":
            wref = os.path.relpath(os.path.abspath(weights_path),
                                   os.path.dirname(os.path.abspath(yaml_path)))
    text = spec_text(model, supported, nn, wref, input_shape, source)
    blob = None
    if weights_path:
        entries, aliases = tensor_entries(model, torch)
        blob = safetensors_bytes(entries, aliases)
    if blob is not None:
        atomic_write(weights_path, blob)
    atomic_write(yaml_path, text)
    return text


def load_model(src):
    import torch
    ns = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional}
    if os.path.isfile(src) or src.endswith(".py"):
        import runpy
        sys.path.insert(0, os.path.dirname(os.path.abspath(src)))
        ns = runpy.run_path(src, init_globals=ns, run_name="__seqrun_export__")
        if "model" not in ns:
            raise SystemExit("%s: %s defines no variable 'model'" % (PROG, src))
        return ns["model"]
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
    ap = argparse.ArgumentParser(prog="seqrun-export.py",
                                 description="Write a PyTorch nn.Sequential as a seqrun spec and safetensors weights.")
    ap.add_argument("model", nargs="?", metavar="EXPR_OR_FILE",
                    help="a Python expression building the model, or a .py file defining `model`")
    ap.add_argument("-o", "--output", metavar="MODEL.yaml", help="the spec to write ('-': stdout)")
    ap.add_argument("-w", "--weights", metavar="WEIGHTS.safetensors", help="also write the state_dict there")
    ap.add_argument("--input", type=parse_shape, metavar="D,D,...", help="write `input:` (e.g. N,1,8,8)")
    ap.add_argument("--seqrun", metavar="PATH", help="the seqrun whose --help lists the supported layers")
    ap.add_argument("--list", action="store_true", help="print the supported layers and exit")
    a = ap.parse_args(argv)
    supported = supported_set(find_seqrun(a.seqrun))
    if a.list:
        print("\n".join(supported))
        return 0
    if not a.model or not a.output:
        ap.error("EXPR_OR_FILE and -o MODEL.yaml are required")
    if a.weights == "-":
        ap.error("-w needs a file name (safetensors is binary)")
    try:
        import torch  # noqa: F401  (only now: --list works without torch)
        import warnings
        # LazyLinear's construction warns that the API may change; that is
        # torch's business, not the user's, when all we do is export
        warnings.filterwarnings("ignore", message="Lazy modules are a new feature")
    except ImportError:
        raise SystemExit("%s: this needs PyTorch; run it with a python3 that has torch "
                         "(Debian: /usr/bin/python3 with python3-torch)" % PROG)
    try:
        model = load_model(a.model)
    except SystemExit:
        raise
    except Exception as e:  # the user's code: report, do not dump our own stack
        print("%s: building the model failed: %s: %s" % (PROG, type(e).__name__, e), file=sys.stderr)
        return 1
    try:
        export(model, a.output, a.weights, supported, a.input,
               source=a.model if not os.path.isfile(a.model) else os.path.basename(a.model))
    except Refused as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 2
    except OSError as e:
        print("%s: %s: %s" % (PROG, e.filename or a.output, e.strerror), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
