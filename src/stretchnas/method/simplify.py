"""Topological simplification of a mixed edge: our reading of TopoNAS 2024 (arXiv:2408.01311).

Only the paper's abstract is public and no code was released; docs/method.md §7 states the reading.
On every edge, candidate ops with the same shape of computation form a group that shares its non-linear
modules: one ReLU (the node's), the batch norms moved after the weighted sum, one set of pointwise
convolutions. What is left in parallel are linear convolutions of one input, and those are
re-parameterised into ONE convolution whose kernel is the architecture-weighted sum of the candidates'
kernels, each zero-padded to the largest (`merged_kernel`). That step is exact: a convolution is linear
in its kernel, and a k x k kernel centred in a larger one with the padding grown to match computes the
same output at every position (same stride, same dilation). The groups:

* NB201: nor_conv_1x1 + nor_conv_3x3, ReLU -> conv -> BN: one 3x3 convolution (1x1 in its centre).
* DARTS: dil_conv_3x3 + dil_conv_5x5, ReLU -> depthwise (dilation 2) -> pointwise -> BN: one 5x5
  dilation-2 depthwise convolution (the 3x3 dilation-2 kernel in its centre), one pointwise conv.
* DARTS: sep_conv_3x3 + sep_conv_5x5, two ReLU -> depthwise -> pointwise -> BN stages: the first stage
  shares its pointwise conv and BN, which makes the second stage's depthwise convolutions parallel
  convolutions of one input too, so they merge as well (the iterative "module sharing").

A group's output is its batch norm scaled by the sum of its ops' weights, so the group competes with
skip, pooling and `none` as the sum of its members did; within it, the weights set the kernel mix.
Kernel normalisation (`search.kernel_norm: l2`) divides every candidate kernel by its per-filter L2
norm before mixing, so a 5x5 kernel does not outweigh a 3x3 one by its number of taps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from stretchnas.kernels.depthwise import depthwise_conv2d
from stretchnas.kernels.normalized_mix import fusable, normalized_mix

KERNEL_NORMS = ("none", "l2")


@dataclass(frozen=True)
class Candidate:
    """One op's convolution in a merge: its kernel size and dilation."""

    op: str
    size: int
    dilation: int = 1


@dataclass(frozen=True)
class ShapeGroup:
    """Ops of one space that share their modules (`kind`: conv, dil or sep) and merge their kernels."""

    kind: str
    candidates: tuple[Candidate, ...]

    @property
    def ops(self) -> tuple[str, ...]:
        return tuple(c.op for c in self.candidates)


GROUPS: dict[str, tuple[ShapeGroup, ...]] = {
    "nb201": (ShapeGroup("conv", (Candidate("nor_conv_1x1", 1), Candidate("nor_conv_3x3", 3))),),
    "darts": (
        ShapeGroup("sep", (Candidate("sep_conv_3x3", 3), Candidate("sep_conv_5x5", 5))),
        ShapeGroup("dil", (Candidate("dil_conv_3x3", 3, 2), Candidate("dil_conv_5x5", 5, 2))),
    ),
}


def normalize_kernel(kernel: torch.Tensor, how: str) -> torch.Tensor:
    """`l2`: each output filter divided by its L2 norm; `none`: unchanged."""
    if how == "none":
        return kernel
    if how == "l2":
        return kernel / kernel.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    raise ValueError(f"kernel normalisation {how!r}: not one of {KERNEL_NORMS}")


def merged_kernel(kernels: list[torch.Tensor], weights: torch.Tensor, how: str = "none") -> torch.Tensor:
    """sum_k weights[k] * normalize(kernels[k]), each zero-padded (centred) to the largest kernel's size."""
    size = max(k.shape[-1] for k in kernels)
    merged = None
    for k, kernel in enumerate(kernels):
        ring = (size - kernel.shape[-1]) // 2
        term = weights[k] * F.pad(normalize_kernel(kernel, how), (ring, ring, ring, ring))
        merged = term if merged is None else merged + term
    return merged


class MergedConv(nn.Module):
    """Parallel convolutions of one input (one per candidate, each its own parameter) run as one."""

    def __init__(
        self, C_in: int, C_out: int, candidates: tuple[Candidate, ...], stride: int, groups: int, kernel_norm: str
    ):
        super().__init__()
        dilations = {c.dilation for c in candidates}
        if len(dilations) != 1 or any(c.size % 2 == 0 for c in candidates):
            raise ValueError("merged candidates need one dilation and odd kernel sizes")
        self.dilation, self.stride, self.groups, self.kernel_norm = dilations.pop(), stride, groups, kernel_norm
        self.size = max(c.size for c in candidates)
        self.kernels = nn.ParameterList(
            nn.Parameter(nn.Conv2d(C_in, C_out, c.size, groups=groups, bias=False).weight.detach().clone())
            for c in candidates
        )

    def forward(self, x: torch.Tensor, weights: torch.Tensor, members: list[int]) -> torch.Tensor:
        """The convolution whose kernel mixes the `members` (candidate positions) with `weights`."""
        kernel = merged_kernel([self.kernels[m] for m in members], weights, self.kernel_norm)
        padding = self.dilation * (kernel.shape[-1] - 1) // 2
        if self.groups == x.shape[1] == kernel.shape[0]:  # depthwise: the faster input gradient where it applies
            return depthwise_conv2d(x, kernel, self.stride, padding, self.dilation)
        return F.conv2d(x, kernel, None, self.stride, padding, self.dilation, self.groups)


class SharedGroup(nn.Module):
    """One group of an edge: merged convolutions with the shared modules between them, up to a final
    affine-free batch norm (`final_norm`), on the node's rectified input."""

    def __init__(self, group: ShapeGroup, C: int, stride: int, kernel_norm: str):
        super().__init__()
        self.kind, self.candidates = group.kind, group.candidates
        if group.kind == "conv":
            self.conv = MergedConv(C, C, group.candidates, stride, 1, kernel_norm)
        else:
            self.depthwise = MergedConv(C, C, group.candidates, stride, C, kernel_norm)
            self.pointwise = nn.Conv2d(C, C, 1, bias=False)
        if group.kind == "sep":
            self.norm_1 = nn.BatchNorm2d(C, affine=False)
            self.depthwise_2 = MergedConv(C, C, group.candidates, 1, C, kernel_norm)
            self.pointwise_2 = nn.Conv2d(C, C, 1, bias=False)
        self.final_norm = nn.BatchNorm2d(C, affine=False)

    def pre_norm(self, x_relu: torch.Tensor, weights: torch.Tensor, members: list[int]) -> torch.Tensor:
        if self.kind == "conv":
            return self.conv(x_relu, weights, members)
        y = self.pointwise(self.depthwise(x_relu, weights, members))
        if self.kind == "sep":
            y = self.pointwise_2(self.depthwise_2(torch.relu(self.norm_1(y)), weights, members))
        return y

    def forward(self, x_relu: torch.Tensor, weights: torch.Tensor, members: list[int]) -> torch.Tensor:
        """sum(weights) * BN(merged computation): the group's term of the edge's sum."""
        z = self.pre_norm(x_relu, weights, members)
        total = weights.sum().reshape(1)
        if fusable(self.final_norm):
            return normalized_mix(total, [z], [self.final_norm])
        return total * self.final_norm(z)


def groups_of(op_names: list[str], space: str) -> list[tuple[ShapeGroup, list[int]]]:
    """The space's groups with at least two of `op_names` present, each with those ops' indices."""
    found = []
    for group in GROUPS.get(space, ()):
        indices = [op_names.index(op) for op in group.ops if op in op_names]
        if len(indices) == len(group.ops):
            found.append((group, indices))
    return found
