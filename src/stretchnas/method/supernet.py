"""The search supernet: DARTS cells whose edges carry a mixed op scaled by s(e) (docs/method.md §1-2).

Node j = sum_{i<j} s(i, j) * sum_o softmax(alpha_ij)_o * o(x_i)   (Eqs. 1, 2, 6, 9, 13).

The product w[e, o] = s(e) * softmax(alpha_e)_o is formed once per forward and
cell type, not per cell. What the straightforward implementation wastes is
skipped without changing the result:
  * `none` contributes exactly zero, so it is never run (it stays in the softmax);
  * edges no topology subset can select (s = 0 identically) are not built;
  * ReLU is applied once per node and shared by every ReLU-first op on every
    edge leaving that node;
  * parameter-free ops (pooling followed by affine-free batch norm) give the same
    output on every edge that leaves one node with one stride, so each runs once
    per (node, stride) and its output is shared. In training mode this is exact;
    only the first of those edges' BN modules tracks running statistics, which the
    search never reads.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from stretchnas.kernels.normalized_mix import fusable, normalized_mix
from stretchnas.kernels.switch import plain_kernels
from stretchnas.method.genotype import CELL_TYPES
from stretchnas.method.macro import CellSlot, Classifier, ImageNetStem, cell_slots, cifar_stem, preprocessors
from stretchnas.method.ops import Identity, build_op
from stretchnas.method.simplify import SharedGroup, groups_of
from stretchnas.method.spaces import candidate_ops
from stretchnas.method.topology import TopologySpace, TopologyWeights


def _has_parameters(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


@dataclass(frozen=True)
class EdgeOptions:
    """How every mixed edge of a supernet is built: PC-DARTS's `partial` channels (1: all) and the 2024
    topological simplification with its kernel normalisation (stretchnas.method.simplify)."""

    partial: int = 1
    simplify: bool = False
    kernel_norm: str = "none"


PLAIN_EDGES = EdgeOptions()  # all channels, no simplification


class MixedEdge(nn.Module):
    """The candidate ops of one edge. With `partial` = K > 1 (PC-DARTS), the ops see only the first C/K
    channels; the others bypass them (2x2 max pooling on a strided edge), and the two parts are
    concatenated and channel-shuffled. K = 1 is the full mixed op.

    While training with autograd on (`fusable`), the final affine-free batch norms of the ReLU-first ops are fused with
    the weighted sum (stretchnas.kernels.normalized_mix): the same values and gradients, one tensor kept per op
    instead of two when alpha takes a gradient."""

    def __init__(self, op_names: list[str], C: int, stride: int, space: str, options: EdgeOptions = PLAIN_EDGES):
        super().__init__()
        partial = options.partial
        merged = groups_of(op_names, space) if options.simplify else []
        merged_ops = {k for _, members in merged for k in members}
        self.op_index = [k for k, name in enumerate(op_names) if name != "none" and k not in merged_ops]
        self.partial = partial
        self.bypass = nn.MaxPool2d(2, 2) if partial > 1 and stride == 2 else None
        self.ops = nn.ModuleList(
            build_op(op_names[k], C // partial, stride, affine=False, supernet=True, space=space) for k in self.op_index
        )
        self.relu_first = [getattr(op, "relu_first", False) for op in self.ops]
        # ops whose output depends only on (input, stride): shareable across a node's edges
        self.share_key = [
            None if _has_parameters(op) or isinstance(op, Identity) else (op_names[k], stride)
            for k, op in zip(self.op_index, self.ops)
        ]
        self.normalized = [relu_first and key is None for relu_first, key in zip(self.relu_first, self.share_key)]
        # the 2024 simplification: each group of ops sharing modules, and the ops (alpha columns) it holds
        self.groups = nn.ModuleList(
            SharedGroup(group, C // partial, stride, options.kernel_norm) for group, _ in merged
        )
        self.group_members = [members for _, members in merged]

    def forward(
        self,
        x: torch.Tensor,
        x_relu: torch.Tensor,
        weights: torch.Tensor,
        only: int | None = None,
        shared: dict | None = None,
    ):
        """sum_k weights[k] * op_k(x) over the edge's ops (docs/method.md §1), `x_relu` being relu(x) for the
        ops that start with a ReLU. `only` runs a single op (a clamped edge under EDAS, a drawn one under
        GDAS); `shared` caches parameter-free op outputs among the edges leaving one node. None where no op
        ran: the edge contributes nothing.

        The terms come from three computations of the same sum, in a fixed order: ops run one by one, the
        ops whose final batch norm is fused with the weighted sum, and the simplification's merged groups."""
        x, x_relu, bypassed = self._partial_channels(x, x_relu)
        chosen = [i for i, k in enumerate(self.op_index) if only is None or k == only]
        fused = [i for i in chosen if self.normalized[i] and fusable(self.ops[i].final_norm)]
        terms = [self._op_term(i, x, x_relu, weights, shared) for i in chosen if i not in fused]
        terms += [self._fused_term(fused, x_relu, weights)] if fused else []
        terms += self._group_terms(x_relu, weights, only)
        return self._rejoin(_sum(terms), bypassed)

    def _op_term(self, i: int, x, x_relu, weights, shared: dict | None) -> torch.Tensor:
        """weights[k] * op_k(x), a parameter-free op's output computed once per node (`shared`)."""
        op, key = self.ops[i], self.share_key[i]
        if key is not None and shared is not None and key in shared:
            y = shared[key]
        else:
            y = op.body(x_relu) if self.relu_first[i] else op(x)
            if key is not None and shared is not None:
                shared[key] = y
        return weights[self.op_index[i]] * y

    def _fused_term(self, fused: list[int], x_relu, weights) -> torch.Tensor:
        """sum over `fused` of weights[k] * BN_k(z_k), keeping only z_k (stretchnas.kernels.normalized_mix)."""
        inputs = [self.ops[i].pre_norm(x_relu) for i in fused]
        norms = [self.ops[i].final_norm for i in fused]
        return normalized_mix(self._weights_of(weights, [self.op_index[i] for i in fused]), inputs, norms)

    def _group_terms(self, x_relu, weights, only: int | None) -> list[torch.Tensor]:
        """The 2024 simplification: each merged group's weighted sum over its members (method/simplify.py)."""
        terms = []
        for group, members in zip(self.groups, self.group_members):
            chosen = [i for i, k in enumerate(members) if only is None or k == only]
            if chosen:
                terms.append(group(x_relu, self._weights_of(weights, [members[i] for i in chosen]), chosen))
        return terms

    def _partial_channels(self, x, x_relu):
        """PC-DARTS: the ops see the first C/K channels; the rest bypass them."""
        if self.partial == 1:
            return x, x_relu, None
        part = x.shape[1] // self.partial
        return x[:, :part], x_relu[:, :part], x[:, part:]

    def _rejoin(self, out, bypassed):
        if bypassed is None or out is None:
            return out
        bypassed = self.bypass(bypassed) if self.bypass is not None else bypassed
        # PC-DARTS's channel shuffle: channel g * (C / K) + i moves to i * K + g
        return torch.nn.functional.channel_shuffle(torch.cat([out, bypassed], dim=1), self.partial)

    @staticmethod
    def _weights_of(weights: torch.Tensor, ops: list[int]) -> torch.Tensor:
        if ops == list(range(ops[0], ops[-1] + 1)):  # adjacent, as in both spaces: one slice
            return weights[ops[0] : ops[-1] + 1]
        return torch.stack([weights[k] for k in ops])


def _sum(terms: list[torch.Tensor]) -> torch.Tensor | None:
    """The terms added left to right (None for none): the order, and so the rounding, is fixed."""
    out = None
    for term in terms:
        out = term if out is None else out + term
    return out


class SearchCell(nn.Module):
    def __init__(
        self,
        slot: CellSlot,
        topology: TopologySpace,
        op_names: list[str],
        op_space: str,
        options: EdgeOptions = PLAIN_EDGES,
    ):
        super().__init__()
        self.reduction = slot.reduction
        self.pre0, self.pre1 = preprocessors(slot, affine=False)
        self.n_nodes = topology.n_nodes
        self.edge_list = topology.edges
        active = topology.active_edges()
        self.edges = nn.ModuleDict()
        for e, (i, _) in enumerate(self.edge_list):
            if active[e]:
                stride = 2 if slot.reduction and i < 2 else 1
                self.edges[str(e)] = MixedEdge(op_names, slot.C, stride, op_space, options)
        self.incoming = {
            j: [(e, i) for e, (i, jj) in enumerate(self.edge_list) if jj == j and str(e) in self.edges]
            for j in range(2, self.n_nodes + 2)
        }

    def forward(self, s0, s1, weights: torch.Tensor, single_op: dict[int, int] | None = None):
        """`single_op` maps edge -> the one op index it runs (EDAS); None means the full mixture.
        An edge mapped to `none` contributes nothing and is skipped."""
        states = [self.pre0(s0), self.pre1(s1)]
        zero = lambda: torch.zeros_like(states[1] if not self.reduction else states[1][:, :, ::2, ::2])  # noqa: E731
        run_nodes(self.edges, self.incoming, states, weights, single_op, zero)
        return torch.cat(states[2:], dim=1)


def run_nodes(
    edges: nn.ModuleDict, incoming: dict, states: list, weights: torch.Tensor, single_op: dict[int, int] | None, zero
) -> None:
    """Append to `states` each node after the inputs, in order: the sum of its incoming mixed edges
    (`single_op`: EDAS's one op per clamped edge). The ReLU of a node and the parameter-free ops on its
    outgoing edges are computed once and shared. A node with no selectable input is `zero()`."""
    rectified: dict[int, torch.Tensor] = {}
    shared: dict[int, dict] = {}
    for j in sorted(incoming):
        node = None
        for e, i in incoming[j]:
            only = single_op.get(e) if single_op else None
            edge = edges[str(e)]
            if only is not None and only not in edge.op_index:
                continue  # clamped to `none`
            if i not in rectified:
                rectified[i] = torch.relu(states[i])
            y = edge(states[i], rectified[i], weights[e], only, shared.setdefault(i, {}))
            if y is None:
                continue
            node = y if node is None else node + y
        states.append(zero() if node is None else node)


# PC-DARTS's ImageNet search reads 224x224 crops; its stem (macro.ImageNetStem) brings them to 28x28
# before the first cell, as the CIFAR stem's 32x32 (our reading of the SC paper's ImageNet search).
IMAGENET_SEARCH_CROP = 224


class Supernet(nn.Module):
    """What every search supernet shares: alpha (and beta, if the mode has one) per cell type, the
    weights w[e, o] every edge mixes its ops with, EDAS's single-op plans, and recomputation. A
    subclass builds its macro network, then calls `_init_architecture`."""

    cell_types: tuple[str, ...]

    def _init_architecture(
        self,
        topology: TopologySpace,
        op_space: str,
        cell_types: tuple[str, ...],
        arch_init_std: float,
        sampling: str = "mixture",
        edge_normalization: bool = False,
    ) -> None:
        self.op_space, self.cell_types = op_space, cell_types
        self.sampling, self.tau = sampling, 1.0  # GDAS: the optimiser sets tau every epoch
        self.topology_weights = TopologyWeights(topology)
        num_edges, num_ops = len(topology.edges), len(self.op_names)
        self.alpha = nn.ParameterDict(
            {c: nn.Parameter(arch_init_std * torch.randn(num_edges, num_ops)) for c in cell_types}
        )
        self.beta = nn.ParameterDict(
            {c: nn.Parameter(arch_init_std * torch.randn(topology.num_subsets)) for c in cell_types}
            if topology.has_beta
            else {}
        )
        # PC-DARTS's edge normalisation: one weight per edge, softmax over each node's incoming edges
        self.edge_norm = nn.ParameterDict(
            {c: nn.Parameter(arch_init_std * torch.randn(num_edges)) for c in cell_types} if edge_normalization else {}
        )
        incoming = [[e for e, (_, j) in enumerate(topology.edges) if j == node] for node in topology.nodes]
        self._incoming_edges = [torch.tensor(edges) for edges in incoming]

    # ------------------------------------------------------------------ parameters

    def arch_parameters(self) -> list[nn.Parameter]:
        return [*self.alpha.values(), *self.edge_norm.values(), *self.beta.values()]

    def alpha_parameters(self) -> list[nn.Parameter]:
        return list(self.alpha.values())

    def edge_norm_parameters(self) -> list[nn.Parameter]:
        """PC-DARTS's edge-normalisation weights (updated with alpha, on alpha's batches); empty when off."""
        return list(self.edge_norm.values())

    def beta_parameters(self) -> list[nn.Parameter]:
        return list(self.beta.values())

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def named_weight_parameters(self):
        arch = {id(p) for p in self.arch_parameters()}
        return [(n, p) for n, p in self.named_parameters() if id(p) not in arch]

    # ------------------------------------------------------------------ weights per edge

    def edge_scale(self, cell_type: str) -> torch.Tensor | None:
        """What every op weight of an edge is multiplied by: s(e), where the mode has topology variables,
        times PC-DARTS's normalised edge weight, where it is on; None when neither is."""
        scale = self.topology_weights(self.beta[cell_type]) if self.topology.has_beta else None
        if self.edge_norm:
            normed = self.normalized_edge_weights(cell_type)
            scale = normed if scale is None else scale * normed
        return scale

    def normalized_edge_weights(self, cell_type: str) -> torch.Tensor:
        """PC-DARTS: softmax of the edge-normalisation weights over each node's incoming edges."""
        raw = self.edge_norm[cell_type]
        out = torch.zeros_like(raw)
        for edges in self._incoming_edges:
            out = out.index_copy(0, edges.to(raw.device), torch.softmax(raw[edges.to(raw.device)], dim=0))
        return out

    def mixed_weights(self, cell_type: str, relaxed_edge: int | None = None) -> torch.Tensor:
        """w[e, o] = s(e) * softmax(alpha_e)_o, shape (edges, ops incl. `none` if present).

        With `relaxed_edge` (EDAS), every other edge is clamped to the one-hot of its
        argmax op, a constant, so only that edge's alpha receives a gradient.
        """
        alpha = self.alpha[cell_type]
        weights = torch.softmax(alpha, dim=-1)
        if relaxed_edge is not None:
            hard = torch.nn.functional.one_hot(alpha.detach().argmax(dim=-1), alpha.shape[-1]).to(alpha.dtype)
            keep = torch.zeros(alpha.shape[0], 1, dtype=torch.bool, device=alpha.device)
            keep[relaxed_edge] = True
            weights = torch.where(keep, weights, hard)
        scale = self.edge_scale(cell_type)
        return weights if scale is None else weights * scale[:, None]

    def single_op_plan(self, cell_type: str, relaxed_edge: int) -> dict[int, int]:
        """Edge -> its argmax op, for every edge but the relaxed one (EDAS)."""
        argmax = self.alpha[cell_type].detach().argmax(dim=-1).tolist()
        return {e: op for e, op in enumerate(argmax) if e != relaxed_edge}

    def gumbel_weights(self, cell_type: str) -> tuple[torch.Tensor, dict[int, int]]:
        """GDAS (xautodl search_model_gdas.py): one op per edge drawn by hard Gumbel-softmax at temperature
        tau. The weight of the drawn op is 1 in value, its gradient that of softmax((log p + g) / tau) (a
        straight-through estimator); every other op is not run. Returns the weights (times s(e) where the
        mode has topology variables) and the plan edge -> drawn op."""
        alpha = self.alpha[cell_type]
        while True:  # a draw whose soft weights are not finite is redrawn, as xautodl does
            gumbels = -torch.empty_like(alpha).exponential_().log()
            probs = torch.softmax((torch.log_softmax(alpha, dim=-1) + gumbels) / self.tau, dim=-1)
            if torch.isfinite(probs).all():
                break
        drawn = probs.detach().argmax(dim=-1, keepdim=True)
        hard = torch.zeros_like(probs).scatter_(-1, drawn, 1.0) - probs.detach() + probs
        scale = self.edge_scale(cell_type)
        weights = hard if scale is None else hard * scale[:, None]
        return weights, dict(enumerate(drawn.squeeze(-1).tolist()))

    def edge_weights(self, arch_grad: bool, relaxed: dict[str, int] | None) -> tuple[dict, dict]:
        """Per cell type, the mixing weights and the single-op plan of one forward (EDAS: every edge but the
        relaxed one; GDAS: every edge). `arch_grad=False` detaches alpha/beta (weight steps need no graph
        to them)."""
        with torch.set_grad_enabled(arch_grad and torch.is_grad_enabled()):
            if self.sampling == "gdas":
                drawn = {c: self.gumbel_weights(c) for c in self.cell_types}
                return {c: w for c, (w, _) in drawn.items()}, {c: plan for c, (_, plan) in drawn.items()}
            weights = {c: self.mixed_weights(c, relaxed and relaxed[c]) for c in self.cell_types}
        plans = {c: self.single_op_plan(c, relaxed[c]) for c in self.cell_types} if relaxed else {}
        return weights, plans

    def run_cell(self, index: int, cell: nn.Module, *args):
        if self._recompute(index) and torch.is_grad_enabled():
            # keep only the cell's inputs; its activations are recomputed during backward, which
            # runs each batch norm forward again: running statistics move twice per step (the
            # search never reads them; docs/method.md §9)
            return checkpoint(cell, *args, use_reentrant=False)
        return cell(*args)

    @contextlib.contextmanager
    def functional_forwards(self, twice_differentiable: bool = False):
        """Forwards inside may run under torch.func.functional_call: they keep every activation (a
        recomputation would run in backward, after the call has put the module's own weights back). With
        `twice_differentiable` they also run the plain kernels, since the custom ones are once-differentiable."""
        saved, self.recompute = self.recompute, "none"
        try:
            with plain_kernels() if twice_differentiable else contextlib.nullcontext():
                yield self
        finally:
            self.recompute = saved

    def _recompute(self, index: int) -> bool:
        if self.recompute == "cells":
            return True
        if self.recompute == "alternate":
            return index % 2 == 0
        return False


class SearchNetwork(Supernet):
    """DARTS supernet with one alpha (and beta, if the mode has one) per cell type: CIFAR's (one 3x3 stem
    of 3C channels) or, with `imagenet`, PC-DARTS's ImageNet search network (two stride-2 stems to C
    channels, the first cell reading them as after a reduction)."""

    def __init__(
        self,
        topology: TopologySpace,
        C: int = 16,
        num_classes: int = 10,
        layers: int = 8,
        op_space: str = "darts",
        stem_multiplier: int = 3,
        arch_init_std: float = 1e-3,
        channels_last: bool = False,
        recompute: str = "none",
        imagenet: bool = False,
        sampling: str = "mixture",
        edge_normalization: bool = False,
        edge_options: EdgeOptions = PLAIN_EDGES,
    ):
        super().__init__()
        self.topology = topology
        self.channels_last = channels_last
        self.recompute = recompute
        self.op_names = candidate_ops(op_space, with_none=topology.with_none)
        n_nodes = topology.n_nodes
        self.imagenet = imagenet
        self.stem = ImageNetStem(C) if imagenet else cifar_stem(stem_multiplier * C)
        stem_channels = C if imagenet else stem_multiplier * C
        slots = cell_slots(C, layers, stem_channels, lambda reduction: n_nodes, first_reduction_prev=imagenet)
        self.cells = nn.ModuleList(SearchCell(slot, topology, self.op_names, op_space, edge_options) for slot in slots)
        C_out = n_nodes * C * 4  # two reductions doubled the channels twice
        self.classifier = Classifier(C_out, num_classes)
        self._init_architecture(topology, op_space, CELL_TYPES, arch_init_std, sampling, edge_normalization)
        if channels_last:
            # NHWC: oneDNN's depthwise and 1x1 convolutions run several times faster on CPU
            self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor, arch_grad: bool = True, relaxed: dict[str, int] | None = None):
        """`arch_grad=False` detaches alpha/beta (weight steps need no graph to them);
        `relaxed` = {cell type: edge} switches to EDAS's one-relaxed-edge network."""
        weights, plans = self.edge_weights(arch_grad, relaxed)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        s0, s1 = self.stem(x) if self.imagenet else (self.stem(x),) * 2
        for index, cell in enumerate(self.cells):
            cell_type = "reduce" if cell.reduction else "normal"
            s0, s1 = s1, self.run_cell(index, cell, s0, s1, weights[cell_type], plans.get(cell_type))
        return self.classifier(s1)
