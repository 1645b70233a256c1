"""The NAS-Bench-201 search supernet (xautodl's TinyNetworkDarts structure).

A 3x3 stem to C channels, then three stages of N search cells at C, 2C and 4C channels with a residual
reduction block between stages, then BN-ReLU, global pooling and the classifier. A cell has one input
(node 0) and nodes 1..3: node j sums its incoming mixed edges, and node 3 is the cell's output. Batch
norm inside the candidate ops is affine-free, as in NB201's search. The edges run through the DARTS
supernet's `MixedEdge` and `run_nodes`, so every topology mode and optimiser works here too.
"""

from __future__ import annotations

import torch
from torch import nn

from stretchnas.method.genotype import CELL_TYPES
from stretchnas.method.macro import Classifier
from stretchnas.method.ops import ReLUConvBN
from stretchnas.method.spaces import candidate_ops
from stretchnas.method.supernet import PLAIN_EDGES, EdgeOptions, MixedEdge, Supernet, run_nodes
from stretchnas.method.topology import TopologySpace

SPACE = "nb201"


class ResidualReduction(nn.Module):
    """NB201's ResNetBasicblock with stride 2: two ReLU-conv-BN 3x3 (the first strided) plus a shortcut
    of 2x2 average pooling and a 1x1 conv."""

    def __init__(self, C_in: int, C_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, 2, 1, affine=True)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, 1, affine=True)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(C_in, C_out, 1, bias=False))

    def forward(self, x):
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201SearchCell(nn.Module):
    def __init__(self, topology: TopologySpace, op_names: list[str], C: int, options: EdgeOptions = PLAIN_EDGES):
        super().__init__()
        active = topology.active_edges()
        self.edges = nn.ModuleDict(
            {str(e): MixedEdge(op_names, C, 1, SPACE, options) for e in range(len(topology.edges)) if active[e]}
        )
        self.incoming = {
            j: [(e, i) for e, (i, jj) in enumerate(topology.edges) if jj == j and str(e) in self.edges]
            for j in topology.nodes
        }

    def forward(self, x, weights: torch.Tensor, single_op: dict[int, int] | None = None):
        states = [x]
        run_nodes(self.edges, self.incoming, states, weights, single_op, lambda: torch.zeros_like(x))
        return states[-1]


class NB201SearchNetwork(Supernet):
    """One cell type (NB201 stacks a single searched cell); alpha is edges x ops."""

    def __init__(
        self,
        topology: TopologySpace,
        C: int = 16,
        N: int = 5,
        num_classes: int = 10,
        arch_init_std: float = 1e-3,
        channels_last: bool = False,
        recompute: str = "none",
        sampling: str = "mixture",
        edge_normalization: bool = False,
        edge_options: EdgeOptions = PLAIN_EDGES,
    ):
        super().__init__()
        if topology.n_inputs != 1:
            raise ValueError("the NB201 supernet needs a topology space of NB201's one-input cell")
        self.topology, self.channels_last, self.recompute = topology, channels_last, recompute
        self.op_names = candidate_ops(SPACE, with_none=topology.with_none)
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        cells, channels = [], C
        for stage in range(3):
            if stage:
                cells.append(ResidualReduction(channels, 2 * channels))
                channels *= 2
            cells += [NB201SearchCell(topology, self.op_names, channels, edge_options) for _ in range(N)]
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=False))
        self.classifier = Classifier(channels, num_classes)
        self._init_architecture(topology, SPACE, CELL_TYPES[:1], arch_init_std, sampling, edge_normalization)
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor, arch_grad: bool = True, relaxed: dict[str, int] | None = None):
        weights, plans = self.edge_weights(arch_grad, relaxed)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        s = self.stem(x)
        for index, cell in enumerate(self.cells):
            if isinstance(cell, NB201SearchCell):
                s = self.run_cell(index, cell, s, weights["normal"], plans.get("normal"))
            else:
                s = cell(s)
        return self.classifier(self.lastact(s))
