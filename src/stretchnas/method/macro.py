"""The macro skeleton shared by the search supernet and the evaluation networks.

Stems, cell stacking with reductions at layers//3 and 2*layers//3 (channels
doubled there), the preprocessing of the two cell inputs, and global pooling +
classifier. Search and evaluation differ only in the cell they stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from stretchnas.method.ops import FactorizedReduce, ReLUConvBN


def reduction_layers(layers: int) -> tuple[int, int]:
    if layers < 3:
        raise ValueError(f"layers must be at least 3 (two reduction cells and a normal cell), got {layers}")
    return layers // 3, 2 * layers // 3


@dataclass(frozen=True)
class CellSlot:
    index: int
    C_pp: int  # channels of c_{k-2}
    C_p: int  # channels of c_{k-1}
    C: int  # channels of each node in this cell
    reduction: bool
    reduction_prev: bool


def cell_slots(C: int, layers: int, stem_channels: int, out_multiplier, first_reduction_prev: bool = False):
    """Yield the slot of each cell; `out_multiplier(reduction)` is how many nodes it concatenates."""
    reductions = set(reduction_layers(layers))
    C_pp, C_p, C_curr = stem_channels, stem_channels, C
    reduction_prev = first_reduction_prev
    for index in range(layers):
        reduction = index in reductions
        if reduction:
            C_curr *= 2
        yield CellSlot(index, C_pp, C_p, C_curr, reduction, reduction_prev)
        C_pp, C_p = C_p, out_multiplier(reduction) * C_curr
        reduction_prev = reduction


def preprocessors(slot: CellSlot, affine: bool) -> tuple[nn.Module, nn.Module]:
    """Bring both cell inputs to C channels at this cell's input resolution."""
    pre0 = (
        FactorizedReduce(slot.C_pp, slot.C, affine)
        if slot.reduction_prev
        else ReLUConvBN(slot.C_pp, slot.C, 1, 1, 0, affine)
    )
    return pre0, ReLUConvBN(slot.C_p, slot.C, 1, 1, 0, affine)


def cifar_stem(C_stem: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, C_stem, 3, padding=1, bias=False), nn.BatchNorm2d(C_stem))


class ImageNetStem(nn.Module):
    """Two stride-2 stems (DARTS model.py NetworkImageNet): 224 -> 56 -> 28."""

    def __init__(self, C: int):
        super().__init__()
        self.stem0 = nn.Sequential(
            nn.Conv2d(3, C // 2, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C),
        )
        self.stem1 = nn.Sequential(
            nn.ReLU(inplace=True), nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(C)
        )

    def forward(self, x):
        s0 = self.stem0(x)
        return s0, self.stem1(s0)


class Classifier(nn.Module):
    def __init__(self, C_in: int, num_classes: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(C_in, num_classes)

    def forward(self, x):
        return self.linear(self.pool(x).flatten(1))
