#!/usr/bin/python3
"""train_digits.py - train the bundled digits models with PyTorch.

    /usr/bin/python3 models/train_digits.py

Needs Debian's python3-torch, python3-numpy, python3-yaml, python3-sklearn.
Trains the CNN in models/digits_cnn.yaml and the MLP in models/digits_mlp.yaml
on scikit-learn's handwritten digits (load_digits: 1797 8x8 images, 16 grey
levels, scaled here to [0, 1]).  The last 360 images are the test split, the
first 1437 the training split (the data set is ordered by writer, so this is a
held-out set of writers, as in scikit-learn's own examples).

The torch modules are built from the YAML specs themselves, so the files
seqrun reads describe exactly the networks that were trained.  Writes:

    models/digits_cnn.safetensors, models/digits_mlp.safetensors
                                  state_dicts (F32, num_batches_tracked I64)
    data/digits_test_x.npy        float32 [360, 1, 8, 8]
    data/digits_test_y.npy        int64 [360], the true digits
    models/digits_accuracy.txt    PyTorch's test accuracy of both models
    models/digits_predictions.txt PyTorch's class for every test image

Everything is seeded (torch, numpy, the shuffles) and runs on one thread,
so a rerun on the same machine rewrites the same bytes.
"""

import importlib.util
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import yaml
from sklearn.datasets import load_digits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_TEST = 360
SEED = 0


def load_exporter():
    # seqrun-export.py has the safetensors writer; its name is no module name
    path = os.path.join(ROOT, "tools", "seqrun-export.py")
    spec = importlib.util.spec_from_file_location("seqrun_export", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build(spec_path):
    """nn.Sequential from a seqrun spec, with torch.nn's own constructors."""
    with open(spec_path) as f:
        spec = yaml.safe_load(f)
    mods = []
    for item in spec["layers"]:
        if isinstance(item, str):
            mods.append(getattr(nn, item)())
            continue
        (name, args), = item.items()
        if isinstance(args, dict):
            mods.append(getattr(nn, name)(**args))
        elif isinstance(args, list):
            mods.append(getattr(nn, name)(*args))
        elif args is None:
            mods.append(getattr(nn, name)())
        else:
            mods.append(getattr(nn, name)(args))
    return nn.Sequential(*mods)


def train(model, x, y, epochs, lr, seed):
    gen = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(epochs):
        model.train()
        for idx in np.array_split(gen.permutation(len(x)), len(x) // 32):
            idx = torch.from_numpy(idx)
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()


def main():
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    xtr, ytr, xte, yte = x[:-N_TEST], y[:-N_TEST], x[-N_TEST:], y[-N_TEST:]

    st = load_exporter()
    results = {}
    for name, epochs, lr in (("digits_cnn", 40, 1e-2), ("digits_mlp", 40, 1e-2)):
        torch.manual_seed(SEED)
        model = build(os.path.join(ROOT, "models", name + ".yaml"))
        train(model, xtr, ytr, epochs, lr, SEED)
        with torch.no_grad():
            logits = model(torch.from_numpy(xte))
        pred = logits.argmax(1).numpy()
        # How close the two best logits come decides whether a float32
        # implementation with another summation order could flip a class.
        top2 = logits.topk(2, dim=1).values
        margin = float((top2[:, 0] - top2[:, 1]).min())
        correct = int((pred == yte).sum())
        results[name] = (correct, pred)
        print("%s: PyTorch test accuracy %d/%d = %.2f%% (smallest top-2 logit margin %.3g)"
              % (name, correct, N_TEST, 100.0 * correct / N_TEST, margin))
        st.write_safetensors(os.path.join(ROOT, "models", name + ".safetensors"),
                             {k: v.numpy() for k, v in model.state_dict().items()})

    np.save(os.path.join(ROOT, "data", "digits_test_x.npy"), xte)
    np.save(os.path.join(ROOT, "data", "digits_test_y.npy"), yte)
    with open(os.path.join(ROOT, "models", "digits_accuracy.txt"), "w") as f:
        f.write("# PyTorch %s test accuracy on data/digits_test_*.npy (eval mode, float32),\n"
                "# written by models/train_digits.py: model correct total percent\n"
                % torch.__version__.split("a")[0].split("+")[0])
        for name, (correct, _) in results.items():
            f.write("%s %d %d %.2f\n" % (name, correct, N_TEST, 100.0 * correct / N_TEST))
    with open(os.path.join(ROOT, "models", "digits_predictions.txt"), "w") as f:
        f.write("# index label digits_cnn digits_mlp (PyTorch's argmax per test image)\n")
        for i in range(N_TEST):
            f.write("%d %d %d %d\n" % (i, yte[i], results["digits_cnn"][1][i], results["digits_mlp"][1][i]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
