#!/usr/bin/python3
"""Reference PyTorch trainer for vaec's speed and quality comparison.

Trains the same VAE as testdata/specs/mnist.yaml (784-400-20, ReLU, Bernoulli
likelihood from logits, Adam 1e-3, batch 128) on the same split of the MNIST
test set (first 9,000 images for training, last 1,000 for validation), and
prints one JSON object per epoch plus a summary, so that the Go harness can set
its figures beside vaec's.

Written for Debian's python3-torch (1.13); it reads the IDX files itself so it
needs nothing but torch and numpy.
"""
import argparse
import gzip
import json
import math
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = np.frombuffer(data[:16], dtype=">u4")
    if magic != 0x803:
        raise SystemExit(f"{path}: not an IDX image file (magic {magic:#x})")
    pixels = np.frombuffer(data[16:], dtype=np.uint8, count=n * rows * cols)
    return pixels.reshape(n, rows * cols).astype(np.float32) / 255.0


class VAE(nn.Module):
    def __init__(self, d=784, h=400, z=20):
        super().__init__()
        self.enc = nn.Linear(d, h)
        self.mu = nn.Linear(h, z)
        self.logvar = nn.Linear(h, z)
        self.dec = nn.Linear(z, h)
        self.out = nn.Linear(h, d)

    def forward(self, x, eps):
        h = F.relu(self.enc(x))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.out(F.relu(self.dec(z))), mu, logvar


def terms(model, x, gen):
    """Per-batch sums of the reconstruction NLL and the KL (both in nats)."""
    eps = torch.randn(x.shape[0], 20, generator=gen)
    logits, mu, logvar = model(x, eps)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return recon, kl


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", default="testdata/mnist/t10k-images-idx3-ubyte.gz")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    data = torch.from_numpy(read_idx_images(args.images))
    train, val = data[:9000], data[9000:10000]

    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_seconds = 0.0
    trained = 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(train.shape[0], generator=gen)
        t0 = time.perf_counter()
        tot_recon = tot_kl = 0.0
        for i in range(0, train.shape[0], args.batch):
            x = train[perm[i : i + args.batch]]
            opt.zero_grad()
            recon, kl = terms(model, x, gen)
            loss = recon + kl
            loss.backward()
            opt.step()
            tot_recon += recon.item()
            tot_kl += kl.item()
        dt = time.perf_counter() - t0
        train_seconds += dt
        trained += train.shape[0]
        model.eval()
        with torch.no_grad():
            vr, vk = terms(model, val, gen)
        n = train.shape[0]
        print(json.dumps({
            "epoch": epoch,
            "train_elbo": -(tot_recon + tot_kl) / n,
            "val_elbo": -(vr.item() + vk.item()) / val.shape[0],
            "val_recon": vr.item() / val.shape[0],
            "val_kl": vk.item() / val.shape[0],
            "samples_per_s": n / dt,
        }), flush=True)
    print(json.dumps({
        "summary": True,
        "threads": args.threads,
        "samples_per_s": trained / train_seconds,
        "val_elbo": -(vr.item() + vk.item()) / val.shape[0],
        "torch": torch.__version__,
    }), flush=True)


if __name__ == "__main__":
    sys.exit(main())
