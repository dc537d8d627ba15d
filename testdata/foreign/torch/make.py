#!/usr/bin/python3
"""Exports small VAEs with PyTorch, as a user of another tool would, and saves
PyTorch's own outputs beside them, so that vaec's runtime (and ONNX Runtime)
can be checked on files vaec did not write. CI needs no torch: the .onnx and
.json files are committed.

    cd testdata/foreign/torch && OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 make.py

(torch 1.13 from Debian's python3-torch; OPENBLAS_CORETYPE because Debian's
OpenBLAS mis-detects the development machine's CPU.)

For every model NAME, with a dynamic batch "N":
    NAME_opset13.onnx, NAME_opset17.onnx
                  torch.onnx.export of the module in eval mode
    NAME.json     {"cases": [{"inputs": {...}, "outputs": {...}}, ...]}:
                  PyTorch's outputs at batch 1 and at batch 7
The weights are random (fixed seed), shrunk so that the files stay small;
BatchNorm's running statistics are set to non-trivial values.
"""
import json

import torch
from torch import nn

torch.manual_seed(20261202)
LATENT, HIDDEN, CLASSES = 8, 32, 10


class MLPEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(784, HIDDEN)
        self.mu = nn.Linear(HIDDEN, LATENT)
        self.logvar = nn.Linear(HIDDEN, LATENT)

    def forward(self, x):
        h = torch.relu(self.hidden(x))
        return self.mu(h), self.logvar(h)


class MLPDecoder(nn.Module):
    def __init__(self, extra=0):
        super().__init__()
        self.hidden = nn.Linear(LATENT + extra, HIDDEN)
        self.out = nn.Linear(HIDDEN, 784)

    def forward(self, z):
        return torch.sigmoid(self.out(torch.relu(self.hidden(z))))


class CondDecoder(MLPDecoder):
    """A conditional decoder: z concatenated with a one-hot label."""

    def __init__(self):
        super().__init__(extra=CLASSES)

    def forward(self, z, y):
        return super().forward(torch.cat([z, y], dim=1))


class ConvEncoder(nn.Module):
    """28×28 → conv k4 s2 p1 → 14×14 → conv k4 s2 p1 → 7×7 → x.view(x.size(0), -1) → heads."""

    def __init__(self, bn=False):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 4, stride=2, padding=1)
        self.c2 = nn.Conv2d(4, 8, 4, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8) if bn else nn.Identity()
        self.mu = nn.Linear(8 * 7 * 7, LATENT)
        self.logvar = nn.Linear(8 * 7 * 7, LATENT)

    def forward(self, x):
        h = torch.relu(self.c1(x))
        h = torch.relu(self.bn(self.c2(h)))
        h = h.view(h.size(0), -1)
        return self.mu(h), self.logvar(h)


class ConvDecoder(nn.Module):
    """dense → view to [8, 7, 7] → convT k4 s2 p1 → 14×14 → convT k4 s2 p1 → 28×28."""

    def __init__(self, bn=False):
        super().__init__()
        self.fc = nn.Linear(LATENT, 8 * 7 * 7)
        self.t1 = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(4) if bn else nn.Identity()
        self.t2 = nn.ConvTranspose2d(4, 1, 4, stride=2, padding=1)

    def forward(self, z):
        h = torch.relu(self.fc(z)).view(-1, 8, 7, 7)
        h = torch.relu(self.bn(self.t1(h)))
        return torch.sigmoid(self.t2(h))


def randomize_bn(m):
    for b in m.modules():
        if isinstance(b, nn.BatchNorm2d):
            with torch.no_grad():
                b.running_mean.uniform_(-0.5, 0.5)
                b.running_var.uniform_(0.5, 2.0)
                b.weight.uniform_(0.5, 1.5)
                b.bias.uniform_(-0.2, 0.2)


def images(n):
    return torch.rand(n, 1, 28, 28)


def latents(n):
    return torch.randn(n, LATENT)


def labels(n):
    return nn.functional.one_hot(torch.arange(n) % CLASSES, CLASSES).float()


MODELS = {
    # name: (module, input names and makers, output names)
    "mlp_encoder": (MLPEncoder(), [("x", lambda n: images(n).view(n, 784))], ["mu", "logvar"]),
    "mlp_decoder": (MLPDecoder(), [("z", latents)], ["probs"]),
    "cond_decoder": (CondDecoder(), [("z", latents), ("y", labels)], ["probs"]),
    "conv_encoder": (ConvEncoder(), [("x", images)], ["mu", "logvar"]),
    "conv_decoder": (ConvDecoder(), [("z", latents)], ["probs"]),
    "bn_encoder": (ConvEncoder(bn=True), [("x", images)], ["mu", "logvar"]),
    "bn_decoder": (ConvDecoder(bn=True), [("z", latents)], ["probs"]),
}


def enc(t):
    # 9 significant digits identify a float32 exactly, in fewer bytes.
    return {"shape": list(t.shape), "data": [float("%.9g" % v) for v in t.detach().numpy().ravel()]}


def main():
    for name, (module, ins, outs) in MODELS.items():
        randomize_bn(module)
        module.eval()
        batch7 = [make(7) for _, make in ins]
        cases = []
        for n in (1, 7):
            args = tuple(t[:n] for t in batch7)
            with torch.no_grad():
                res = module(*args)
            if not isinstance(res, tuple):
                res = (res,)
            cases.append({
                "inputs": {k: enc(t) for (k, _), t in zip(ins, args)},
                "outputs": {k: enc(t) for k, t in zip(outs, res)},
            })
        for opset in (13, 17):
            base = f"{name}_opset{opset}"
            axes = {k: {0: "N"} for k, _ in ins}
            axes.update({k: {0: "N"} for k in outs})
            torch.onnx.export(module, tuple(t[:1] for t in batch7), base + ".onnx",
                              input_names=[k for k, _ in ins], output_names=outs,
                              dynamic_axes=axes, opset_version=opset)
            print("wrote", base + ".onnx")
        with open(name + ".json", "w") as f:
            json.dump({"cases": cases}, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
