"""The yardstick of `stretchnas bench --impl reference`: a DARTS search step built the straightforward way.

Written for this project (not copied from quark0/darts), with the structure of
quark0/darts's search model and first-order architect: every op carries its own
ReLU, `none` is computed as a multiply by zero, the mixed op is `sum(w * op(x))`,
alphas are plain tensors, and the architecture step calls `loss.backward()`, which
also fills (and then discards) every weight gradient. `stretchnas.method.supernet` computes
the same supernet (the parameter counts match) faster; nothing else in the package
uses this module.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

PRIMITIVES = [
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
]


def relu_conv_bn(C_in, C_out, k, stride, pad, affine):
    return nn.Sequential(
        nn.ReLU(), nn.Conv2d(C_in, C_out, k, stride, pad, bias=False), nn.BatchNorm2d(C_out, affine=affine)
    )


def dil_conv(C, k, stride, pad, dil, affine):
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(C, C, k, stride, pad, dilation=dil, groups=C, bias=False),
        nn.Conv2d(C, C, 1, bias=False),
        nn.BatchNorm2d(C, affine=affine),
    )


def sep_conv(C, k, stride, pad, affine):
    return nn.Sequential(dil_conv(C, k, stride, pad, 1, affine), dil_conv(C, k, 1, pad, 1, affine))


class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        return x.mul(0.0) if self.stride == 1 else x[:, :, :: self.stride, :: self.stride].mul(0.0)


class FactorizedReduce(nn.Module):
    def __init__(self, C_in, C_out, affine):
        super().__init__()
        self.conv_1 = nn.Conv2d(C_in, C_out // 2, 1, 2, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x):
        x = F.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def make_op(name, C, stride):
    if name == "none":
        return Zero(stride)
    if name == "max_pool_3x3":
        return nn.Sequential(nn.MaxPool2d(3, stride, 1), nn.BatchNorm2d(C, affine=False))
    if name == "avg_pool_3x3":
        return nn.Sequential(nn.AvgPool2d(3, stride, 1, count_include_pad=False), nn.BatchNorm2d(C, affine=False))
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(C, C, False)
    k = int(name[-1])
    if name.startswith("sep"):
        return sep_conv(C, k, stride, k // 2, False)
    return dil_conv(C, k, stride, k - 1, 2, False)


class MixedOp(nn.Module):
    def __init__(self, C, stride):
        super().__init__()
        self._ops = nn.ModuleList(make_op(name, C, stride) for name in PRIMITIVES)

    def forward(self, x, weights):
        return sum(w * op(x) for w, op in zip(weights, self._ops))


class Cell(nn.Module):
    def __init__(self, steps, C_pp, C_p, C, reduction, reduction_prev):
        super().__init__()
        self.reduction = reduction
        self.pre0 = FactorizedReduce(C_pp, C, False) if reduction_prev else relu_conv_bn(C_pp, C, 1, 1, 0, False)
        self.pre1 = relu_conv_bn(C_p, C, 1, 1, 0, False)
        self.steps = steps
        self._ops = nn.ModuleList(
            MixedOp(C, 2 if reduction and j < 2 else 1) for i in range(steps) for j in range(2 + i)
        )

    def forward(self, s0, s1, weights):
        states = [self.pre0(s0), self.pre1(s1)]
        offset = 0
        for _ in range(self.steps):
            s = sum(self._ops[offset + j](h, weights[offset + j]) for j, h in enumerate(states))
            offset += len(states)
            states.append(s)
        return torch.cat(states[-self.steps :], dim=1)


class Network(nn.Module):
    def __init__(self, C=16, num_classes=10, layers=8, steps=4, stem_multiplier=3):
        super().__init__()
        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(3, C_curr, 3, padding=1, bias=False), nn.BatchNorm2d(C_curr))
        C_pp, C_p, C_curr = C_curr, C_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                C_curr *= 2
            self.cells.append(Cell(steps, C_pp, C_p, C_curr, reduction, reduction_prev))
            reduction_prev = reduction
            C_pp, C_p = C_p, steps * C_curr
        self.classifier = nn.Linear(C_p, num_classes)
        edges = sum(2 + i for i in range(steps))
        self.alphas_normal = (1e-3 * torch.randn(edges, len(PRIMITIVES))).requires_grad_(True)
        self.alphas_reduce = (1e-3 * torch.randn(edges, len(PRIMITIVES))).requires_grad_(True)

    def arch_parameters(self):
        return [self.alphas_normal, self.alphas_reduce]

    def forward(self, x):
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            weights = F.softmax(self.alphas_reduce if cell.reduction else self.alphas_normal, dim=-1)
            s0, s1 = s1, cell(s0, s1, weights)
        return self.classifier(F.adaptive_avg_pool2d(s1, 1).flatten(1))


class FirstOrderStep:
    """architect.step (first order) then the weight step, as train_search.py does."""

    def __init__(self, net: Network):
        self.net = net
        self.w_opt = torch.optim.SGD(net.parameters(), lr=0.025, momentum=0.9, weight_decay=3e-4)
        self.a_opt = torch.optim.Adam(net.arch_parameters(), lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)

    def __call__(self, train, val):
        self.a_opt.zero_grad()
        F.cross_entropy(self.net(val[0]), val[1]).backward()
        self.a_opt.step()
        self.w_opt.zero_grad()
        F.cross_entropy(self.net(train[0]), train[1]).backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), 5)
        self.w_opt.step()
