"""The yardstick of `stretchnas bench --impl reference --space nb201`: an NB201 search step built the
straightforward way.

Written for this project with the structure of AutoDL's DARTS-V1 NAS-Bench-201 search model
(TinyNetworkDarts) and step: every op carries its own ReLU, `none` is computed as a multiply by zero, the
mixed op is `sum(w * op(x))` over all five ops, alpha is a plain tensor, the weight step comes first (with
Nesterov momentum and weight decay 5e-4), and the architecture step calls `loss.backward()`, which also
fills every weight gradient. Its convolutions have no bias, as ours (AutoDL's have one where BN is
affine-free; reference-settings.md §7), so the parameter counts of `stretchnas.method.nb201.network` and this
module match. Nothing else in the package uses it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def relu_conv_bn(C_in, C_out, k, stride, affine):
    return nn.Sequential(
        nn.ReLU(), nn.Conv2d(C_in, C_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(C_out, affine=affine)
    )


class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.0)


def make_op(name, C):
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    return relu_conv_bn(C, C, int(name[-1]), 1, False)


class MixedOp(nn.Module):
    def __init__(self, C):
        super().__init__()
        self._ops = nn.ModuleList(make_op(name, C) for name in OPS)

    def forward(self, x, weights):
        return sum(w * op(x) for w, op in zip(weights, self._ops))


class Cell(nn.Module):
    """Node j = sum over i < j of the mixed op of edge (i, j); the output is node 3."""

    def __init__(self, C, nodes=4):
        super().__init__()
        self.nodes = nodes
        self.edges = nn.ModuleDict({f"{j}<-{i}": MixedOp(C) for j in range(1, nodes) for i in range(j)})
        self.index = {key: k for k, key in enumerate(self.edges)}

    def forward(self, x, weights):
        states = [x]
        for j in range(1, self.nodes):
            states.append(sum(self.edges[f"{j}<-{i}"](states[i], weights[self.index[f"{j}<-{i}"]]) for i in range(j)))
        return states[-1]


class ResNetBlock(nn.Module):
    def __init__(self, C_in, C_out):
        super().__init__()
        self.conv_a = relu_conv_bn(C_in, C_out, 3, 2, True)
        self.conv_b = relu_conv_bn(C_out, C_out, 3, 1, True)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(C_in, C_out, 1, bias=False))

    def forward(self, x):
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class Network(nn.Module):
    def __init__(self, C=16, N=5, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        channels = [C] * N + [2 * C] + [2 * C] * N + [4 * C] + [4 * C] * N
        reductions = [False] * N + [True] + [False] * N + [True] + [False] * N
        self.cells, C_prev = nn.ModuleList(), C
        for C_curr, reduction in zip(channels, reductions):
            self.cells.append(ResNetBlock(C_prev, C_curr) if reduction else Cell(C_curr))
            C_prev = C_curr
        self.lastact = nn.Sequential(nn.BatchNorm2d(C_prev), nn.ReLU())
        self.classifier = nn.Linear(C_prev, num_classes)
        self.alphas = (1e-3 * torch.randn(6, len(OPS))).requires_grad_(True)

    def arch_parameters(self):
        return [self.alphas]

    def forward(self, x):
        weights = F.softmax(self.alphas, dim=-1)
        s = self.stem(x)
        for cell in self.cells:
            s = cell(s, weights) if isinstance(cell, Cell) else cell(s)
        return self.classifier(F.adaptive_avg_pool2d(self.lastact(s), 1).flatten(1))


class FirstOrderStep:
    """DARTS-V1 on NB201: the weight step, then the first-order architecture step."""

    def __init__(self, net: Network):
        self.net = net
        self.w_opt = torch.optim.SGD(net.parameters(), lr=0.025, momentum=0.9, weight_decay=5e-4, nesterov=True)
        self.a_opt = torch.optim.Adam(net.arch_parameters(), lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)

    def __call__(self, train, val):
        self.w_opt.zero_grad()
        F.cross_entropy(self.net(train[0]), train[1]).backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), 5)
        self.w_opt.step()
        self.a_opt.zero_grad()
        F.cross_entropy(self.net(val[0]), val[1]).backward()
        self.a_opt.step()
