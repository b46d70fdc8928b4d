#!/usr/bin/env bash
# suite_export.sh SEQRUN BUILD - tools/seqrun-export.py round-trips every
# layer seqrun supports: each case (tests/export_roundtrip.py) is a torch
# nn.Sequential with non-default arguments and random weights, exported to a
# spec and safetensors, read back into torch (the arguments must be the ones
# it was built with), run by seqrun and compared with PyTorch's output
# computed at test time (rtol 1e-4, atol 1e-5); layers this seqrun has not
# got yet are exported against tests/export_fake_seqrun.py's full list and
# checked against PyTorch only.  Then traced models (tests/export_fx.py:
# the CIFAR-10 tutorial Net, SimpleClassifier, LeNet with view, VGG11-BN and
# AlexNet from torchvision, refusals, --state-dict) and the command line.
# Needs /usr/bin/python3 with torch (or $PYTHON); without it the torch cases
# are reported as skipped, and counted.
set -u
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SEQRUN=$(abs "$1")
BUILD=$(abs "$2")
NPYCMP=$BUILD/tests/npycmp
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EXPORT=$ROOT/tools/seqrun-export.py
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
cd "$T" || exit 2

FAKE=$ROOT/tests/export_fake_seqrun.py

# The layers seqrun runs, from its --list-layers (an older seqrun: --help).
if "$SEQRUN" --list-layers --format json >layers.json 2>/dev/null; then
    "$PY" -c 'import json, sys; print("\n".join(l["name"] for l in json.load(open(sys.argv[1]))["layers"]))' \
        layers.json 2>/dev/null | sort >layers ||
        grep -o '"name": "[A-Za-z0-9]*", "summary"' layers.json | cut -d'"' -f4 | sort >layers
else
    "$SEQRUN" --help | awk '/^layers:/ { on = 1; next } on && /^ / { for (i = 1; i <= NF; i++) print $i; next } on { exit }' |
        sort >layers
fi

# ---- in sync: the exporter reads seqrun's own layer list (needs no torch) ------
if ! "$PY" -c '' 2>/dev/null; then
    echo "skipped exporter_reads_seqruns_layers: no $PY"
elif ! [ -s layers ]; then
    bad exporter_reads_seqruns_layers "seqrun lists no layers"
elif "$PY" "$EXPORT" --list --seqrun "$SEQRUN" 2>err | sort >listed; then
    diff=$(diff layers listed | grep '^[<>]' | tr '\n' ' ')
    [ -z "$diff" ] && ok exporter_reads_seqruns_layers ||
        bad exporter_reads_seqruns_layers "seqrun-export.py --list differs from seqrun's list: $diff"
else
    bad exporter_reads_seqruns_layers "seqrun-export.py --list failed: $(head -c 300 err)"
fi

if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
    n=$(grep -c '^    ("' "$ROOT/tests/export_roundtrip.py")
    echo "skipped: $PY has no torch (Debian: apt-get install python3-torch): $n round-trip cases, the traced-model cases of tests/export_fx.py and the command-line cases did not run"
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
fi

# ---- round trips ---------------------------------------------------------------
mkdir cases
if ! "$PY" "$ROOT/tests/export_roundtrip.py" cases "$SEQRUN" "$FAKE" >report 2>err; then
    bad roundtrip_generator "export_roundtrip.py failed: $(tail -n 5 err | tr '\n' ' ')"
fi
while read -r kind name rest; do
    name=${name%:}
    case $kind in
    skip) echo "skipped $name: $rest" ;;
    error) bad "roundtrip_$name" "the exporter: $rest" ;;
    torch) ok "exportonly_$name (this seqrun has no $rest yet: checked against PyTorch only)" ;;
    case)
        c=cases/$name
        if ! "$SEQRUN" -q -o "$c/out.npy" "$c/model.yaml" "$c/input.npy" 2>"$c/err"; then
            bad "roundtrip_$name" "seqrun failed: $(head -c 400 "$c/err")"
        elif ! "$NPYCMP" "$c/expected.npy" "$c/out.npy" --rtol 1e-4 --atol 1e-5 2>"$c/cmp"; then
            bad "roundtrip_$name" "differs from PyTorch: $(head -c 400 "$c/cmp")"
        else
            ok "roundtrip_$name"
        fi
        ;;
    esac
done <report

# Every layer seqrun has went through at least one round trip.
tr ' ' '\n' <<<"$(sed -n 's/^covered //p' report)" | sort >covered
uncovered=$(comm -23 layers covered | tr '\n' ' ')
[ -z "$uncovered" ] && ok roundtrip_covers_every_layer ||
    bad roundtrip_covers_every_layer "no round-trip case exercises: $uncovered"

# ---- traced models: tests/export_fx.py ----------------------------------------------
mkdir fx
"$PY" "$ROOT/tests/export_fx.py" fx "$SEQRUN" "$FAKE" >fxreport 2>fxerr || bad export_fx "export_fx.py failed: $(tail -n 5 fxerr | tr '\n' ' ')"
while IFS= read -r line; do
    case $line in
    "ok "*) ok "${line#ok }" ;;
    "FAIL "*) rest=${line#FAIL }; bad "${rest%%:*}" "${rest#*: }" ;;
    "skip "*) echo "skipped ${line#skip }" ;;
    *) [ -n "$line" ] && echo "  $line" ;;
    esac
done <fxreport

# ---- the command line ----------------------------------------------------------
# expr: an expression, --input, -w: the spec names its weights relative to itself
mkdir -p sub
if "$PY" "$EXPORT" --seqrun "$SEQRUN" "nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2, bias=False))" \
    -o sub/m.yaml -w m.safetensors --input N,4 2>err; then
    grep -qx "weights: '../m.safetensors'" sub/m.yaml && grep -qx 'input: \[N, 4\]' sub/m.yaml &&
        grep -qx '  - Linear: {in_features: 8, out_features: 2, bias: false}' sub/m.yaml &&
        "$SEQRUN" --check sub/m.yaml >check 2>&1 && grep -qx 'total params: 56' check &&
        ok cli_expression || bad cli_expression "unexpected spec or check: $(cat sub/m.yaml check | head -c 500)"
else
    bad cli_expression "exit $?: $(head -c 300 err)"
fi

# file: a .py file leaving a trained model in `model`; its output matches
cat >net.py <<'EOF'
import torch
from torch import nn
torch.manual_seed(3)
model = nn.Sequential(nn.Conv1d(2, 3, 3, padding=1), nn.BatchNorm1d(3), nn.ELU(), nn.Flatten(), nn.Linear(15, 4))
with torch.no_grad():
    model[1].running_mean.uniform_(-1, 1)
    model[1].running_var.uniform_(0.5, 2)
model.eval()
EOF
"$PY" - <<'EOF' 2>err
import runpy, numpy as np, torch
torch.manual_seed(9)
x = torch.randn(6, 2, 5)
m = runpy.run_path("net.py")["model"]
with torch.no_grad():
    np.save("net_expected.npy", m.double()(x.double()).float().numpy())
np.save("net_x.npy", x.numpy())
EOF
if "$PY" "$EXPORT" --seqrun "$SEQRUN" net.py -o net.yaml -w net.safetensors 2>>err &&
    "$SEQRUN" -q -o net_out.npy net.yaml net_x.npy 2>>err &&
    "$NPYCMP" net_expected.npy net_out.npy --rtol 1e-4 --atol 1e-5 2>>err; then
    ok cli_python_file
else
    bad cli_python_file "$(head -c 400 err)"
fi

# refusals: exit 2, the module's state_dict index and type, nothing written
refuse() {
    local name=$1 expr=$2 pat=$3
    rm -f r.yaml r.safetensors
    "$PY" "$EXPORT" --seqrun "$SEQRUN" "$expr" -o r.yaml -w r.safetensors >out 2>err
    local rc=$?
    if [ $rc -ne 2 ]; then
        bad "$name" "exit $rc, want 2: $(head -c 300 err)"
    elif ! grep -Eq -- "$pat" err; then
        bad "$name" "stderr does not match /$pat/: $(head -c 300 err)"
    elif [ -e r.yaml ] || [ -e r.safetensors ]; then
        bad "$name" "a refused export left files behind"
    else
        ok "$name"
    fi
}
refuse refuse_lstm "nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4), nn.LSTM(4, 4))" \
    '^seqrun-export: module 3 \(LSTM\) is not supported by seqrun$'
grep -q '^seqrun-export: seqrun supports: Linear, .*Sequential' err && ok refuse_lists_supported ||
    bad refuse_lists_supported "no 'seqrun supports:' line: $(head -c 300 err)"
refuse refuse_nested "nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.GRU(4, 4)))" \
    '^seqrun-export: module 1\.0 \(GRU\) is not supported by seqrun'
refuse refuse_softmax_without_dim "nn.Sequential(nn.Softmax())" \
    'module 0 \(Softmax\) has dim=None.*nn\.Softmax\(dim=\.\.\.\)'
refuse refuse_return_indices "nn.Sequential(nn.MaxPool1d(2, return_indices=True))" \
    'module 0 \(MaxPool1d\) has return_indices=True'
refuse refuse_not_module "{'fc.weight': torch.zeros(2)}" 'gives a dict, not an nn\.Module; a saved state_dict converts with --state-dict'
refuse refuse_lazy_weights "nn.Sequential(nn.LazyLinear(3))" "'0\.weight' is not initialised yet.*forward pass"
cat >custom.py <<'EOF'
import torch
from torch import nn
class Scaled(nn.Linear):
    def forward(self, x):
        return 2 * super().forward(x)
model = nn.Sequential(nn.ReLU(), Scaled(3, 3))
EOF
refuse refuse_overridden_forward "$T/custom.py" '^seqrun-export: module 1 \(Scaled, a subclass of Linear\) overrides forward\(\), which seqrun cannot run$'

# one torch.nn layer is a spec of one layer; its first layer fixes input:
if "$PY" "$EXPORT" --seqrun "$SEQRUN" "nn.Linear(3, 2)" -o one.yaml -w one.safetensors 2>err &&
    grep -qx '  - Linear: {in_features: 3, out_features: 2}  # self' one.yaml &&
    grep -qx 'input: \[N, 3\]  # fixed by layer 0 (Linear); --input to change' one.yaml &&
    "$SEQRUN" --check one.yaml >check 2>>err && grep -qx 'total params: 8' check; then
    ok cli_single_layer
else
    bad cli_single_layer "$(cat one.yaml err 2>/dev/null | head -c 400)"
fi

# an unmaterialised LazyLinear without -w stays lazy: seqrun infers it
if "$PY" "$EXPORT" --seqrun "$SEQRUN" "nn.Sequential(nn.LazyLinear(3), nn.Tanh())" -o lazy.yaml 2>err &&
    grep -qx '  - LazyLinear: {out_features: 3}' lazy.yaml &&
    "$SEQRUN" --check --input-shape 2,5 lazy.yaml >/dev/null 2>>err; then
    ok cli_lazy_without_weights
else
    bad cli_lazy_without_weights "$(cat lazy.yaml err 2>/dev/null | head -c 300)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
