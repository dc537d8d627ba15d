#!/usr/bin/python3
"""Reference PyTorch trainer for the convolutional VAE of issue 11.

Trains the conv VAE of testdata/specs/mnist-conv.yaml on the same split of the
MNIST test set as testdata/specs/mnist.yaml (first 9,000 images for training,
last 1,000 for validation), with PyTorch's default initialisation, Bernoulli
likelihood from logits, Adam 1e-3, batch 128:

    encoder  [1, 28, 28] -> conv2d 32 k4 s2 p1 relu -> conv2d 64 k4 s2 p1 relu
             -> flatten 3136 -> dense 256 relu -> mu, logvar (dense 20 each)
    decoder  20 -> dense 256 relu -> dense 3136 relu -> view [64, 7, 7]
             -> conv_transpose2d 32 k4 s2 p1 relu -> conv_transpose2d 1 k4 s2 p1 (logits)

1,691,369 parameters. It prints one JSON object per epoch plus a summary line,
in the format of bench/pytorch_vae.py (the MLP reference), so that the Go
harness reads either.

Written for Debian's python3-torch (1.13); it reads the IDX files itself so it
needs nothing but torch and numpy. Run it with /usr/bin/python3 and
OPENBLAS_CORETYPE=SkylakeX (Debian's OpenBLAS mis-detects this CPU without it).
The reshape between the dense and the convolutional layers is a view, not
nn.Unflatten, which this torch cannot export to ONNX.
"""
import argparse
import gzip
import json
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

PARAMETERS = 1_691_369
LATENT = 20


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = np.frombuffer(data[:16], dtype=">u4")
    if magic != 0x803:
        raise SystemExit(f"{path}: not an IDX image file (magic {magic:#x})")
    pixels = np.frombuffer(data[16:], dtype=np.uint8, count=n * rows * cols)
    return pixels.reshape(n, rows * cols).astype(np.float32) / 255.0


class ConvVAE(nn.Module):
    def __init__(self, z=LATENT):
        super().__init__()
        self.enc1 = nn.Conv2d(1, 32, 4, stride=2, padding=1)  # 28 -> 14
        self.enc2 = nn.Conv2d(32, 64, 4, stride=2, padding=1)  # 14 -> 7
        self.enc3 = nn.Linear(64 * 7 * 7, 256)
        self.mu = nn.Linear(256, z)
        self.logvar = nn.Linear(256, z)
        self.dec1 = nn.Linear(z, 256)
        self.dec2 = nn.Linear(256, 64 * 7 * 7)
        self.dec3 = nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1)  # 7 -> 14
        self.dec4 = nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1)  # 14 -> 28

    def encode(self, x):
        h = F.relu(self.enc1(x.view(-1, 1, 28, 28)))
        h = F.relu(self.enc2(h))
        h = F.relu(self.enc3(h.view(h.shape[0], -1)))
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        h = F.relu(self.dec1(z))
        h = F.relu(self.dec2(h))
        h = F.relu(self.dec3(h.view(-1, 64, 7, 7)))
        return self.dec4(h).view(z.shape[0], -1)  # logits, [N, 784]

    def forward(self, x, eps):
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.decode(z), mu, logvar


def terms(model, x, gen):
    """Per-batch sums of the reconstruction NLL and the KL (both in nats)."""
    eps = torch.randn(x.shape[0], LATENT, generator=gen)
    logits, mu, logvar = model(x, eps)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return recon, kl


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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

    model = ConvVAE()
    params = sum(p.numel() for p in model.parameters())
    if params != PARAMETERS:
        raise SystemExit(f"model has {params} parameters, want {PARAMETERS}")
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
        "parameters": params,
        "torch": torch.__version__,
    }), flush=True)


if __name__ == "__main__":
    sys.exit(main())
