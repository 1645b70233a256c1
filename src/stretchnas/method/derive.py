"""From architecture parameters to a genotype (docs/method.md §4).

Topology modes: per node, keep the edges of the most likely subset argmax_S p_v(S);
on each kept edge the argmax op (never `none`). DARTS modes: the hand rule, top-2
edges per node by their strongest non-`none` op weight (incoming edges, or outgoing
edges for the output-perspective ablation). Then intermediate nodes left without
input are dropped, with their outgoing edges, until none remains; the rest are
concatenated. The dropped nodes are reported: the regulariser's job is to keep
that list empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from stretchnas.method.genotype import CELL_TYPES, Cell, Genotype, GenotypeError
from stretchnas.method.nb201.arch import NB201Genotype
from stretchnas.method.topology import TopologySpace


def _best_op(alpha_row: torch.Tensor, op_names: list[str]) -> str:
    probs = torch.softmax(alpha_row.detach().double(), dim=-1)
    candidates = [k for k, name in enumerate(op_names) if name != "none"]
    return op_names[max(candidates, key=lambda k: (probs[k].item(), -k))]


def _strength(alpha_row: torch.Tensor, op_names: list[str]) -> float:
    probs = torch.softmax(alpha_row.detach().double(), dim=-1)
    return max(probs[k].item() for k, name in enumerate(op_names) if name != "none")


def selected_edges(
    space: TopologySpace,
    alpha: torch.Tensor,
    beta: torch.Tensor | None,
    op_names,
    edge_weights: torch.Tensor | None = None,
) -> list[int]:
    """Indices (into space.edges) of the edges the current parameters select. `edge_weights`: PC-DARTS's
    normalised edge weights, which multiply each edge's strength under the DARTS hand rule."""
    edges = space.edges
    if space.derive_rule == "subsets":
        chosen = []
        for group, part in zip(space.variables, space.variable_slices()):
            chosen.extend(group.subsets[int(torch.argmax(beta.detach()[part]))])
        return sorted(set(chosen))
    if space.derive_rule == "argmax":
        return list(range(len(edges)))
    if space.derive_rule == "top2_input":
        by_node = {j: [e for e, (_, jj) in enumerate(edges) if jj == j] for j in range(2, space.n_nodes + 2)}
    elif space.derive_rule == "top2_output":
        by_node = {i: [e for e, (ii, _) in enumerate(edges) if ii == i] for i in range(space.n_nodes + 2)}
        by_node = {i: es for i, es in by_node.items() if len(es) >= 2}  # one successor: selects nothing
    else:
        raise ValueError(f"unknown derive rule {space.derive_rule!r}")
    chosen = []
    for candidates in by_node.values():
        # sorted() is stable: ties keep edge order, as in DARTS's genotype()
        factor = (lambda e: 1.0) if edge_weights is None else (lambda e: float(edge_weights[e]))  # noqa: E731
        ranked = sorted(candidates, key=lambda e: -_strength(alpha[e], op_names) * factor(e))
        chosen.extend(ranked[:2])
    return sorted(chosen)


def prune_inputless(
    edges: list[tuple[int, int]], n_nodes: int, n_inputs: int = 2
) -> tuple[list[tuple[int, int]], list[int]]:
    """Drop intermediate nodes with no input, and their outgoing edges, until stable."""
    nodes = set(range(n_inputs, n_nodes + n_inputs))
    alive = set(nodes)
    kept = list(edges)
    while True:
        fed = {j for i, j in kept if i < n_inputs or i in alive}
        dead = {j for j in alive if j not in fed}
        if not dead:
            break
        alive -= dead
        kept = [(i, j) for i, j in kept if j in alive and (i < n_inputs or i in alive)]
    return kept, sorted(nodes - alive)


def derive_cell(space: TopologySpace, alpha, beta, op_names, edge_weights=None) -> tuple[Cell | None, list[int]]:
    """The cell the parameters select (None if no intermediate node keeps an input), and the dropped nodes."""
    edges = space.edges
    chosen = selected_edges(space, alpha, beta, op_names, edge_weights)
    kept, dropped = prune_inputless([edges[e] for e in chosen], space.n_nodes)
    index = {edge: k for k, edge in enumerate(edges)}
    cell_edges = [(_best_op(alpha[index[(i, j)]], op_names), i, j) for i, j in sorted(kept, key=lambda e: (e[1], e[0]))]
    concat = sorted({j for _, _, j in cell_edges})
    if not concat:
        return None, dropped
    return Cell(tuple(cell_edges), tuple(concat)), dropped


@dataclass(frozen=True)
class Derivation:
    """What a SearchNetwork's parameters encode now: the genotype, or None when a cell type
    would have no intermediate node with an input, and the nodes pruning dropped."""

    genotype: Genotype | NB201Genotype | None
    dropped_nodes: dict[str, list[int]]

    @property
    def num_dropped(self) -> int:
        return sum(len(nodes) for nodes in self.dropped_nodes.values())


def derive_nb201(space: TopologySpace, alpha, beta, op_names) -> tuple[NB201Genotype, list[int]]:
    """NAS-Bench-201's cell: every selected edge keeps its argmax op (`none` included where it is a
    candidate, as NB201's own derivation does), every other edge is `none`. Nothing is pruned: the arch
    string is what the supernet selected, and the table scores exactly that. The dropped nodes are
    those left without a non-`none` input (reported, as in the DARTS space)."""
    selected = set(selected_edges(space, alpha, beta, op_names))
    ops = []
    for e in range(len(space.edges)):
        if e not in selected:
            ops.append("none")
            continue
        probs = torch.softmax(alpha[e].detach().double(), dim=-1)
        ops.append(op_names[max(range(len(op_names)), key=lambda k: (probs[k].item(), -k))])
    fed = [edge for edge, op in zip(space.edges, ops) if op != "none"]
    _, dropped = prune_inputless(fed, space.n_nodes, space.n_inputs)
    meta = {"topology": space.mode, "dropped_nodes": {"normal": dropped}, "num_dropped": len(dropped)}
    return NB201Genotype(tuple(ops), meta), dropped


def derive_architecture(network) -> Derivation:
    if network.op_space == "nb201":
        beta = network.beta["normal"] if network.topology.has_beta else None
        genotype, dropped = derive_nb201(network.topology, network.alpha["normal"], beta, network.op_names)
        return Derivation(genotype, {"normal": dropped})
    cells, dropped = {}, {}
    for cell_type in CELL_TYPES:
        beta = network.beta[cell_type] if network.topology.has_beta else None
        normed = network.normalized_edge_weights(cell_type).detach() if network.edge_norm else None
        cells[cell_type], dropped[cell_type] = derive_cell(
            network.topology, network.alpha[cell_type], beta, network.op_names, normed
        )
    if None in cells.values():
        return Derivation(None, dropped)
    meta = {
        "topology": network.topology.mode,
        "intermediate_nodes": network.topology.n_nodes,
        "dropped_nodes": dropped,
        "num_dropped": sum(len(v) for v in dropped.values()),
    }
    return Derivation(Genotype(cells["normal"], cells["reduce"], meta).validate(), dropped)


def derive(network) -> Genotype:
    """The genotype a SearchNetwork's current alpha (and beta) encode."""
    derivation = derive_architecture(network)
    if derivation.genotype is None:
        empty = [c for c, nodes in derivation.dropped_nodes.items() if len(nodes) == network.topology.n_nodes]
        raise GenotypeError(f"derivation left no intermediate node with an input in the {' and '.join(empty)} cell")
    return derivation.genotype
