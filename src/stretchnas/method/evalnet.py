"""Evaluation networks built from any genotype: any number of inputs per node,
any subset of nodes concatenated (DARTS model.py generalised; docs/method.md §6)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from stretchnas.method.genotype import Cell, Genotype
from stretchnas.method.macro import (
    CellSlot,
    Classifier,
    ImageNetStem,
    cell_slots,
    cifar_stem,
    preprocessors,
    reduction_layers,
)
from stretchnas.method.ops import Identity, build_op


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Per-sample path dropping, out of place (the reference's in-place version can break autograd)."""
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * mask / keep


class EvalCell(nn.Module):
    def __init__(self, cell: Cell, slot: CellSlot):
        super().__init__()
        self.reduction = slot.reduction
        self.pre0, self.pre1 = preprocessors(slot, affine=True)
        # node order, so every input is complete before it is read
        self.edge_list = sorted(cell.edges, key=lambda edge: edge[2])
        self.ops = nn.ModuleList(
            build_op(op, slot.C, 2 if slot.reduction and i < 2 else 1, affine=True) for op, i, _ in self.edge_list
        )
        self.nodes = cell.nodes
        self.concat = list(cell.concat)
        self.multiplier = len(self.concat)

    def forward(self, s0, s1, drop_prob: float = 0.0):
        states = {0: self.pre0(s0), 1: self.pre1(s1)}
        rectified: dict[int, torch.Tensor] = {}
        for (_, i, j), op in zip(self.edge_list, self.ops):
            if getattr(op, "relu_first", False):
                if i not in rectified:
                    rectified[i] = torch.relu(states[i])
                y = op.body(rectified[i])
            else:
                y = op(states[i])
            if self.training and drop_prob > 0 and not isinstance(op, Identity):
                y = drop_path(y, drop_prob)
            states[j] = y if j not in states else states[j] + y
        return torch.cat([states[n] for n in self.concat], dim=1)


class AuxiliaryPool(nn.AvgPool2d):
    """DARTS's auxiliary pooling (5x5 windows, no padding), which leaves 2x2 on its 8x8 (CIFAR) or 7x7
    (ImageNet) map; on a map smaller than a window (4x4 from 16x16 images) it averages into 2x2 directly."""

    def forward(self, x):
        return super().forward(x) if min(x.shape[-2:]) >= self.kernel_size else F.adaptive_avg_pool2d(x, 2)


class AuxiliaryHead(nn.Module):
    """DARTS's auxiliary classifier on the second reduction cell: 8x8 on CIFAR, 7x7 on ImageNet
    (where the BN after the 768 conv is omitted, as in DARTS)."""

    def __init__(self, C: int, num_classes: int, imagenet: bool):
        super().__init__()
        layers = [
            nn.ReLU(inplace=True),
            AuxiliaryPool(5, stride=2 if imagenet else 3, padding=0, count_include_pad=False),
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
        ]
        if not imagenet:
            layers.append(nn.BatchNorm2d(768))
        layers.append(nn.ReLU(inplace=True))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class EvalNetwork(nn.Module):
    """CIFAR (imagenet=False) or ImageNet network of `layers` cells from `genotype`."""

    def __init__(
        self,
        genotype: Genotype,
        C: int,
        num_classes: int,
        layers: int,
        auxiliary: bool,
        imagenet: bool = False,
        stem_multiplier: int = 3,
    ):
        super().__init__()
        self.imagenet = imagenet
        self.drop_path_prob = 0.0
        self.aux_index = reduction_layers(layers)[1]
        if imagenet:
            self.stem = ImageNetStem(C)
            stem_channels, first_reduction_prev = C, True
        else:
            self.stem = cifar_stem(stem_multiplier * C)
            stem_channels, first_reduction_prev = stem_multiplier * C, False
        multiplier = {False: len(genotype.normal.concat), True: len(genotype.reduce.concat)}
        self.cells = nn.ModuleList()
        C_prev = stem_channels
        for slot in cell_slots(C, layers, stem_channels, multiplier.__getitem__, first_reduction_prev):
            cell = genotype.reduce if slot.reduction else genotype.normal
            self.cells.append(EvalCell(cell, slot))
            C_prev = multiplier[slot.reduction] * slot.C
            if slot.index == self.aux_index:
                C_aux = C_prev
        self.auxiliary = AuxiliaryHead(C_aux, num_classes, imagenet) if auxiliary else None
        self.classifier = Classifier(C_prev, num_classes)

    def forward(self, x):
        if self.imagenet:
            s0, s1 = self.stem(x)
        else:
            s0 = s1 = self.stem(x)
        logits_aux = None
        for index, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if index == self.aux_index and self.auxiliary is not None and self.training:
                logits_aux = self.auxiliary(s1)
        logits = self.classifier(s1)
        return (logits, logits_aux) if self.training and self.auxiliary is not None else logits
