#!/usr/bin/python3
"""bench.py - seqrun against PyTorch and ONNX Runtime on the workloads of
issues 7 (W1-W6), 15 (W7-W10) and 12 (W11, W12).

    /usr/bin/python3 bench/bench.py [--seqrun ./seqrun] [--sgemm PATH] [--fma PATH]
                                    [--quick] [--only W1,W5] [--threads 1,2]
                                    [--out FILE] [--ort-dir bench/ort | --no-ort] [--keep]

`make bench` runs it (`make bench BENCHFLAGS="--quick --only W7"` for a
smoke run of a subset).  A full run writes bench/RESULTS.md; a `--quick`
or `--only` run writes its report to $TMPDIR/seqrun-bench-partial.md
instead (and to stdout), unless --out says otherwise, so a partial run
never replaces the committed full one.
Everything is generated in one run, in a temporary directory (on /dev/shm
when it has room, so no disk write-back disturbs the timings): random
weights written as safetensors, random inputs as .npy, and PyTorch 1.13's
models built from the very same YAML specs (bench/w*.yaml) with the real
torch.nn constructors; for ONNX Runtime each model is exported with
torch.onnx.export (opset 17, the batch size fixed; torch 1.13 exports
without the `onnx` Python package) and timed by bench/ort_bench.js in one
long-lived Node process with npm's onnxruntime-node (installed into
bench/ort/node_modules by `make bench` when npm is present).

What is measured (details in the Method section this writes to RESULTS.md)
--------------------------------------------------------------------------
W1-W4, throughput at batch B and T threads.
  seqrun: as a user runs a batch job, one process over one .npy file with
  `--batch-size B`, so every chunk is one forward pass at batch B.  Two
  files: SMALL holds one batch, BIG holds R batches (R chosen so the run
  takes ~0.5 s).  Both are run in every repeat; the per-sample time is
  (median t_BIG - median t_SMALL) / ((R - 1) * B): process start-up, model and weight
  loading and the first batch cancel, while reading each chunk from the
  file and writing its output stay in (page cache; a cost PyTorch's figure
  does not carry, so this favours PyTorch slightly).  One extra `-v` run
  gives seqrun's own per-layer time sum ("fwd-only"), a diagnostic.
  PyTorch: in this process, eager and
  optimize_for_inference(freeze(script(m.eval()))), under
  torch.inference_mode(), timing only repeated forward calls on the same
  batch (a block of ~0.3 s per repeat, after warm-up).  Threads:
  torch.set_num_threads(T) AND openblas_set_num_threads(T) on the
  libopenblas torch has loaded (Debian's torch does not govern OpenBLAS's
  pool).  PyTorch-best is the faster of the two.
  ONNX Runtime: onnxruntime-node in bench/ort_bench.js, graph optimisation
  'all', intra-op threads T, one inter-op thread, sequential execution,
  warm-up, then blocks of ~0.3 s of forward calls on the same batch.
  Every repeat runs seqrun BIG, eager, seqrun SMALL, TorchScript, ONNX
  Runtime (and, for W1, sgemm alone on W1's shapes) one after another; the
  figures are medians over the repeats.  With T > 1 the script sleeps
  0.15 s after each PyTorch and ORT block so that spinning OpenBLAS/OpenMP/
  ORT workers have gone idle before seqrun starts.
W7-W12 (issues 15 and 12) are measured exactly as W1-W4, at one batch size
  each; a workload whose spec `seqrun --check` refuses (exit 2: a layer
  seqrun does not have yet, e.g. ConvTranspose2d) is reported as "seqrun
  lacks layer X" with PyTorch and ORT still measured, and runs by itself
  once seqrun has the layer.
2-thread scaling (W7-W10): after a workload's rows, REPS paired repeats
  of seqrun BIG and SMALL at 1 thread on each core by itself, then at 2,
  one after another; each repeat's 2-thread rate ((R-1) B over t_BIG -
  t_SMALL) over the mean of its 1-thread rates on the cores, the verdict
  their median (the rows' rates are measured half a minute or more apart,
  and this machine's speed drifts more than that between minutes).
Cores: this VM's two cores are not equally fast (cache-bound kernels ran
  25-35% slower on cpu0 than on cpu1, its FMA rate 3% lower), and an
  unpinned 1-thread process lands on either.  So every 1-thread run is
  pinned (sched_setaffinity) to one core, the next core each repeat, the
  same core for seqrun, PyTorch and ONNX Runtime within a repeat.
GFLOP/s counts 2 FLOPs per multiply-add of Linear, Conv and ConvTranspose
  layers (bias, activations, pooling and normalisation not counted),
  analytically from the layer shapes.  Two peaks, both measured at the
  start (and, in a full run, again at the end; the higher is used): the
  sgemm peak, bench/sgemm_peak's median rate for a 1024^3 cblas_sgemm at T
  threads, and the AVX-512 FMA peak, bench/fma_peak's rate for independent
  _mm512_fmadd_ps on registers in T threads (what no float32 kernel can
  exceed).
W1 at batch 1, one thread: also the memory floor, bench/sgemm_peak's time
  to only read W1's weights once per pass (see RESULTS.md's Method).
W5: whole-process wall time, one sample .npy in -> .npy out: seqrun against
  `python3 bench/w5_torch.py` (imports torch, builds the model, loads the
  weights, reads, runs, writes).  Medians, interleaved.
W6: W4's model over 1,000,000 samples from one .npy, default chunking,
  under /usr/bin/time -v: samples/s and peak RSS; compared per sample with
  a whole-process run on the 4096-sample file (the issue's wording) and
  with W4's steady-state batch-4096 throughput (stricter).
Every seqrun and ORT output is checked against PyTorch eager's (rtol 1e-4,
atol 1e-4), and TorchScript's against eager's.
"""

import argparse
import ctypes
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
import torch
import torch.nn as nn
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RTOL = ATOL = 1e-4

# name, spec, per-sample input shape, batch sizes
THROUGHPUT = [
    ("W1", "w1_mlp.yaml", (784,), [1, 64, 1024]),
    ("W2", "w2_cnn.yaml", (3, 32, 32), [1, 64, 256]),
    ("W3", "w3_bncnn.yaml", (3, 64, 64), [32]),
    ("W4", "w4_conv1d.yaml", (1, 28), [4096]),
    # issue 15
    ("W7", "w7_vgg11.yaml", (3, 32, 32), [64]),
    ("W8", "w8_mobilenet.yaml", (3, 64, 64), [32]),
    ("W9", "w9_tokenmlp.yaml", (128, 256), [32]),
    ("W10", "w10_dcgan_d.yaml", (3, 64, 64), [64]),
    # issue 12
    ("W11", "w11_dcgan_g.yaml", (100, 1, 1), [64]),
    ("W12", "w12_autoenc.yaml", (1, 28, 28), [256]),
]
SPEC = {w: s for w, s, _, _ in THROUGHPUT}
SHAPE = {w: sh for w, _, sh, _ in THROUGHPUT}
OLD = ["W1", "W2", "W3", "W4", "W5", "W6"]       # issue 7
NEW = ["W7", "W8", "W9", "W10", "W11", "W12"]    # issues 15 and 12
SCALING = ["W7", "W8", "W9", "W10"]               # issue 15's 2-thread scaling target
ALL = OLD + NEW
ORT_VERSION = "1.30.0"                           # npm's onnxruntime-node, as `make bench` installs it
ONNX_OPSET = 17                                  # the newest torch 1.13 exports
W1_SHAPES = "784x512,512x512,512x10"  # W1's Linear layers, KxN, for sgemm_peak
W6_SAMPLES = 1_000_000

FULL = dict(reps=5, seq_target=0.5, torch_target=0.3, chain_secs=0.2, peak_secs=1.0,
            w5_py=5, w5_seq=21, w6_reps=3, max_input_mb=160, min_batches=5)
QUICK = dict(reps=3, seq_target=0.25, torch_target=0.1, chain_secs=0.1, peak_secs=0.3,
             w5_py=2, w5_seq=7, w6_reps=1, max_input_mb=64, min_batches=3)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def median(v):
    return statistics.median(v) if v else float("nan")


def spread(v):
    """(max - min) / median of the repeats: how noisy a figure was."""
    v = [x for x in v if x == x]
    return (max(v) - min(v)) / statistics.median(v) if len(v) > 1 and statistics.median(v) else 0.0


# ---------------------------------------------------------------------------
# models, weights, files
# ---------------------------------------------------------------------------

def build_torch(spec_path):
    """nn.Sequential from a seqrun spec: the real constructors, PyTorch's
    defaults.  (The bench specs use only plain scalars, no anchors.)"""
    with open(spec_path) as f:
        spec = yaml.safe_load(f)
    mods = []
    for item in spec["layers"]:
        if isinstance(item, str):
            typ, args = item, None
        else:
            ((typ, args),) = item.items()
        cls = getattr(nn, typ)
        if args is None:
            mods.append(cls())
        elif isinstance(args, dict):
            mods.append(cls(**args))
        elif isinstance(args, list):
            mods.append(cls(*args))
        else:
            mods.append(cls(args))
    return nn.Sequential(*mods)


def randomise(model, seed):
    """PyTorch's default init from a fixed seed, plus non-trivial BatchNorm
    affine parameters and running statistics (so folding them is tested)."""
    torch.manual_seed(seed)
    for m in model.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(100)
    return model.eval()


def write_safetensors(path, state):
    """state_dict -> safetensors (F32; I64 for integer buffers), by hand:
    8-byte little-endian header length, JSON header padded to 8, data."""
    header, blobs, off = {}, [], 0
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        if t.is_floating_point():
            arr, dt = t.numpy().astype("<f4"), "F32"
        else:
            arr, dt = t.numpy().astype("<i8"), "I64"
        b = arr.tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


def layer_flops(model, shape):
    """{state_dict index: 2 * multiply-adds for one sample} of the Linear,
    Conv and ConvTranspose layers at the top level of the Sequential (a
    transposed convolution: every input element times out_channels/groups
    times the kernel)."""
    per = {}

    def count(m, inp, out):
        if isinstance(m, nn.Linear):
            return 2 * out.numel() * m.in_features
        if isinstance(m, nn.modules.conv._ConvTransposeNd):
            return 2 * inp[0].numel() * (m.out_channels // m.groups) * int(np.prod(m.kernel_size))
        if isinstance(m, nn.modules.conv._ConvNd):
            return 2 * out.numel() * (m.in_channels // m.groups) * int(np.prod(m.kernel_size))
        return 0

    hs = []
    for i, top in enumerate(model):
        for m in top.modules():
            hs.append(m.register_forward_hook(
                lambda m, inp, out, i=i: per.__setitem__(i, per.get(i, 0) + count(m, inp, out))))
    with torch.inference_mode():
        model(torch.zeros((1,) + tuple(shape)))
    for h in hs:
        h.remove()
    return {i: f for i, f in per.items() if f}


def flops_per_sample(model, shape):
    """2 * multiply-adds of Linear and Conv layers for one sample."""
    return sum(layer_flops(model, shape).values())


def seed_of(*parts):
    return zlib.crc32("/".join(map(str, parts)).encode())


def rand_input(name, n, shape):
    rng = np.random.default_rng(seed_of("input", name, n))
    return rng.standard_normal((n,) + tuple(shape), dtype=np.float32)


def check(actual, expected):
    """(ok, max abs error, worst |a-e| / (atol + rtol |e|))"""
    a = np.asarray(actual, np.float64)
    e = np.asarray(expected, np.float64)
    if a.shape != e.shape:
        return False, float("inf"), float("inf")
    if a.size == 0:
        return True, 0.0, 0.0
    err = np.abs(a - e)
    worst = float(np.max(err / (ATOL + RTOL * np.abs(e))))
    return bool(worst <= 1.0 and np.isfinite(a).all()), float(err.max()), worst


# ---------------------------------------------------------------------------
# threads, PyTorch timing
# ---------------------------------------------------------------------------

def torch_openblas():
    for line in open("/proc/self/maps"):
        if "libopenblas" in line:
            path = line.split()[-1]
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib, path
    return None, None


OPENBLAS, OPENBLAS_PATH = None, None


def set_threads(t):
    torch.set_num_threads(t)
    if OPENBLAS is not None:
        OPENBLAS.openblas_set_num_threads(ctypes.c_int(t))


class TorchTimer:
    """Forward calls of one model on one batch; rate() times one block of
    `iters` calls (calibrated once to last about `target` seconds)."""

    def __init__(self, fn, x, target):
        self.fn, self.x = fn, x
        with torch.inference_mode():
            for _ in range(5):  # TorchScript profiles its first runs
                fn(x)
            t0 = time.perf_counter()
            for _ in range(3):
                fn(x)
            one = (time.perf_counter() - t0) / 3
        self.iters = max(1, int(target / max(one, 1e-7)))

    def rate(self):
        with torch.inference_mode():
            t0 = time.perf_counter()
            for _ in range(self.iters):
                self.fn(self.x)
            dt = time.perf_counter() - t0
        return self.iters * self.x.shape[0] / dt


def torchscript(model, x):
    with torch.no_grad():
        ts = torch.jit.script(model.eval())
        ts = torch.jit.freeze(ts)
        ts = torch.jit.optimize_for_inference(ts)
    return ts


# ---------------------------------------------------------------------------
# seqrun and sgemm_peak processes
# ---------------------------------------------------------------------------

class RunError(Exception):
    pass


def cpus_for(ctx, T, rep):
    """The cores repeat `rep` of a T-thread row runs on: at one thread a
    single core, the next one each repeat, the same for seqrun, PyTorch and
    ONNX Runtime alike (this VM's two cores differ: see the Method's core
    note); else all of them."""
    if T == 1 and len(ctx.cpus) > 1:
        return {ctx.cpus[rep % len(ctx.cpus)]}
    return set(ctx.cpus)


def pin(ctx, cpus):
    """This thread (PyTorch's at one thread, and every process it starts
    from now on: seqrun, sgemm_peak) and every thread of the ONNX Runtime
    process on `cpus`."""
    os.sched_setaffinity(0, cpus)
    if getattr(ctx, "ort", None) is not None:
        try:
            tids = os.listdir("/proc/%d/task" % ctx.ort.p.pid)
        except OSError:
            tids = []
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), cpus)
            except OSError:
                pass


def run_proc(cmd, timeout=600):
    """Wall time of one process; stderr kept for diagnostics."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=timeout)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RunError("%s: exit %d: %s" % (" ".join(map(str, cmd)), p.returncode,
                                              p.stderr.decode(errors="replace").strip()[:600]))
    return dt, p.stderr.decode(errors="replace")


def seqrun_cmd(ctx, spec, weights, inp, out, threads, batch=None, verbose=False):
    cmd = [ctx.seqrun, "-v" if verbose else "-q", "--threads", str(threads), "-w", weights, "-o", out]
    if batch:
        cmd += ["--batch-size", str(batch)]
    return cmd + [spec, inp]


def layer_sum_ms(stderr):
    m = re.search(r"all layers\s+([0-9.]+)\s*ms", stderr)
    return float(m.group(1)) if m else None


def layer_times_ms(stderr):
    """{top-level layer index: (type, ms)} from `seqrun -v` (a fused layer,
    "(in layer I)", has no time of its own: its time is layer I's)."""
    out = {}
    for m in re.finditer(r"^seqrun: layer (\d+)\s+(\w+)\s.*?\s([0-9.]+) ms\s*$", stderr, re.M):
        out[int(m.group(1))] = (m.group(2), float(m.group(3)))
    return out


def sgemm(ctx, *args):
    out = subprocess.run([ctx.sgemm] + [str(a) for a in args], capture_output=True, text=True, timeout=120)
    m = re.match(r"gflops ([0-9.]+)", out.stdout)
    if out.returncode or not m:
        raise RunError("sgemm_peak %s: %s%s" % (args, out.stdout, out.stderr))
    return float(m.group(1))


def build_sgemm(ctx):
    exe = os.path.join(ctx.tmp, "sgemm_peak")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "openblas"], capture_output=True,
                           text=True, check=True).stdout.split()
    subprocess.run(["cc", "-O2", "-std=c11", "-D_GNU_SOURCE", "-o", exe,
                    os.path.join(HERE, "sgemm_peak.c")] + flags, check=True)
    return exe


def build_fma(ctx):
    exe = os.path.join(ctx.tmp, "fma_peak")
    subprocess.run(["cc", "-O2", "-std=c11", "-D_GNU_SOURCE", "-o", exe, os.path.join(HERE, "fma_peak.c"),
                    "-lpthread"], check=True)
    return exe


def fma_peak(ctx, T, secs):
    """bench/fma_peak's AVX-512 FMA rate at T threads, or None (no AVX-512F)."""
    if ctx.fma is None:
        return None
    out = subprocess.run([ctx.fma, str(T), str(secs)], capture_output=True, text=True, timeout=120)
    m = re.match(r"gflops ([0-9.]+)", out.stdout)
    if out.returncode or not m:
        log("bench: fma_peak %d: %s%s" % (T, out.stdout, out.stderr.strip()))
        ctx.fma_error = (out.stderr or out.stdout).strip() or "exit %d" % out.returncode
        return None
    return float(m.group(1))


# ---------------------------------------------------------------------------
# ONNX Runtime (npm's onnxruntime-node, driven through bench/ort_bench.js)
# ---------------------------------------------------------------------------

class Ort:
    """One long-lived `node bench/ort_bench.js` process: sessions stay
    loaded across the interleaved repeats; each request is one JSON line."""

    def __init__(self, node, moddir, logpath):
        self.log = open(logpath, "w")
        self.p = subprocess.Popen([node, os.path.join(HERE, "ort_bench.js"), moddir], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1)
        self.logpath = logpath

    def call(self, **req):
        try:
            self.p.stdin.write(json.dumps(req) + "\n")
            self.p.stdin.flush()
            line = self.p.stdout.readline()
        except (BrokenPipeError, OSError) as e:
            line = ""
        if not line:
            self.log.flush()
            tail = open(self.logpath).read().strip()[-400:]
            raise RunError("ort_bench.js exited (%s): %s" % (self.p.poll(), tail))
        ans = json.loads(line)
        if not ans.get("ok"):
            raise RunError("onnxruntime-node: %s" % ans.get("error"))
        return ans

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
        self.log.close()


def start_ort(ctx, a):
    """ctx.ort (an Ort) or ctx.ort_reason (why ONNX Runtime is not measured)."""
    ctx.ort, ctx.ort_reason, ctx.ort_info = None, None, None
    if a.no_ort:
        ctx.ort_reason = "not requested (--no-ort)"
        return
    moddir = os.path.abspath(a.ort_dir)
    rel = os.path.relpath(moddir, ROOT)
    node = shutil.which("node")
    pkg = os.path.join(moddir, "node_modules", "onnxruntime-node", "package.json")
    if not os.path.exists(pkg):
        why = ("npm not found, so onnxruntime-node is not installed" if not shutil.which("npm") else
               "onnxruntime-node is not installed in %s/node_modules (`make bench` installs it%s)" % (
                   rel, "; see %s/install.log" % rel if os.path.exists(os.path.join(moddir, "install.log"))
                   else ""))
        ctx.ort_reason = why
        return
    if not node:
        ctx.ort_reason = "node not found (onnxruntime-node needs Node.js)"
        return
    version = json.load(open(pkg)).get("version", "?")
    try:
        ort = Ort(node, moddir, os.path.join(ctx.tmp, "ort_bench.log"))
        hello = ort.call(op="hello")
    except (RunError, OSError, ValueError) as e:
        ctx.ort_reason = "onnxruntime-node does not load: %s" % str(e)[:300]
        return
    ctx.ort = ort
    nodev = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    ctx.ort_info = "onnxruntime-node %s from npm (in %s)%s, Node.js %s; timed through %s" % (
        version, rel, "" if version == ORT_VERSION else " (**not the %s the issue names**)" % ORT_VERSION,
        nodev, "the native binding's synchronous run() (what InferenceSession.run calls)"
        if hello.get("path") == "binding" else "the public InferenceSession.run()")


def export_onnx(ctx, name, model, xt):
    """torch.onnx.export at this batch size; the path, or raises RunError."""
    path = os.path.join(ctx.tmp, "%s_b%d.onnx" % (name, xt.shape[0]))
    if not os.path.exists(path):
        import warnings
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(model, xt, path, opset_version=ONNX_OPSET, input_names=["x"],
                                  output_names=["y"], do_constant_folding=True)
        except Exception as e:  # an exporter error of any kind: ORT is not measured here
            raise RunError("torch.onnx.export (opset %d) failed: %s" % (ONNX_OPSET, str(e).splitlines()[0][:300]))
    return path


# ---------------------------------------------------------------------------
# the benchmarks
# ---------------------------------------------------------------------------

class Ctx:
    pass


def prepare_workload(ctx, name):
    """Model, weights file, FLOPs, seqrun availability for one workload."""
    if name in ctx.models:
        return ctx.models[name]
    spec = os.path.join(HERE, SPEC[name])
    model = randomise(build_torch(spec), seed_of("weights", name))
    wfile = os.path.join(ctx.tmp, name + ".safetensors")
    write_safetensors(wfile, model.state_dict())
    lf = layer_flops(model, SHAPE[name])
    d = dict(spec=spec, model=model, weights=wfile, flops=sum(lf.values()), layer_flops=lf,
             ts=None, seqrun_error=None)
    p = subprocess.run([ctx.seqrun, "--check", "-w", wfile, spec], capture_output=True, text=True)
    if p.returncode != 0:
        lacks = sorted(set(re.findall(r"unknown layer type '([^']+)'", p.stderr)))
        first = p.stderr.strip().splitlines()[0][:300] if p.stderr.strip() else ""
        if lacks:
            d["seqrun_error"] = "seqrun lacks layer %s (`seqrun --check` exit %d: %s)" % (
                ", ".join(lacks), p.returncode, first)
        else:
            d["seqrun_error"] = "seqrun --check exit %d: %s" % (p.returncode, p.stderr.strip()[:300])
        log("  %s: seqrun cannot run it yet: %s" % (name, d["seqrun_error"]))
    ctx.models[name] = d
    return d


def bench_throughput(ctx, name, batch):
    W = prepare_workload(ctx, name)
    model, cfg = W["model"], ctx.cfg
    x = rand_input(name, batch, SHAPE[name])
    xt = torch.from_numpy(x)
    with torch.inference_mode():
        ref = model(xt).numpy()
    if W["ts"] is None:
        W["ts"] = torchscript(model, xt)
    with torch.inference_mode():
        ts_ok = check(W["ts"](xt).numpy(), ref)
    small = os.path.join(ctx.tmp, "%s_b%d_small.npy" % (name, batch))
    big = os.path.join(ctx.tmp, "%s_b%d_big.npy" % (name, batch))
    out = os.path.join(ctx.tmp, "out.npy")
    np.save(small, x)
    rows = []
    seq_ok, R, err = None, None, W["seqrun_error"]
    if err is None:
        try:
            run_proc(seqrun_cmd(ctx, W["spec"], W["weights"], small, out, ctx.threads[0], batch))
            seq_ok = check(np.load(out), ref)
            # calibrate R at the first (fewest) thread count
            t_s = min(run_proc(seqrun_cmd(ctx, W["spec"], W["weights"], small, out, ctx.threads[0], batch))[0]
                      for _ in range(2))
            per_batch_bytes = x.nbytes
            cap = max(2, int(cfg["max_input_mb"] * 2**20 // per_batch_bytes))
            rp = int(min(cap, max(2, 0.05 * 20e9 / max(1, W["flops"] * batch))))
            np.save(big, np.tile(x, (rp,) + (1,) * (x.ndim - 1)))
            t_p, se = run_proc(seqrun_cmd(ctx, W["spec"], W["weights"], big, out, ctx.threads[0], batch,
                                          verbose=True))
            # per-batch cost: the larger of the wall-time difference and
            # seqrun's own layer-time sum, so a noisy small run cannot
            # make R (and the run) huge
            per = max((t_p - t_s) / (rp - 1), (layer_sum_ms(se) or 0) / 1000 / rp, 1e-6)
            # the R - 1 batches that the difference keeps should outweigh
            # the single-batch run (start-up and its noise) at least 3:1
            R = int(min(cap, max(cfg["min_batches"], round(cfg["seq_target"] / per), round(3 * t_s / per) + 1)))
            np.save(big, np.tile(x, (R,) + (1,) * (x.ndim - 1)))
        except (RunError, subprocess.TimeoutExpired) as e:
            err = str(e)
            log("  %s batch %d: seqrun failed: %s" % (name, batch, err))
    onnx, ort_err = None, ctx.ort_reason
    raw = os.path.join(ctx.tmp, "%s_b%d.f32" % (name, batch))
    if ctx.ort is not None:
        try:
            onnx = export_onnx(ctx, name, model, xt)
            x.tofile(raw)
        except RunError as e:
            ort_err = str(e)
            log("  %s batch %d: %s" % (name, batch, ort_err))
    for T in ctx.threads:
        set_threads(T)
        pin(ctx, cpus_for(ctx, T, 0))
        eager = TorchTimer(model, xt, cfg["torch_target"])
        tsr = TorchTimer(W["ts"], xt, cfg["torch_target"])
        row = dict(w=name, batch=batch, T=T, flops=W["flops"], R=R, seq=[], t_big=[], t_small=[],
                   rate=None, eager=[], ts=[], chain=[], floor=[], ort=[], ort_ok=None, ort_err=ort_err,
                   fwd=None, fwd_layers=None, seq_ok=seq_ok, ts_ok=ts_ok, err=err, big_ok=None)
        key = "%s/%d/%d" % (name, batch, T)
        if onnx is not None:
            try:
                ctx.ort.call(op="load", key=key, model=onnx, input=raw, shape=list(x.shape), threads=T,
                             target=cfg["torch_target"])
                oout = os.path.join(ctx.tmp, "ort_out.f32")
                shape = ctx.ort.call(op="output", key=key, path=oout)["shape"]
                row["ort_ok"] = check(np.fromfile(oout, np.float32).reshape(shape), ref)
                if T > 1:
                    time.sleep(0.15)
            except RunError as e:
                row["ort_err"] = str(e)
                log("  %s batch %d T=%d: ORT failed: %s" % (name, batch, T, e))
        if err is None:
            try:
                run_proc(seqrun_cmd(ctx, W["spec"], W["weights"], big, out, T, batch))  # warm
                o = np.load(out, mmap_mode="r")
                row["big_ok"] = check(o[:batch], ref)[0] and check(o[-batch:], ref)[0] and len(o) == R * batch
            except (RunError, subprocess.TimeoutExpired) as e:
                row["err"] = str(e)
        for rep in range(cfg["reps"]):
            pin(ctx, cpus_for(ctx, T, rep))
            try:
                if row["err"] is None:
                    tb = run_proc(seqrun_cmd(ctx, W["spec"], W["weights"], big, out, T, batch))[0]
                row["eager"].append(eager.rate())
                if T > 1:
                    time.sleep(0.15)
                if row["err"] is None:
                    ts_ = run_proc(seqrun_cmd(ctx, W["spec"], W["weights"], small, out, T, batch))[0]
                    row["t_big"].append(tb)
                    row["t_small"].append(ts_)
            except (RunError, subprocess.TimeoutExpired) as e:
                row["err"] = str(e)
            row["ts"].append(tsr.rate())
            if T > 1:
                time.sleep(0.15)
            if onnx is not None and row["ort_err"] is None:
                try:
                    row["ort"].append(ctx.ort.call(op="rate", key=key)["rate"])
                except RunError as e:
                    row["ort_err"] = str(e)
                if T > 1:
                    time.sleep(0.15)
            if name == "W1":
                row["chain"].append(sgemm(ctx, T, "chain", batch, W1_SHAPES, cfg["chain_secs"]))
                if batch == 1 and T == 1:
                    row["floor"].append(sgemm(ctx, 1, "stream", 1, W1_SHAPES, cfg["chain_secs"]))
        if row["err"] is None and row["t_big"]:
            # medians of each kind of run: a start-up hiccup in one small
            # run cannot make one repeat's difference tiny
            tb, ts_ = median(row["t_big"]), median(row["t_small"])
            row["rate"] = (R - 1) * batch / max(tb - ts_, 1e-9)
            row["seq"] = [(R - 1) * batch / max(t - ts_, 1e-9) for t in row["t_big"]]
        else:
            row["seq"] = []
        if onnx is not None:
            try:
                ctx.ort.call(op="free", key=key)
            except RunError:
                pass
        pin(ctx, cpus_for(ctx, T, 0))
        if row["err"] is None:
            try:
                se = run_proc(seqrun_cmd(ctx, W["spec"], W["weights"], big, out, T, batch, verbose=True))[1]
                ms = layer_sum_ms(se)
                row["fwd"] = R * batch / (ms / 1000) if ms else None
                row["fwd_layers"] = layer_times_ms(se)
                row["fwd_samples"] = R * batch
            except (RunError, subprocess.TimeoutExpired):
                pass
        pin(ctx, set(ctx.cpus))
        rows.append(row)
        log("  %s b=%d T=%d: seqrun %s/s  eager %.0f/s  TorchScript %.0f/s  ORT %s" % (
            name, batch, T, "%.0f" % row["rate"] if row["seq"] else "-",
            median(row["eager"]), median(row["ts"]),
            "%.0f/s" % median(row["ort"]) if row["ort"] else "- (%s)" % (row["ort_err"] or "?")[:80]))
    if err is None and name in SCALING and 1 in ctx.threads and 2 in ctx.threads:
        next(r for r in rows if r["T"] == 1)["pairs"] = scaling_pairs(ctx, name, W, small, big, out, batch)
    for f in (small, big, out, raw):
        if os.path.exists(f):
            os.unlink(f)
    return rows


def scaling_pairs(ctx, name, W, small, big, out, batch):
    """Paired repeats of seqrun BIG and SMALL, one after another: at one
    thread on each core by itself, then at two threads, so that the
    machine's slow and fast minutes fall on all of them (the per-thread-
    count rows above are measured half a minute or more apart).  Each
    repeat's (t_BIG - t_SMALL) per run: {"one": {cpu: t}, "two": t}."""
    def diff(T, cpus):
        pin(ctx, cpus)
        tb = run_proc(seqrun_cmd(ctx, W["spec"], W["weights"], big, out, T, batch))[0]
        ts_ = run_proc(seqrun_cmd(ctx, W["spec"], W["weights"], small, out, T, batch))[0]
        return max(tb - ts_, 1e-9)

    q = []
    for _ in range(ctx.cfg["reps"]):
        try:
            rep = {"one": {cpu: diff(1, {cpu}) for cpu in ctx.cpus}}
            rep["two"] = diff(2, set(ctx.cpus))
            q.append(rep)
        except (RunError, subprocess.TimeoutExpired):
            pin(ctx, set(ctx.cpus))
            return []
    log("  %s: 2 threads / the cores' mean 1-thread rate, paired repeats: %s" % (
        name, ", ".join("%.2f" % pair_scaling(r) for r in q)))
    return q


def pair_scaling(rep):
    """One paired repeat's 2-thread rate over the mean of its 1-thread
    rates on each core: what 2 threads give over one thread on an average
    core of this machine (with equal cores, simply t1 / t2)."""
    ones = list(rep["one"].values())
    return (1 / rep["two"]) / (sum(1 / t for t in ones) / len(ones))


def bench_w5(ctx):
    W = prepare_workload(ctx, "W1")
    cfg = ctx.cfg
    x = rand_input("W5", 1, SHAPE["W1"])
    with torch.inference_mode():
        ref = W["model"](torch.from_numpy(x)).numpy()
    inp = os.path.join(ctx.tmp, "w5_in.npy")
    o_seq = os.path.join(ctx.tmp, "w5_seqrun.npy")
    o_py = os.path.join(ctx.tmp, "w5_torch.npy")
    np.save(inp, x)
    script = os.path.join(HERE, "w5_torch.py")
    rows = []
    for T in ctx.threads:
        r = dict(T=T, seq=[], py=[], err=W["seqrun_error"], seq_ok=None, py_ok=None)
        pycmd = [sys.executable, script, str(T), W["weights"], inp, o_py]
        run_proc(pycmd)  # warm the page cache
        r["py_ok"] = check(np.load(o_py), ref)
        if r["err"] is None:
            try:
                run_proc(seqrun_cmd(ctx, W["spec"], W["weights"], inp, o_seq, T))
                r["seq_ok"] = check(np.load(o_seq), ref)
            except RunError as e:
                r["err"] = str(e)
        per = max(1, cfg["w5_seq"] // cfg["w5_py"])
        for i in range(cfg["w5_py"]):
            r["py"].append(run_proc(pycmd)[0])
            if r["err"] is None:
                for _ in range(per):
                    r["seq"].append(run_proc(seqrun_cmd(ctx, W["spec"], W["weights"], inp, o_seq, T))[0])
        rows.append(r)
        log("  W5 T=%d: seqrun %.2f ms  python+torch %.0f ms" % (T, median(r["seq"]) * 1e3 if r["seq"] else
                                                                  float("nan"), median(r["py"]) * 1e3))
    return rows


def max_rss_kib(stderr):
    m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", stderr)
    return int(m.group(1)) if m else None


def bench_w6(ctx, w4_rows):
    W = prepare_workload(ctx, "W4")
    cfg = ctx.cfg
    rows = []
    if W["seqrun_error"]:
        return [dict(T=T, err=W["seqrun_error"]) for T in ctx.threads]
    big = os.path.join(ctx.tmp, "w6_in.npy")
    out = os.path.join(ctx.tmp, "w6_out.npy")
    x4096 = rand_input("W4", 4096, SHAPE["W4"])
    f4096 = os.path.join(ctx.tmp, "w6_4096.npy")
    np.save(f4096, x4096)
    arr = np.lib.format.open_memmap(big, mode="w+", dtype=np.float32, shape=(W6_SAMPLES,) + SHAPE["W4"])
    rng = np.random.default_rng(seed_of("input", "W6"))
    for s in range(0, W6_SAMPLES, 100_000):
        arr[s:s + 100_000] = rng.standard_normal((min(100_000, W6_SAMPLES - s),) + SHAPE["W4"], dtype=np.float32)
    arr.flush()
    del arr
    have_time = os.access("/usr/bin/time", os.X_OK)
    for T in ctx.threads:
        r = dict(T=T, wall=[], rss=[], small=[], err=None, ok=None, rss_tool="/usr/bin/time -v")
        try:
            for i in range(cfg["w6_reps"]):
                cmd = seqrun_cmd(ctx, W["spec"], W["weights"], big, out, T)
                if have_time:
                    dt, se = run_proc(["/usr/bin/time", "-v"] + cmd, timeout=900)
                    rss = max_rss_kib(se)
                else:  # os.wait4 gives this child's own rusage
                    r["rss_tool"] = "wait4 rusage (no /usr/bin/time)"
                    t0 = time.perf_counter()
                    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                    _, status, ru = os.wait4(p.pid, 0)
                    dt = time.perf_counter() - t0
                    p.returncode = os.waitstatus_to_exitcode(status)
                    if p.returncode:
                        raise RunError("seqrun W6 exit %d" % p.returncode)
                    rss = ru.ru_maxrss
                r["wall"].append(dt)
                r["rss"].append(rss)
                if i == 0:
                    o = np.load(out, mmap_mode="r")
                    idx = np.unique(np.concatenate([np.arange(2048), np.arange(W6_SAMPLES - 2048, W6_SAMPLES),
                                                    np.random.default_rng(1).integers(0, W6_SAMPLES, 4096)]))
                    src = np.load(big, mmap_mode="r")
                    with torch.inference_mode():
                        ref = W["model"](torch.from_numpy(np.ascontiguousarray(src[idx]))).numpy()
                    r["ok"] = len(o) == W6_SAMPLES and check(o[idx], ref)[0]
                    del o, src
                    if dt > 60:  # a slow seqrun: one run is enough to show it
                        break
                for _ in range(3):
                    r["small"].append(run_proc(seqrun_cmd(ctx, W["spec"], W["weights"], f4096, out, T))[0])
        except (RunError, subprocess.TimeoutExpired) as e:
            r["err"] = str(e)
        w4 = [w for w in w4_rows if w["T"] == T and w["seq"]]
        r["w4_rate"] = w4[0]["rate"] if w4 else None
        rows.append(r)
        if r["wall"]:
            log("  W6 T=%d: %.0f samples/s, peak RSS %.1f MiB" % (T, W6_SAMPLES / median(r["wall"]),
                                                                   max(r["rss"]) / 1024))
    for f in (big, out, f4096):
        if os.path.exists(f):
            os.unlink(f)
    return rows


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------

def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, shell=True).stdout.strip()
    except OSError:
        return ""


def machine_info(ctx):
    lscpu = sh("LC_ALL=C lscpu")
    field = lambda k: (re.search(r"^%s:\s*(.*)$" % re.escape(k), lscpu, re.M) or [None, "?"])[1]
    flags = field("Flags").split()
    isa = ", ".join(f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "amx_tile") if f in flags)
    cfgs = OPENBLAS.openblas_get_config().decode() if OPENBLAS else "?"
    core = OPENBLAS.openblas_get_corename().decode() if OPENBLAS else "?"
    seqrun_libs = sh("ldd %s | grep -i blas" % ctx.seqrun)
    seqrun_blas = os.path.realpath(seqrun_libs.split("=>")[1].split()[0]) if "=>" in seqrun_libs else "?"
    return [
        ("date", datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
        ("machine", "%s; %s CPUs (%s cores/socket x %s sockets, %s threads/core); %s" % (
            field("Model name"), field("CPU(s)"), field("Core(s) per socket"), field("Socket(s)"),
            field("Thread(s) per core"), isa)),
        ("load average (1, 5, 15 min) at start / end", "%s / %s" % (
            " ".join(ctx.load0), " ".join(open("/proc/loadavg").read().split()[0:3]))),
        ("OpenBLAS", "%s; core type in use: %s; OPENBLAS_CORETYPE=%s" % (
            cfgs, core, os.environ.get("OPENBLAS_CORETYPE", "(unset)"))),
        ("OpenBLAS libraries", "torch: %s; seqrun: %s" % (OPENBLAS_PATH, seqrun_blas)),
        ("torch", "%s (%s; oneDNN %s), numpy %s" % (
            torch.__version__,
            "".join(l.strip() for l in torch.__config__.parallel_info().splitlines() if "backend" in l),
            "".join(re.findall(r"MKL-DNN (v[0-9.]+)", torch.__config__.show())[:1]) or "?",
            np.__version__)),
        ("seqrun", "%s, git %s" % (sh("%s --version" % ctx.seqrun).splitlines()[0] if sh(
            "%s --version" % ctx.seqrun) else "?", sh("cd %s && git describe --always --dirty" % ROOT))),
        ("ONNX Runtime", ctx.ort_info + "; models from torch.onnx.export, opset %d, batch fixed" % ONNX_OPSET
         if ctx.ort_info else "not measured: " + ctx.ort_reason),
        ("command", " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])),
    ]


def fmt(v, p=0):
    if v is None or v != v:
        return "-"
    return "%.*f" % (p, v)


def fmt_rate(v):
    if v is None or v != v:
        return "-"
    return "%.0f" % v if v >= 100 else "%.1f" % v


def verdict(ok):
    return "**met**" if ok else "**NOT met**"


NOISY = 0.25


def row_spread(r):
    """The largest spread of seqrun's, PyTorch-best's and ORT's per-repeat figures."""
    return max(spread(r["seq"]), spread([max(a, b) for a, b in zip(r["eager"], r["ts"])]), spread(r["ort"]))


def best_torch(r):
    return max(median(r["eager"]), median(r["ts"]))


def ort_rate(r):
    return median(r["ort"]) if r["ort"] else None


def ort_short(r):
    """What the ORT column shows when ORT has no figure: why, briefly."""
    e = r["ort_err"] or ""
    if "npm not found" in e:
        return "no npm"
    if "not installed" in e:
        return "not installed"
    if "node not found" in e:
        return "no node"
    if "--no-ort" in e:
        return "not requested"
    if "onnx.export" in e:
        return "export failed"
    return "failed"


def pct(v, peak):
    return "%.0f%%" % (100 * v / peak) if v and peak else "-"


def tp_table(ctx, rows):
    """The throughput table (W1-W4 and W7-W12 alike), 1 thread first."""
    L = ["| workload | batch | threads | seqrun | seqrun fwd-only (-v) | PyTorch eager | PyTorch TorchScript "
         "| ONNX Runtime | seqrun / PyTorch-best | seqrun / ORT | seqrun GFLOP/s | of sgemm peak "
         "| of AVX-512 FMA peak: seqrun / PyTorch-best / ORT | spread | output check (max abs err vs eager) |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for T in ctx.threads:
        for r in [r for r in rows if r["T"] == T]:
            s, e, t, o = r["rate"], median(r["eager"]), median(r["ts"]), ort_rate(r)
            best = max(e, t)
            gf = s * r["flops"] / 1e9 if r["seq"] else None
            fp = ctx.fpeak(T)
            sp = row_spread(r)
            if r["err"]:
                chk = "seqrun: not run"
            else:
                chk = "seqrun ok (%.1e)" % r["seq_ok"][1] if r["seq_ok"][0] and r["big_ok"] else \
                    "seqrun **FAIL** (%.1e)" % r["seq_ok"][1]
            if r["ort_ok"] is not None:
                chk += "; ORT ok (%.1e)" % r["ort_ok"][1] if r["ort_ok"][0] else \
                    "; ORT **differs** (%.1e)" % r["ort_ok"][1]
            if not r["ts_ok"][0]:
                chk += "; TorchScript vs eager **differs** (%.1e)" % r["ts_ok"][1]
            dag = " †" if r["seq"] and r["fwd"] and s > 1.2 * r["fwd"] else ""
            L.append("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["w"], r["batch"], T, fmt_rate(s) + dag if r["seq"] else "-", fmt_rate(r["fwd"]),
                fmt_rate(e), fmt_rate(t), fmt_rate(o) if o else "- (%s)" % ort_short(r),
                "%.2fx" % (s / best) if r["seq"] else "-", "%.2fx" % (s / o) if r["seq"] and o else "-",
                fmt(gf, 1), pct(gf, ctx.peak(T)),
                " / ".join(pct(v * r["flops"] / 1e9 if v else None, fp) for v in (s if r["seq"] else None, best, o)),
                "%.0f%%" % (100 * sp), chk))
    if any(r["seq"] and r["fwd"] and r["rate"] > 1.2 * r["fwd"] for r in rows):
        L.append("")
        L.append("†: more than 20% above seqrun's own layer-time sum from a separate run, which it cannot "
                 "really be: one of the two runs was disturbed; treat that row as noise.")
    L.append("")
    return L


def not_run_notes(rows):
    L = []
    errs = sorted({r["err"] for r in rows if r["err"]})
    if errs:
        L.append("Not run by seqrun:")
        L.append("")
        for e in errs:
            L.append("- `%s`" % e.replace("`", "'").replace("\n", " "))
        L.append("")
    oerrs = sorted({r["ort_err"] for r in rows if r["ort_err"]})
    if oerrs:
        L.append("Not measured with ONNX Runtime:")
        L.append("")
        for e in oerrs:
            L.append("- %s" % e.replace("\n", " "))
        L.append("")
    return L


def busy_warnings(ctx):
    out = []
    ncpu = os.cpu_count() or 1
    if float(ctx.load0[0]) >= 0.5:
        out.append("The machine was busy when this run started (1-minute load average %s on %d CPUs, "
                   "before the benchmark's own work): other processes competed for the cores." % (
                       ctx.load0[0], ncpu))
    if 1 in ctx.threads and 2 in ctx.threads and ctx.peak(1) and ctx.peak(2) < 1.6 * ctx.peak(1):
        out.append("sgemm reached only %.2fx its 1-thread rate with 2 threads: the second core was not "
                   "free, so 2-thread figures say little about either program." % (ctx.peak(2) / ctx.peak(1)))
    elif 1 in ctx.threads and 2 in ctx.threads and ctx.fpeak(1) and ctx.fpeak(2) and \
            ctx.fpeak(2) < 1.6 * ctx.fpeak(1):
        out.append("The AVX-512 FMA loop reached only %.2fx its 1-thread rate with 2 threads: the second core "
                   "was not free, so 2-thread figures say little about any program." % (ctx.fpeak(2) / ctx.fpeak(1)))
    return out


def report(ctx, tp, w5, w6):
    L = []
    prelim = ctx.quick or any(r["err"] and r["w"] in OLD for r in tp) or any(r.get("err") for r in w5 + w6) \
        or ctx.only != ALL or ctx.ort is None
    L.append("# seqrun benchmark results (issues 7, 15 and 12)")
    L.append("")
    warns = busy_warnings(ctx)
    prelim = prelim or bool(warns)
    if prelim:
        L.append("> **PRELIMINARY.** %s Numbers from a shared, busy 2-core machine are noisy; "
                 "use them for orientation, not for verdicts." % (
                     "A `--quick` run (few repeats, short timings)." if ctx.quick else ""))
        for w in warns:
            L.append(">")
            L.append("> " + w)
        if ctx.note:
            L.append(">")
            L.append("> " + ctx.note)
        L.append("")
    L.append("Written by `bench/bench.py` (`make bench`). Times are medians over repeats; "
             "\"spread\" is (max - min) / median over the repeats of seqrun's, PyTorch-best's and ONNX "
             "Runtime's figures, the largest of the three.")
    L.append("")
    for k, v in machine_info(ctx):
        L.append("- **%s**: %s" % (k, v))
    L.append("")
    L.append("## OpenBLAS sgemm peak (1024 x 1024 x 1024, `bench/sgemm_peak`)")
    L.append("")
    L.append("| threads | GFLOP/s at start | GFLOP/s at end | used as peak |")
    L.append("|---|---|---|---|")
    for T in ctx.threads:
        L.append("| %d | %s | %s | %s |" % (T, fmt(ctx.peak0.get(T), 1), fmt(ctx.peak1.get(T), 1),
                                            fmt(ctx.peak(T), 1)))
    L.append("")
    L.append("## AVX-512 FMA peak (`bench/fma_peak`: independent `_mm512_fmadd_ps` on registers, T threads)")
    L.append("")
    if any(ctx.fpeak(T) for T in ctx.threads):
        L.append("| threads | GFLOP/s at start | GFLOP/s at end | used as peak | sgemm peak / FMA peak |")
        L.append("|---|---|---|---|---|")
        for T in ctx.threads:
            L.append("| %d | %s | %s | %s | %s |" % (T, fmt(ctx.fpeak0.get(T), 1), fmt(ctx.fpeak1.get(T), 1),
                                                    fmt(ctx.fpeak(T), 1), pct(ctx.peak(T), ctx.fpeak(T))))
    else:
        L.append("Not measured: %s" % (ctx.fma_error or "?"))
    L.append("")
    old = [r for r in tp if r["w"] in OLD]
    new = [r for r in tp if r["w"] in NEW]
    if old:
        L.append("## Throughput, W1-W4 (samples/s; 1 thread first, then 2)")
        L.append("")
        L += tp_table(ctx, old)
        w1 = [r for r in tp if r["w"] == "W1"]
        if w1:
            L.append("### W1 against sgemm alone on the same shapes")
            L.append("")
            L.append("`sgemm_peak T chain B " + W1_SHAPES + "`: the three `cblas_sgemm` calls of W1's "
                     "Linear layers (X W^T, row-major, as PyTorch stores weights) and nothing else, "
                     "timed in the same repeats.")
            L.append("")
            L.append("| batch | threads | sgemm alone GFLOP/s | seqrun GFLOP/s | seqrun / sgemm alone |")
            L.append("|---|---|---|---|---|")
            for T in ctx.threads:
                for r in [r for r in w1 if r["T"] == T]:
                    c = median(r["chain"])
                    gf = r["rate"] * r["flops"] / 1e9 if r["seq"] else None
                    L.append("| %d | %d | %s | %s | %s |" % (r["batch"], T, fmt(c, 1), fmt(gf, 1),
                                                             "%.0f%%" % (100 * gf / c) if gf else "-"))
            L.append("")
            for r in [r for r in w1 if r["batch"] == 1 and r["floor"]]:
                fl = median(r["floor"])            # GFLOP/s-equivalent of reading the weights alone
                bound = fl * 1e9 / r["flops"]      # samples/s no batch-1 forward pass can beat
                best = max(median(r["eager"]), median(r["ts"]))
                gf = r["rate"] * r["flops"] / 1e9 if r["seq"] else None
                L.append("### W1 batch 1, one thread: the memory floor")
                L.append("")
                L.append("`sgemm_peak 1 stream 1 %s`: no arithmetic, only reading W1's %.2f MB of weights once "
                         "per pass, layer after layer, each swept opposite to the last pass (as seqrun's GEMV "
                         "does, so what was read last is still cached), in AVX-512 vector loads. Every batch-1 "
                         "forward pass must read every weight once, so this is the fastest any program can run "
                         "W1 one sample at a time on one core of this machine."
                         % (W1_SHAPES, r["flops"] / 2 * 4 / 1e6))
                L.append("")
                L.append("| weights read alone, us per pass | = samples/s bound | seqrun samples/s | seqrun / bound "
                         "| PyTorch-best samples/s | highest ratio reachable (bound / PyTorch-best) |")
                L.append("|---|---|---|---|---|---|")
                L.append("| %.1f | %.0f | %s | %s | %.0f | %.2fx |" % (
                    1e6 / bound, bound, fmt_rate(r["rate"]) if r["seq"] else "-",
                    "%.0f%%" % (100 * gf / fl) if gf else "-", best, bound / best))
                L.append("")
        L += not_run_notes(old)
    if new:
        L.append("## Throughput, W7-W12: real-size models (issues 15 and 12; samples/s; 1 thread first, then 2)")
        L.append("")
        L.append("W7 VGG11-style CIFAR net, W8 MobileNetV1-style net, W9 transformer MLP on tokens, W10 DCGAN "
                 "discriminator, W11 DCGAN generator, W12 convolutional autoencoder: the layer lists are "
                 "`bench/w7_vgg11.yaml` ... `bench/w12_autoenc.yaml`.")
        L.append("")
        L += tp_table(ctx, new)
        L += conv3x3_notes(ctx, new)
        L += not_run_notes(new)
    if w5:
        L.append("## W5: end to end, W1 on one sample, .npy in -> .npy out (whole process)")
        L.append("")
        L.append("| threads | seqrun ms | python3 + torch ms (`bench/w5_torch.py`) | ratio | output check |")
        L.append("|---|---|---|---|---|")
        for r in w5:
            s, p = median(r["seq"]), median(r["py"])
            chk = "seqrun: " + ("not run" if r["err"] else "ok" if r["seq_ok"][0] else "**FAIL**")
            chk += "; torch script: " + ("ok" if r["py_ok"][0] else "**FAIL**")
            L.append("| %d | %s | %s | %s | %s |" % (r["T"], fmt(s * 1e3, 2) if r["seq"] else "-", fmt(p * 1e3, 0),
                                                    "%.0fx" % (p / s) if r["seq"] else "-", chk))
        L.append("")
    if w6:
        L.append("## W6: W4's model over %s samples from one .npy (default chunking)" % format(W6_SAMPLES, ","))
        L.append("")
        L.append("| threads | wall s | samples/s | peak RSS MiB | 4096-sample file, whole process, samples/s "
                 "| W4 batch 4096 steady state, samples/s | per-sample cost vs 4096-sample file | "
                 "vs W4 steady state | output check |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for r in w6:
            if not r.get("wall"):
                L.append("| %d | - | - | - | - | - | - | - | not run: %s |" % (
                    r["T"], (r.get("err") or "").replace("|", "/")[:200]))
                continue
            wall = median(r["wall"])
            rate = W6_SAMPLES / wall
            small = 4096 / median(r["small"]) if r["small"] else None
            L.append("| %d | %.2f | %s | %.1f | %s | %s | %s | %s | %s |" % (
                r["T"], wall, fmt_rate(rate), max(r["rss"]) / 1024, fmt_rate(small), fmt_rate(r["w4_rate"]),
                "%+.0f%%" % (100 * (small / rate - 1)) if small else "-",
                "%+.0f%%" % (100 * (r["w4_rate"] / rate - 1)) if r["w4_rate"] else "-",
                "ok" if r["ok"] else "**FAIL**"))
        L.append("")
        L.append("Peak RSS from %s. Positive percentages: W6 is that much slower per sample." %
                 (w6[0].get("rss_tool", "/usr/bin/time -v")))
        L.append("")
    if old or w5 or w6:
        L.append("## Targets (issue 7)")
        L.append("")
        L.append("| target | threads | measured | verdict |")
        L.append("|---|---|---|---|")
        for line in targets(ctx, old, w5, w6):
            L.append("| %s | %s | %s | %s |" % line)
        L.append("")
    L.append("## Targets (issues 15 and 12)")
    L.append("")
    L.append("| target | threads | measured | verdict |")
    L.append("|---|---|---|---|")
    for line in targets15(ctx, tp):
        L.append("| %s | %s | %s | %s |" % line)
    L.append("")
    L.append("## Method")
    L.append("")
    L.append(METHOD)
    return "\n".join(L) + "\n"


METHOD = """\
- **W1-W4 and W7-W12 throughput, seqrun.** Measured as a user runs a batch job: one
  `seqrun -q --threads T --batch-size B -w W -o OUT spec IN.npy` process per
  run, so every chunk is one forward pass at batch B. Two input files: one
  holding a single batch, one holding R copies of it (R chosen by a pilot
  run so that the run takes about 0.5 s; 0.25 s with `--quick`; at least 5
  batches, 3 with `--quick`, and at least 3x the single-batch run's time). Each
  repeat runs both, and the per-sample time is
  `(median t_R - median t_1) / ((R - 1) * B)`: process start-up, spec parsing, weight
  loading and the first batch cancel out; what remains is what each further
  batch costs, including reading it from the (page-cached) file and writing
  its output, which PyTorch's figure does not carry: the comparison leans
  towards PyTorch, never towards seqrun. The "fwd-only (-v)" column is
  seqrun's own sum of per-layer times (`-v`) from one extra run: compute
  alone, for diagnosis.
- **PyTorch.** In the benchmark process, on the same weights (written to the
  safetensors file seqrun reads) and the same batch: eager, and
  `torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(m.eval())))`,
  both under `torch.inference_mode()`, after warm-up; each repeat times a
  block of forward calls only (~0.3 s). Threads: `torch.set_num_threads(T)`
  and `openblas_set_num_threads(T)` (ctypes, on the libopenblas torch
  loaded). PyTorch-best is the faster of the two.
- **ONNX Runtime.** npm's `onnxruntime-node` (`make bench` installs it into
  `bench/ort/node_modules` with `ONNXRUNTIME_NODE_INSTALL=skip npm install`
  when npm is present; the CPU library ships in the package). Each workload
  is exported from the same PyTorch model (same weights) with
  `torch.onnx.export(opset_version=17)` at its batch size, and timed by
  `bench/ort_bench.js` in one long-lived Node process: session options
  graph optimisation 'all', `intraOpNumThreads` T, `interOpNumThreads` 1,
  sequential execution; input tensor created once; 5 warm-up runs, then
  each repeat times a block of forward calls only (~0.3 s), through the
  native binding's synchronous `run()`, the call the public
  `InferenceSession.run()` makes without its per-call `setImmediate`/Promise
  hop. When npm, Node or the package is missing, or the export fails, the
  ORT column says why and the targets that need it say "not measured".
- **Interleaving.** Each repeat runs seqrun (R batches), PyTorch eager,
  seqrun (1 batch), TorchScript, ONNX Runtime, and for W1 sgemm alone, one
  after another; 5 repeats (3 with `--quick`); figures are medians. "spread" is
  (max - min) / median of the per-repeat figures (seqrun's per-repeat figure
  uses the median 1-batch time), the largest of seqrun's, PyTorch-best's and
  ORT's; a verdict whose spread exceeds 25% is marked noisy. At 2 threads
  the script sleeps 0.15 s after each PyTorch and ORT block so that
  OpenBLAS's, OpenMP's and ORT's spinning workers are idle before the next
  program starts.
- **GFLOP/s** counts 2 FLOPs per multiply-add of Linear, Conv and
  ConvTranspose layers (bias, activations, pooling, normalisation not
  counted), from the layer shapes; the same count for all three programs.
  It is the direct convolution's count: where seqrun skips taps that fall
  in zero padding (conv_oc16.c) or multiplies in the Winograd domain
  (conv_wino.c: 16 multiplies per 2x2 outputs instead of 36), it does
  fewer multiply-adds than counted, so its rate can pass the FMA peak.
  "of sgemm peak" is of the 1024^3 OpenBLAS sgemm rate at the same thread
  count; "of AVX-512 FMA peak" is of `bench/fma_peak`'s rate at the same
  thread count: 16 independent `_mm512_fmadd_ps` chains on registers per
  thread, no memory traffic, all threads started together (the most any
  float32 kernel can do on these cores). Both peaks are measured at the
  start of the run and, in a full run, again at the end; the higher is used.
- **W7's 3x3 convolutions** (issue 15's 75% target): each convolution's
  time from seqrun's own `-v` per-layer report in the fwd-only run (its
  fused ReLU included), its FLOPs (the direct count, above) over those
  samples.
- **Cores.** This VM's two cores are not equally fast: on 2026-12-07,
  pinned with `taskset` one at a time, W7's 512 -> 512 Winograd layer ran
  5.45 ms on cpu0 and 4.10 ms on cpu1, W10's 256 -> 512 layer 7.4 and
  5.5 ms, a 512 x 512 Linear (OpenBLAS) 2.90 and 2.64 ms, while
  `fma_peak 1` gave 209 and 215 GFLOP/s (and a 1 MiB read 104 and 133
  GB/s): the cache, not the FMA units, is slower on cpu0.  An unpinned
  1-thread process lands on either, so every 1-thread run is pinned to one
  core, the next core each repeat, the same core for seqrun, PyTorch and
  ONNX Runtime within a repeat; their medians weigh both cores alike.
- **2-thread scaling** (issue 15, W7-W10): paired repeats, each seqrun's
  BIG and SMALL runs at 1 thread on each core by itself and then at 2, one
  after another; each repeat's ratio is its 2-thread rate over the mean of
  its two 1-thread rates (with equal cores, simply t1 / t2; with these,
  2 threads can give at most 1 + 0.75 of the faster core alone).  The
  verdict is their median; the verdict line also gives every repeat's
  ratio, the medians over each core alone, the cores' rate ratio, and the
  ratio of the two rows' rates, which are measured half a minute or more
  apart and drift with the machine's speed.
- **W11, W12** need ConvTranspose2d and Upsample; while `seqrun --check`
  refuses the spec (exit 2), the row says which layer seqrun lacks and only
  PyTorch and ORT are measured.
- **W1 batch-1 memory floor.** At one thread and batch 1, `sgemm_peak 1
  stream 1` times reading W1's weights alone (64-byte aligned, AVX-512
  loads, each layer swept opposite to the last pass), in the same repeats:
  no forward pass can take less per sample, so floor / PyTorch-best is the
  highest ratio any program could show there.
- **W5** is whole-process wall time (fork to exit, measured from Python the
  same way for both) of seqrun and of `bench/w5_torch.py` on one sample.
- **W6** runs seqrun under `/usr/bin/time -v` with its default chunk size;
  peak RSS is that tool's "Maximum resident set size". The issue's
  comparison is with a whole-process run on a 4096-sample file (start-up
  included, which flatters W6); the stricter one, with W4's steady-state
  batch-4096 throughput above, is shown beside it.
- **Checks.** Every seqrun output (one batch, the first and last chunk of
  the R-batch run, W5's, and 8192 rows of W6's) and ONNX Runtime's output
  (same input batch, once per thread count) is compared with PyTorch
  eager's: `|a - e| <= 1e-4 + 1e-4 |e|`; the table prints each one's
  max abs error. TorchScript's output is compared with eager's the same way.
"""


def conv3x3_rate(ctx, r):
    """(GFLOP/s, [(layer, GFLOP/s)]) of W7's 3x3 convolutions from seqrun's
    own per-layer times (-v run of row r), or None."""
    W = ctx.models.get(r["w"])
    if not W or not r.get("fwd_layers"):
        return None
    idx = [i for i, m in enumerate(W["model"]) if isinstance(m, nn.Conv2d) and tuple(m.kernel_size) == (3, 3)]
    lt = r["fwd_layers"]
    if not idx or any(i not in lt for i in idx):
        return None
    n = r["fwd_samples"]
    per = [(i, W["layer_flops"][i] * n / (lt[i][1] / 1000) / 1e9 if lt[i][1] > 0 else None) for i in idx]
    ms = sum(lt[i][1] for i in idx)
    return sum(W["layer_flops"][i] for i in idx) * n / (ms / 1000) / 1e9 if ms > 0 else None, per


def conv3x3_notes(ctx, rows):
    rs = [r for r in rows if r["w"] == "W7" and conv3x3_rate(ctx, r)]
    if not rs:
        return []
    W = ctx.models["W7"]
    L = ["### W7's 3x3 convolutions, from seqrun's own per-layer times (`seqrun -v`)", "",
         "GFLOP/s of each convolution (its fused ReLU included) over the fwd-only run's samples, and as a "
         "fraction of the AVX-512 FMA peak at the same thread count.", ""]
    L.append("| layer | convolution | MFLOP per sample | " +
             " | ".join("%d thread%s GFLOP/s (of FMA peak)" % (r["T"], "s" if r["T"] > 1 else "") for r in rs) + " |")
    L.append("|---|---|---|" + "---|" * len(rs))
    cols = [conv3x3_rate(ctx, r) for r in rs]
    for k, (i, _) in enumerate(cols[0][1]):
        m = W["model"][i]
        L.append("| %d | %d -> %d | %.1f | %s |" % (
            i, m.in_channels, m.out_channels, W["layer_flops"][i] / 1e6,
            " | ".join("%s (%s)" % (fmt(c[1][k][1], 1), pct(c[1][k][1], ctx.fpeak(r["T"]))) for c, r in zip(cols, rs))))
    L.append("| all | | %.1f | %s |" % (
        sum(W["layer_flops"][i] for i, _ in cols[0][1]) / 1e6,
        " | ".join("**%s (%s)**" % (fmt(c[0], 1), pct(c[0], ctx.fpeak(r["T"]))) for c, r in zip(cols, rs))))
    L.append("")
    return L


def targets15(ctx, tp):
    out = []

    def rows(w, b=None):
        return [r for r in tp if r["w"] == w and (b is None or r["batch"] == b)]

    def add(name, T, meas, ok, why=None, r=None):
        v = verdict(ok) if ok is not None else "not measured" + (": " + why if why else "")
        if ok is not None and r is not None and row_spread(r) > NOISY:
            v += " (noisy: spread %.0f%%)" % (100 * row_spread(r))
        out.append((name, T, meas if meas else "-", v))

    def vs_both(r):
        """(ratio to the faster peer, text, why-not) for row r."""
        if not r["seq"]:
            return None, None, "seqrun did not run" + (": " + r["err"].split(" (")[0] if r["err"] else "")
        b, o = best_torch(r), ort_rate(r)
        txt = "%.2fx PyTorch-best" % (r["rate"] / b)
        if not o:
            return None, txt + "; ORT -", "ONNX Runtime: " + (r["ort_err"] or "no figure")
        return r["rate"] / max(b, o), "%.2fx (%s, %.2fx ORT)" % (r["rate"] / max(b, o), txt, r["rate"] / o), None

    for T in ctx.threads:
        for w in ("W7", "W8", "W9", "W10"):
            for r in [r for r in rows(w) if r["T"] == T]:
                q, meas, why = vs_both(r)
                add("%s batch %d: >= 1.0x the faster of PyTorch-best and ONNX Runtime" % (w, r["batch"]), T, meas,
                    q >= 1.0 if q else None, why, r)
        for r in [r for r in rows("W7") if r["T"] == T]:
            c = conv3x3_rate(ctx, r)
            fp = ctx.fpeak(T)
            ok = c[0] >= 0.75 * fp if c and c[0] and fp else None
            add("W7's 3x3 convolutions: >= 75% of the AVX-512 FMA peak", T,
                "%.1f GFLOP/s = %s of %.1f" % (c[0], pct(c[0], fp), fp) if ok is not None else None, ok,
                "no AVX-512 FMA peak" if not fp else "no seqrun -v layer times")
        for b in (64, 1024):
            for r in [r for r in rows("W1", b) if r["T"] == T]:
                o = ort_rate(r)
                add("W1 batch %d: >= 1.0x ONNX Runtime" % b, T, "%.2fx" % (r["rate"] / o) if r["seq"] and o else None,
                    r["rate"] / o >= 1.0 if r["seq"] and o else None,
                    "seqrun did not run" if not r["seq"] else "ONNX Runtime: " + (r["ort_err"] or "no figure"), r)
        for w, b in (("W1", 1), ("W2", 256), ("W4", 4096)):
            for r in [r for r in rows(w, b) if r["T"] == T]:
                o = ort_rate(r)
                add("%s batch %d stays ahead of ONNX Runtime (>= 1.0x)" % (w, b), T,
                    "%.2fx" % (r["rate"] / o) if r["seq"] and o else None,
                    r["rate"] / o >= 1.0 if r["seq"] and o else None,
                    "seqrun did not run" if not r["seq"] else "ONNX Runtime: " + (r["ort_err"] or "no figure"), r)
        if T == 1:
            for w in ("W11", "W12"):
                for r in [r for r in rows(w) if r["T"] == T]:
                    q, meas, why = vs_both(r)
                    add("%s batch %d (issue 12): >= 1.0x the faster of PyTorch-best and ONNX Runtime" % (
                        w, r["batch"]), T, meas, q >= 1.0 if q else None, why, r)
    if 1 in ctx.threads and 2 in ctx.threads:
        for w in SCALING:
            r1 = [r for r in rows(w) if r["T"] == 1 and r["seq"]]
            r2 = [r for r in rows(w) if r["T"] == 2 and r["seq"]]
            if rows(w):
                # the paired repeats' median (see scaling_pairs); the rows'
                # own ratio for reference
                pq = r1[0].get("pairs") if r1 else None
                q = median([pair_scaling(p) for p in pq]) if pq else \
                    r2[0]["rate"] / r1[0]["rate"] if r1 and r2 else None
                meas = None
                if q:
                    meas = "%.2fx" % q
                    if pq:
                        cores = sorted(pq[0]["one"])
                        meas += " (paired repeats %s; over one thread on %s alone: %s; %s; the two rows' rates: " \
                                "%.2fx)" % (
                                    " ".join("%.2f" % pair_scaling(p) for p in pq),
                                    " / ".join("cpu%d" % c for c in cores),
                                    " / ".join("%.2fx" % median([p["one"][c] / p["two"] for p in pq])
                                               for c in cores),
                                    " / ".join("cpu%d 1-thread rate %.2f of cpu%d's" % (
                                        c, median([p["one"][cores[0]] / p["one"][c] for p in pq]), cores[0])
                                        for c in cores[1:]),
                                    r2[0]["rate"] / r1[0]["rate"] if r2 else float("nan"))
                add("%s: 2 threads >= 1.8x one thread (seqrun)" % w, "1, 2", meas, q >= 1.8 if q else None,
                    "seqrun did not run")
    checks = [r["seq_ok"][0] and r["big_ok"] for r in tp if not r["err"] and r["seq_ok"]]
    ochecks = [r["ort_ok"][0] for r in tp if r["ort_ok"] is not None]
    ran = len(checks) + len(ochecks)
    add("Outputs agree with PyTorch eager (rtol 1e-4, atol 1e-4)", "all",
        "seqrun: %d of %d checked runs agree; ONNX Runtime: %d of %d" % (
            sum(bool(c) for c in checks), len(checks), sum(bool(c) for c in ochecks), len(ochecks))
        if ran else None, all(checks + ochecks) if ran else None, "no output checked")
    return out


def targets(ctx, tp, w5, w6):
    out = []

    def rows(w, b=None):
        return [r for r in tp if r["w"] == w and (b is None or r["batch"] == b)]

    def ratio(r):
        return r["rate"] / max(median(r["eager"]), median(r["ts"])) if r["seq"] else None

    def add(name, T, meas, ok, why=None, r=None):
        v = verdict(ok) if ok is not None else "not measured" + (": " + why if why else "")
        if ok is not None and r is not None and row_spread(r) > NOISY:
            v += " (noisy: spread %.0f%%)" % (100 * row_spread(r))
        out.append((name, T, meas if meas else "-", v))

    for r in rows("W1", 1):
        q = ratio(r)
        meas = "%.2fx" % q if q else None
        if q and r["floor"]:
            bound = median(r["floor"]) * 1e9 / r["flops"] / max(median(r["eager"]), median(r["ts"]))
            meas += "; memory floor allows at most %.2fx" % bound
        add("W1 batch 1: >= 3x PyTorch-best", r["T"], meas,
            q >= 3 if q else None, "seqrun did not run" if not q else None, r)
    for b in (64, 1024):
        for r in rows("W1", b):
            q = ratio(r)
            gf = r["rate"] * r["flops"] / 1e9 if r["seq"] else None
            c = median(r["chain"])
            add("W1 batch %d: >= 1.0x PyTorch-best and >= 90%% of sgemm alone on W1's shapes" % b, r["T"],
                "%.2fx; %.0f%% of sgemm alone" % (q, 100 * gf / c) if q else None,
                (q >= 1.0 and gf >= 0.9 * c) if q else None, "seqrun did not run" if not q else None, r)
    for w in ("W2", "W3", "W4"):
        for r in rows(w):
            q = ratio(r)
            add("%s batch %d: >= 1.0x PyTorch-best" % (w, r["batch"]), r["T"], "%.2fx" % q if q else None,
                q >= 1.0 if q else None, "seqrun did not run" if not q else None, r)
    for r in w5:
        if r["seq"]:
            q = median(r["py"]) / median(r["seq"])
            add("W5: >= 200x faster than the python3+torch process", r["T"], "%.0fx" % q, q >= 200)
        else:
            add("W5: >= 200x faster than the python3+torch process", r["T"], None, None, "seqrun did not run")
    for r in w6:
        if r.get("wall"):
            rss = max(r["rss"]) / 1024
            add("W6: peak RSS < 64 MiB", r["T"], "%.1f MiB" % rss, rss < 64)
            rate = W6_SAMPLES / median(r["wall"])
            if r["small"]:
                small = 4096 / median(r["small"])
                add("W6: <= 10% slower per sample than a 4096-sample file (whole process)", r["T"],
                    "%+.0f%%" % (100 * (small / rate - 1)), small / rate <= 1.10)
            if r["w4_rate"]:
                add("W6 (stricter): <= 10% slower per sample than W4's batch-4096 steady state", r["T"],
                    "%+.0f%%" % (100 * (r["w4_rate"] / rate - 1)), r["w4_rate"] / rate <= 1.10)
        else:
            add("W6: peak RSS < 64 MiB; <= 10% slower per sample", r["T"], None, None, "seqrun did not run")
    checks = [r["seq_ok"][0] and r["big_ok"] for r in tp if not r["err"] and r["seq_ok"]]
    checks += [r["seq_ok"][0] for r in w5 if r.get("seq_ok")]
    checks += [r["ok"] for r in w6 if r.get("wall")]
    ran = len(checks)
    add("Outputs agree with PyTorch (rtol 1e-4, atol 1e-4)", "all", "%d of %d checked runs agree" % (
        sum(bool(c) for c in checks), ran) if ran else None, all(checks) if ran else None,
        "no seqrun output")
    out.append(("`make test` still passes", "-", "-", "not checked by bench: run `make test`"))
    return out


# ---------------------------------------------------------------------------

def main():
    global OPENBLAS, OPENBLAS_PATH
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seqrun", default=os.path.join(ROOT, "seqrun"))
    ap.add_argument("--sgemm", help="bench/sgemm_peak binary (built into the temp dir if not given)")
    ap.add_argument("--fma", help="bench/fma_peak binary (built into the temp dir if not given)")
    ap.add_argument("--ort-dir", default=os.path.join(HERE, "ort"),
                    help="folder whose node_modules has onnxruntime-node (default bench/ort)")
    ap.add_argument("--no-ort", action="store_true", help="do not measure ONNX Runtime")
    ap.add_argument("--quick", action="store_true", help="few repeats, short timings: a smoke run")
    ap.add_argument("--only", default=",".join(ALL), help="comma-separated subset of W1..W12")
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    ap.add_argument("--out", help="report file ('-': none; default: bench/RESULTS.md for a full run, "
                    "$TMPDIR/seqrun-bench-partial.md for a --quick or --only run)")
    ap.add_argument("--note", default="", help="a line added to the preliminary banner")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()

    ctx = Ctx()
    ctx.seqrun = os.path.abspath(a.seqrun)
    ctx.quick, ctx.note = a.quick, a.note
    ctx.cfg = QUICK if a.quick else FULL
    ctx.only = [w.strip().upper() for w in a.only.split(",") if w.strip()]
    bad = [w for w in ctx.only if w not in ALL]
    if bad:
        ap.error("unknown workload(s): %s (known: %s)" % (", ".join(bad), ", ".join(ALL)))
    ctx.only = [w for w in ALL if w in ctx.only]
    if a.out is None:
        partial = a.quick or ctx.only != ALL or a.no_ort
        a.out = os.path.join(tempfile.gettempdir(), "seqrun-bench-partial.md") if partial else \
            os.path.join(HERE, "RESULTS.md")
    ctx.threads = sorted({int(t) for t in a.threads.split(",")})
    ctx.cpus = sorted(os.sched_getaffinity(0))
    ctx.load0 = open("/proc/loadavg").read().split()[0:3]
    ctx.models = {}
    if not os.access(ctx.seqrun, os.X_OK):
        sys.exit("bench.py: %s: no seqrun binary (run make first)" % ctx.seqrun)
    OPENBLAS, OPENBLAS_PATH = torch_openblas()
    if OPENBLAS is None:
        log("bench.py: warning: torch has no libopenblas loaded; OpenBLAS threads not set")

    shm = "/dev/shm"
    base = shm if os.path.isdir(shm) and shutil.disk_usage(shm).free > 1 << 30 else None
    ctx.tmp = tempfile.mkdtemp(prefix="seqrun-bench-", dir=base)
    t_start = time.time()
    try:
        ctx.sgemm = os.path.abspath(a.sgemm) if a.sgemm else build_sgemm(ctx)
        ctx.fma_error = None
        try:
            ctx.fma = os.path.abspath(a.fma) if a.fma else build_fma(ctx)
        except (subprocess.CalledProcessError, OSError) as e:
            ctx.fma, ctx.fma_error = None, "bench/fma_peak.c did not build: %s" % e
        cfg = ctx.cfg
        start_ort(ctx, a)
        if ctx.ort_reason:
            log("bench: ONNX Runtime not measured: %s" % ctx.ort_reason)
        log("bench: sgemm and AVX-512 FMA peaks ...")
        ctx.peak0 = {T: sgemm(ctx, T, "square", 1024, cfg["peak_secs"]) for T in ctx.threads}
        ctx.peak1 = {}
        ctx.peak = lambda T: max(ctx.peak0.get(T, 0), ctx.peak1.get(T, 0))
        ctx.fpeak0 = {T: fma_peak(ctx, T, cfg["peak_secs"]) for T in ctx.threads}
        ctx.fpeak1 = {}
        ctx.fpeak = lambda T: max(ctx.fpeak0.get(T) or 0, ctx.fpeak1.get(T) or 0) or None
        tp = []
        for w, _, _, batches in THROUGHPUT:
            if w in ctx.only or (w == "W4" and "W6" in ctx.only):
                for b in batches:
                    log("bench: %s batch %d" % (w, b))
                    tp += bench_throughput(ctx, w, b)
        tp = [r for r in tp if r["w"] in ctx.only or r["w"] == "W4"]
        w5 = []
        if "W5" in ctx.only:
            log("bench: W5")
            w5 = bench_w5(ctx)
        w6 = []
        if "W6" in ctx.only:
            log("bench: W6")
            w6 = bench_w6(ctx, [r for r in tp if r["w"] == "W4"])
        if "W4" not in ctx.only:
            tp = [r for r in tp if r["w"] != "W4"]
        if not a.quick:
            ctx.peak1 = {T: sgemm(ctx, T, "square", 1024, cfg["peak_secs"]) for T in ctx.threads}
            ctx.fpeak1 = {T: fma_peak(ctx, T, cfg["peak_secs"]) for T in ctx.threads}
        text = report(ctx, tp, w5, w6)
        text = text.replace("## Targets", "Total bench time: %.0f s.\n\n## Targets" % (time.time() - t_start), 1)
        print(text)
        if a.out != "-":
            with open(a.out, "w") as f:
                f.write(text)
            log("bench: wrote %s" % a.out)
    finally:
        if getattr(ctx, "ort", None) is not None:
            ctx.ort.close()
        if a.keep:
            log("bench: kept %s" % ctx.tmp)
        else:
            shutil.rmtree(ctx.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
