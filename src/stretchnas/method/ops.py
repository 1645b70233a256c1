"""Candidate operations of the DARTS and NAS-Bench-201 spaces, looked up by name.

Ops that start with a ReLU expose `relu_first = True` and a `body` that takes the
already-rectified input, so a cell can apply ReLU once per node and share the
result among every op on every edge leaving that node (same mathematics, one
tensor kept for backward instead of one per op). `forward` still applies the
ReLU itself, so each op is correct on its own. Their body ends in a batch norm,
exposed as `final_norm` with `pre_norm` the body before it, so a mixed edge can
fuse that norm with its weighted sum (stretchnas.kernels.normalized_mix).

Shapes and defaults follow quark0/darts operations.py (DARTS) and
xautodl cell_operations.py (NAS-Bench-201); see docs/reference-settings.md §7.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from stretchnas.kernels.depthwise import DepthwiseConv2d


class Zero(nn.Module):
    """`none`: cells skip it; it exists so a genotype or a measure can name it."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
        return torch.zeros_like(x)


class Identity(nn.Module):
    def forward(self, x):
        return x


class ReluFirst(nn.Module):
    """An op of the form ReLU -> body, the body a Sequential ending in a batch norm."""

    relu_first = True

    def forward(self, x):
        return self.body(F.relu(x))

    @property
    def final_norm(self) -> nn.BatchNorm2d:
        return self.body[-1]

    def pre_norm(self, x):
        """The body up to `final_norm`, on the rectified input."""
        for layer in itertools.islice(self.body, len(self.body) - 1):
            x = layer(x)
        return x


class ReLUConvBN(ReluFirst):
    def __init__(self, C_in, C_out, kernel, stride, padding, affine=True, dilation=1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(C_in, C_out, kernel, stride, padding, dilation=dilation, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class DilConv(ReluFirst):
    """ReLU -> depthwise (dilated) conv -> pointwise conv -> BN."""

    def __init__(self, C_in, C_out, kernel, stride, padding, dilation, affine=True):
        super().__init__()
        self.body = nn.Sequential(
            DepthwiseConv2d(C_in, kernel, stride, padding, dilation),
            nn.Conv2d(C_in, C_out, 1, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class SepConv(ReluFirst):
    """Two stacked ReLU -> depthwise -> pointwise -> BN blocks; only the first is strided."""

    def __init__(self, C_in, C_out, kernel, stride, padding, affine=True):
        super().__init__()
        self.body = nn.Sequential(
            DepthwiseConv2d(C_in, kernel, stride, padding),
            nn.Conv2d(C_in, C_in, 1, bias=False),
            nn.BatchNorm2d(C_in, affine=affine),
            nn.ReLU(inplace=False),
            DepthwiseConv2d(C_in, kernel, 1, padding),
            nn.Conv2d(C_in, C_out, 1, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class FactorizedReduce(ReluFirst):
    """ReLU -> two stride-2 1x1 convs, one shifted by a pixel, concatenated -> BN."""

    def __init__(self, C_in, C_out, affine=True):
        super().__init__()
        if C_out % 2:
            raise ValueError(f"FactorizedReduce needs an even channel count, got {C_out}")
        self.conv_1 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    @property
    def final_norm(self) -> nn.BatchNorm2d:
        return self.bn

    def pre_norm(self, x):
        return torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1)

    def body(self, x):
        return self.bn(self.pre_norm(x))


def _pool(kind: str, stride: int, C: int, supernet: bool) -> nn.Module:
    pool = (
        nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
        if kind == "avg"
        else nn.MaxPool2d(3, stride=stride, padding=1)
    )
    # DARTS appends an affine-free BN to pooling in the search network only, so
    # that outputs of parameter-free ops are on the scale of the conv ops'.
    return nn.Sequential(pool, nn.BatchNorm2d(C, affine=False)) if supernet else pool


OpFactory = Callable[[int, int, bool, bool], nn.Module]  # (C, stride, affine, in a search supernet)

DARTS_OPS: dict[str, OpFactory] = {
    "none": lambda C, stride, affine, supernet: Zero(stride),
    "max_pool_3x3": lambda C, stride, affine, supernet: _pool("max", stride, C, supernet),
    "avg_pool_3x3": lambda C, stride, affine, supernet: _pool("avg", stride, C, supernet),
    "skip_connect": lambda C, stride, affine, supernet: Identity() if stride == 1 else FactorizedReduce(C, C, affine),
    "sep_conv_3x3": lambda C, stride, affine, supernet: SepConv(C, C, 3, stride, 1, affine),
    "sep_conv_5x5": lambda C, stride, affine, supernet: SepConv(C, C, 5, stride, 2, affine),
    "dil_conv_3x3": lambda C, stride, affine, supernet: DilConv(C, C, 3, stride, 2, 2, affine),
    "dil_conv_5x5": lambda C, stride, affine, supernet: DilConv(C, C, 5, stride, 4, 2, affine),
}

NB201_OPS: dict[str, OpFactory] = {
    "none": lambda C, stride, affine, supernet: Zero(stride),
    "skip_connect": lambda C, stride, affine, supernet: Identity() if stride == 1 else FactorizedReduce(C, C, affine),
    "nor_conv_1x1": lambda C, stride, affine, supernet: ReLUConvBN(C, C, 1, stride, 0, affine),
    "nor_conv_3x3": lambda C, stride, affine, supernet: ReLUConvBN(C, C, 3, stride, 1, affine),
    "avg_pool_3x3": lambda C, stride, affine, supernet: nn.AvgPool2d(3, stride, 1, count_include_pad=False),
}

OP_SPACES: dict[str, dict[str, OpFactory]] = {"darts": DARTS_OPS, "nb201": NB201_OPS}


def build_op(name: str, C: int, stride: int, affine: bool, supernet: bool = False, space: str = "darts") -> nn.Module:
    try:
        factory = OP_SPACES[space][name]
    except KeyError:
        known = sorted(OP_SPACES.get(space, {}))
        raise KeyError(f"unknown op {name!r} in space {space!r}; known ops: {known}") from None
    return factory(C, stride, affine, supernet)
