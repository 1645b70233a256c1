"""Topology variables: families of edge subsets per node and their merged edge weights.

A DARTS cell has nodes 0, 1 (outputs of the two previous cells) and intermediate
nodes 2 .. n+1; a NAS-Bench-201 cell has one input, node 0, and nodes 1 .. n (the
last its output). Edge (i, j) exists for every i < j with j past the inputs, in
DARTS order (j ascending, then i ascending), which is also NB201's arch-string order.
A topology mode (docs/method.md §2) chooses, for each
node v with a topology variable, a candidate edge set E_v, a family F_v of
subsets of E_v and a scale c_v. With p_v = softmax(beta_v), the merged weight of
an edge is

    s(e) = c_v * sum_{S in F_v, e in S} p_v(S)  =  (c * p) @ M

where M is the subset-membership matrix over all variables. An edge that no variable
can select has s = 0 and is not built at all. `darts` has no topology variables
(s = 1 everywhere; `none` in the op set does the cutting).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from stretchnas.method.spaces import CELL_SHAPES, DARTS_CELL_ONLY, modes_for


def cell_edges(n_nodes: int, n_inputs: int = 2) -> list[tuple[int, int]]:
    """All (from, to) edges of a cell with `n_inputs` inputs and `n_nodes` nodes after them, DARTS order."""
    return [(i, j) for j in range(n_inputs, n_nodes + n_inputs) for i in range(j)]


@dataclass(frozen=True)
class TopologyVariable:
    """One node's topology variable: the edges it chooses among and the allowed subsets."""

    node: int
    edges: tuple[int, ...]  # indices into cell_edges
    subsets: tuple[tuple[int, ...], ...]  # each a tuple of edge indices (a subset of `edges`)
    scale: float


@dataclass(frozen=True)
class TopologySpace:
    mode: str
    n_nodes: int
    with_none: bool  # whether `none` is a candidate op (vanilla DARTS)
    perspective: str  # 'input' or 'output': which side of a node its variable chooses
    variables: tuple[TopologyVariable, ...] = field(default=())
    # 'subsets' (argmax subset), 'top2_input' / 'top2_output' (DARTS hand rule), 'argmax' (NB201: every
    # edge keeps its argmax op, `none` included)
    derive_rule: str = "subsets"
    n_inputs: int = 2  # DARTS cells read two previous cells; NB201 cells one

    @property
    def edges(self) -> list[tuple[int, int]]:
        return cell_edges(self.n_nodes, self.n_inputs)

    @property
    def nodes(self) -> range:
        """The nodes after the inputs (they sum their incoming edges)."""
        return range(self.n_inputs, self.n_nodes + self.n_inputs)

    @property
    def num_subsets(self) -> int:
        return sum(len(g.subsets) for g in self.variables)

    @property
    def has_beta(self) -> bool:
        return bool(self.variables)

    def active_edges(self) -> list[bool]:
        """Edges some subset can select (all edges when there are no topology variables)."""
        if not self.variables:
            return [True] * len(self.edges)
        active = [False] * len(self.edges)
        for group in self.variables:
            for subset in group.subsets:
                for e in subset:
                    active[e] = True
        return active

    def membership(self) -> torch.Tensor:
        """M (total subsets x edges), each row already multiplied by its group's scale."""
        rows = []
        for group in self.variables:
            for subset in group.subsets:
                row = torch.zeros(len(self.edges), dtype=torch.float64)
                row[list(subset)] = group.scale
                rows.append(row)
        return torch.stack(rows) if rows else torch.zeros(0, len(self.edges), dtype=torch.float64)

    def variable_slices(self) -> list[slice]:
        slices, start = [], 0
        for group in self.variables:
            slices.append(slice(start, start + len(group.subsets)))
            start += len(group.subsets)
        return slices


def successors(node: int, n_nodes: int, n_inputs: int = 2) -> list[int]:
    return list(range(max(n_inputs, node + 1), n_nodes + n_inputs))


def _edge_index(n_nodes: int, n_inputs: int) -> dict[tuple[int, int], int]:
    return {edge: k for k, edge in enumerate(cell_edges(n_nodes, n_inputs))}


def _subsets(items: tuple[int, ...], sizes) -> tuple[tuple[int, ...], ...]:
    return tuple(c for k in sizes for c in itertools.combinations(items, k))


def _scale_for(subsets, edges) -> float:
    # |F_v| / #{S in F_v : e in S}: the same for every e by symmetry, and the value
    # that makes s(e) = 1 under uniform p (Eqs. 9-10, 13; n/k for k-subsets).
    containing = sum(1 for s in subsets if edges[0] in s)
    return len(subsets) / containing


def _output_variables(
    n_nodes: int, sizes_for: Callable[[int], list[int]], n_inputs: int
) -> tuple[TopologyVariable, ...]:
    index = _edge_index(n_nodes, n_inputs)
    variables = []
    for node in range(n_nodes + n_inputs - 1):  # the last node has no successors
        edges = tuple(index[(node, j)] for j in successors(node, n_nodes, n_inputs))
        sizes = [k for k in sizes_for(len(edges)) if 0 <= k <= len(edges)]
        if not edges or not [k for k in sizes if k > 0]:
            continue
        subsets = _subsets(edges, sizes)
        variables.append(TopologyVariable(node, edges, subsets, _scale_for(subsets, edges)))
    return tuple(variables)


def _input_pair_variables(n_nodes: int, n_inputs: int) -> tuple[TopologyVariable, ...]:
    index = _edge_index(n_nodes, n_inputs)
    variables = []
    for j in range(n_inputs, n_nodes + n_inputs):
        edges = tuple(index[(i, j)] for i in range(j))
        variables.append(TopologyVariable(j, edges, _subsets(edges, [2]), 1.0))  # Eq. 6 has no scale
    return tuple(variables)


def mode_space(mode: str) -> TopologySpace:
    """A small space of `mode`, for what depends on the mode alone: which side of a node its edges are
    selected on, and whether it has topology variables."""
    return build_space(mode, 4, k=1)


def build_space(
    mode: str, n_nodes: int, k: int | None = None, allow_empty_output: bool = False, op_space: str = "darts"
) -> TopologySpace:
    """The topology space `mode` for cells of `op_space` (DARTS: `n_nodes` intermediate nodes; NB201's
    cell is fixed: one input, three nodes)."""
    if mode not in TOPOLOGY_MODES:
        raise KeyError(f"unknown topology mode {mode!r}; known modes: {sorted(TOPOLOGY_MODES)}")
    n_inputs, fixed_nodes = CELL_SHAPES[op_space]
    if op_space != "darts" and mode in DARTS_CELL_ONLY:
        raise ValueError(
            f"topology mode {mode!r} needs DARTS's two-input cell; the {op_space} space has "
            f"{modes_for(op_space, TOPOLOGY_MODES)}"
        )
    n_nodes = fixed_nodes or n_nodes
    if n_nodes < 2:
        raise ValueError(f"intermediate_nodes must be at least 2, got {n_nodes}")
    return TOPOLOGY_MODES[mode](n_nodes, k=k, allow_empty_output=allow_empty_output, n_inputs=n_inputs)


def _darts(n_nodes, n_inputs=2, **_):
    # NB201 derives its own way: the argmax op of every edge, `none` included (xautodl's genotype())
    rule = "top2_input" if n_inputs == 2 else "argmax"
    return TopologySpace("darts", n_nodes, True, "input", derive_rule=rule, n_inputs=n_inputs)


def _darts_output(n_nodes, **_):
    # Table 5's "DARTS, output perspective": DARTS's supernet, top-2 outgoing edges per node.
    return TopologySpace("darts_output", n_nodes, True, "output", derive_rule="top2_output")


def _input_pairs(n_nodes, **_):
    return TopologySpace("input_pairs", n_nodes, False, "input", _input_pair_variables(n_nodes, 2))


def _output_pairs(n_nodes, n_inputs=2, **_):
    variables = _output_variables(n_nodes, lambda n: [2], n_inputs)
    return TopologySpace("output_pairs", n_nodes, False, "output", variables, n_inputs=n_inputs)


def _output_k(n_nodes, k=None, n_inputs=2, **_):
    if k is None or not 1 <= k <= 4:
        raise ValueError(f"topology.k must be between 1 and 4, got {k}")
    variables = _output_variables(n_nodes, lambda n: [k], n_inputs)
    return TopologySpace(f"output_{k}", n_nodes, False, "output", variables, n_inputs=n_inputs)


def _stretchable(n_nodes, allow_empty_output=False, n_inputs=2, **_):
    first = 0 if allow_empty_output else 1
    variables = _output_variables(n_nodes, lambda n: list(range(first, n + 1)), n_inputs)
    return TopologySpace("stretchable", n_nodes, False, "output", variables, n_inputs=n_inputs)


TOPOLOGY_MODES: dict[str, Callable[..., TopologySpace]] = {
    "darts": _darts,
    "darts_output": _darts_output,
    "input_pairs": _input_pairs,
    "output_pairs": _output_pairs,
    "output_k": _output_k,
    "stretchable": _stretchable,
}


class TopologyWeights(torch.nn.Module):
    """Maps a flat beta (one entry per subset, all variables) to the edge weights s."""

    def __init__(self, space: TopologySpace):
        super().__init__()
        self.space = space
        # float64, cast to the parameters' dtype at use: a float32 copy would round scales such as 4/3
        self.register_buffer("membership", space.membership(), persistent=False)
        self.slices = space.variable_slices()

    def probabilities(self, beta: torch.Tensor) -> list[torch.Tensor]:
        return [torch.softmax(beta[s], dim=0) for s in self.slices]

    def forward(self, beta: torch.Tensor | None) -> torch.Tensor | None:
        if not self.space.has_beta:
            return None
        p = torch.cat(self.probabilities(beta))
        return p @ self.membership.to(p.dtype)
